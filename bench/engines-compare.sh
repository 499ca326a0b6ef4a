#!/usr/bin/env bash
# gapipe's own consumer against gapipe's Spark job, under the same load on the same lab, interleaved
# round by round (the machine's other work slows both alike): visible latency, throughput, CPU and
# memory of each engine at each rate.
#
#   bench/engines-compare.sh [ROUNDS] [RATES]
#
# RATES defaults to "2000 10000" (events/s); each run is DURATION (default 30s) measured after a 10s
# warm-up, seed 42. Results go to bench-results/engines-compare/<engine>-<rate>-<round>/; the table at
# the end is read from their result.json files.
set -euo pipefail
rounds=${1:-1}
rates=${2:-2000 10000}
duration=${DURATION:-30s}
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/bench-results/engines-compare"
mkdir -p "$out"
cd "$here"

for round in $(seq 1 "$rounds"); do
  for rate in $rates; do
    engines="gapipe spark"
    ((round % 2)) || engines="spark gapipe"
    for engine in $engines; do
      dest="$out/$engine-$rate-$round"
      rm -rf "$dest"
      node bin/run.js bench --target lab --engine "$engine" --rate "$rate/s" --players 10000 \
        --duration "$duration" --warmup 10s --seed 42 --out "$dest" -q >"$dest.log" 2>&1 || true
      echo "$engine $rate/s round $round: $(grep -E '^(✔|✘)' "$dest.log" | head -1)"
    done
  done
done

node --input-type=module -e '
import { readFileSync, readdirSync, existsSync } from "node:fs";
const dir = process.argv[1];
const rows = [];
for (const name of readdirSync(dir).sort()) {
  const file = `${dir}/${name}/result.json`;
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, "utf8"));
  const s = r.summary, e = s.engine ?? {}, res = e.resources ?? {};
  const ms = (v) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);
  rows.push(`| ${name} | ${s.verdict.status} | ${Math.round(s.achievedRate)} | ${ms(s.latency.delivery.p99Ms)} | ${ms(s.latency.visible.p50Ms)} / ${ms(s.latency.visible.p99Ms)} | ${s.maxLag} | ${res.cpuCoresMean ?? "-"} / ${res.cpuCoresMax ?? "-"} | ${res.rssMaxBytes ? (res.rssMaxBytes / 2 ** 20).toFixed(0) + " MiB" : "-"} | ${s.correct} |`);
}
console.log("| run | verdict | achieved/s | delivery p99 | visible p50 / p99 | max lag | engine CPU cores mean / max | engine RSS max | verified |");
console.log("|---|---|---|---|---|---|---|---|---|");
console.log(rows.join("\n"));
' "$out"
