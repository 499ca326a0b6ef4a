#!/usr/bin/env bash
# Compares gapipe's Kafka sink with Apache Kafka's own producer benchmark (kafka-producer-perf-test,
# org.apache.kafka.tools.ProducerPerformance) in one run, against the same broker, with the same
# record count and about the same record size, both unpaced (as fast as the producer can go).
#
# Usage: bash bench/kafka-producer-compare.sh [BROKER] [RECORDS]
#   BROKER   host:port of a broker with the topic bench-compare absent or present (default 127.0.0.1:9092)
#   RECORDS  records per run (default 1000000)
# Needs java and mvn (kafka-tools is fetched from Maven Central once, into ~/.cache/gapipe-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
broker=${1:-127.0.0.1:9092}
records=${2:-1000000}
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

topic=bench-compare
node bin/run.js lab up --help >/dev/null # fail early when the CLI is not built
node -e "
const { Kafka, logLevel } = require('kafkajs');
const admin = new Kafka({ brokers: ['$broker'], logLevel: logLevel.NOTHING }).admin();
(async () => { await admin.connect(); await admin.createTopics({ topics: [{ topic: '$topic', numPartitions: 6, replicationFactor: 1 }] }); await admin.disconnect(); })();
"

echo "== kafka-producer-perf-test ($tools_version), $records records of 300 bytes, acks=all" >&2
java -cp "$cache/libs/*" org.apache.kafka.tools.ProducerPerformance --topic "$topic" \
  --num-records "$records" --record-size 300 --throughput -1 \
  --producer-props bootstrap.servers="$broker" acks=all linger.ms=5 batch.size=262144 | tee /tmp/gapipe-perf-test.out >&2
java_rate=$(tail -n 1 /tmp/gapipe-perf-test.out | sed -E 's/.*records sent, ([0-9.]+) records\/sec.*/\1/')

echo "== gapipe simulate --sink kafka --no-pace, $records records (about 300 bytes each), acks=all" >&2
gapipe_json=$(node bin/run.js simulate --sink kafka --brokers "$broker" --topic "$topic" --no-pace \
  --events "$records" --players 10000 --seed 1 --json 2>/dev/null)
gapipe_rate=$(node -e "const s = JSON.parse(process.argv[1]); console.log(s.acknowledgedRate)" "$gapipe_json")
bytes=$(node -e "const s = JSON.parse(process.argv[1]); console.log(Math.round(s.bytes / s.produced))" "$gapipe_json")

node -e "
const java = Number('$java_rate'), gapipe = Number('$gapipe_rate');
console.log(JSON.stringify({ records: $records, kafkaProducerPerfTest: java, gapipeKafkaSink: gapipe,
  gapipeBytesPerRecord: $bytes, ratio: Math.round((gapipe / java) * 100) / 100 }, null, 2));
"
