/**
 * What `gapipe bench` measures and writes: the shared shapes of its result (result.json), its live
 * figures, and the names of its latency kinds. Every latency is measured from the record's intended
 * send time (open-loop schedule), so a stalled producer shows up in the numbers; warm-up is excluded.
 *
 * Units: histograms record microseconds; summaries give milliseconds (fractional).
 */

import type { EngineResources } from './engines/resources.js';
import type { EngineName } from './engines/types.js';

export const RESULT_FORMAT = 'gapipe-bench-result/1';

export const LATENCY_KINDS = ['produce-ack', 'delivery', 'sink', 'visible'] as const;
export type LatencyKind = (typeof LATENCY_KINDS)[number];
/**
 * Kinds timed only inside gapipe's own consumer (its writes acknowledged by the store): an engine read
 * from outside has none of them.
 */
/** Said wherever a figure that an engine read from outside does not have would be. */
export const NOT_MEASURED = 'not measured for this engine';
export const INSIDE_ONLY_KINDS: ReadonlySet<LatencyKind> = new Set<LatencyKind>(['sink']);

export const LATENCY_DESCRIPTIONS: Record<LatencyKind, string> = {
  'produce-ack': 'intended send time → acknowledged by the broker',
  delivery: "intended send time → readable by a consumer (the bench's tap, in its own group)",
  sink: 'intended send time → its aggregate acknowledged by Elasticsearch',
  visible:
    "intended send time → its cell's count in Elasticsearch covers it (polled from outside the pipeline)",
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

/**
 * One second of the run (measured, warm-up, or the drain after the load). The bench reads its
 * counters at each one-second tick of the clock (not when a batch happens to be sent), so a figure is
 * what happened between two ticks: produced, acknowledged, consumed and written are per-second rates —
 * the count between the ticks divided by the time between them (about a second; more when the bench's
 * thread was held up).
 */
export interface SeriesPoint {
  /** Seconds since the start of the load (1 = the first second); the tick that ended this second. */
  t: number;
  warmup: boolean;
  targetRate: number;
  /** Records handed to the producer, per second. */
  produced: number;
  /** Records acknowledged by the broker, per second. */
  acknowledged: number;
  /** Records received by the consumers, per second. */
  consumed: number;
  /** Aggregate documents acknowledged by the store, per second (once per flush interval, so in steps). */
  written: number;
  /**
   * Consumer lag at the tick, records: the topic's end offsets minus the consumers' read positions,
   * summed over partitions — what has reached the broker and not yet the consumers.
   */
  lag: number;
  /** Consumer watermark at the end of the second, epoch ms, when there is one. */
  watermarkMs?: number;
  /** p99 of each latency kind over this second, ms, when it has samples. */
  p99Ms: Partial<Record<LatencyKind, number>>;
  errors: number;
  /** The load generator's own load and its place against the schedule (the instrument measuring itself). */
  instrument?: InstrumentPoint;
  /** The consumer processes' load, where they report it (lab target). */
  pipeline?: PipelineLoadPoint;
}

/** The load generator over one second: how busy its threads were and how far behind its schedule. */
export interface InstrumentPoint {
  /** Event-loop utilisation of the busiest generator thread, 0–1 (the share of the second it was busy). */
  elu: number;
  /** CPU of the generator's threads, in cores (1 = one core all second), where measured per thread. */
  cpuCores?: number;
  /** CPU of the whole bench process (every thread, garbage collection included), in cores. */
  processCpuCores: number;
  /** Most the load was behind its schedule during the second, ms. */
  scheduleLagMs: number;
  /** Events due and not yet produced at that moment. */
  backlog: number;
  /** Records sent and not yet acknowledged, at the end of the second. */
  inFlight: number;
  /** True when generation waited for acknowledgements (its in-flight budget used up) during the second. */
  atInFlightLimit: boolean;
  threads: Array<{ thread: string; elu: number; cpuCores?: number }>;
}

/** The pipeline's consumer processes over one second. */
export interface PipelineLoadPoint {
  /** Event-loop utilisation of the busiest consumer process's main thread, 0–1. */
  elu: number;
  /** CPU of the consumer processes' main threads together, in cores, where measured. */
  cpuCores?: number;
  processes: number;
}

/** The instrument over the measured part of the run. */
export interface InstrumentSummary {
  /** True when the generator shared its thread with the pipeline under test (the embedded target). */
  sharedWithPipeline: boolean;
  generatorThreads: number;
  /** Cores of the machine. */
  cpus: number;
  /** Seconds with instrument figures in the measured window. */
  measuredSeconds: number;
  /** Busiest generator thread, event-loop utilisation 0–1: mean and highest second. */
  eluMean: number;
  eluMax: number;
  /** CPU of the generator's threads, cores, where measured per thread. */
  cpuCoresMean?: number;
  cpuCoresMax?: number;
  processCpuCoresMean: number;
  /** Worst lag behind the schedule while measured, ms, and the second of the run (t) it happened. */
  maxScheduleLagMs: number;
  maxScheduleLagAtS: number | null;
  maxBacklog: number;
  /** Measured seconds more than the tolerance (1 s) behind the schedule. */
  secondsBehind: number;
  /** Measured seconds in which a generator thread was saturated (≥ 90% busy or of its usable CPU). */
  secondsSaturated: number;
  /** Busiest consumer process's event-loop utilisation at its highest second, where reported. */
  pipelineEluMax?: number;
}

/** What limited a run: gapipe's own load generator, or the pipeline under test. */
export type LimitedBy = 'instrument' | 'pipeline';

/** One pass/fail check of a run; JUnit writes one test case per check. */
export interface VerdictCheck {
  /** "run completes", "load keeps the schedule", "records are acknowledged", "results verify", or the assertion as written. */
  name: string;
  /** The bench's own checks, or the user's --assert gates. */
  group: 'run' | 'assertion';
  outcome: 'passed' | 'failed' | 'skipped';
  /** One line with its figure: "fell 1.4 s behind the schedule at 12 s; …". */
  message: string;
  /** More lines (the differing cells, the errors), for JUnit and the report. */
  detail?: string;
}

/**
 * The one decision about a run (verdict.ts): the summary, the exit code, result.json, junit.xml and
 * report.html all render this value and decide nothing themselves.
 */
export interface Verdict {
  status: 'passed' | 'failed';
  exitCode: 0 | 1;
  checks: VerdictCheck[];
  /** The failed checks' messages, in order. */
  failures: string[];
  /** Set when the run failed: who limited it, when it can be told. */
  limitedBy?: LimitedBy;
  /** "instrument-bound: the load generator used 98% of a core". */
  limit?: string;
  /** The figures behind `limitedBy` (or why it cannot be told), one line each. */
  evidence: string[];
  /** Not failures, but worth knowing: "the load generator was 93% busy at 42 s — near its limit". */
  warnings: string[];
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
  /** The engine under test (absent in results of older versions: gapipe). */
  engine?: EngineName;
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
  /** The load generator measuring itself over the measured part of the run. */
  instrument: InstrumentSummary;
  /** The decision; `status` and `failures` above are copies of its fields, for readers of older results. */
  verdict: Verdict;
  /** The engine under test and how each figure was measured (absent in results of older versions). */
  engine?: EngineSummary;
}

/** The engine under test, its CPU and memory, and how each figure was taken. */
export interface EngineSummary {
  name: EngineName;
  /** "1 consumer process", "the Spark job on local[2]", "your engine". */
  description: string;
  /** CPU and memory of its processes while measured; absent when they are not this machine's to see. */
  resources?: EngineResources;
  /** Per figure (each latency kind, consumed, lag): how it was measured. */
  measuredBy: Partial<Record<LatencyKind | 'consumed' | 'lag', string>>;
  /** The engine's own software and versions (Spark, its Kafka connector, Java), where gapipe ran it. */
  software?: Record<string, string>;
}

/** What a run measured, before the assertions and the verdict are decided from it. */
export type MeasuredSummary = Omit<BenchSummary, 'status' | 'failures' | 'verdict' | 'assertions'>;

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

/** Live figures for the terminal view, about once per second (during the load and the drain after it). */
export interface BenchProgress {
  /**
   * Set for an engine read from outside (spark, external): consumed is then what its documents count,
   * lag what they do not count yet, and documents written are not known.
   */
  outsideEngine?: EngineName;
  /** 'load' while the load runs; 'draining' while the consumers catch up after it. */
  phase: 'load' | 'draining';
  /** Time in that phase, ms (for the load, the same as elapsedMs). */
  phaseElapsedMs: number;
  elapsedMs: number;
  /** Planned length including warm-up. */
  totalMs: number;
  warmup: boolean;
  target: 'lab' | 'embedded';
  targetRate: number;
  /** Last-second rates. */
  rates: { produced: number; acknowledged: number; consumed: number; written: number };
  /** Recent per-second history (oldest first, up to 120 s) for sparklines. */
  history: Array<{
    produced: number;
    consumed: number;
    written: number;
    lag: number;
    /** The generator's busiest thread, 0–1, and how far behind its schedule, ms. */
    generatorElu?: number;
    scheduleLagMs?: number;
  }>;
  lag: number;
  watermarkMs: number | undefined;
  /** Over the measured part so far. */
  latency: Record<LatencyKind, LatencySummary>;
  errors: string[];
  totals: BenchSummary['totals'];
  /** The last second's instrument figures (generator load, schedule), once there are any. */
  instrument?: InstrumentPoint;
  /** True when the generator shares its thread with the pipeline (embedded target). */
  instrumentShared?: boolean;
  /** The last second's consumer-process load, where reported. */
  pipeline?: PipelineLoadPoint;
}

/** What a bench run is about to do, for the banner. */
export interface BenchStart {
  target: 'lab' | 'embedded';
  engine: EngineName;
  /** "1 consumer process", "the Spark job on local[2]", "your engine". */
  engineDescription: string;
  /** The lab benched, when the endpoints came from a lab (not from --brokers/--es). */
  labName?: string;
  brokers?: string;
  esUrl?: string;
  topic: string;
  index: string;
  partitions: number;
  players: number;
  /** The rate in words, e.g. "one event every 10ms per player". */
  rateDescription: string;
  targetRate: number;
  /** Measured length, after the warm-up (as --duration; the run lasts warmupMs + durationMs). */
  durationMs: number;
  /** Load before measuring starts, excluded from the figures. */
  warmupMs: number;
  consumers: number;
  seed: number;
  outDir: string;
  /** As the user wrote them: "delivery.p99<500ms", "correct". */
  assertions: string[];
  /** The consumers' allowed lateness: their watermark is the latest event time minus this. */
  allowedLatenessMs: number;
}

/**
 * The stages of a run, in order: finding the target, starting the consumers, the load, the drain
 * (consumers catching up), verifying, stopping the consumers, writing the results, cleaning up.
 */
export type BenchPhaseName =
  | 'preparing'
  | 'starting'
  | 'load'
  | 'draining'
  | 'verifying'
  | 'stopping'
  | 'writing'
  | 'cleaning-up';

export interface BenchPhase {
  name: BenchPhaseName;
  /** What is happening, in words: "verifying the aggregates against the ground truth". */
  text: string;
  /** Epoch ms when the phase began, so a view can show the time spent in it. */
  startedAtMs: number;
}

/** Receives a run's progress; the command's UI implements it (src/ui/bench-progress.tsx). */
export interface BenchReporter {
  /** The banner: what runs where. Comes after the first phase (finding the target can take a while). */
  started(start: BenchStart): void;
  /** A new stage of the run began. */
  phase(phase: BenchPhase): void;
  /** Called with each per-second update (during the load and the drain). */
  update(progress: BenchProgress): void;
  /** Stops live drawing; safe to call more than once. */
  done(): void;
}
