/**
 * A realistic BenchResult for tests of anything that reads one (report, result files, comparisons):
 * real compressed HDR histograms (microseconds, log-normal with a tail), about a minute of per-second
 * series with a warm-up, and a summary computed from those histograms and series, so the numbers
 * agree with each other the way a real run's do. Deterministic: the same options give the same result.
 */
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { summarizeInstrument } from '../../src/bench/instrument.js';
import {
  type AssertionOutcome,
  type BenchConfig,
  type BenchResult,
  type BenchSummary,
  type InstrumentSummary,
  LATENCY_KINDS,
  type LatencyKind,
  type LatencySummary,
  type Provenance,
  RESULT_FORMAT,
  type SeriesPoint,
} from '../../src/bench/types.js';
import { withVerdict } from '../../src/bench/verdict.js';

/** Top-level fields replace the sample's; config, provenance, summary and histograms are merged one level deep. */
export type SampleOverrides = Omit<
  Partial<BenchResult>,
  'config' | 'provenance' | 'summary' | 'histograms'
> & {
  config?: Partial<BenchConfig>;
  provenance?: Partial<Provenance>;
  summary?: Partial<BenchSummary>;
  histograms?: Partial<Record<LatencyKind, string>>;
};

export interface SampleOptions {
  /** 'embedded' gives what an embedded run records: no brokers, no Elasticsearch URL, no images. */
  target?: 'lab' | 'embedded';
  /** Kinds recorded with no samples (their histograms are empty, their summaries zero). */
  emptyKinds?: LatencyKind[];
  samplesPerKind?: number;
  seconds?: number;
  warmupSeconds?: number;
  seed?: number;
}

/** Median and spread (log-normal sigma) of each kind, ms: roughly what a small lab run shows. */
const LATENCY_SHAPES: Record<LatencyKind, { medianMs: number; sigma: number }> = {
  'produce-ack': { medianMs: 2.8, sigma: 0.45 },
  delivery: { medianMs: 9.5, sigma: 0.55 },
  sink: { medianMs: 240, sigma: 0.35 },
  visible: { medianMs: 1150, sigma: 0.25 },
};

/** The histogram settings gapipe records with (microseconds, up to an hour, 3 significant digits). */
export function newLatencyHistogram(): Histogram {
  return build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** mulberry32: small, seedable, good enough for test data. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), Number.EPSILON);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * A LatencySummary of a histogram of microseconds, computed as src/bench/histograms.ts does (min and
 * max from the counts, ms rounded to the microsecond) but written out here, so tests do not take their
 * expected numbers from the code they test.
 */
export function summarizeHistogram(histogram: Histogram): LatencySummary {
  if (histogram.totalCount === 0) {
    return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  }
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: histogram.totalCount,
    minMs: ms(histogram.getValueAtPercentile(0)),
    meanMs: ms(histogram.mean),
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.getValueAtPercentile(100)),
  };
}

function sampleHistogram(kind: LatencyKind, samples: number, random: () => number): Histogram {
  const histogram = newLatencyHistogram();
  const { medianMs, sigma } = LATENCY_SHAPES[kind];
  for (let i = 0; i < samples; i++) {
    let ms = medianMs * Math.exp(sigma * gaussian(random));
    // A few stalls (GC, a rebalance, a slow refresh) make the tail that the percentile plot is for.
    if (random() < 0.004) ms *= 4 + 8 * random();
    histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }
  return histogram;
}

