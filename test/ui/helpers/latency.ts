/** Latency figures for views and summaries under test. */
import type { LatencySummary } from '../../../src/bench/types.js';

/** A summary of `count` samples whose percentiles spread around `p99Ms` as a real run's do. */
export function latency(p99Ms: number, count = 10_000): LatencySummary {
  return {
    count,
    minMs: p99Ms / 20,
    meanMs: p99Ms / 4,
    p50Ms: p99Ms / 5,
    p90Ms: p99Ms / 2,
    p99Ms,
    p999Ms: p99Ms * 2,
    maxMs: p99Ms * 4,
  };
}
