import { describe, expect, it } from 'vitest';
import {
  type CellCounts,
  cellKey,
  DocumentCellCounts,
  VisibilityPoller,
  VisibilityTracker,
} from '../../src/bench/visibility.js';

const W0 = Date.UTC(2026, 10, 30, 12, 0); // a window start
const REGIONS = ['NA', 'EU', 'ASIA'];

/** What `apply` reported: [intended…, at] per call. */
function collector() {
  const seen: Array<{ intended: number[]; at: number }> = [];
  return {
    seen,
    record: (intended: Float64Array, count: number, at: number) =>
      seen.push({ intended: [...intended.subarray(0, count)], at }),
  };
}

describe('VisibilityTracker', () => {
  it('reports a record visible once its cell’s count covers its rank, at the poll that saw it', () => {
    const tracker = new VisibilityTracker();
    // Three records in one cell (NA, type 0), one in another (EU, type 2); event times inside W0.
    tracker.sent(W0 + 1_000, 0, 0, 100);
    tracker.sent(W0 + 2_000, 0, 0, 110);
    tracker.sent(W0 + 59_999, 0, 0, 120);
    tracker.sent(W0 + 5_000, 1, 2, 130);
    expect(tracker.pending()).toBe(4);
    const { seen, record } = collector();

    tracker.apply(new Map([[cellKey(W0, 0, 0), 2]]), 1_000, record);
    expect(seen).toEqual([{ intended: [100, 110], at: 1_000 }]);
    expect(tracker.pending()).toBe(2);

    // A count that has not moved reports nothing; a count beyond what was sent covers what was sent.
    tracker.apply(new Map([[cellKey(W0, 0, 0), 2]]), 1_250, record);
    tracker.apply(
      new Map([
        [cellKey(W0, 0, 0), 7],
        [cellKey(W0, 1, 2), 1],
      ]),
      1_500,
      record,
    );
    expect(seen.slice(1)).toEqual([
      { intended: [120], at: 1_500 },
      { intended: [130], at: 1_500 },
    ]);
    expect(tracker.pending()).toBe(0);
    expect(tracker.visible).toBe(4);
  });

  it('puts an event at the window boundary in the next window, and asks only for windows still pending', () => {
    const tracker = new VisibilityTracker();
    tracker.sent(W0 + 60_000, 0, 1, 1);
    tracker.sent(W0 + 59_000, 0, 1, 2);
    expect(tracker.oldestPendingWindowMs()).toBe(W0);
    const { seen, record } = collector();
    tracker.apply(new Map([[cellKey(W0, 0, 1), 1]]), 10, record);
    expect(seen).toEqual([{ intended: [2], at: 10 }]);
    expect(tracker.oldestPendingWindowMs()).toBe(W0 + 60_000);
    tracker.apply(new Map([[cellKey(W0 + 60_000, 0, 1), 1]]), 20, record);
    expect(tracker.oldestPendingWindowMs()).toBeUndefined();
  });

  it('remembers the ranks already seen: a record sent after its cell caught up waits for the count to pass it', () => {
    const tracker = new VisibilityTracker();
    const key = cellKey(W0, 0, 3);
    tracker.sent(W0 + 1_000, 0, 3, 10);
    tracker.sent(W0 + 2_000, 0, 3, 20);
    const { seen, record } = collector();
    tracker.apply(new Map([[key, 2]]), 100, record);
    expect(tracker.pending()).toBe(0);
    // The window is still open: one more record. The cell's count is still 2, so it is not visible yet.
    tracker.sent(W0 + 3_000, 0, 3, 30);
    tracker.apply(new Map([[key, 2]]), 200, record);
    expect(tracker.pending()).toBe(1);
    tracker.apply(new Map([[key, 3]]), 300, record);
    expect(seen).toEqual([
      { intended: [10, 20], at: 100 },
      { intended: [30], at: 300 },
    ]);
    expect(tracker.pending()).toBe(0);
  });

  it('forgets fully seen cells half an hour of event time behind the newest window', () => {
    const tracker = new VisibilityTracker();
    tracker.sent(W0, 0, 0, 1);
    tracker.apply(new Map([[cellKey(W0, 0, 0), 1]]), 2, () => {});
    tracker.sent(W0 + 29 * 60_000, 0, 0, 2);
    expect(tracker.cellsHeld()).toBe(2);
    tracker.sent(W0 + 31 * 60_000, 0, 0, 3);
    // The first cell is gone; the one 29 minutes back is pending and kept.
    expect(tracker.cellsHeld()).toBe(2);
    expect(tracker.oldestPendingWindowMs()).toBe(W0 + 29 * 60_000);
  });

  it('keeps ranks of thousands of records per cell in order', () => {
    const tracker = new VisibilityTracker();
    for (let i = 0; i < 5_000; i++) tracker.sent(W0 + (i % 60_000), 2, 6, i);
    const { seen, record } = collector();
    tracker.apply(new Map([[cellKey(W0, 2, 6), 4_321]]), 99, record);
    expect(seen[0]?.intended.length).toBe(4_321);
    expect(seen[0]?.intended.at(-1)).toBe(4_320);
    expect(tracker.pending()).toBe(679);
  });
});

