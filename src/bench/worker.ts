/**
 * A consumer process of `gapipe bench --consumers N`: `gapipe consume --bench-ipc` forked by the
 * bench with an IPC channel. It reports its figures and latency intervals every second and stops when
 * told (or when the bench goes away).
 */
import type { ConsumeResult } from '../pipeline/consume.js';
import type { ConsumerObserver } from '../pipeline/consumer.js';
import type { ConsumeSnapshot } from '../pipeline/types.js';
import type { ConsumeReporter } from '../ui/consume.js';
import { type InstrumentSample, ThreadLoadProbe } from './instrument.js';
import { LatencyTaps } from './taps.js';
import type { LatencyKind } from './types.js';

export type WorkerMessage =
  | {
      type: 'tick';
      snapshot: ConsumeSnapshot;
      intervals: Partial<Record<LatencyKind, string>>;
      /** How busy this consumer process's main thread was since the previous tick. */
      load?: InstrumentSample;
    }
  | { type: 'done'; result: ConsumeResult; intervals: Partial<Record<LatencyKind, string>> };

export type BenchMessage = { type: 'measure-from'; atMs: number } | { type: 'stop' };

export interface BenchWorker {
  reporter: ConsumeReporter;
  observer: ConsumerObserver;
  signal: AbortSignal;
  finish(result: ConsumeResult): Promise<void>;
}

export function startBenchWorker(): BenchWorker {
  const send = process.send?.bind(process);
  if (!send) throw new Error('--bench-ipc needs an IPC channel (it is started by gapipe bench)');
  const taps = new LatencyTaps(['delivery', 'sink', 'visible']);
  // The pipeline's side of the bench's instrument check: were the consumers busy or idle?
  const probe = new ThreadLoadProbe('consumer');
  const controller = new AbortController();
  process.on('message', (message: BenchMessage) => {
    if (message.type === 'measure-from') taps.measureFromMs = message.atMs;
    else if (message.type === 'stop') controller.abort();
  });
  process.on('disconnect', () => controller.abort());
  const post = (message: WorkerMessage) =>
    new Promise<void>((resolve) => {
      if (!process.connected) return resolve();
      send(message, undefined, {}, () => resolve());
    });
  return {
    observer: taps.consumerObserver(),
    signal: controller.signal,
    reporter: {
      started() {},
      update(snapshot) {
        void post({ type: 'tick', snapshot, intervals: taps.takeIntervals(), load: probe.sample() });
      },
      done() {},
    },
    async finish(result) {
      await post({ type: 'done', result, intervals: taps.takeIntervals() });
    },
  };
}
