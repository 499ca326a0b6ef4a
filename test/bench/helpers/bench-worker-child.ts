/**
 * A stand-in consumer process for worker.test.ts: starts the bench worker as `gapipe consume
 * --bench-ipc` does, has records delivered to it around a snapshot, keeps its thread busy for a
 * while, and exits when told to stop.
 */
import { startBenchWorker } from '../../../src/bench/worker.js';
import type { ConsumeSnapshot } from '../../../src/pipeline/types.js';

const worker = startBenchWorker();
worker.signal.addEventListener('abort', () => process.exit(0));
// Busy inside an event-loop callback, as a consumer decoding and aggregating would be.
setTimeout(() => {
  for (let i = 0; i < 5; i++) worker.observer.delivered?.(Date.now() - 10, Date.now());
  worker.reporter.update({ consumed: 5, atMs: Date.now(), partitions: [] } as unknown as ConsumeSnapshot);
  for (let i = 0; i < 3; i++) worker.observer.delivered?.(Date.now() - 10, Date.now());
  const busyUntil = Date.now() + 300;
  while (Date.now() < busyUntil) {
    // spin
  }
}, 0);
