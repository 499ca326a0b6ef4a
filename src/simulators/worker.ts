/**
 * A generator thread of `gapipe simulate --workers N` (started by workers.ts): generates and sends
 * its shard of the players with a sink of its own, paced against the start time the main thread
 * gives, and reports progress, acknowledged intended times (when asked) and, at the end, its outcome
 * — counts, the produce→ack histogram and its part of the ground truth.
 *
 * Importing this module outside a worker thread does nothing.
 */
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { systemClock } from '../clock.js';
import { TrafficGenerator } from './generator.js';
import { Lockstep } from './lockstep.js';
import { GroundTruthRecorder } from './manifest.js';
import { runPaced } from './runner.js';
import { createShardSink, ForwardedRecordsSink, type SinkHooks } from './shard-sink.js';
import type { Sink } from './sinks/types.js';
import {
  deserializeError,
  type MainMessage,
  type ShardOutcome,
  serializeError,
  WORKER_KIND,
  type WorkerInit,
  type WorkerMessage,
} from './worker-protocol.js';

/** Acknowledged intended times are sent to the main thread at least this often… */
const ACK_FLUSH_MS = 50;
/** …or when this many are waiting. */
const ACK_BATCH = 16_384;
const LAG_TOLERANCE_MS = 1000;

if (!isMainThread && parentPort && (workerData as WorkerInit | undefined)?.kind === WORKER_KIND) {
  void runWorker(parentPort, workerData as WorkerInit);
}

/** Collects acknowledged intended times and posts them in batches. */
class AckForwarder {
  private intended = new Float64Array(ACK_BATCH);
  private length = 0;
  private counts: number[] = [];
  private atMs: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly post: (message: WorkerMessage, transfer?: ArrayBuffer[]) => void) {
    this.timer = setInterval(() => this.flush(), ACK_FLUSH_MS);
    this.timer.unref();
  }

  readonly add = (intendedMs: readonly number[], nowMs: number): void => {
    for (let i = 0; i < intendedMs.length; i++) {
      if (this.length === this.intended.length) {
        const bigger = new Float64Array(this.intended.length * 2);
        bigger.set(this.intended);
        this.intended = bigger;
      }
      this.intended[this.length++] = intendedMs[i] as number;
    }
    this.counts.push(intendedMs.length);
    this.atMs.push(nowMs);
    if (this.length >= ACK_BATCH) this.flush();
  };

  flush(): void {
    if (this.counts.length === 0) return;
    const intended = this.intended.slice(0, this.length);
    this.post({ type: 'acks', intendedMs: intended, counts: this.counts, atMs: this.atMs }, [
      intended.buffer as ArrayBuffer,
    ]);
    this.length = 0;
    this.counts = [];
    this.atMs = [];
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

async function runWorker(port: MessagePort, init: WorkerInit): Promise<void> {
  const post = (message: WorkerMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
  const controller = new AbortController();
  let forwarded: ForwardedRecordsSink | undefined;
  let resolveStart: (startAtMs: number | undefined) => void = () => {};
  const started = new Promise<number | undefined>((resolve) => {
    resolveStart = resolve;
  });
  const onMessage = (message: MainMessage) => {
    switch (message.type) {
      case 'start':
        resolveStart(message.startAtMs);
        break;
      case 'stop':
        controller.abort();
        resolveStart(undefined);
        break;
      case 'written':
        forwarded?.written(message.count, message.failed);
        break;
      case 'sink-failed':
        forwarded?.fail(deserializeError(message.error));
        break;
      case 'sink-closed':
        forwarded?.closeByReader();
        break;
    }
  };
  port.on('message', onMessage);
  let acks: AckForwarder | undefined;
  try {
    const { options } = init;
    const generator = new TrafficGenerator(options, init.shard);
    const recorder = init.manifest ? new GroundTruthRecorder(options.regions) : undefined;
    if (recorder) generator.observe(recorder);
    acks = init.forwardAcks ? new AckForwarder(post) : undefined;
    const hooks: SinkHooks = {
      onFailed: (records) => recorder?.retract(records),
      ...(acks ? { onAcknowledged: acks.add } : {}),
    };
    let sink: Sink;
    if (init.forwardRecords) {
      forwarded = new ForwardedRecordsSink((data, count) =>
        post({ type: 'records', data, count }, [data.buffer as ArrayBuffer]),
      );
      sink = forwarded;
    } else {
      sink = await createShardSink(options, init.runId, hooks, {}, init.worker);
    }
    post({ type: 'ready', sinkDescription: sink.description });
    const startAtMs = await started;

    let result: Awaited<ReturnType<typeof runPaced>>;
    try {
      result = await runPaced(
        generator,
        {
          runId: init.runId,
          startAtMs,
          pace: options.pace,
          lockstep: init.lockstep ? new Lockstep(init.lockstep, init.worker) : undefined,
          maxInFlight: options.maxInFlight,
          lagToleranceMs: LAG_TOLERANCE_MS,
          durationMs: options.durationMs,
          events: options.events,
          progressIntervalMs: init.progressIntervalMs,
        },
        {
          clock: systemClock,
          sink,
          signal: controller.signal,
          reporter: { progress: (progress) => post({ type: 'progress', progress }) },
        },
      );
    } finally {
      await sink.close().catch(() => undefined);
      acks?.stop();
    }
    // After close: failures reported while closing count, in the figures and in the manifest.
    const { fatalError, ...rest } = result;
    const stats = sink.stats();
    const outcome: ShardOutcome = {
      result: { ...rest, fatalError: fatalError ? serializeError(fatalError) : undefined },
      events: generator.stats(),
      sink: {
        acknowledged: stats.acknowledged,
        failed: stats.failed,
        bytes: stats.bytes,
        produceAckHistogram: stats.produceAckLatencyUs
          ? encodeIntoCompressedBase64(stats.produceAckLatencyUs)
          : undefined,
        errors: stats.errors,
      },
      manifest: recorder?.toManifest({}),
    };
    post({ type: 'done', outcome });
  } catch (error) {
    acks?.stop();
    post({ type: 'failed', error: serializeError(error) });
  } finally {
    // Nothing else keeps the thread alive: it ends once the messages above are out.
    port.off('message', onMessage);
  }
}
