/**
 * The simulate service: builds the world and the sink, runs the paced generator, writes the ground
 * truth, and returns the summary. It sees options, never flags; it renders nothing itself (the
 * reporter does) and never exits the process.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { type Clock, systemClock } from '../clock.js';
import { GapipeError, isGapipeError } from '../errors.js';
import { TrafficGenerator } from './generator.js';
import { GroundTruthRecorder, serializeManifest } from './manifest.js';
import type { DisorderOptions, SimulateOptions } from './options.js';
import type { RegionCode } from './regions.js';
import { type PacingResult, runPaced, type SimulationReporter } from './runner.js';
import type { RampStage } from './schedule.js';
import { createSink, type SinkEnvironment } from './sinks/index.js';
import type { Sink } from './sinks/types.js';
import { type SimulateSummary, summarizeLatencyUs } from './summary.js';

/** What the start banner shows. */
export interface SimulationStart {
  runId: string;
  seed: number;
  seedGiven: boolean;
  scenario: string | undefined;
  players: number;
  regions: RegionCode[];
  startTime: string;
  /** Target rate at the start, events/s (total). */
  targetRate: number;
  peakTargetRate: number;
  rateDescription: string;
  stages: RampStage[];
  durationMs: number | undefined;
  events: number | undefined;
  sink: string;
  disorder: DisorderOptions;
  paced: boolean;
  maxInFlight: number;
  manifestPath: string | undefined;
}

export interface SimulateReporter extends SimulationReporter {
  started(start: SimulationStart): void;
}

export interface SimulateDeps {
  clock?: Clock;
  /** Use this sink instead of creating one from the options (tests, embedded runs). */
  sink?: Sink;
  sinkEnvironment?: SinkEnvironment;
  reporter?: SimulateReporter;
  signal?: AbortSignal;
  runId?: string;
  progressIntervalMs?: number;
  yieldToEventLoop?: () => Promise<void>;
}

const LAG_TOLERANCE_MS = 1000;

export async function simulate(options: SimulateOptions, deps: SimulateDeps = {}): Promise<SimulateSummary> {
  const clock = deps.clock ?? systemClock;
  const runId = deps.runId ?? randomUUID();
  const generator = new TrafficGenerator(options);
  const recorder = options.manifestPath ? new GroundTruthRecorder(options.regions) : undefined;
  if (recorder) generator.observe(recorder);
  const sink =
    deps.sink ??
    (await createSink(
      {
        kind: options.sink,
        out: options.out,
        brokers: options.brokers,
        topic: options.topic,
        runId,
        kafka: options.kafka,
      },
      deps.sinkEnvironment,
    ));

  deps.reporter?.started({
    runId,
    seed: options.seed,
    seedGiven: options.seedGiven,
    scenario: options.scenario,
    players: options.players,
    regions: options.regions,
    startTime: new Date(options.startTimeMs).toISOString(),
    targetRate: generator.schedule.rateAt(0),
    peakTargetRate: generator.schedule.peakRate,
    rateDescription: options.rateDescription,
    stages: options.stages,
    durationMs: options.durationMs,
    events: options.events,
    sink: sink.description,
    disorder: options.disorder,
    paced: options.pace,
    maxInFlight: options.maxInFlight,
    manifestPath: options.manifestPath,
  });

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

  if (recorder && options.manifestPath) {
    const manifest = recorder.toManifest({
      runId,
      seed: options.seed,
      scenario: options.scenario ?? null,
      startTime: new Date(options.startTimeMs).toISOString(),
      players: options.players,
      regions: options.regions,
      sink: options.sink,
      topic: options.sink === 'kafka' ? options.topic : null,
      stopReason: result.stopReason,
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

  const summary = buildSummary(options, runId, generator, sink, result);
  if (result.stopReason === 'sink-failed') {
    const cause = result.fatalError;
    const message = `${sink.description} failed after ${summary.produced} records (${summary.acknowledged} acknowledged)`;
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

function buildSummary(
  options: SimulateOptions,
  runId: string,
  generator: TrafficGenerator,
  sink: Sink,
  result: PacingResult,
): SimulateSummary {
  const stats = sink.stats();
  const schedule = generator.schedule;
  // The span the target applies to: the scheduled run (or, interrupted, as far as it got).
  const completed = result.stopReason === 'completed';
  const spanMs = completed
    ? (options.durationMs ?? result.lastOffsetMs)
    : Math.min(
        options.pace ? result.elapsedMs : result.lastOffsetMs,
        options.durationMs ?? Number.POSITIVE_INFINITY,
      );
  const targetRate = spanMs > 0 ? (schedule.expectedEvents(spanMs) * 1000) / spanMs : schedule.rateAt(0);
  const achievedOver = options.pace ? Math.max(spanMs, result.producingMs) : result.producingMs;
  const rate = (count: number, ms: number) => (ms > 0 ? (count * 1000) / ms : 0);
  return {
    runId,
    seed: options.seed,
    sink: sink.description,
    scenario: options.scenario,
    players: options.players,
    regions: options.regions,
    startTime: new Date(options.startTimeMs).toISOString(),
    stopReason: result.stopReason,
    paced: options.pace,
    produced: result.produced,
    acknowledged: stats.acknowledged,
    failed: stats.failed,
    bytes: stats.bytes,
    targetRate: round1(targetRate),
    peakTargetRate: round1(schedule.peakRate),
    achievedRate: round1(rate(result.produced, achievedOver)),
    acknowledgedRate: round1(
      rate(stats.acknowledged, Math.max(achievedOver, options.pace ? 0 : result.elapsedMs)),
    ),
    keptUp: result.stopReason !== 'sink-failed' && (!options.pace || result.maxLagMs <= LAG_TOLERANCE_MS),
    maxLagMs: Math.round(result.maxLagMs),
    maxBacklog: result.maxBacklog,
    inFlightWaitMs: Math.round(result.inFlightWaitMs),
    producingMs: Math.round(result.producingMs),
    elapsedMs: Math.round(result.elapsedMs),
    events: generator.stats(),
    produceAck: stats.produceAckLatencyUs ? summarizeLatencyUs(stats.produceAckLatencyUs) : undefined,
    manifest: options.manifestPath,
    errors: stats.errors,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
