#!/usr/bin/env bash
# Kept for old instructions: the comparison is bench/producer-compare.sh (interleaved rounds, kcat,
# the paced latency comparison). Same arguments: [BROKER] [RECORDS] [ROUNDS].
exec bash "$(dirname "$0")/producer-compare.sh" "$@"
