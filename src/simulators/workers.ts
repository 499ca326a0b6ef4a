/**
 * The main thread's side of `gapipe simulate --workers N`: starts one generator thread per shard
 * (worker.ts), starts them together once every sink is open, merges their progress for the live
 * view, writes the records they forward (stdout and file sinks: one stream, one writer), relays
 * acknowledged intended times, stops them on Ctrl-C or when one fails, and collects their outcomes.
 *
 * Worker threads need a module to run. From the build (dist/) that is worker.js next to this file;
 * from the TypeScript sources (tests, bin/dev.js) a worker does not inherit tsx's loader before its
 * entry loads, so a two-line bootstrap registers tsx first and then imports worker.ts.
 */
import type { Worker } from 'node:worker_threads';
import type { Clock } from '../clock.js';
import { GapipeError } from '../errors.js';
import { startWorkerThread } from '../threads.js';
import { Lockstep } from './lockstep.js';
import type { SimulateOptions } from './options.js';
import type { SimulationProgress } from './runner.js';
import type { ShardSpec } from './shard.js';
import type { Sink, SinkRecord } from './sinks/types.js';
import {
  deserializeError,
  type MainMessage,
  type SerializedError,
  type ShardOutcome,
  serializeError,
  WORKER_KIND,
  type WorkerInit,
  type WorkerMessage,
} from './worker-protocol.js';

export interface WorkerPoolConfig {
  options: SimulateOptions;
  /** One thread per shard. */
  shards: ShardSpec[];
  runId: string;
  progressIntervalMs: number;
  manifest: boolean;
  /** The main thread's stdout or file sink, which writes what the threads forward. */
  mainSink?: Sink | undefined;
}

export interface WorkerPoolDeps {
  clock: Clock;
  signal?: AbortSignal | undefined;
  /** Every thread is ready (its sink open); returns the start time (epoch ms) they all pace from. */
  ready(sinkDescriptions: string[]): number;
  progress?: ((update: SimulationProgress) => void) | undefined;
  onAcknowledged?: ((intendedMs: ArrayLike<number>, nowMs: number) => void) | undefined;
}

/** How often forwarded writes are checked for completion. */
const WRITE_POLL_MS = 2;

interface Thread {
  worker: Worker;
  ready: string | undefined;
  latest: SimulationProgress | undefined;
  outcome: ShardOutcome | undefined;
  exited: boolean;
}