function sampleSeries(
  seconds: number,
  warmupSeconds: number,
  targetRate: number,
  latency: Record<LatencyKind, LatencySummary>,
  random: () => number,
): SeriesPoint[] {
  const series: SeriesPoint[] = [];
  const jitter = (scale: number) => 1 + scale * gaussian(random);
  let lag = 0;
  for (let t = 1; t <= seconds; t++) {
    const warmup = t <= warmupSeconds;
    // The first seconds ramp up (connections, JIT); afterwards production holds the target.
    const rampUp = t <= 3 ? 0.55 + 0.15 * t : 1;
    const produced = Math.round(targetRate * rampUp * jitter(0.01));
    const acknowledged = Math.round(produced * jitter(0.004));
    const consumed = Math.round(
      Math.min(acknowledged + lag, acknowledged * (warmup ? 0.93 : 1) * jitter(0.006)),
    );
    lag = Math.max(0, lag + acknowledged - consumed);
    if (t === warmupSeconds + 8) lag += Math.round(targetRate * 0.3); // a short stall, caught up again
    const written = Math.round(consumed * 0.036 * jitter(0.05));
    const p99Ms: SeriesPoint['p99Ms'] = {};
    for (const kind of LATENCY_KINDS) {
      if (latency[kind].count > 0) p99Ms[kind] = round3(latency[kind].p99Ms * jitter(0.08));
    }
    // A generator with headroom: about a third of its thread, a few milliseconds behind at worst.
    const elu = round3(Math.min(1, 0.32 * rampUp * jitter(0.08)));
    const cpuCores = round3(elu * 0.94);
    series.push({
      t,
      warmup,
      targetRate,
      produced,
      acknowledged,
      consumed,
      written,
      lag: Math.round(lag + 40 * random()),
      watermarkMs: 1_767_225_600_000 + t * 1000 - 2000,
      p99Ms,
      errors: 0,
      instrument: {
        elu,
        cpuCores,
        processCpuCores: round3(cpuCores * 1.3),
        scheduleLagMs: Math.round(4 * random()),
        backlog: Math.round(10 * random()),
        inFlight: Math.round(targetRate * 0.004 * jitter(0.2)),
        atInFlightLimit: false,
        threads: [{ thread: 'main', elu, cpuCores }],
      },
      pipeline: { elu: round3(0.4 * jitter(0.1)), cpuCores: round3(0.36 * jitter(0.1)), processes: 2 },
    });
    lag = Math.round(lag * 0.55);
  }
  return series;
}

/** Assertion outcomes for the sample's `--assert` expressions, from its summary. */
function sampleAssertions(latency: Record<LatencyKind, LatencySummary>): AssertionOutcome[] {
  const p99 = latency.delivery.p99Ms;
  const delivery: AssertionOutcome = {
    expression: 'delivery.p99<500ms',
    passed: p99 < 500,
    actual: `${p99}ms`,
    message: p99 < 500 ? `delivery.p99 was ${p99}ms, < 500ms` : `delivery.p99 was ${p99}ms, not < 500ms`,
  };
  const correct: AssertionOutcome = {
    expression: 'correct',
    passed: true,
    actual: 'true',
    message: 'the aggregates in the sink match the expected aggregates',
  };
  return [delivery, correct];
}

/**
 * A realistic BenchResult: by default a passed 60 s lab run (10 s warm-up) at 5000 events/s with
 * a few thousand samples per latency kind.
 */
