import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineResourceProbe, processTree } from '../../../src/bench/engines/resources.js';

const children: ChildProcess[] = [];

/** A node process that idles for a few seconds, then exits; it was spawned once this resolves. */
async function idleChild(script = 'setTimeout(() => {}, 5000)'): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await once(child, 'spawn');
  return child;
}

/** Spins this thread until the process has used `cpuMs` more CPU time (not wall time). */
function burnCpu(cpuMs: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= cpuMs) return;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A pid no process has: above the kernel's limit (pid_max is at most 2^22). */
const NO_SUCH_PID = 2 ** 22 + 12_345;

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe.runIf(process.platform === 'linux')('processTree', () => {
  it('has this process, with its parent, CPU ticks and resident memory', () => {
    const tree = processTree([process.pid]);
    const self = tree.find((p) => p.pid === process.pid);
    expect(self).toBeDefined();
    expect(self?.ppid).toBe(process.ppid);
    expect(self?.ticks).toBeGreaterThanOrEqual(0);
    // Resident memory as the process itself counts it, within a few pages' drift.
    expect(self?.rssBytes).toBeGreaterThan(0);
    expect(Math.abs((self?.rssBytes ?? 0) - process.memoryUsage.rss())).toBeLessThan(64 * 1024 * 1024);
  });

  it('goes down to the children of a root, never up to its parent', async () => {
    const child = await idleChild();
    const tree = processTree([process.pid]);
    expect(tree.find((p) => p.pid === child.pid)).toMatchObject({ pid: child.pid, ppid: process.pid });
    expect(tree.map((p) => p.pid)).not.toContain(process.ppid);
  });

  it('goes down to grandchildren too', async () => {
    // The child prints its own child's pid, then both idle.
    const child = await idleChild(
      "const c = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore' }); console.log(c.pid); setTimeout(() => c.kill(), 5000)",
    );
    const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
    const grandchild = Number(line.toString().trim());
    try {
      const tree = processTree([process.pid]);
      expect(tree.find((p) => p.pid === grandchild)).toMatchObject({ ppid: child.pid });
    } finally {
      process.kill(grandchild, 'SIGKILL');
    }
  });

  it('lists each process once, however the roots overlap', async () => {
    const child = await idleChild();
    const tree = processTree([process.pid, child.pid as number, process.pid]);
    const pids = tree.map((p) => p.pid);
    expect(new Set(pids).size).toBe(pids.length);
    expect(pids).toContain(child.pid);
  });

  it('is empty for a pid that does not exist', () => {
    expect(processTree([NO_SUCH_PID])).toEqual([]);
  });
});

describe.runIf(process.platform === 'linux')('EngineResourceProbe', () => {
  it('has no summary before measure(), however often it sampled', async () => {
    const probe = new EngineResourceProbe(() => [process.pid]);
    probe.sample();
    await sleep(50);
    probe.sample();
    expect(probe.summary()).toBeUndefined();
  });

  it('measures the CPU and memory of a busy process between two samples', async () => {
    const probe = new EngineResourceProbe(() => [process.pid]);
    probe.measure();
    const first = probe.sample();
    // The first sample has nothing to compare with: no CPU figure, and none counted.
    expect(first?.cpuCores).toBeUndefined();
    expect(first?.rssBytes).toBeGreaterThan(0);
    expect(probe.summary()).toBeUndefined();
    burnCpu(150);
    await sleep(200);
    const second = probe.sample();
    expect(second?.cpuCores).toBeGreaterThan(0);
    const summary = probe.summary();
    expect(summary).toBeDefined();
    expect(summary?.cpuCoresMean).toBeGreaterThan(0);
    // One measured interval: its figure is the mean and the max alike (a first sample counted as 0
    // cores would halve the mean).
    expect(summary?.cpuCoresMean).toBe(summary?.cpuCoresMax);
    expect(summary?.rssMaxBytes).toBeGreaterThan(0);
    expect(summary?.processes).toBeGreaterThanOrEqual(1);
    expect(summary?.method).toContain('/proc');
  });

  it('leaves the warm-up out: only samples after measure() count', async () => {
    let nowMs = 0;
    const probe = new EngineResourceProbe(
      () => [process.pid],
      () => nowMs,
    );
    probe.sample();
    nowMs += 1000;
    burnCpu(100);
    // The busy warm-up second is sampled but not measured.
    expect(probe.sample()?.cpuCores).toBeGreaterThan(0);
    probe.measure();
    nowMs += 1_000_000;
    probe.sample();
    // About nothing used over a (fake) thousand seconds: far below the warm-up's figure.
    expect(probe.summary()?.cpuCoresMax).toBeLessThan(0.01);
  });

  it('gives undefined for a pid that does not exist, and no summary', () => {
    const probe = new EngineResourceProbe(() => [NO_SUCH_PID]);
    probe.measure();
    expect(probe.sample()).toBeUndefined();
    expect(probe.sample()).toBeUndefined();
    expect(probe.summary()).toBeUndefined();
  });

  it('counts a spawned engine process and its memory under its own pid', async () => {
    const child = await idleChild();
    const probe = new EngineResourceProbe(() => [child.pid as number]);
    probe.measure();
    probe.sample();
    await sleep(100);
    const reading = probe.sample();
    expect(reading?.rssBytes).toBeGreaterThan(0);
    expect(probe.summary()).toMatchObject({ processes: 1 });
  });
});
