import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BenchMessage, WorkerMessage } from '../../src/bench/worker.js';

const CHILD = fileURLToPath(new URL('./helpers/bench-worker-child.ts', import.meta.url));

describe('the bench worker in a consumer process', () => {
  it('reports how busy the consumer process was with each tick, for the verdict’s pipeline side', async () => {
    const child = fork(CHILD, {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const tick = await new Promise<WorkerMessage>((resolve, reject) => {
      child.on('message', (message: WorkerMessage) => resolve(message));
      child.on('exit', (code) => reject(new Error(`child exited with ${code} before reporting`)));
    });
    child.send({ type: 'stop' } satisfies BenchMessage);
    await new Promise((resolve) => child.on('exit', resolve));
    expect(tick.type).toBe('tick');
    const load = tick.type === 'tick' ? tick.load : undefined;
    expect(load?.thread).toBe('consumer');
    // 300 ms of spinning right after start: the thread was busy nearly all of the interval.
    expect(load?.elu).toBeGreaterThan(0.8);
    expect(load?.intervalMs).toBeGreaterThanOrEqual(250);
    if (process.platform === 'linux')
      expect((load?.cpuUserMs ?? 0) + (load?.cpuSystemMs ?? 0)).toBeGreaterThan(0);
  });
});
