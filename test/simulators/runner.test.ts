import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { TrafficGenerator } from '../../src/simulators/generator.js';
import { runPaced, type SimulationProgress } from '../../src/simulators/runner.js';
import { MemorySink } from '../../src/simulators/sinks/memory.js';
import type { SinkRecord } from '../../src/simulators/sinks/types.js';
import { generateAll, simulateOptions, streamHash, ThrottledSink } from './helpers.js';

const T0 = 1_800_000_000_000;

function setup(overrides: Parameters<typeof simulateOptions>[0] = {}) {
  const clock = new ManualClock(T0);
  const options = simulateOptions({ events: undefined, durationMs: 2000, startRate: 1000, ...overrides });
  const generator = new TrafficGenerator(options);
  return { clock, options, generator };
}

describe('open-loop pacing (ManualClock, no sleeps)', () => {
  it('sends each record at its intended time: never before, never later when the sink keeps up', async () => {
    const { clock, generator } = setup();
    const sink = new MemorySink({ now: () => clock.now() });
    const result = await runPaced(generator, { runId: 'r', pace: true, maxInFlight: 1000 }, { clock, sink });

    expect(result.stopReason).toBe('completed');
    expect(Math.abs(result.produced - 2000)).toBeLessThan(5 * Math.sqrt(2000));
    let index = 0;
    for (const send of sink.sends) {
      for (let i = 0; i < send.count; i++, index++) {
        const record = sink.records[index] as SinkRecord;
        // Exact up to the 1 µs the runner treats as "due now".
        expect(send.atMs - record.intendedMs).toBeGreaterThanOrEqual(-0.001);
        expect(send.atMs - record.intendedMs).toBeLessThanOrEqual(0.001);
      }
    }
    expect(result.maxLagMs).toBeLessThanOrEqual(0.001);
    expect(result.maxBacklog).toBe(0);
    // The intended times follow the schedule, anchored at the start.
    expect((sink.records[0] as SinkRecord).intendedMs).toBeGreaterThanOrEqual(T0);
    expect((sink.records.at(-1) as SinkRecord).intendedMs).toBeLessThan(T0 + 2000);
    expect(result.producingMs).toBeLessThan(2000);
  });

  it('ramps: records per second of send time follow the stages', async () => {
    const { clock, generator } = setup({
      durationMs: 5000,
      startRate: 0,
      stages: [
        { durationMs: 3000, targetRate: 3000 },
        { durationMs: 2000, targetRate: 3000 },
      ],
    });
    const sink = new MemorySink({ now: () => clock.now() });
    await runPaced(generator, { runId: 'r', pace: true, maxInFlight: 10_000 }, { clock, sink });
    const perSecond = new Array(5).fill(0);
    for (const send of sink.sends) perSecond[Math.floor((send.atMs - T0) / 1000)] += send.count;
    // Expected: 500, 1500, 2500 on the ramp, then 3000, 3000.
    for (const [second, expected] of [500, 1500, 2500, 3000, 3000].entries()) {
      expect(Math.abs((perSecond[second] as number) - expected), `second ${second}`).toBeLessThan(
        5 * Math.sqrt(expected),
      );
    }
  });

  it('never waits on acknowledgements below the in-flight budget', async () => {
    const { clock, generator } = setup();
    const sink = new MemorySink({ now: () => clock.now(), manualAcks: true });
    const result = await runPaced(
      generator,
      { runId: 'r', pace: true, maxInFlight: 1_000_000 },
      { clock, sink },
    );
    expect(sink.stats().acknowledged).toBe(0);
    expect(result.produced).toBe(sink.records.length);
    expect(result.maxLagMs).toBeLessThanOrEqual(0.001);
    expect(clock.now() - T0).toBeLessThanOrEqual(2000);
  });

  it('when the sink cannot keep up: bounded in flight, lag and backlog reported, same records in the same order', async () => {
    const { clock, options, generator } = setup({ startRate: 5000 });
    const sink = new ThrottledSink(clock, 1); // acknowledges 1,000/s against a 5,000/s target
    const updates: SimulationProgress[] = [];
    const result = await runPaced(
      generator,
      { runId: 'r', pace: true, maxInFlight: 200, progressIntervalMs: 500, durationMs: 2000 },
      { clock, sink, reporter: { progress: (p) => updates.push(p) } },
    );

    expect(sink.maxInFlightSeen).toBeLessThanOrEqual(200);
    expect(result.produced).toBe(generateAll({ ...options }).records.length);
    expect(streamHash(sink.records)).toBe(streamHash(generateAll({ ...options }).records));
    // ~10,000 records at ~1,000/s: production ends ~8 s behind the 2 s schedule.
    expect(result.producingMs).toBeGreaterThan(8000);
    expect(result.maxLagMs).toBeGreaterThan(7000);
    expect(result.maxBacklog).toBeGreaterThan(5000);
    expect(result.inFlightWaitMs).toBeGreaterThan(5000);

    const behind = updates.filter((u) => u.lagMs > 1000);
    expect(behind.length).toBeGreaterThan(5);
    for (const update of behind) {
      expect(update.achievedRate).toBeLessThan(1500);
      expect(update.atInFlightLimit || update.inFlight <= 200).toBe(true);
      expect(update.backlog).toBeGreaterThan(0);
    }
    const onSchedule = updates.find((u) => u.elapsedMs <= 1000 && u.elapsedMs > 0);
    expect(onSchedule?.targetRate).toBe(5000);
  });

  it('reports progress with target and achieved rates on the clock', async () => {
    const { clock, generator } = setup({ startRate: 2000, durationMs: 5000 });
    const sink = new MemorySink({ now: () => clock.now(), keep: false });
    const updates: SimulationProgress[] = [];
    await runPaced(
      generator,
      { runId: 'r', pace: true, maxInFlight: 1000, durationMs: 5000 },
      { clock, sink, reporter: { progress: (p) => updates.push(p) } },
    );
    const periodic = updates.slice(0, -1);
    expect(periodic.length).toBeGreaterThanOrEqual(4);
    for (const update of periodic) {
      expect(update.targetRate).toBe(2000);
      expect(Math.abs(update.achievedRate - 2000)).toBeLessThan(300);
      expect(update.lagMs).toBe(0);
      expect(update.backlog).toBe(0);
    }
    const fractions = updates.map((u) => u.fraction ?? 0);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(updates.at(-1)?.fraction).toBe(1);
  });

  it('without pacing produces everything at once, with the scheduled intended times', async () => {
    const { clock, options, generator } = setup();
    const sink = new MemorySink({ now: () => clock.now() });
    const result = await runPaced(
      generator,
      { runId: 'r', pace: false, maxInFlight: 100_000 },
      { clock, sink },
    );
    expect(clock.now()).toBe(T0);
    expect(result.produced).toBe(generateAll(options).records.length);
    expect((sink.records.at(-1) as SinkRecord).intendedMs).toBeGreaterThan(T0 + 1900);
  });

  it('stops when interrupted and when the sink fails', async () => {
    const interrupted = setup();
    const controller = new AbortController();
    const sink = new MemorySink({ now: () => interrupted.clock.now() });
    const stopAfter = {
      progress: (p: SimulationProgress) => {
        if (p.elapsedMs >= 1000) controller.abort();
      },
    };
    const result = await runPaced(
      interrupted.generator,
      { runId: 'r', pace: true, maxInFlight: 1000, progressIntervalMs: 100 },
      { clock: interrupted.clock, sink, reporter: stopAfter, signal: controller.signal },
    );
    expect(result.stopReason).toBe('interrupted');
    expect(result.produced).toBeGreaterThan(800);
    expect(result.produced).toBeLessThan(1300);

    const failing = setup();
    const broken = new MemorySink();
    let sends = 0;
    const original = broken.send.bind(broken);
    broken.send = (records) => {
      sends++;
      original(records);
    };
    broken.fatalError = () => (sends >= 3 ? new Error('disk full') : undefined);
    const failed = await runPaced(
      failing.generator,
      { runId: 'r', pace: true, maxInFlight: 1000 },
      { clock: failing.clock, sink: broken },
    );
    expect(failed.stopReason).toBe('sink-failed');
    expect(failed.fatalError?.message).toBe('disk full');
    expect(failed.produced).toBe(broken.records.length);
  });
});
