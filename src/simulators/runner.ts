/**
 * Open-loop pacing: hands the generator's records to the sink at their intended send times.
 *
 * - Intended times come from the schedule (the generator's arrival process), anchored at the run's
 *   wall-clock start; never from when a previous send finished.
 * - `send` never waits for an acknowledgement. The only wait is the in-flight budget: while
 *   `maxInFlight` records are unacknowledged, generation pauses (the memory bound). The schedule does
 *   not pause with it, so the pause shows up as lag and backlog — and, with a Kafka sink, as latency
 *   measured from the intended times (coordinated omission corrected) — never as a quietly lower rate.
 * - Behind schedule, everything already due is produced in batches as fast as the sink takes it.
 * - Which records are produced, and in which order, never depends on timing: a slow machine produces
 *   the same stream, later.
 * All timing goes through the injected Clock, so the pacing maths is tested without sleeping.
 */
import type { Clock } from '../clock.js';
import type { TrafficGenerator } from './generator.js';
import type { Sink, SinkRecord } from './sinks/types.js';

export interface SimulationProgress {
  /** Wall time since the start, ms. */
  elapsedMs: number;
  produced: number;
  acknowledged: number;
  failed: number;
  inFlight: number;
  /** The schedule's rate at this moment, events/s (0 when unpaced runs have passed the schedule). */
  targetRate: number;
  /** Records produced per second since the previous progress update. */
  achievedRate: number;
  /** Events due by now that are not produced yet (expected count between the next due one and now). */
  backlog: number;
  /** How far production is behind the schedule, ms (0 when on time). */
  lagMs: number;
  /** True while generation waits because the in-flight budget is used up. */
  atInFlightLimit: boolean;
  /** Share of the run done, 0–1, when it is known. */
  fraction: number | undefined;
}

export interface SimulationReporter {
  progress(update: SimulationProgress): void;
}

export interface PacingConfig {
  runId: string;
  /**
   * Wall-clock time (epoch ms) that the schedule's offset 0 maps to; default: the clock's now. Worker
   * threads of one run share the main thread's, so their intended times line up.
   */
  startAtMs?: number | undefined;
  /** False: produce as fast as the sink accepts (intended times still follow the schedule). */
  pace: boolean;
  /**
   * Unpaced threads of one run: how far ahead of the others this one may go (see lockstep.ts).
   * `horizon()` is the furthest schedule offset to produce up to now; `publish` gets the next offset.
   */
  lockstep?: { horizon(): number; publish(offsetMs: number): void } | undefined;
  maxInFlight: number;
  /** Most records per `send` call. */
  maxBatch?: number;
  progressIntervalMs?: number;
  /** Falling further behind the schedule than this counts as not keeping up. */
  lagToleranceMs?: number;
  /** For `fraction`: the run's scheduled length or event count. */
  durationMs?: number | undefined;
  events?: number | undefined;
}

export interface PacingDeps {
  clock: Clock;
  sink: Sink;
  reporter?: SimulationReporter | undefined;
  signal?: AbortSignal | undefined;
  /** Lets I/O callbacks (acks, stream writes) run between batches when the loop does not sleep. */
  yieldToEventLoop?: () => Promise<void>;
}

export type StopReason = 'completed' | 'interrupted' | 'sink-closed' | 'sink-failed';

export interface PacingResult {
  stopReason: StopReason;
  fatalError: Error | undefined;
  startedAtMs: number;
  /** From the start until the last record was handed to the sink. */
  producingMs: number;
  /** From the start until the sink had acknowledged (or failed) everything. */
  elapsedMs: number;
  produced: number;
  /** Offset of the last produced record's intended send time. */
  lastOffsetMs: number;
  maxLagMs: number;
  maxBacklog: number;
  /** Time spent waiting at the in-flight budget. */
  inFlightWaitMs: number;
}

const DEFAULT_MAX_BATCH = 2048;
const DEFAULT_PROGRESS_MS = 1000;
const MAX_IDLE_SLEEP_MS = 250;
/**
 * A record due within this much is due now. Epoch milliseconds (~1.8e12) carry about 0.25 µs of
 * floating-point resolution, so waiting for a smaller remainder might not move the clock at all.
 */
const DUE_EPSILON_MS = 0.001;

