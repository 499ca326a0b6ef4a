/**
 * Runs as a test would stage them: a second-by-second account of the load generator (busy share,
 * CPU, lag behind the schedule) and of the consumers (consumed, lag, busy share), turned into what
 * the bench records — the series, the summary with its assertions, and the verdict decided from
 * them by the bench's own functions. Nothing here sets a verdict by hand.
 */
import { evaluateAssertions, parseAssertions } from '../../src/bench/assertions.js';
import { emptySummary } from '../../src/bench/histograms.js';
import { summarizeInstrument } from '../../src/bench/instrument.js';
import {
  type BenchResult,
  LATENCY_KINDS,
  type LatencyKind,
  type LatencySummary,
  type MeasuredSummary,
  RESULT_FORMAT,
  type SeriesPoint,
} from '../../src/bench/types.js';
import { keptSchedule, type VerdictInput, withVerdict } from '../../src/bench/verdict.js';

/** One measured second, as the test tells it. */
export interface Second {
  /** The generator's busiest thread, 0–1. */
  elu: number;
  /** Generator thread CPU in cores; omitted: unknown. */
  cpu?: number;
  /** The whole bench process's CPU, cores; omitted: the thread's (or its busy share). */
  processCpu?: number;
  lagMs?: number;
  backlog?: number;
  produced?: number;
  consumed?: number;
  /** Consumer lag at the end of the second; omitted: the running difference produced − consumed. */
  consumerLag?: number;
  /** Busiest consumer process, 0–1 (lab target); omitted: not reported. */
  consumerElu?: number;
  atInFlightLimit?: boolean;
}

export interface Scenario {
  seconds: Second[];
  warmupSeconds?: number;
  targetRate?: number;
  shared?: boolean;
  cpus?: number;
  latencyP99Ms?: Partial<Record<LatencyKind, number>>;
  correct?: boolean | null;
  assert?: string[];
  stopped?: boolean;
  /** Planned measured seconds, when the run was stopped before them. */
  plannedSeconds?: number;
  failedRecords?: number;
  workers?: { current: number; max: number };
}

export function latency(p99Ms: number, count = 50_000): LatencySummary {
  return {
    count,
    minMs: p99Ms / 50,
    meanMs: p99Ms / 5,
    p50Ms: p99Ms / 4,
    p90Ms: p99Ms / 2,
    p99Ms,
    p999Ms: p99Ms * 1.5,
    maxMs: p99Ms * 2,
  };
}

