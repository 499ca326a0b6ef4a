/**
 * The simulate service: builds the world and the sink, runs the paced generator — on this thread, or
 * in `workers` generator threads that each own a shard of the players — writes the ground truth and
 * returns the summary. With threads, their counts, produce→ack histograms, progress and manifests are
 * merged into one: the same seed gives the same events whatever the thread count (see shard.ts).
 * It sees options, never flags; it renders nothing itself (the reporter does) and never exits the
 * process.
 */
import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { build, decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { type Clock, systemClock } from '../clock.js';
import { GapipeError, isGapipeError } from '../errors.js';
import { type GeneratorStats, TrafficGenerator } from './generator.js';
import {
  EVENT_TYPES,
  type GroundTruthManifest,
  GroundTruthRecorder,
  mergeManifests,
  serializeManifest,
} from './manifest.js';
import type { DisorderOptions, SimulateOptions } from './options.js';
import type { RegionCode } from './regions.js';
import { type PacingResult, runPaced, type SimulationReporter, type StopReason } from './runner.js';
import { type RampStage, RateSchedule } from './schedule.js';
import { type ShardSpec, WHOLE_STREAM, workerShards } from './shard.js';
import { createShardSink, type SinkHooks } from './shard-sink.js';
import type { SinkEnvironment } from './sinks/index.js';
import type { Sink } from './sinks/types.js';
import { type SimulateSummary, summarizeLatencyUs } from './summary.js';
import { deserializeError, type ShardOutcome } from './worker-protocol.js';
import { runWorkers } from './workers.js';

export type { SinkHooks } from './shard-sink.js';

/** What the start banner shows. */
export interface SimulationStart {
  runId: string;
  seed: number;
  seedGiven: boolean;
  scenario: string | undefined;
  players: number;
  regions: RegionCode[];
  startTime: string;
  /** Target rate at the start, events/s (total; this shard's part with --shard). */
  targetRate: number;
  peakTargetRate: number;
  rateDescription: string;
  /** The rate was given as a total, so rateDescription only restates targetRate. */
  rateGivenAsTotal?: boolean;
  stages: RampStage[];
  durationMs: number | undefined;
  events: number | undefined;
  sink: string;
  disorder: DisorderOptions;
  paced: boolean;
  maxInFlight: number;
  manifestPath: string | undefined;
  /** Generator threads. */
  workers?: number | undefined;
  /** --shard: the part of the stream this process produces. */
  shard?: ShardSpec | undefined;
}

export interface SimulateReporter extends SimulationReporter {
  started(start: SimulationStart): void;
}

/** Makes the run's sink, given the hooks the run needs wired into it. */
export type SinkFactory = (hooks: SinkHooks) => Sink | Promise<Sink>;

export interface SimulateDeps {
  clock?: Clock;
  /**
   * Use this sink instead of creating one from the options (tests, embedded runs, the bench), or a
   * factory that receives the run's hooks (records that finally failed are taken out of the ground
   * truth through `onFailed`). Either way the run is single-threaded.
   */
  sink?: Sink | SinkFactory;
  sinkEnvironment?: SinkEnvironment;
  reporter?: SimulateReporter;
  signal?: AbortSignal;
  runId?: string;
  progressIntervalMs?: number;
  yieldToEventLoop?: () => Promise<void>;
  /**
   * Told of acknowledged records' intended send times, in batches, with the time they were
   * acknowledged — from every generator thread (sinks created by the run; an injected sink reports
   * its own acknowledgements).
   */
  onAcknowledged?: (intendedMs: ArrayLike<number>, nowMs: number) => void;
}

const LAG_TOLERANCE_MS = 1000;
const DEFAULT_PROGRESS_MS = 1000;

/** What the generators produced, merged over threads. */
interface RunOutcome {
  result: PacingResult;
  sinkDescription: string;
  events: GeneratorStats;
  acknowledged: number;
  failed: number;
  bytes: number;
  produceAck: Histogram | undefined;
  errors: string[] | undefined;
  manifests: GroundTruthManifest[];
}

export async function simulate(options: SimulateOptions, deps: SimulateDeps = {}): Promise<SimulateSummary> {
  const clock = deps.clock ?? systemClock;
  const shard = options.shard ?? WHOLE_STREAM;
  const runId = deps.runId ?? (options.shard ? shardedRunId(options) : randomUUID());
  // An injected sink is one object on this thread: it cannot be shared with threads.
  const workers = deps.sink ? 1 : Math.max(1, options.workers ?? 1);
  const schedule = new RateSchedule(options.startRate, options.stages);
  const share = 1 / shard.count;
  const announce = (sinkDescription: string) =>
    deps.reporter?.started({
      runId,
      seed: options.seed,
      seedGiven: options.seedGiven,
      scenario: options.scenario,
      players: options.players,
      regions: options.regions,
      startTime: new Date(options.startTimeMs).toISOString(),
      targetRate: schedule.rateAt(0) * share,
      peakTargetRate: schedule.peakRate * share,
      rateDescription: options.rateDescription,
      rateGivenAsTotal: options.rateGivenAsTotal ?? false,
      stages: options.stages,
      durationMs: options.durationMs,
      events: options.events,
      sink: sinkDescription,
      disorder: options.disorder,
      paced: options.pace,
      maxInFlight: options.maxInFlight,
      manifestPath: options.manifestPath,
      workers,
      shard: options.shard,
    });

  const outcome =
    workers > 1
      ? await runInThreads(options, runId, workerShards(shard, workers), deps, clock, announce)
      : await runHere(options, runId, shard, deps, clock, announce);
  const { result } = outcome;

  if (options.manifestPath) {
    const manifest = mergeManifests(outcome.manifests, {
      runId,
      seed: options.seed,
      scenario: options.scenario ?? null,
      startTime: new Date(options.startTimeMs).toISOString(),
      players: options.players,
      regions: options.regions,
      sink: options.sink,
      topic: options.sink === 'kafka' ? options.topic : null,
      stopReason: result.stopReason,
      ...(options.shard ? { shard: { ...options.shard } } : {}),
      workers,
    });
    try {
      await writeFile(options.manifestPath, serializeManifest(manifest));
    } catch (error) {
      throw new GapipeError('SINK_FAILED', `Cannot write the manifest to ${options.manifestPath}`, {
        cause: error,
        nextSteps: 'Check that the directory exists and is writable, or choose another --manifest',
      });
    }
  }

  const summary = buildSummary(options, runId, workers, schedule, share, outcome);
  if (result.stopReason === 'sink-failed') {
    const cause = result.fatalError;
    const message = `${outcome.sinkDescription} failed after ${summary.produced} records (${summary.acknowledged} acknowledged)`;
    throw isGapipeError(cause)
      ? new GapipeError(cause.code, `${cause.message} — ${message}`, {
          cause: cause.cause,
          nextSteps: cause.nextSteps,
          details: cause.details,
        })
      : new GapipeError('SINK_FAILED', message, { cause });
  }
  return summary;
}

/** The single-threaded run: the generator, its sink and the pacing loop on this thread. */
async function runHere(
  options: SimulateOptions,
  runId: string,
  shard: ShardSpec,
  deps: SimulateDeps,
  clock: Clock,
  announce: (sinkDescription: string) => void,
): Promise<RunOutcome> {
  const generator = new TrafficGenerator(options, shard);
  const recorder = options.manifestPath ? new GroundTruthRecorder(options.regions) : undefined;
  if (recorder) generator.observe(recorder);
  const hooks: SinkHooks = {
    onFailed: (records) => recorder?.retract(records),
    onAcknowledged: deps.onAcknowledged,
  };
  const sink =
    typeof deps.sink === 'function'
      ? await deps.sink(hooks)
      : (deps.sink ?? (await createShardSink(options, runId, hooks, deps.sinkEnvironment)));
  announce(sink.description);

  let result: PacingResult;
  try {
    result = await runPaced(
      generator,
      {
        runId,
        pace: options.pace,
        maxInFlight: options.maxInFlight,
        lagToleranceMs: LAG_TOLERANCE_MS,
        durationMs: options.durationMs,
        events: options.events,
        ...(deps.progressIntervalMs === undefined ? {} : { progressIntervalMs: deps.progressIntervalMs }),
      },
      {
        clock,
        sink,
        reporter: deps.reporter,
        signal: deps.signal,
        ...(deps.yieldToEventLoop ? { yieldToEventLoop: deps.yieldToEventLoop } : {}),
      },
    );
  } finally {
    await sink.close().catch(() => undefined);
  }
  const stats = sink.stats();
  return {
    result,
    sinkDescription: sink.description,
    events: generator.stats(),
    acknowledged: stats.acknowledged,
    failed: stats.failed,
    bytes: stats.bytes,
    produceAck: stats.produceAckLatencyUs,
    errors: stats.errors,
    manifests: recorder ? [recorder.toManifest({})] : [],
  };
}

/** The run in generator threads, one per shard; stdout and file are written here. */
async function runInThreads(
  options: SimulateOptions,
  runId: string,
  shards: ShardSpec[],
  deps: SimulateDeps,
  clock: Clock,
  announce: (sinkDescription: string) => void,
): Promise<RunOutcome> {
  const mainSink =
    options.sink === 'stdout' || options.sink === 'file'
      ? await createShardSink(options, runId, {}, deps.sinkEnvironment)
      : undefined;
  let description = mainSink?.description ?? options.sink;
  let startedAtMs = 0;
  let outcomes: ShardOutcome[];
  try {
    outcomes = await runWorkers(
      {
        options,
        shards,
        runId,
        progressIntervalMs: deps.progressIntervalMs ?? DEFAULT_PROGRESS_MS,
        manifest: options.manifestPath !== undefined,
        mainSink,
      },
      {
        clock,
        signal: deps.signal,
        ready(descriptions) {
          description = mainSink?.description ?? descriptions[0] ?? description;
          announce(description);
          startedAtMs = clock.now();
          return startedAtMs;
        },
        progress: deps.reporter ? (update) => deps.reporter?.progress(update) : undefined,
        onAcknowledged: deps.onAcknowledged,
      },
    );
  } finally {
    await mainSink?.close().catch(() => undefined);
  }
  return mergeOutcomes(outcomes, startedAtMs, description, mainSink);
}

/** One outcome from the threads': sums, worst cases, merged histograms. */
function mergeOutcomes(
  outcomes: readonly ShardOutcome[],
  startedAtMs: number,
  sinkDescription: string,
  mainSink: Sink | undefined,
): RunOutcome {
  const results = outcomes.map((o) => o.result);
  const max = (pick: (r: (typeof results)[number]) => number) => Math.max(0, ...results.map(pick));
  const sum = (pick: (r: (typeof results)[number]) => number) => results.reduce((n, r) => n + pick(r), 0);
  const failed = results.find((r) => r.fatalError !== undefined);
  const result: PacingResult = {
    stopReason: worstStopReason(results.map((r) => r.stopReason)),
    fatalError: failed?.fatalError ? deserializeError(failed.fatalError) : mainSink?.fatalError(),
    startedAtMs,
    producingMs: max((r) => r.producingMs),
    elapsedMs: max((r) => r.elapsedMs),
    produced: sum((r) => r.produced),
    lastOffsetMs: max((r) => r.lastOffsetMs),
    maxLagMs: max((r) => r.maxLagMs),
    maxBacklog: sum((r) => r.maxBacklog),
    inFlightWaitMs: max((r) => r.inFlightWaitMs),
  };
  let produceAck: Histogram | undefined;
  for (const outcome of outcomes) {
    const encoded = outcome.sink.produceAckHistogram;
    if (encoded === undefined) continue;
    // Growing as needed, so adding a thread's histogram never fails on a value beyond its range.
    produceAck ??= build({
      bitBucketSize: 32,
      autoResize: true,
      lowestDiscernibleValue: 1,
      numberOfSignificantValueDigits: 3,
      useWebAssembly: false,
    });
    produceAck.add(decodeFromCompressedBase64(encoded, 32, false));
  }
  const errors = [...new Set(outcomes.flatMap((o) => o.sink.errors ?? []))].slice(0, 5);
  return {
    result,
    sinkDescription,
    events: mergeGeneratorStats(outcomes.map((o) => o.events)),
    acknowledged: outcomes.reduce((n, o) => n + o.sink.acknowledged, 0),
    failed: outcomes.reduce((n, o) => n + o.sink.failed, 0),
    bytes: outcomes.reduce((n, o) => n + o.sink.bytes, 0),
    produceAck,
    errors: errors.length > 0 ? errors : undefined,
    manifests: outcomes.flatMap((o) => (o.manifest ? [o.manifest] : [])),
  };
}

/**
 * A run stopped for the most serious reason any of its threads stopped for. A thread that stops
 * for its sink makes the others stop ("interrupted"): the sink's reason is the run's.
 */
function worstStopReason(reasons: readonly StopReason[]): StopReason {
  for (const reason of ['sink-failed', 'sink-closed', 'interrupted'] as const) {
    if (reasons.includes(reason)) return reason;
  }
  return 'completed';
}

export function mergeGeneratorStats(all: readonly GeneratorStats[]): GeneratorStats {
  const byType = Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])) as GeneratorStats['byType'];
  const byRegion: GeneratorStats['byRegion'] = {};
  const merged: GeneratorStats = {
    records: 0,
    events: 0,
    late: 0,
    duplicates: 0,
    malformed: 0,
    outOfOrder: 0,
    byType,
    byRegion,
  };
  for (const stats of all) {
    merged.records += stats.records;
    merged.events += stats.events;
    merged.late += stats.late;
    merged.duplicates += stats.duplicates;
    merged.malformed += stats.malformed;
    merged.outOfOrder += stats.outOfOrder;
    for (const type of EVENT_TYPES) byType[type] += stats.byType[type] ?? 0;
    for (const [region, n] of Object.entries(stats.byRegion) as Array<[RegionCode, number]>) {
      byRegion[region] = (byRegion[region] ?? 0) + n;
    }
  }
  return merged;
}

