#!/usr/bin/env bash
# Every test gapipe has, from nothing: dependencies, lint and types, unit tests, then a Docker engine
# with the stand-in Kafka and Elasticsearch images and the end-to-end tests against them.
# Usage: bash scripts/test.sh        (what CI runs; needs root or sudo for the Docker engine install)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "installing dependencies (npm ci)"
npm ci --no-audit --no-fund

step "types and lint"
npm run typecheck
npm run lint

step "unit tests"
npm test

step "Docker engine and stand-in images (npm run infra:up)"
npm run infra:up
cleanup() {
  step "stopping what infra:up started (npm run infra:down)"
  npm run infra:down || true
}
trap cleanup EXIT

step "end-to-end tests against the real engine"
npm run test:e2e
