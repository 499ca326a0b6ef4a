#!/usr/bin/env bash
# `gapipe bench --target lab --find-max` of two builds of gapipe, interleaved round by round against
# the same running lab, so a machine shared with other work slows both alike.
#
#   bench/find-max-compare.sh OTHER_CHECKOUT [ROUNDS]
#
# OTHER_CHECKOUT is another built checkout of gapipe (e.g. `git worktree add /tmp/before <commit>`,
# then `npm ci` in it); this checkout is the other side. Both bench the lab named by GAPIPE_LAB
# (default: lab), with the same load: FIND_MAX_FLAGS (default below). Each round writes its trials
# to bench-results/find-max-compare/<side>-<round>/ and prints the final line of each search.
set -euo pipefail

other=${1:?usage: bench/find-max-compare.sh OTHER_CHECKOUT [ROUNDS]}
rounds=${2:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
flags=${FIND_MAX_FLAGS:---rate 8000/s --duration 10s --warmup 5s --players 10000 --seed 42}
out="$here/bench-results/find-max-compare"
mkdir -p "$out"

for side_dir in "$other" "$here"; do
  [[ -x "$side_dir/bin/run.js" && -d "$side_dir/dist" ]] || {
    echo "$side_dir is not a built gapipe checkout (run npm ci in it)" >&2
    exit 2
  }
done

run() {
  local name=$1 dir=$2 round=$3
  local dest="$out/$name-$round"
  rm -rf "$dest"
  local started=$SECONDS
  # find-max exits 1 when no rate passes; the line it prints says so.
  (cd "$dir" && node bin/run.js bench --target lab --find-max $flags --out "$dest" -q 2>&1) |
    tee "$dest.log" | grep -E '^(Sustainable throughput|No rate passed)' | sed "s/^/$name round $round: /" || true
  echo "  ($name round $round took $((SECONDS - started)) s; trials in $dest)"
}

for round in $(seq 1 "$rounds"); do
  # Alternate which side goes first, so neither always runs on a machine warmed by the other.
  if ((round % 2)); then
    run other "$other" "$round"
    run this "$here" "$round"
  else
    run this "$here" "$round"
    run other "$other" "$round"
  fi
done
