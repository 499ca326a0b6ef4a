#!/usr/bin/env bash
# gapipe consume from a backlog, on each of its Kafka clients, beside Apache Kafka's consumer benchmark
# (kafka-consumer-perf-test, i.e. org.apache.kafka.tools.ConsumerPerformance) and kcat (librdkafka):
# same broker, same topic (6 partitions, RECORDS generated events of ~300 bytes), interleaved rounds in
# one run, so a machine shared with other work disturbs every consumer alike.
#
# Per round: gapipe consume --kafka-client gapipe, then --kafka-client kafkajs (each in a new group,
# into a new aggregates index, --exit-idle 3s), optionally the consume of another built tree
# (BEFORE=/path/to/tree, e.g. the previous commit), then perf-test and kcat (both only read: no
# decoding, no aggregation, no Elasticsearch — the ceiling of a client on this machine).
# gapipe's records/s: records ÷ (its elapsed time − the 3 s of --exit-idle); CPU per record: user +
# system time of the whole process (CLI start-up included) ÷ records.
#
# Usage: bash bench/consumer-compare.sh [BROKER] [ES] [RECORDS] [ROUNDS]
#   BROKER host:port (default 127.0.0.1:9092), ES url (default http://127.0.0.1:9200),
#   RECORDS (default 1000000) — the topic bench-consume is created and filled once; ROUNDS (default 3)
#   env: OUT (a temp dir), CLIENTS ("gapipe kafkajs"), BEFORE (a built tree), NO_REFERENCES=1,
#        KAFKA_TOOLS_VERSION (4.3.1)
# Needs a built CLI (npm run build); java and mvn for perf-test (see producer-compare.sh); kcat
# (`apt-get install kcat`).
set -euo pipefail
cd "$(dirname "$0")/.."
broker=${1:-127.0.0.1:9092}
es=${2:-http://127.0.0.1:9200}
records=${3:-1000000}
rounds=${4:-3}
clients=${CLIENTS:-gapipe kafkajs}
out=${OUT:-$(mktemp -d /tmp/gapipe-consumer-compare.XXXXXX)}
mkdir -p "$out"
topic=bench-consume
run_id=$(date +%s)

tools_version=${KAFKA_TOOLS_VERSION:-4.3.1}
cache=${GAPIPE_BENCH_CACHE:-$HOME/.cache/gapipe-bench}/kafka-tools-$tools_version
use_references=1
[[ -n ${NO_REFERENCES:-} ]] && use_references=0
if [[ $use_references == 1 && ! -d $cache/libs ]]; then
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

node bin/run.js consume --help >/dev/null # fail early when the CLI is not built
# The topic and its late and dead-letter topics; filled once with RECORDS events.
existing=$(node -e "
const { Kafka, logLevel } = require('kafkajs');
const admin = new Kafka({ brokers: ['$broker'], logLevel: logLevel.NOTHING }).admin();
(async () => {
  await admin.connect();
  await admin.createTopics({
    topics: ['$topic', '$topic-late', '$topic-dlq'].map((topic) => ({ topic, numPartitions: 6, replicationFactor: 1 })),
  });
  // A topic just created has no leaders for a moment.
  for (let attempt = 1; ; attempt++) {
    try {
      const offsets = await admin.fetchTopicOffsets('$topic');
      console.log(offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0));
      break;
    } catch (error) {
      if (attempt === 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  await admin.disconnect();
})().catch((error) => { console.error(error.message); process.exit(1); });
")
if [[ $existing -lt $records ]]; then
  echo "== filling $topic with $((records - existing)) events" >&2
  node bin/run.js simulate --sink kafka --brokers "$broker" --topic "$topic" --no-pace \
    --events "$((records - existing))" --players 10000 --seed 42 --json >"$out/fill.json"
fi
records=$(node -e "
const { Kafka, logLevel } = require('kafkajs');
const admin = new Kafka({ brokers: ['$broker'], logLevel: logLevel.NOTHING }).admin();
admin.connect().then(() => admin.fetchTopicOffsets('$topic')).then((offsets) => {
  console.log(offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0));
  return admin.disconnect();
});
")
echo "$records" >"$out/records"

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

consume() {
  local tree=$1 name=$2
  shift 2
  timed "$name" node "$tree/bin/run.js" consume --brokers "$broker" --es "$es" --topic "$topic" \
    --group "cmp-$run_id-$name" --index "gapipe-aggregates-cmp-$run_id-$name" --exit-idle 3s --json "$@"
}

for round in $(seq 1 "$rounds"); do
  echo "== round $round/$rounds: $records records" >&2
  for client in $clients; do consume . "gapipe-$client-$round" --kafka-client "$client"; done
  if [[ -n ${BEFORE:-} ]]; then consume "$BEFORE" "before-$round"; fi
  if [[ $use_references == 1 ]]; then
    timed "perf-test-$round" java -cp "$cache/libs/*" org.apache.kafka.tools.ConsumerPerformance \
      --bootstrap-server "$broker" --topic "$topic" --messages "$records" --group "cmp-$run_id-perf-$round" \
      --timeout 60000
    timed "kcat-$round" kcat -C -b "$broker" -t "$topic" -o beginning -e -q -f '%o\n'
  fi
done

node bench/consumer-compare-report.mjs "$out"
# The aggregates indexes of the runs are not needed any more.
node -e "fetch('$es/gapipe-aggregates-cmp-$run_id-*', { method: 'DELETE' }).catch(() => {})"
echo "raw outputs: $out" >&2
