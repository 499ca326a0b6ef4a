import { describe, expect, it } from 'vitest';
import {
  cpuCores,
  InstrumentMeter,
  isSaturated,
  summarizeInstrument,
  ThreadLoadProbe,
  type ThreadLoadSources,
  threadCpuTimes,
} from '../../src/bench/instrument.js';
import type { InstrumentPoint, SeriesPoint } from '../../src/bench/types.js';

/** Sources for a probe that a test moves by hand: busy and CPU time accumulate as told. */
function fakeThread() {
  const state = { now: 0, active: 0, idle: 0, userMs: 0, systemMs: 0 };
  const sources: ThreadLoadSources = {
    eventLoopUtilization: (previous) => {
      const active = state.active - (previous?.active ?? 0);
      const idle = state.idle - (previous?.idle ?? 0);
      return { active, idle, utilization: active + idle > 0 ? active / (active + idle) : 0 };
    },
    cpuTimes: () => ({ userMs: state.userMs, systemMs: state.systemMs }),
    nowMs: () => state.now,
  };
  /** The next `ms` of wall time: `busy` of it in the event loop, `cpu` of it on a core. */
  const run = (ms: number, busy: number, cpu: number) => {
    state.now += ms;
    state.active += ms * busy;
    state.idle += ms * (1 - busy);
    state.userMs += ms * cpu * 0.9;
    state.systemMs += ms * cpu * 0.1;
  };
  return { sources, run };
}

describe('ThreadLoadProbe', () => {
  it('reports event-loop utilisation and CPU time since the previous sample', () => {
    const thread = fakeThread();
    const probe = new ThreadLoadProbe('main', thread.sources);
    thread.run(1000, 0.5, 0.4);
    const first = probe.sample();
    expect(first).toMatchObject({ thread: 'main', elu: 0.5, intervalMs: 1000 });
    expect(first.cpuUserMs).toBeCloseTo(360);
    expect(first.cpuSystemMs).toBeCloseTo(40);
    expect(cpuCores(first)).toBeCloseTo(0.4);

    thread.run(2000, 1, 0.98);
    const second = probe.sample();
    expect(second.elu).toBe(1);
    expect(second.intervalMs).toBe(2000);
    expect(cpuCores(second)).toBeCloseTo(0.98);
  });

  it('leaves CPU unknown where the platform cannot tell', () => {
    const thread = fakeThread();
    const probe = new ThreadLoadProbe('main', { ...thread.sources, cpuTimes: () => undefined });
    thread.run(1000, 0.7, 0.7);
    const sample = probe.sample();
    expect(sample.elu).toBeCloseTo(0.7);
    expect(sample.cpuUserMs).toBeUndefined();
    expect(cpuCores(sample)).toBeUndefined();
  });

  it('reads this thread’s own CPU time on this machine', () => {
    const before = threadCpuTimes();
    if (process.platform !== 'linux') return expect(before).toBeUndefined();
    const until = Date.now() + 60;
    while (Date.now() < until) {
      // Spin, so the thread's CPU time moves by at least one 10 ms tick.
    }
    const after = threadCpuTimes();
    expect(after).toBeDefined();
    expect((after?.userMs ?? 0) + (after?.systemMs ?? 0)).toBeGreaterThan(
      (before?.userMs ?? 0) + (before?.systemMs ?? 0),
    );
  });
});

