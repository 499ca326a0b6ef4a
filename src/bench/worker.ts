/**
 * A consumer process of `gapipe bench --consumers N`: `gapipe consume --bench-ipc` forked by the
 * bench with an IPC channel. It forwards the consumer's snapshots as they come (about once a second),
 * answers the bench's per-second `sample` requests at once, and stops when told (or when the bench
 * goes away).
 *
 * Why samples: the bench's figures are read at its own one-second ticks. A snapshot reported on the
 * consumer's own timer can be up to a second old by then, and two unsynchronised one-second timers put
 * two snapshots into one of the bench's seconds and none into the next ("consumed 0/s" beside a
 * second of double). So the worker counts the records delivered to the consumer itself, and a sample
 * gives that count as of the request, with the last snapshot and how many records were delivered
 * since it — from which the bench works out the read position at the tick.
 */
import { invalidFlag } from '../errors.js';
import type { ConsumeReporter, ConsumeResult } from '../pipeline/consume.js';
import type { ConsumerObserver } from '../pipeline/consumer.js';
import type { ConsumeSnapshot } from '../pipeline/types.js';
import { type InstrumentSample, ThreadLoadProbe } from './instrument.js';
import { LatencyTaps } from './taps.js';
import type { LatencyKind } from './types.js';

/** The consumer's figures at the moment a sample was asked for. */
export interface ConsumerSample {
  /** Records delivered to the consumer (not replayed ones) since it started, counted as they arrive. */
  consumed: number;
  /** The consumer's latest snapshot (it carries read positions, written documents, the watermark). */
  snapshot: ConsumeSnapshot | undefined;
  /** Records delivered since that snapshot was taken: the read positions have moved on by this many. */
  consumedSinceSnapshot: number;
}

export type WorkerMessage =
  | { type: 'tick'; snapshot: ConsumeSnapshot }
  | {
      type: 'sample';
      id: number;
      sample: ConsumerSample;
      /** Latency intervals since the previous sample. */
      intervals: Partial<Record<LatencyKind, string>>;
      /** How busy this consumer process's main thread was since the previous sample. */
      load: InstrumentSample;
    }
  | { type: 'done'; result: ConsumeResult; intervals: Partial<Record<LatencyKind, string>> };

export type BenchMessage =
  | { type: 'measure-from'; atMs: number }
  | { type: 'sample'; id: number }
  | { type: 'stop' };

export interface BenchWorker {
  reporter: ConsumeReporter;
  observer: ConsumerObserver;
  signal: AbortSignal;
  finish(result: ConsumeResult): Promise<void>;
}

export function startBenchWorker(): BenchWorker {
  const send = process.send?.bind(process);
  if (!send) {
    throw invalidFlag(
      '--bench-ipc is for the consumer processes `gapipe bench` starts (it needs their IPC channel)',
      'Leave it out to run the consumer yourself, or run `gapipe bench --consumers N`',
    );
  }
  // `visible` is timed by the bench, from outside the consumer.
  const taps = new LatencyTaps(['delivery', 'sink']);
  // The pipeline's side of the bench's instrument check: were the consumers busy or idle?
  const probe = new ThreadLoadProbe('consumer');
  const controller = new AbortController();
  let delivered = 0;
  let snapshot: ConsumeSnapshot | undefined;
  let deliveredAtSnapshot = 0;
  const post = (message: WorkerMessage) =>
    new Promise<void>((resolve) => {
      if (!process.connected) return resolve();
      send(message, undefined, {}, () => resolve());
    });
  process.on('message', (message: BenchMessage) => {
    if (message.type === 'measure-from') taps.measureFromMs = message.atMs;
    else if (message.type === 'stop') controller.abort();
    else if (message.type === 'sample') {
      void post({
        type: 'sample',
        id: message.id,
        sample: { consumed: delivered, snapshot, consumedSinceSnapshot: delivered - deliveredAtSnapshot },
        intervals: taps.takeIntervals(),
        load: probe.sample(),
      });
    }
  });
  process.on('disconnect', () => controller.abort());
  const tapped = taps.consumerObserver();
  return {
    observer: {
      ...tapped,
      delivered(intendedMs, nowMs) {
        delivered++;
        tapped.delivered?.(intendedMs, nowMs);
      },
    },
    signal: controller.signal,
    reporter: {
      started() {},
      update(latest) {
        // The snapshot is taken just before this call, on this thread: no record arrived in between.
        snapshot = latest;
        deliveredAtSnapshot = delivered;
        void post({ type: 'tick', snapshot: latest });
      },
      done() {},
    },
    async finish(result) {
      await post({ type: 'done', result, intervals: taps.takeIntervals() });
    },
  };
}
