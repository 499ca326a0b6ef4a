/**
 * A stand-in consumer process for worker.test.ts: starts the bench worker as `gapipe consume
 * --bench-ipc` does, keeps its thread busy for a while, reports one tick and exits when told to stop.
 */
import { startBenchWorker } from '../../../src/bench/worker.js';
import type { ConsumeSnapshot } from '../../../src/pipeline/types.js';

const worker = startBenchWorker();
worker.signal.addEventListener('abort', () => process.exit(0));
// Busy inside an event-loop callback, as a consumer decoding and aggregating would be.
setTimeout(() => {
  const busyUntil = Date.now() + 300;
  while (Date.now() < busyUntil) {
    // spin
  }
  worker.reporter.update({ consumed: 1 } as ConsumeSnapshot);
}, 0);
