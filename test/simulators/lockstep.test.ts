import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TrafficGenerator } from '../../src/simulators/generator.js';
import { LOCKSTEP_DONE, Lockstep } from '../../src/simulators/lockstep.js';
import { runPaced } from '../../src/simulators/runner.js';
import { MemorySink } from '../../src/simulators/sinks/memory.js';
import type { SinkRecord } from '../../src/simulators/sinks/types.js';
import { simulateOptions } from './helpers.js';

const T0 = 1_800_000_000_000;

describe('Lockstep', () => {
  it('lets a thread run up to the slowest other thread plus the skew', () => {
    const buffer = Lockstep.buffer(3);
    const [a, b, c] = [0, 1, 2].map((i) => new Lockstep(buffer, i, 1000)) as [Lockstep, Lockstep, Lockstep];
    a.publish(5000);
    b.publish(2000);
    c.publish(7000);
    expect(a.horizon()).toBe(3000);
    expect(b.horizon()).toBe(6000); // the slowest is held back by nobody slower than itself
    expect(c.horizon()).toBe(3000);
  });

  it('stops holding anyone back once a thread is done, and is unbounded when all others are', () => {
    const buffer = Lockstep.buffer(2);
    const a = new Lockstep(buffer, 0, 1000);
    const b = new Lockstep(buffer, 1, 1000);
    a.publish(10);
    b.publish(Number.POSITIVE_INFINITY);
    expect(new Int32Array(buffer)[1]).toBe(LOCKSTEP_DONE);
    expect(a.horizon()).toBe(Number.POSITIVE_INFINITY);
    expect(b.horizon()).toBe(1010);
  });
});

describe('unpaced runs in lockstep', () => {
  it('produces nothing beyond the horizon while another thread lags, and finishes once it is done', async () => {
    const clock = new ManualClock(T0);
    const options = simulateOptions({ events: undefined, durationMs: 10_000, startRate: 1000 });
    const buffer = Lockstep.buffer(2);
    const other = new Lockstep(buffer, 1, 1000);
    other.publish(2000); // the other thread is at 2 s of schedule time: this one may go to 3 s
    const sink = new MemorySink({ now: () => clock.now() });
    let released = false;
    const run = runPaced(
      new TrafficGenerator(options),
      { runId: 'r', pace: false, maxInFlight: 100_000, lockstep: new Lockstep(buffer, 0, 1000) },
      {
        clock,
        sink,
        yieldToEventLoop: async () => {
          // Still held back: nothing past 3 s of schedule time has been produced.
          if (!released && sink.records.length > 0) {
            const last = (sink.records.at(-1) as SinkRecord).intendedMs - T0;
            expect(last).toBeLessThanOrEqual(3000);
            if (clock.now() - T0 > 50) {
              released = true;
              other.publish(Number.POSITIVE_INFINITY);
            }
          }
          await new Promise<void>((resolve) => setImmediate(resolve));
        },
      },
    );
    const result = await run;
    expect(released).toBe(true);
    expect(result.stopReason).toBe('completed');
    expect((sink.records.at(-1) as SinkRecord).intendedMs - T0).toBeGreaterThan(9000);
    // Done: it holds nobody back.
    expect(other.horizon()).toBe(Number.POSITIVE_INFINITY);
  });
});
