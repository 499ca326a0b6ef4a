#!/usr/bin/env bash
# The same bench trials at fixed rates, alternating between another built checkout of gapipe (e.g. an
# older commit: `git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci)`) and this one,
# against the same running lab. For builds whose own --find-max cannot be compared round by round.
#
#   bench/fixed-rate-compare.sh OTHER_CHECKOUT "24000 32000 48000"
#
# Each trial: 10s measured after a 5s warm-up, 10,000 players, seed 42, gated by delivery p99 < 500ms
# and verified results. Results in bench-results/fixed-rate-compare/<other|this>-<rate>/.
set -euo pipefail
other=${1:?usage: bench/fixed-rate-compare.sh OTHER_CHECKOUT [RATES]}
rates=${2:-24000 32000 48000}
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/bench-results/fixed-rate-compare"
mkdir -p "$out"
for rate in $rates; do
  for side in other this; do
    dir=$here
    [[ $side == other ]] && dir=$other
    (cd "$dir" && node bin/run.js bench --target lab --rate "$rate/s" --players 10000 --duration 10s \
      --warmup 5s --seed 42 --assert 'delivery.p99<500ms' --assert correct --out "$out/$side-$rate" -q \
      >"$out/$side-$rate.log" 2>&1) || true
    echo "$side $rate/s: $(grep -E '^(✔|✘)' "$out/$side-$rate.log" | head -1)"
  done
done
