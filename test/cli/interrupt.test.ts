import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type SignalTarget, withInterrupt } from '../../src/cli/interrupt.js';

/** A stand-in for `process`: signals are emitted by the test, exits are recorded. */
class FakeProcess extends EventEmitter implements SignalTarget {
  exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
  listening(): number {
    return this.listenerCount('SIGINT') + this.listenerCount('SIGTERM');
  }
}

/** A run that waits until the test lets it finish. */
function pendingRun() {
  let finish!: (value: string) => void;
  let controller: AbortController | undefined;
  const run = (c: AbortController) => {
    controller = c;
    return new Promise<string>((resolve) => {
      finish = resolve;
    });
  };
  return { run, finish: (value: string) => finish(value), controller: () => controller as AbortController };
}

describe('withInterrupt', () => {
  it('aborts the run on the first Ctrl-C, and returns what the run returns', async () => {
    const target = new FakeProcess();
    const pending = pendingRun();
    const result = withInterrupt(pending.run, target);
    expect(target.listenerCount('SIGINT')).toBe(1);
    expect(target.listenerCount('SIGTERM')).toBe(1);
    expect(pending.controller().signal.aborted).toBe(false);
    target.emit('SIGINT', 'SIGINT');
    expect(pending.controller().signal.aborted).toBe(true);
    expect(target.exits).toEqual([]);
    pending.finish('summary');
    await expect(result).resolves.toBe('summary');
    expect(target.listening()).toBe(0);
  });

  it('aborts on SIGTERM as on Ctrl-C', async () => {
    const target = new FakeProcess();
    const pending = pendingRun();
    const result = withInterrupt(pending.run, target);
    target.emit('SIGTERM', 'SIGTERM');
    expect(pending.controller().signal.aborted).toBe(true);
    expect(target.exits).toEqual([]);
    pending.finish('done');
    await result;
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('exits at once on a second %s, with %i', async (signal, code) => {
    const target = new FakeProcess();
    const pending = pendingRun();
    const result = withInterrupt(pending.run, target);
    target.emit('SIGINT', 'SIGINT');
    target.emit(signal, signal);
    expect(target.exits).toEqual([code]);
    pending.finish('done');
    await result;
  });

  it('exits at once on a signal after the run stopped itself (q pressed, then Ctrl-C)', async () => {
    const target = new FakeProcess();
    const pending = pendingRun();
    const result = withInterrupt(pending.run, target);
    pending.controller().abort();
    target.emit('SIGINT', 'SIGINT');
    expect(target.exits).toEqual([130]);
    pending.finish('done');
    await result;
  });

  it('lets go of the signals when the run fails, and passes the error on', async () => {
    const target = new FakeProcess();
    const failure = new Error('broker gone');
    await expect(
      withInterrupt(async () => {
        expect(target.listening()).toBe(2);
        throw failure;
      }, target),
    ).rejects.toBe(failure);
    expect(target.listening()).toBe(0);
    // A signal now is no longer this run's business.
    target.emit('SIGINT', 'SIGINT');
    expect(target.exits).toEqual([]);
  });

  it('wires the real process by default and leaves it as it found it', async () => {
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    const seen = await withInterrupt(async (controller) => ({
      int: process.listenerCount('SIGINT'),
      term: process.listenerCount('SIGTERM'),
      aborted: controller.signal.aborted,
    }));
    expect(seen).toEqual({ int: before.int + 1, term: before.term + 1, aborted: false });
    expect({ int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') }).toEqual(before);
  });
});
