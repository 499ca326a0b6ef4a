/**
 * What `gapipe bench` measures and writes: the shared shapes of its result (result.json), its live
 * figures, and the names of its latency kinds. Every latency is measured from the record's intended
 * send time (open-loop schedule), so a stalled producer shows up in the numbers; warm-up is excluded.
 *
 * Units: histograms record microseconds; summaries give milliseconds (fractional).
 */

export const RESULT_FORMAT = 'gapipe-bench-result/1';

export const LATENCY_KINDS = ['produce-ack', 'delivery', 'sink', 'visible'] as const;
export type LatencyKind = (typeof LATENCY_KINDS)[number];

export const LATENCY_DESCRIPTIONS: Record<LatencyKind, string> = {
  'produce-ack': 'intended send time → acknowledged by the broker',
  delivery: 'intended send time → received by a consumer',
  sink: 'intended send time → its aggregate acknowledged by Elasticsearch',
  visible: 'intended send time → its aggregate searchable',
};

/** Percentiles reported everywhere (tables, .hgrm summaries, assertions). */
export const REPORTED_PERCENTILES = [50, 90, 99, 99.9] as const;

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** One second of the run (measured or warm-up). Counts are per that second, not cumulative. */
export interface SeriesPoint {
  /** Seconds since the start of the run (1 = the first second). */
  t: number;
  warmup: boolean;
  targetRate: number;
  produced: number;
  acknowledged: number;
  consumed: number;
  written: number;
  /** Consumer lag (records) at the end of the second, summed over partitions. */
  lag: number;
  /** Consumer watermark at the end of the second, epoch ms, when there is one. */
  watermarkMs?: number;
  /** p99 of each latency kind over this second, ms, when it has samples. */
  p99Ms: Partial<Record<LatencyKind, number>>;
  errors: number;
}

export interface AssertionOutcome {
  /** As the user wrote it: "delivery.p99<500ms". */
  expression: string;
  passed: boolean;
  /** The measured value in the expression's unit, e.g. "612.3ms"; absent for `correct` when unknown. */
  actual?: string;
  /** One line: "delivery.p99 was 612.3ms, not < 500ms". */
  message: string;
}

export interface VerifySummary {
  ok: boolean;
  cellsCompared: number;
  cellsDiffering: number;
  /** The first few differences, for reports. */
  differences: Array<{
    window_start: string;
    region: string;
    event_type: string;
    field: string;
    expected: number;
    actual: number;
  }>;
}

export interface BenchConfig {
  target: 'lab' | 'embedded';
  players: number;
  /** As given: "10ms" or "5000/s". */
  rate: string;
  targetRate: number;
  stages: string | null;
  scenario: string | null;
  durationMs: number;
  warmupMs: number;
  seed: number;
  consumers: number;
  topic: string;
  partitions: number;
  index: string;
  brokers: string | null;
  esUrl: string | null;
  assertions: string[];
  /** Everything else that shaped the run (disorder, producer settings, window options). */
  extra: Record<string, unknown>;
}

export interface Provenance {
  gapipeVersion: string;
  node: string;
  libraries: Record<string, string>;
  /** Image name and id per lab service; empty for the embedded target. */
  images: Record<string, { name: string; id: string }>;
  host: {
    platform: string;
    arch: string;
    cpuModel: string;
    cpus: number;
    memoryBytes: number;
    hostname: string;
  };
  command: string;
}

export interface BenchSummary {
  /** Passed only if the run completed, the results verify and every assertion holds. */
  status: 'passed' | 'failed';
  stopReason: 'completed' | 'stopped' | 'failed';
  /** Why it failed, one line each (wrong results, assertions, errors). */
  failures: string[];
  durationMs: number;
  measuredMs: number;
  targetRate: number;
  /** Produced per second over the measured window. */
  achievedRate: number;
  keptUp: boolean;
  /** Per second over the measured window. */
  throughput: { produced: number; acknowledged: number; consumed: number; written: number };
  totals: {
    produced: number;
    acknowledged: number;
    failed: number;
    consumed: number;
    written: number;
    late: number;
    deadLettered: number;
    duplicates: number;
  };
  maxLag: number;
  latency: Record<LatencyKind, LatencySummary>;
  /** null when verification could not run (e.g. interrupted before any data). */
  correct: boolean | null;
  verify: VerifySummary | null;
  assertions: AssertionOutcome[];
  errors: string[];
}

export interface BenchResult {
  format: typeof RESULT_FORMAT;
  runId: string;
  startedAt: string;
  finishedAt: string;
  config: BenchConfig;
  provenance: Provenance;
  summary: BenchSummary;
  series: SeriesPoint[];
  /** Compressed base64 HDR histograms (hdr-histogram-js encodeIntoCompressedBase64), microseconds. */
  histograms: Record<LatencyKind, string>;
}

/** Live figures for the terminal view, about once per second. */
export interface BenchProgress {
  elapsedMs: number;
  /** Planned length including warm-up. */
  totalMs: number;
  warmup: boolean;
  target: 'lab' | 'embedded';
  targetRate: number;
  /** Last-second rates. */
  rates: { produced: number; acknowledged: number; consumed: number; written: number };
  /** Recent per-second history (oldest first, up to 120 s) for sparklines. */
  history: Array<{ produced: number; consumed: number; written: number; lag: number }>;
  lag: number;
  watermarkMs: number | undefined;
  /** Over the measured part so far. */
  latency: Record<LatencyKind, LatencySummary>;
  errors: string[];
  totals: BenchSummary['totals'];
}
