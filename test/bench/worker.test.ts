import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BenchMessage, WorkerMessage } from '../../src/bench/worker.js';

const CHILD = fileURLToPath(new URL('./helpers/bench-worker-child.ts', import.meta.url));

describe('the bench worker in a consumer process', () => {
  it('forwards snapshots, and answers a sample with the records received up to now and how busy it was', async () => {
    const child = fork(CHILD, {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const messages: WorkerMessage[] = [];
    const sample = await new Promise<Extract<WorkerMessage, { type: 'sample' }>>((resolve, reject) => {
      child.on('message', (message: WorkerMessage) => {
        messages.push(message);
        // Ask as the bench does at its tick, once the consumer has reported a snapshot.
        if (message.type === 'tick') child.send({ type: 'sample', id: 7 } satisfies BenchMessage);
        if (message.type === 'sample') resolve(message);
      });
      child.on('exit', (code) => reject(new Error(`child exited with ${code} before answering`)));
    });
    child.send({ type: 'stop' } satisfies BenchMessage);
    await new Promise((resolve) => child.on('exit', resolve));

    expect(messages[0]).toMatchObject({ type: 'tick', snapshot: { consumed: 5 } });
    expect(sample.id).toBe(7);
    // Counted as the records arrived, not as of the snapshot: three came after it.
    expect(sample.sample).toMatchObject({ consumed: 8, consumedSinceSnapshot: 3, snapshot: { consumed: 5 } });
    // Nothing is measured before the bench says from when (the warm-up): no latency intervals.
    expect(sample.intervals).toEqual({});
    // 300 ms of spinning before the answer: the thread was busy nearly all of the interval.
    expect(sample.load.thread).toBe('consumer');
    expect(sample.load.elu).toBeGreaterThan(0.8);
    expect(sample.load.intervalMs).toBeGreaterThanOrEqual(250);
    if (process.platform === 'linux')
      expect((sample.load.cpuUserMs ?? 0) + (sample.load.cpuSystemMs ?? 0)).toBeGreaterThan(0);
  });
});