/** The verdict's input for a scenario, with every figure computed the way a run computes it. */
export function scenarioInput(scenario: Scenario): VerdictInput {
  const targetRate = scenario.targetRate ?? 10_000;
  const warmup = scenario.warmupSeconds ?? 5;
  const quiet: Second = { elu: 0.25, cpu: 0.24, lagMs: 1, produced: targetRate, consumed: targetRate };
  const seconds = [...Array.from({ length: warmup }, () => quiet), ...scenario.seconds];
  let running = 0;
  const series: SeriesPoint[] = seconds.map((second, i) => {
    const produced = second.produced ?? targetRate;
    const consumed = second.consumed ?? produced;
    running = Math.max(0, running + produced - consumed);
    return {
      t: i + 1,
      warmup: i < warmup,
      targetRate,
      produced,
      acknowledged: produced,
      consumed,
      written: Math.round(consumed / 250),
      lag: second.consumerLag ?? running,
      p99Ms: {},
      errors: 0,
      instrument: {
        elu: second.elu,
        ...(second.cpu === undefined ? {} : { cpuCores: second.cpu }),
        processCpuCores: second.processCpu ?? second.cpu ?? second.elu,
        scheduleLagMs: second.lagMs ?? 0,
        backlog: second.backlog ?? Math.round(((second.lagMs ?? 0) * targetRate) / 1000),
        inFlight: 200,
        atInFlightLimit: second.atInFlightLimit ?? false,
        threads: [
          { thread: 'main', elu: second.elu, ...(second.cpu === undefined ? {} : { cpuCores: second.cpu }) },
        ],
      },
      ...(second.consumerElu === undefined
        ? {}
        : { pipeline: { elu: second.consumerElu, cpuCores: second.consumerElu, processes: 1 } }),
    };
  });
  const measured = series.filter((p) => !p.warmup);
  const measuredMs = measured.length * 1000;
  const perSecond = (field: 'produced' | 'acknowledged' | 'consumed' | 'written') =>
    measured.reduce((n, p) => n + p[field], 0) / measured.length;
  const total = (field: 'produced' | 'consumed' | 'written') => series.reduce((n, p) => n + p[field], 0);
  const instrument = summarizeInstrument({
    series,
    lastSecond: series.length,
    sharedWithPipeline: scenario.shared ?? false,
    generatorThreads: 1,
    cpus: scenario.cpus ?? 2,
  });
  const latencies = {} as Record<LatencyKind, LatencySummary>;
  const p99 = { 'produce-ack': 6, delivery: 40, sink: 900, visible: 1400, ...scenario.latencyP99Ms };
  for (const kind of LATENCY_KINDS) latencies[kind] = p99[kind] > 0 ? latency(p99[kind]) : emptySummary();
  const correct = scenario.correct === undefined ? true : scenario.correct;
  const summary: MeasuredSummary = {
    stopReason: scenario.stopped ? 'stopped' : 'completed',
    durationMs: measuredMs + warmup * 1000 + 3000,
    measuredMs,
    targetRate,
    achievedRate: perSecond('produced'),
    keptUp: keptSchedule(instrument, true),
    throughput: {
      produced: perSecond('produced'),
      acknowledged: perSecond('acknowledged'),
      consumed: perSecond('consumed'),
      written: perSecond('written'),
    },
    totals: {
      produced: total('produced'),
      acknowledged: total('produced') - (scenario.failedRecords ?? 0),
      failed: scenario.failedRecords ?? 0,
      consumed: total('consumed'),
      written: total('written'),
      late: 0,
      deadLettered: 0,
      duplicates: 0,
    },
    maxLag: Math.max(0, ...measured.map((p) => p.lag)),
    latency: latencies,
    correct,
    verify:
      correct === null
        ? null
        : {
            ok: correct,
            cellsCompared: 100,
            cellsDiffering: correct ? 0 : 2,
            differences: correct
              ? []
              : [
                  {
                    window_start: '2026-05-01T10:00:00.000Z',
                    region: 'EU',
                    event_type: 'level_up',
                    field: 'events',
                    expected: 10,
                    actual: 9,
                  },
                ],
          },
    errors: [],
    instrument,
  };
  return {
    summary: { ...summary, assertions: evaluateAssertions(parseAssertions(scenario.assert ?? []), summary) },
    series,
    config: {
      durationMs: (scenario.plannedSeconds ?? scenario.seconds.length) * 1000,
      warmupMs: warmup * 1000,
      target: scenario.shared ? 'embedded' : 'lab',
    },
    workers: scenario.workers,
  };
}

/** A whole BenchResult for a scenario, its summary carrying the verdict decided from it. */
export function scenarioResult(scenario: Scenario): BenchResult {
  const input = scenarioInput(scenario);
  const lab = input.config.target === 'lab';
  return {
    format: RESULT_FORMAT,
    runId: 'run-verdict',
    startedAt: '2026-05-01T10:00:00.000Z',
    finishedAt: '2026-05-01T10:01:00.000Z',
    config: {
      target: input.config.target,
      players: 1000,
      rate: `${scenario.targetRate ?? 10_000}/s`,
      targetRate: scenario.targetRate ?? 10_000,
      stages: null,
      scenario: null,
      durationMs: input.config.durationMs,
      warmupMs: input.config.warmupMs,
      seed: 1,
      consumers: 1,
      topic: 'gapipe-bench-x',
      partitions: 6,
      index: 'gapipe-aggregates-bench-x',
      brokers: lab ? 'localhost:19092' : null,
      esUrl: lab ? 'http://localhost:19200' : null,
      assertions: scenario.assert ?? [],
      extra: {},
    },
    provenance: {
      gapipeVersion: '0.1.0',
      node: 'v20.20.0',
      libraries: {},
      images: {},
      host: { platform: 'linux', arch: 'x64', cpuModel: 'cpu', cpus: 2, memoryBytes: 24e9, hostname: 'h' },
      command: 'gapipe bench',
    },
    summary: withVerdict(input),
    series: input.series,
    histograms: { 'produce-ack': '', delivery: '', sink: '', visible: '' },
  };
}

/** `count` seconds of the same figures, with `t`-dependent ones from a function of the index. */
export function seconds(count: number, second: (i: number) => Second): Second[] {
  return Array.from({ length: count }, (_, i) => second(i));
}
