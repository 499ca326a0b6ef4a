#!/usr/bin/env bash
# gapipe's Kafka producer beside Apache Kafka's own producer benchmark (kafka-producer-perf-test, i.e.
# org.apache.kafka.tools.ProducerPerformance) and, when installed, kcat (librdkafka): same broker,
# same topic, ~300-byte records, acks=all, in interleaved rounds in one run, so a machine shared with
# other work disturbs every producer alike.
#
#  1. Throughput, unpaced: ROUNDS × {perf-test, gapipe simulate --no-pace (default --workers, and
#     --workers 1), kcat}, RECORDS each.
#     records/s and the client's CPU time per record (user + system of the whole process).
#  2. Latency, paced at PACED_RATE/s for PACED_SECONDS: PACED_ROUNDS × {perf-test --throughput,
#     gapipe simulate --rate}; produce→ack p50/p99/p99.9 (perf-test: send() to callback; gapipe:
#     intended send time to broker ack).
# Prints min/median/max per producer and the ratios of the medians; raw outputs stay in OUT.
#
# Usage: bash bench/producer-compare.sh [BROKER] [RECORDS] [ROUNDS]
#   BROKER   host:port (default 127.0.0.1:9092); the topic bench-compare is created if absent
#   RECORDS  records per unpaced run (default 1000000); ROUNDS (default 3)
#   env: PACED_RATE (10000), PACED_SECONDS (30), PACED_ROUNDS (2; 0 skips), OUT (a temp dir),
#        KAFKA_TOOLS_VERSION (4.3.1), NO_KCAT=1 to leave kcat out
# Needs java and mvn (kafka-tools comes from Maven Central once, into ~/.cache/gapipe-bench) and a
# built CLI (npm run build). kcat: `apt-get install kcat`.
set -euo pipefail
cd "$(dirname "$0")/.."
broker=${1:-127.0.0.1:9092}
records=${2:-1000000}
rounds=${3:-3}
paced_rate=${PACED_RATE:-10000}
paced_seconds=${PACED_SECONDS:-30}
paced_rounds=${PACED_ROUNDS:-2}
out=${OUT:-$(mktemp -d /tmp/gapipe-producer-compare.XXXXXX)}
mkdir -p "$out"
topic=bench-compare

# kafka-tools 4.4.0 is not on Maven Central; the 4.3 tool speaks the same protocol to a 4.4 broker.
tools_version=${KAFKA_TOOLS_VERSION:-4.3.1}
cache=${GAPIPE_BENCH_CACHE:-$HOME/.cache/gapipe-bench}/kafka-tools-$tools_version
if [[ ! -d $cache/libs ]]; then
  mkdir -p "$cache"
  cat >"$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>gapipe</groupId><artifactId>perf-tools</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$tools_version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
  mvn -q -f "$cache/pom.xml" dependency:copy-dependencies -DoutputDirectory="$cache/libs" -DincludeScope=runtime >&2
fi
perf_test=(java -cp "$cache/libs/*" org.apache.kafka.tools.ProducerPerformance --topic "$topic" --record-size 300)
# Kafka 4's producer defaults, written out: idempotent, acks=all, linger 5 ms; 256 KiB batches as gapipe's.
perf_props=(bootstrap.servers="$broker" acks=all linger.ms=5 batch.size=262144)

use_kcat=0
if [[ -z ${NO_KCAT:-} ]] && command -v kcat >/dev/null; then use_kcat=1; fi

node bin/run.js simulate --help >/dev/null # fail early when the CLI is not built
node -e "
const { Kafka, logLevel } = require('kafkajs');
const admin = new Kafka({ brokers: ['$broker'], logLevel: logLevel.NOTHING }).admin();
(async () => {
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: '$topic', numPartitions: 6, replicationFactor: 1 }] });
  await admin.disconnect();
})().catch((error) => { console.error(error.message); process.exit(1); });
"
if [[ $use_kcat == 1 && ! -f $out/payload-$records.txt ]]; then
  node -e "
const fs = require('node:fs');
const line = Buffer.alloc(301, 'x'); line[300] = 10;
const fd = fs.openSync('$out/payload-$records.txt', 'w');
const block = Buffer.concat(Array.from({ length: 1000 }, () => line));
for (let i = 0; i < $records; i += 1000) fs.writeSync(fd, block, 0, Math.min(1000, $records - i) * 301);
fs.closeSync(fd);
"
fi

# timed NAME CMD...: runs CMD with its output in OUT/NAME.out and its wall/CPU seconds in OUT/NAME.time
timed() {
  local name=$1
  shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$out/$name.cpu" "$@" >"$out/$name.out" 2>"$out/$name.err"
  end=$(date +%s.%N)
  echo "$start $end $(cat "$out/$name.cpu")" >"$out/$name.time"
}

for round in $(seq 1 "$rounds"); do
  echo "== round $round/$rounds: $records records each, unpaced" >&2
  timed "throughput-perf-test-$round" "${perf_test[@]}" --num-records "$records" --throughput -1 \
    --producer-props "${perf_props[@]}"
  timed "throughput-gapipe-$round" node bin/run.js simulate --sink kafka --brokers "$broker" --topic "$topic" \
    --no-pace --events "$records" --players 10000 --seed "$round" --json
  timed "throughput-gapipe1-$round" node bin/run.js simulate --sink kafka --brokers "$broker" --topic "$topic" \
    --no-pace --events "$records" --players 10000 --seed "$round" --workers 1 --json
  if [[ $use_kcat == 1 ]]; then
    timed "throughput-kcat-$round" kcat -P -b "$broker" -t "$topic" -X acks=all -X enable.idempotence=true \
      -X linger.ms=5 -X batch.size=262144 -l "$out/payload-$records.txt"
  fi
done

paced_records=$((paced_rate * paced_seconds))
for round in $(seq 1 "$paced_rounds"); do
  echo "== round $round/$paced_rounds: paced at $paced_rate/s for ${paced_seconds}s" >&2
  timed "latency-perf-test-$round" "${perf_test[@]}" --num-records "$paced_records" --throughput "$paced_rate" \
    --producer-props "${perf_props[@]}"
  timed "latency-gapipe-$round" node bin/run.js simulate --sink kafka --brokers "$broker" --topic "$topic" \
    --rate "$paced_rate/s" --duration "${paced_seconds}s" --players 10000 --seed "$round" --json
done

node bench/producer-compare-report.mjs "$out" "$records"
echo "raw outputs: $out" >&2
