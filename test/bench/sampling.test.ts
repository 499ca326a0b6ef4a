/**
 * The bench's per-second sampling: counters read on the clock, lag from end offsets and read
 * positions, ticks that do not drift.
 */
import { describe, expect, it } from 'vitest';
import {
  type ConsumerReading,
  CountingSink,
  consumerLag,
  ratesBetween,
  SecondTicker,
  type TickTimers,
} from '../../src/bench/sampling.js';
import type { ConsumeSnapshot, PartitionSnapshot } from '../../src/pipeline/types.js';
import type { Sink, SinkRecord } from '../../src/simulators/sinks/types.js';

function reading(positions: Record<number, number>, consumedSinceSnapshot = 0): ConsumerReading {
  const partitions = Object.entries(positions).map(
    ([partition, position]) => ({ partition: Number(partition), position }) as PartitionSnapshot,
  );
  return {
    consumed: 0,
    snapshot: { partitions } as unknown as ConsumeSnapshot,
    consumedSinceSnapshot,
  };
}

describe('consumerLag', () => {
  it('is the end offsets minus the read positions, over every partition of the topic', () => {
    const ends = new Map([
      [0, 1000],
      [1, 800],
      [2, 500],
    ]);
    // Partition 2 has not been read at all yet: all of it is lag.
    expect(consumerLag(ends, [reading({ 0: 900 }), reading({ 1: 800 })])).toBe(100 + 0 + 500);
  });

  it('takes off what the consumers received after their snapshots', () => {
    const ends = new Map([[0, 10_000]]);
    expect(consumerLag(ends, [reading({ 0: 4000 }, 2500)])).toBe(3500);
    // Never below zero, whatever the order the figures came in.
    expect(consumerLag(ends, [reading({ 0: 9000 }, 2500)])).toBe(0);
  });

  it('uses the furthest position when two members report a partition (a rebalance)', () => {
    expect(consumerLag(new Map([[0, 100]]), [reading({ 0: 40 }), reading({ 0: 90 })])).toBe(10);
  });

  it('is the whole topic before any consumer reported', () => {
    expect(
      consumerLag(
        new Map([
          [0, 7],
          [1, 5],
        ]),
        [{ consumed: 0, snapshot: undefined, consumedSinceSnapshot: 0 }],
      ),
    ).toBe(12);
  });
});

describe('ratesBetween', () => {
  it('divides the change of each counter by the time between the readings', () => {
    const from = { atMs: 10_000, counters: { produced: 0, acknowledged: 0, consumed: 0, written: 0 } };
    const to = {
      atMs: 11_250,
      counters: { produced: 12_500, acknowledged: 12_000, consumed: 10_000, written: 125 },
    };
    expect(ratesBetween(from, to)).toEqual({
      produced: 10_000,
      acknowledged: 9600,
      consumed: 8000,
      written: 100,
    });
  });
});

describe('CountingSink', () => {
  it('counts the records handed over, whenever it is read, and passes everything through', async () => {
    const sent: SinkRecord[] = [];
    const inner: Sink = {
      description: 'test sink',
      open: async () => {},
      send: (records) => {
        sent.push(...records);
      },
      inFlight: () => 3,
      stats: () => ({ acknowledged: sent.length - 3, failed: 0, bytes: 0 }),
      flush: async () => {},
      close: async () => {},
      fatalError: () => undefined,
    };
    const sink = new CountingSink(inner);
    const record = { key: 'p', value: '{}', headers: {}, intendedMs: 0 } as unknown as SinkRecord;
    sink.send(Array.from({ length: 2048 }, () => record));
    expect(sink.sent).toBe(2048);
    sink.send([record, record, record]);
    expect(sink.sent).toBe(2051);
    expect(sink.stats().acknowledged).toBe(2048);
    expect(sink.inFlight()).toBe(3);
    expect(sink.description).toBe('test sink');
    expect(sink.closedByReader()).toBe(false);
  });
});

/** Timers on a clock that only moves when told. */
class FakeTimers implements TickTimers {
  nowMs = 0;
  private timers: Array<{ at: number; callback: () => void; id: number }> = [];
  private nextId = 0;
  now = () => this.nowMs;
  setTimeout = (callback: () => void, ms: number) => {
    const id = this.nextId++;
    this.timers.push({ at: this.nowMs + ms, callback, id });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== handle);
  };
  /** Moves the clock to `ms`, firing what is due on the way (in order). */
  async advanceTo(ms: number): Promise<void> {
    for (;;) {
      const due = this.timers.filter((t) => t.at <= ms).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.nowMs = Math.max(this.nowMs, due.at);
      due.callback();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.nowMs = ms;
  }
}

describe('SecondTicker', () => {
  it('ticks on each second boundary from the start, not a second after the previous tick', async () => {
    const timers = new FakeTimers();
    timers.nowMs = 5000;
    const seen: Array<[number, number]> = [];
    const ticker = new SecondTicker(5000, (t) => void seen.push([t, timers.nowMs]), timers);
    ticker.start();
    await timers.advanceTo(8500);
    expect(seen).toEqual([
      [1, 6000],
      [2, 7000],
      [3, 8000],
    ]);
    await ticker.stop();
    await timers.advanceTo(20_000);
    expect(seen).toHaveLength(3);
  });

  it('folds the seconds a long tick held up into one later tick with the latest boundary', async () => {
    const timers = new FakeTimers();
    const seen: number[] = [];
    let release: () => void = () => {};
    const ticker = new SecondTicker(
      0,
      async (t) => {
        seen.push(t);
        // The first tick takes 2.5 s (a consumer process busy with a batch, say).
        if (t === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      timers,
    );
    ticker.start();
    await timers.advanceTo(1000);
    await timers.advanceTo(3500);
    release();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    await timers.advanceTo(4000);
    expect(seen).toEqual([1, 3, 4]);
    await ticker.stop();
  });

  it('keeps ticking after a tick throws, and keeps the first error', async () => {
    const timers = new FakeTimers();
    const seen: number[] = [];
    const ticker = new SecondTicker(
      0,
      (t) => {
        seen.push(t);
        if (t === 1) throw new Error('no answer');
      },
      timers,
    );
    ticker.start();
    await timers.advanceTo(2000);
    expect(seen).toEqual([1, 2]);
    expect((ticker.error as Error).message).toBe('no answer');
    await ticker.stop();
  });
});