describe('DocumentCellCounts', () => {
  it('sums events over partitions, for the run’s tumbling windows from the given window on', async () => {
    const doc = (
      partition: number,
      start: number,
      region: string,
      type: string,
      events: number,
      extra = {},
    ) => ({
      topic: 't',
      window_kind: 'tumbling',
      window_start: new Date(start).toISOString(),
      region,
      event_type: type,
      partition,
      events,
      ...extra,
    });
    const docs = [
      doc(0, W0, 'NA', 'player_join', 3),
      doc(1, W0, 'NA', 'player_join', 4),
      doc(2, W0, 'EU', 'level_up', 5),
      doc(0, W0 - 60_000, 'NA', 'player_join', 50), // an older window: not asked for
      doc(0, W0, 'NA', 'player_join', 100, { topic: 'another-run' }),
      doc(0, W0, 'NA', 'player_join', 100, { window_kind: 'hopping' }),
    ];
    const counts = await new DocumentCellCounts(() => docs, 't', REGIONS).counts(W0);
    expect(counts).toEqual(
      new Map([
        [cellKey(W0, 0, 0), 7],
        [cellKey(W0, 1, 6), 5],
      ]),
    );
  });
});

describe('VisibilityPoller', () => {
  it('applies each poll at the time it was sent, and keeps going after a failed poll', async () => {
    const tracker = new VisibilityTracker();
    tracker.sent(W0 + 1, 0, 0, 5);
    tracker.sent(W0 + 2, 0, 0, 6);
    const answers: Array<CellCounts | Error> = [
      new Error('connection refused'),
      new Map([[cellKey(W0, 0, 0), 1]]),
      new Map([[cellKey(W0, 0, 0), 2]]),
    ];
    let now = 1_000;
    const { seen, record } = collector();
    const poller = new VisibilityPoller(
      tracker,
      {
        async counts(from) {
          expect(from).toBe(W0);
          now += 40; // the answer takes 40 ms: the poll is dated when it was sent
          const answer = answers.shift() as CellCounts | Error;
          if (answer instanceof Error) throw answer;
          return answer;
        },
      },
      record,
      { intervalMs: 250, now: () => now },
    );
    await poller.pollOnce();
    expect(poller.lastError).toBe('connection refused');
    now = 2_000;
    await poller.pollOnce();
    now = 3_000;
    await poller.pollOnce();
    expect(poller.lastError).toBeUndefined();
    expect(seen).toEqual([
      { intended: [5], at: 2_000 },
      { intended: [6], at: 3_000 },
    ]);
    // Nothing pending: no request at all.
    await poller.pollOnce();
    expect(poller.polls).toBe(2);
  });
});