/** Runs the shards in threads; resolves with their outcomes in shard order. */
export async function runWorkers(config: WorkerPoolConfig, deps: WorkerPoolDeps): Promise<ShardOutcome[]> {
  const mainSink = config.mainSink;
  const threads: Thread[] = [];
  const maxInFlight = Math.max(1, Math.ceil(config.options.maxInFlight / config.shards.length));
  const forwardRecords = config.mainSink !== undefined;
  let startAtMs: number | undefined;
  let failure: Error | undefined;
  let stopped = false;

  const send = (thread: Thread, message: MainMessage) => {
    if (!thread.exited) thread.worker.postMessage(message);
  };
  const broadcast = (message: MainMessage) => {
    for (const thread of threads) send(thread, message);
  };
  const stopAll = () => {
    if (stopped) return;
    stopped = true;
    broadcast({ type: 'stop' });
  };

  // Forwarded records: written in arrival order; the stream sink acknowledges them in that order.
  const writes: Array<{ thread: Thread; count: number }> = [];
  let writtenSeen = 0;
  let failedSeen = 0;
  let mainSinkReported = false;
  const checkWrites = () => {
    const sink = mainSink;
    if (!sink) return;
    const stats = sink.stats();
    let acknowledged = stats.acknowledged - writtenSeen;
    let failed = stats.failed - failedSeen;
    writtenSeen = stats.acknowledged;
    failedSeen = stats.failed;
    while ((acknowledged > 0 || failed > 0) && writes.length > 0) {
      const write = writes.shift() as { thread: Thread; count: number };
      const ok = acknowledged > 0;
      if (ok) acknowledged--;
      else failed--;
      send(write.thread, { type: 'written', count: write.count, failed: ok ? 0 : write.count });
    }
    if (mainSinkReported) return;
    const fatal = sink.fatalError();
    if (fatal) {
      mainSinkReported = true;
      broadcast({ type: 'sink-failed', error: serializeError(fatal) });
    } else if (sink.closedByReader?.()) {
      mainSinkReported = true;
      broadcast({ type: 'sink-closed' });
    }
  };

  const mergedProgress = () => {
    const updates = threads.map((t) => t.latest).filter((p): p is SimulationProgress => p !== undefined);
    if (updates.length === 0 || startAtMs === undefined || !deps.progress) return;
    deps.progress(mergeProgress(updates, deps.clock.now() - startAtMs));
  };

  // Unpaced threads would drift apart in event time; paced ones share the clock (lockstep.ts).
  const lockstep =
    !config.options.pace && config.shards.length > 1 ? Lockstep.buffer(config.shards.length) : undefined;
  const done = new Promise<void>((resolve) => {
    const settle = () => {
      if (threads.every((t) => t.exited || t.outcome !== undefined)) resolve();
    };
    config.shards.forEach((shard, index) => {
      const init: WorkerInit = {
        kind: WORKER_KIND,
        options: { ...config.options, maxInFlight },
        shard,
        worker: index,
        runId: config.runId,
        progressIntervalMs: config.progressIntervalMs,
        forwardRecords,
        forwardAcks: deps.onAcknowledged !== undefined,
        manifest: config.manifest,
        lockstep,
      };
      const thread: Thread = {
        worker: startWorker(init),
        ready: undefined,
        latest: undefined,
        outcome: undefined,
        exited: false,
      };
      threads.push(thread);
      const fail = (error: Error) => {
        failure ??= error;
        stopAll();
        // A thread that failed before it ran may never answer; the others are told to stop and finish.
        for (const t of threads) if (t.ready === undefined) void t.worker.terminate();
      };
      thread.worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'ready':
            thread.ready = message.sinkDescription;
            if (threads.length === config.shards.length && threads.every((t) => t.ready !== undefined)) {
              startAtMs = deps.ready(threads.map((t) => t.ready as string));
              broadcast({ type: 'start', startAtMs });
            }
            break;
          case 'progress':
            thread.latest = message.progress;
            break;
          case 'records':
            if (mainSink) {
              mainSink.send([forwardedRecord(message.data)]);
              writes.push({ thread, count: message.count });
            }
            break;
          case 'acks': {
            let at = 0;
            message.counts.forEach((count, i) => {
              deps.onAcknowledged?.(message.intendedMs.subarray(at, at + count), message.atMs[i] as number);
              at += count;
            });
            break;
          }
          case 'done':
            thread.outcome = message.outcome;
            if (message.outcome.result.stopReason !== 'completed') stopAll();
            settle();
            break;
          case 'failed':
            fail(threadError(index, message.error));
            break;
        }
      });
      thread.worker.on('error', (error) => fail(threadError(index, serializeError(error))));
      thread.worker.on('exit', (code) => {
        thread.exited = true;
        if (thread.outcome === undefined && failure === undefined) {
          fail(
            new GapipeError(
              'INTERNAL',
              `Generator thread ${index} exited with code ${code} before it finished`,
            ),
          );
        }
        settle();
      });
    });
  });

  const onAbort = () => stopAll();
  deps.signal?.addEventListener('abort', onAbort);
  if (deps.signal?.aborted) stopAll();
  const progressTimer = setInterval(mergedProgress, config.progressIntervalMs);
  const writeTimer = forwardRecords ? setInterval(checkWrites, WRITE_POLL_MS) : undefined;
  try {
    await done;
  } finally {
    clearInterval(progressTimer);
    if (writeTimer) clearInterval(writeTimer);
    deps.signal?.removeEventListener('abort', onAbort);
    await Promise.all(threads.map((t) => (t.exited ? undefined : t.worker.terminate())));
  }
  if (failure) throw failure;
  mergedProgress();
  return threads.map((t) => t.outcome as ShardOutcome);
}

/** Sums and worst cases of the threads' latest progress. */
export function mergeProgress(updates: readonly SimulationProgress[], elapsedMs: number): SimulationProgress {
  const sum = (pick: (p: SimulationProgress) => number) => updates.reduce((total, p) => total + pick(p), 0);
  const fractions = updates.map((p) => p.fraction).filter((f): f is number => f !== undefined);
  return {
    elapsedMs,
    produced: sum((p) => p.produced),
    acknowledged: sum((p) => p.acknowledged),
    failed: sum((p) => p.failed),
    inFlight: sum((p) => p.inFlight),
    targetRate: sum((p) => p.targetRate),
    achievedRate: sum((p) => p.achievedRate),
    backlog: sum((p) => p.backlog),
    lagMs: Math.max(...updates.map((p) => p.lagMs)),
    atInFlightLimit: updates.some((p) => p.atInFlightLimit),
    fraction: fractions.length === updates.length ? Math.min(...fractions) : undefined,
  };
}

function forwardedRecord(data: Uint8Array): SinkRecord {
  return {
    key: '',
    value: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    headers: { 'gapipe-intended-ts': '0', 'gapipe-run-id': '' },
    intendedMs: 0,
  };
}

function threadError(index: number, error: SerializedError): Error {
  const cause = deserializeError(error);
  // Errors the user can act on (a broker that is not there) pass through as they are.
  if (cause instanceof GapipeError) return cause;
  return new GapipeError('INTERNAL', `Generator thread ${index} failed: ${cause.message}`, { cause });
}

function startWorker(init: WorkerInit): Worker {
  return startWorkerThread(import.meta.url, './worker', { workerData: init });
}