/**
 * The run id of a sharded run, the same on every machine: derived from what makes the stream, so
 * the shards' manifests and records name one run (and a different stream gets a different id).
 */
export function shardedRunId(options: SimulateOptions): string {
  const identity = JSON.stringify({
    seed: options.seed,
    startTimeMs: options.startTimeMs,
    players: options.players,
    regions: options.regions,
    startRate: options.startRate,
    stages: options.stages,
    durationMs: options.durationMs ?? null,
    events: options.events ?? null,
    disorder: options.disorder,
    shards: options.shard?.count ?? 1,
  });
  const hex = createHash('sha256').update(identity).digest('hex');
  // Shaped like a version-8 (custom) UUID, so it fits wherever run ids go.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((Number.parseInt(hex.slice(16, 17), 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function buildSummary(
  options: SimulateOptions,
  runId: string,
  workers: number,
  schedule: RateSchedule,
  share: number,
  outcome: RunOutcome,
): SimulateSummary {
  const { result } = outcome;
  // The span the target applies to: the scheduled run (or, interrupted, as far as it got).
  const completed = result.stopReason === 'completed';
  const spanMs = completed
    ? (options.durationMs ?? result.lastOffsetMs)
    : Math.min(
        options.pace ? result.elapsedMs : result.lastOffsetMs,
        options.durationMs ?? Number.POSITIVE_INFINITY,
      );
  const targetRate =
    (spanMs > 0 ? (schedule.expectedEvents(spanMs) * 1000) / spanMs : schedule.rateAt(0)) * share;
  const achievedOver = options.pace ? Math.max(spanMs, result.producingMs) : result.producingMs;
  const rate = (count: number, ms: number) => (ms > 0 ? (count * 1000) / ms : 0);
  return {
    runId,
    seed: options.seed,
    sink: outcome.sinkDescription,
    scenario: options.scenario,
    players: options.players,
    regions: options.regions,
    startTime: new Date(options.startTimeMs).toISOString(),
    stopReason: result.stopReason,
    paced: options.pace,
    workers,
    ...(options.shard ? { shard: { ...options.shard } } : {}),
    produced: result.produced,
    acknowledged: outcome.acknowledged,
    failed: outcome.failed,
    bytes: outcome.bytes,
    targetRate: round1(targetRate),
    peakTargetRate: round1(schedule.peakRate * share),
    achievedRate: round1(rate(result.produced, achievedOver)),
    acknowledgedRate: round1(
      rate(outcome.acknowledged, Math.max(achievedOver, options.pace ? 0 : result.elapsedMs)),
    ),
    keptUp: result.stopReason !== 'sink-failed' && (!options.pace || result.maxLagMs <= LAG_TOLERANCE_MS),
    maxLagMs: Math.round(result.maxLagMs),
    maxBacklog: result.maxBacklog,
    inFlightWaitMs: Math.round(result.inFlightWaitMs),
    producingMs: Math.round(result.producingMs),
    elapsedMs: Math.round(result.elapsedMs),
    events: outcome.events,
    produceAck: outcome.produceAck ? summarizeLatencyUs(outcome.produceAck) : undefined,
    manifest: options.manifestPath,
    errors: outcome.errors,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