describe('InstrumentMeter', () => {
  it('counts from the start of the load, not from the setting up before it', () => {
    const main = fakeThread();
    const meter = new InstrumentMeter({
      mainThread: new ThreadLoadProbe('main', main.sources),
      processCpu: () => 0.5,
      sharedWithPipeline: true,
    });
    main.run(5000, 1, 1); // creating topics, starting consumers
    meter.scheduleAt({ lagMs: 9000, backlog: 1, inFlight: 1, atInFlightLimit: true });
    meter.start();
    main.run(1000, 0.2, 0.2);
    expect(meter.tick().instrument).toMatchObject({ elu: 0.2, cpuCores: 0.2, scheduleLagMs: 0 });
  });

  it('closes each second with the busiest thread, the worst schedule position and the consumers’ load', () => {
    const main = fakeThread();
    const meter = new InstrumentMeter({
      mainThread: new ThreadLoadProbe('main', main.sources),
      processCpu: () => 1.31,
      sharedWithPipeline: false,
    });
    // A worker thread reporting in twice during the second (the interface worker threads will use).
    meter.add({ thread: 'worker-1', elu: 1, cpuUserMs: 450, cpuSystemMs: 40, intervalMs: 500 });
    meter.add({ thread: 'worker-1', elu: 0.8, cpuUserMs: 360, cpuSystemMs: 40, intervalMs: 500 });
    meter.scheduleAt({ lagMs: 300, backlog: 3000, inFlight: 800, atInFlightLimit: false });
    meter.scheduleAt({ lagMs: 1400.4, backlog: 14_000, inFlight: 1200, atInFlightLimit: true });
    meter.scheduleAt({ lagMs: 900, backlog: 9000, inFlight: 700, atInFlightLimit: false });
    meter.consumer({ thread: 'consumer-1', elu: 0.2, cpuUserMs: 150, cpuSystemMs: 50, intervalMs: 1000 });
    meter.consumer({ thread: 'consumer-2', elu: 0.35, cpuUserMs: 300, cpuSystemMs: 50, intervalMs: 1000 });
    main.run(1000, 0.4, 0.3);

    const { instrument, pipeline } = meter.tick();
    expect(instrument).toEqual({
      elu: 0.9,
      cpuCores: 0.3 + 0.89,
      processCpuCores: 1.31,
      scheduleLagMs: 1400,
      backlog: 14_000,
      inFlight: 700,
      atInFlightLimit: true,
      threads: [
        { thread: 'worker-1', elu: 0.9, cpuCores: 0.89 },
        { thread: 'main', elu: 0.4, cpuCores: 0.3 },
      ],
    });
    expect(pipeline).toEqual({ elu: 0.35, cpuCores: 0.55, processes: 2 });

    // A quiet second with no progress report keeps the last known schedule position.
    main.run(1000, 0.1, 0.1);
    const next = meter.tick().instrument;
    expect(next).toMatchObject({ elu: 0.1, scheduleLagMs: 900, backlog: 9000, atInFlightLimit: false });
    expect(next.threads).toEqual([{ thread: 'main', elu: 0.1, cpuCores: 0.1 }]);
  });
});

function point(t: number, instrument: Partial<InstrumentPoint>, warmup = false): SeriesPoint {
  return {
    t,
    warmup,
    targetRate: 10_000,
    produced: 10_000,
    acknowledged: 10_000,
    consumed: 10_000,
    written: 40,
    lag: 0,
    p99Ms: {},
    errors: 0,
    instrument: {
      elu: 0.3,
      cpuCores: 0.28,
      processCpuCores: 0.4,
      scheduleLagMs: 2,
      backlog: 0,
      inFlight: 50,
      atInFlightLimit: false,
      threads: [],
      ...instrument,
    },
  };
}

describe('summarizeInstrument', () => {
  it('sums up the measured seconds only: warm-up and the drain after the planned end are left out', () => {
    const series = [
      point(1, { elu: 1, scheduleLagMs: 5000, backlog: 50_000 }, true),
      point(2, { elu: 0.5, cpuCores: 0.45 }),
      point(3, { elu: 0.95, cpuCores: 0.93, scheduleLagMs: 1500, backlog: 15_000 }),
      point(4, { elu: 0.7, cpuCores: 0.6, scheduleLagMs: 800 }),
      point(5, { elu: 1, scheduleLagMs: 9000 }),
    ];
    expect(
      summarizeInstrument({ series, lastSecond: 4, sharedWithPipeline: false, generatorThreads: 1, cpus: 2 }),
    ).toEqual({
      sharedWithPipeline: false,
      generatorThreads: 1,
      cpus: 2,
      measuredSeconds: 3,
      eluMean: 0.717,
      eluMax: 0.95,
      cpuCoresMean: 0.66,
      cpuCoresMax: 0.93,
      processCpuCoresMean: 0.4,
      maxScheduleLagMs: 1500,
      maxScheduleLagAtS: 3,
      maxBacklog: 15_000,
      secondsBehind: 1,
      secondsSaturated: 1,
    });
  });

  it('counts a thread as saturated by its busy share or by the CPU it can use', () => {
    const base = point(1, {}).instrument as InstrumentPoint;
    expect(isSaturated({ ...base, elu: 0.9 }, 1, 2)).toBe(true);
    expect(isSaturated({ ...base, elu: 0.89, cpuCores: 0.5 }, 1, 2)).toBe(false);
    expect(isSaturated({ ...base, elu: 0.6, cpuCores: 0.92 }, 1, 2)).toBe(true);
    // Four threads on a two-core machine can use two cores, no more.
    expect(isSaturated({ ...base, elu: 0.6, cpuCores: 1.85 }, 4, 2)).toBe(true);
    expect(isSaturated({ ...base, elu: 0.6, cpuCores: 1.85 }, 4, 8)).toBe(false);
  });
});
