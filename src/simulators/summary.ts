/**
 * What a simulate run reports: the summary (`--json` prints it as is) and how latency histograms are
 * summarised. The produce→ack histogram comes from sinks that measure it (Kafka); the others leave
 * `produceAck` out. With several generator threads, every figure is the whole run's: counts summed,
 * histograms merged, lags the worst thread's.
 */
import { encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import type { GeneratorStats } from './generator.js';
import type { RegionCode } from './regions.js';
import type { StopReason } from './runner.js';
import type { ShardSpec } from './shard.js';

export interface LatencySummary {
  unit: 'ms';
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /** The HDR histogram (microseconds), compressed base64, so runs and workers can be merged. */
  histogram: string;
}

export interface SimulateSummary {
  runId: string;
  seed: number;
  sink: string;
  scenario: string | undefined;
  players: number;
  regions: RegionCode[];
  /** Event time of the first event (ISO-8601). */
  startTime: string;
  stopReason: StopReason;
  paced: boolean;
  /** Generator threads that produced the run (each with a shard of the players and a sink of its own). */
  workers?: number | undefined;
  /** With --shard: the part of the stream this process produced. Counts and rates are this shard's. */
  shard?: ShardSpec | undefined;
  /** Records handed to the sink. */
  produced: number;
  acknowledged: number;
  failed: number;
  bytes: number;
  /** Average target rate over the scheduled part of the run, events/s. */
  targetRate: number;
  peakTargetRate: number;
  /** Records produced per second of the run (paced: over at least the scheduled time), events/s. */
  achievedRate: number;
  acknowledgedRate: number;
  /** False when production fell behind the schedule by more than the tolerance (or the sink failed). */
  keptUp: boolean;
  maxLagMs: number;
  maxBacklog: number;
  /** Time generation waited at the in-flight budget. */
  inFlightWaitMs: number;
  producingMs: number;
  elapsedMs: number;
  events: GeneratorStats;
  produceAck?: LatencySummary | undefined;
  manifest?: string | undefined;
  errors?: string[] | undefined;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** p50/p90/p99/p99.9/max in ms from a histogram recorded in microseconds. */
export function summarizeLatencyUs(histogram: Histogram): LatencySummary {
  const ms = (us: number) => round3(us / 1000);
  return {
    unit: 'ms',
    count: histogram.totalCount,
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
    mean: ms(histogram.mean),
    histogram: encodeIntoCompressedBase64(histogram),
  };
}