export function sampleBenchResult(overrides: SampleOverrides = {}, options: SampleOptions = {}): BenchResult {
  const target = options.target ?? 'lab';
  const seconds = options.seconds ?? 60;
  const warmupSeconds = options.warmupSeconds ?? 10;
  const samplesPerKind = options.samplesPerKind ?? 4000;
  const emptyKinds = new Set(options.emptyKinds ?? []);
  const random = prng(options.seed ?? 42);
  const targetRate = 5000;
  const lab = target === 'lab';

  const histograms = {} as Record<LatencyKind, string>;
  const latency = {} as Record<LatencyKind, LatencySummary>;
  for (const kind of LATENCY_KINDS) {
    const histogram = emptyKinds.has(kind)
      ? newLatencyHistogram()
      : sampleHistogram(kind, samplesPerKind, random);
    histograms[kind] = encodeIntoCompressedBase64(histogram);
    latency[kind] = summarizeHistogram(histogram);
    histogram.destroy();
  }

  const series = sampleSeries(seconds, warmupSeconds, targetRate, latency, random);
  const measured = series.filter((point) => !point.warmup);
  const measuredSeconds = Math.max(1, measured.length);
  const sum = (points: SeriesPoint[], key: 'produced' | 'acknowledged' | 'consumed' | 'written') =>
    points.reduce((total, point) => total + point[key], 0);
  const perSecond = (key: 'produced' | 'acknowledged' | 'consumed' | 'written') =>
    Math.round(sum(measured, key) / measuredSeconds);
  const assertions = sampleAssertions(latency);

  const startedMs = Date.UTC(2026, 0, 15, 9, 30, 0);
  const durationMs = seconds * 1000 + 1240; // plus the final drain and verification
  const config: BenchConfig = {
    target,
    players: 500,
    rate: '100ms',
    targetRate,
    stages: null,
    scenario: null,
    durationMs: (seconds - warmupSeconds) * 1000,
    warmupMs: warmupSeconds * 1000,
    seed: 42,
    consumers: 2,
    topic: 'gapipe-bench-events',
    partitions: 6,
    index: 'gapipe-bench-aggregates',
    brokers: lab ? 'localhost:19092' : null,
    esUrl: lab ? 'http://localhost:19200' : null,
    assertions: assertions.map((outcome) => outcome.expression),
    extra: {
      lateRate: 0.01,
      duplicateRate: 0.005,
      malformedRate: 0.001,
      window: '10s',
      allowedLateness: '5s',
    },
  };
  const provenance: Provenance = {
    gapipeVersion: '0.1.0',
    node: 'v20.19.5',
    libraries: { kafkajs: '2.2.4', '@elastic/elasticsearch': '8.19.2', 'hdr-histogram-js': '3.0.1' },
    images: lab
      ? {
          kafka: {
            name: 'apache/kafka:4.0.0',
            id: 'sha256:3c1f0a9e5b7d2c4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e',
          },
          elasticsearch: {
            name: 'docker.elastic.co/elasticsearch/elasticsearch:8.19.2',
            id: 'sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b',
          },
        }
      : {},
    host: {
      platform: 'linux',
      arch: 'x64',
      cpuModel: 'AMD EPYC 7B13',
      cpus: 8,
      memoryBytes: 32 * 1024 ** 3,
      hostname: 'bench-runner-1',
    },
    command: `gapipe bench ${lab ? '' : '--embedded '}--players 500 --rate 100ms --duration 50s --warmup 10s --seed 42 --consumers 2 --assert 'delivery.p99<500ms' --assert correct`,
  };
  const totals = {
    produced: sum(series, 'produced'),
    acknowledged: sum(series, 'acknowledged'),
    failed: 0,
    consumed: sum(series, 'consumed'),
    written: sum(series, 'written'),
    late: Math.round(sum(series, 'consumed') * 0.01),
    deadLettered: Math.round(sum(series, 'consumed') * 0.001),
    duplicates: Math.round(sum(series, 'consumed') * 0.005),
  };
  const summary: Omit<BenchSummary, 'status' | 'failures' | 'verdict'> = {
    stopReason: 'completed',
    durationMs,
    measuredMs: measured.length * 1000,
    targetRate,
    achievedRate: perSecond('produced'),
    keptUp: true,
    throughput: {
      produced: perSecond('produced'),
      acknowledged: perSecond('acknowledged'),
      consumed: perSecond('consumed'),
      written: perSecond('written'),
    },
    totals,
    maxLag: Math.max(0, ...measured.map((point) => point.lag)),
    latency,
    correct: true,
    verify: { ok: true, cellsCompared: 1248, cellsDiffering: 0, differences: [] },
    assertions,
    errors: [],
    instrument: summarizeInstrument({
      series,
      lastSecond: seconds,
      sharedWithPipeline: !lab,
      generatorThreads: 1,
      cpus: 8,
    }),
  };

  const {
    config: configOverrides,
    provenance: provenanceOverrides,
    summary: summaryOverrides,
    histograms: histogramOverrides,
    ...topLevel
  } = overrides;
  return {
    format: RESULT_FORMAT,
    runId: `bench-20260115-093000-${lab ? 'lab' : 'emb'}`,
    startedAt: new Date(startedMs).toISOString(),
    finishedAt: new Date(startedMs + durationMs).toISOString(),
    series,
    ...topLevel,
    config: { ...config, ...configOverrides },
    provenance: { ...provenance, ...provenanceOverrides },
    summary: decided({ ...summary, ...summaryOverrides }, overrides.series ?? series, {
      ...config,
      ...configOverrides,
    }),
    histograms: { ...histograms, ...histogramOverrides },
  };
}

/**
 * The summary with its verdict decided from its own figures, as a run decides it — unless the
 * overrides gave a verdict (or status and failures) of their own.
 */
export function decided(
  summary: Partial<BenchSummary> & Omit<BenchSummary, 'status' | 'failures' | 'verdict'>,
  series: SeriesPoint[],
  config: Pick<BenchConfig, 'durationMs' | 'warmupMs' | 'target'>,
): BenchSummary {
  const verdict = withVerdict({ summary, series, config });
  return { ...verdict, ...summary, verdict: summary.verdict ?? verdict.verdict };
}

/** Instrument figures of a generator with headroom, written out; override what a test is about. */
export function instrumentSummary(overrides: Partial<InstrumentSummary> = {}): InstrumentSummary {
  return {
    sharedWithPipeline: false,
    generatorThreads: 1,
    cpus: 8,
    measuredSeconds: 60,
    eluMean: 0.31,
    eluMax: 0.42,
    cpuCoresMean: 0.29,
    cpuCoresMax: 0.4,
    processCpuCoresMean: 0.41,
    maxScheduleLagMs: 3,
    maxScheduleLagAtS: 23,
    maxBacklog: 12,
    secondsBehind: 0,
    secondsSaturated: 0,
    ...overrides,
  };
}
