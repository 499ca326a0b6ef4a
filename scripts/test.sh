#!/usr/bin/env bash
# Every test gapipe has, from nothing: dependencies, lint and types, unit tests, the Spark engine's
# prerequisites, then a Docker engine with the stand-in Kafka and Elasticsearch images and the
# end-to-end tests against them.
# Usage: bash scripts/test.sh        (what CI runs; needs root or sudo for the Docker engine install)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing dependencies (npm ci)"
npm ci --no-audit --no-fund

step "types and lint"
npm run typecheck
npm run lint

step "unit tests (Node $(node --version))"
npm test

step "unit tests again on Node 24 (Node 20 is past its end of life; gapipe supports both)"
NODE24=$(bash scripts/node24.sh)
"$NODE24" node_modules/vitest/vitest.mjs run --project unit

step "preparing the Spark engine (cached in ~/.cache/gapipe/spark)"
# Java and python3-venv from apt when missing (a check of a second when present), then PySpark and the
# Kafka connector jars: about a minute and a half the first time, seconds from the cache. The Spark
# end-to-end tests need them. bin/run.js runs dist/, which `npm ci` built (its prepare script).
bash scripts/spark-prereqs.sh
node bin/run.js engine setup spark

step "Docker engine and stand-in images (npm run infra:up)"
npm run infra:up
cleanup() {
  step "stopping what infra:up started (npm run infra:down)"
  npm run infra:down || true
}
trap cleanup EXIT

step "end-to-end tests against the real engine"
npm run test:e2e

step "stress test: a 60s bench against a fresh lab, gated"
# The lab uses the stand-in images (.gapipe-infra.env) on its own ports and is removed afterwards.
set -a
# shellcheck disable=SC1091
. ./.gapipe-infra.env
set +a
BENCH_OUT="${GAPIPE_BENCH_OUT:-bench-results/ci}"
rm -rf "$BENCH_OUT"
lab_cleanup() {
  node bin/run.js lab down --name ci-bench --volumes >/dev/null 2>&1 || true
  cleanup
}
trap lab_cleanup EXIT
node bin/run.js lab up --name ci-bench --services kafka,elasticsearch --kafka-port 29092 --es-port 29200 --quiet
node bin/run.js bench --lab ci-bench --target lab --players 500 --rate 2000/s --duration 50s --warmup 10s \
  --consumers 2 --seed 7 --out "$BENCH_OUT" \
  --assert correct --assert 'achieved>=90%' --assert 'delivery.p99<10s' --assert 'errors==0'
echo "bench results: $(cd "$BENCH_OUT" && pwd) (result.json, report.html, junit.xml, *.hgrm)" >&2