const setImmediateYield = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runPaced(
  generator: TrafficGenerator,
  config: PacingConfig,
  deps: PacingDeps,
): Promise<PacingResult> {
  const { clock, sink, reporter, signal } = deps;
  const yieldToEventLoop = deps.yieldToEventLoop ?? setImmediateYield;
  const maxBatch = config.maxBatch ?? DEFAULT_MAX_BATCH;
  const progressEvery = config.progressIntervalMs ?? DEFAULT_PROGRESS_MS;
  const schedule = generator.schedule;

  const start = config.startAtMs ?? clock.now();
  generator.anchor(start, config.runId);
  // A shard receives its share of the schedule's arrivals: targets and backlogs are scaled to it.
  const share = generator.share;
  let stopReason: StopReason = 'completed';
  let fatalError: Error | undefined;
  let produced = 0;
  let lastProducedAt = start;
  let lastOffsetMs = 0;
  let maxLagMs = 0;
  let maxBacklog = 0;
  let inFlightWaitMs = 0;
  let waitingSince: number | undefined;
  let nextReportAt = start + progressEvery;
  let reportedProduced = 0;
  let reportedAt = start;

  const backlogAt = (elapsed: number): number => {
    const next = generator.nextOffsetMs;
    if (!config.pace || !(next < elapsed - DUE_EPSILON_MS)) return 0;
    return Math.max(
      1,
      Math.round((schedule.expectedEvents(elapsed) - schedule.expectedEvents(next)) * share),
    );
  };
  const report = (now: number) => {
    if (!reporter) return;
    const elapsed = now - start;
    const stats = sink.stats();
    const interval = now - reportedAt;
    const next = generator.nextOffsetMs;
    reporter.progress({
      elapsedMs: elapsed,
      produced,
      acknowledged: stats.acknowledged,
      failed: stats.failed,
      inFlight: sink.inFlight(),
      targetRate: schedule.rateAt(config.pace ? elapsed : generator.done ? lastOffsetMs : next) * share,
      achievedRate: interval > 0 ? ((produced - reportedProduced) * 1000) / interval : 0,
      backlog: backlogAt(elapsed),
      lagMs: config.pace && next <= elapsed ? elapsed - next : 0,
      atInFlightLimit: waitingSince !== undefined,
      fraction: fractionDone(
        config,
        generator.done ? Number.POSITIVE_INFINITY : generator.walked,
        generator.done ? Number.POSITIVE_INFINITY : next,
      ),
    });
    reportedProduced = produced;
    reportedAt = now;
  };

  let batch: SinkRecord[] = [];
  while (!generator.done) {
    if (signal?.aborted) {
      stopReason = 'interrupted';
      break;
    }
    fatalError = sink.fatalError();
    if (fatalError) {
      stopReason = 'sink-failed';
      break;
    }
    if (sink.closedByReader?.()) {
      stopReason = 'sink-closed';
      break;
    }
    const now = clock.now();
    if (now >= nextReportAt) {
      report(now);
      nextReportAt = now + progressEvery;
    }
    const elapsed = now - start;
    const next = generator.nextOffsetMs;
    if (config.pace && next <= elapsed) {
      maxLagMs = Math.max(maxLagMs, elapsed - next);
      maxBacklog = Math.max(maxBacklog, backlogAt(elapsed));
    }

    const room = config.maxInFlight - sink.inFlight();
    if (room <= 0) {
      // The memory bound: wait for acknowledgements. The schedule keeps moving; the lag shows it.
      waitingSince ??= now;
      await clock.sleep(1);
      await yieldToEventLoop();
      continue;
    }
    if (waitingSince !== undefined) {
      inFlightWaitMs += now - waitingSince;
      waitingSince = undefined;
    }

    const until = config.pace
      ? elapsed + DUE_EPSILON_MS
      : (config.lockstep?.horizon() ?? Number.POSITIVE_INFINITY);
    if (next > until) {
      if (!config.pace) {
        // Ahead of the slowest thread of the run: let it catch up.
        config.lockstep?.publish(next);
        await clock.sleep(1);
        await yieldToEventLoop();
        continue;
      }
      await clock.sleep(Math.min(next - elapsed, nextReportAt - now, MAX_IDLE_SLEEP_MS));
      continue;
    }
    batch = [];
    const count = generator.fill(batch, until, Math.min(room, maxBatch));
    config.lockstep?.publish(generator.nextOffsetMs);
    if (count > 0) {
      lastOffsetMs = (batch[count - 1] as SinkRecord).intendedMs - start;
      sink.send(batch);
      produced += count;
      lastProducedAt = clock.now();
    }
    await yieldToEventLoop();
  }
  // Finished, stopped or failed: this thread holds no other back any more.
  config.lockstep?.publish(Number.POSITIVE_INFINITY);
  if (waitingSince !== undefined) inFlightWaitMs += clock.now() - waitingSince;
  const producingMs = lastProducedAt - start;
  if (!fatalError) await sink.flush();
  fatalError ??= sink.fatalError();
  if (fatalError && stopReason === 'completed') stopReason = 'sink-failed';
  report(clock.now());
  return {
    stopReason,
    fatalError,
    startedAtMs: start,
    producingMs,
    elapsedMs: clock.now() - start,
    produced,
    lastOffsetMs,
    maxLagMs,
    maxBacklog,
    inFlightWaitMs,
  };
}

/** From the arrivals walked (the whole stream's, which a shard walks too) or the schedule's offset. */
function fractionDone(config: PacingConfig, walked: number, nextOffsetMs: number): number | undefined {
  if (config.events !== undefined) return Math.min(1, walked / config.events);
  if (config.durationMs !== undefined) return Math.min(1, Math.max(0, nextOffsetMs / config.durationMs));
  return undefined;
}
