import { describe, expect, it } from 'vitest';
import { type FlushBatch, PartitionAggregator } from '../../src/pipeline/aggregator.js';
import { fingerprint64 } from '../../src/pipeline/fingerprint.js';
import type { AggregateDoc, DecodeResult, WindowKind } from '../../src/pipeline/types.js';
import { assignWindows, WINDOWING_DEFAULTS, type WindowingOptions } from '../../src/pipeline/windows.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-21T12:00:00.000Z');
const NOW = '2026-11-21T12:30:00.000Z';

interface EventSpec {
  ts: number;
  id?: string;
  player?: string;
  region?: string;
  type?: string;
  cents?: number;
}

let counter = 0;
function ev(spec: EventSpec): DecodeResult {
  const id = fingerprint64(spec.id ?? `event-${counter++}`);
  const player = spec.player ?? 'p-000001';
  const p = fingerprint64(player);
  return {
    ok: true,
    event: {
      tsMs: spec.ts,
      region: spec.region ?? 'EU',
      eventType: spec.type ?? 'enemy_defeated',
      playerId: player,
      eventHi: id.hi,
      eventLo: id.lo,
      playerHi: p.hi,
      playerLo: p.lo,
      priceCents: spec.cents ?? 0,
    },
  };
}

const malformed: DecodeResult = {
  ok: false,
  failure: { kind: 'invalid_json', reason: 'Unexpected end of JSON input' },
};

function options(overrides: Partial<WindowingOptions> = {}): WindowingOptions {
  return { ...WINDOWING_DEFAULTS, ...overrides };
}

/** The documents a store would hold after writing every batch (versions respected). */
class DocStore {
  readonly docs = new Map<string, { version: number; doc: AggregateDoc }>();
  /** Every upsert sent, in order, whether or not its version won. */
  readonly sent: Array<{ id: string; doc: AggregateDoc }> = [];
  write(batch: FlushBatch): void {
    for (const { id, doc } of batch.upserts) {
      this.sent.push({ id, doc });
      const stored = this.docs.get(id);
      if (!stored || stored.version < batch.version) this.docs.set(id, { version: batch.version, doc });
    }
    for (const id of batch.deletes) {
      const stored = this.docs.get(id);
      if (stored && stored.version < batch.version) this.docs.delete(id);
    }
  }
  flush(aggregator: PartitionAggregator): FlushBatch {
    const batch = aggregator.collect(NOW);
    this.write(batch);
    aggregator.acknowledge(batch);
    return batch;
  }
  get(region: string, type: string, windowStart: number): AggregateDoc | undefined {
    for (const { doc } of this.docs.values()) {
      if (doc.region === region && doc.event_type === type && Date.parse(doc.window_start) === windowStart)
        return doc;
    }
    return undefined;
  }
  sources(): Record<string, Omit<AggregateDoc, 'updated_at'>> {
    const out: Record<string, Omit<AggregateDoc, 'updated_at'>> = {};
    for (const [id, { doc }] of [...this.docs].sort((a, b) => a[0].localeCompare(b[0]))) {
      const { updated_at: _ignored, ...rest } = doc;
      out[id] = rest;
    }
    return out;
  }
}

describe('window assignment', () => {
  it('puts an event in exactly one tumbling window, aligned to the epoch', () => {
    expect(assignWindows(T0 + 59_999, options(), [])).toEqual([T0]);
    expect(assignWindows(T0 + 60_000, options(), [])).toEqual([T0 + MIN]);
    expect(assignWindows(T0, options({ sizeMs: 5 * MIN, hopMs: 5 * MIN }), [])).toEqual([T0]);
  });

  it('puts an event in size/hop hopping windows, oldest first', () => {
    const hopping = options({ kind: 'hopping', sizeMs: 5 * MIN, hopMs: MIN });
    expect(assignWindows(T0 + 30_000, hopping, [])).toEqual([
      T0 - 4 * MIN,
      T0 - 3 * MIN,
      T0 - 2 * MIN,
      T0 - MIN,
      T0,
    ]);
  });
});

describe('PartitionAggregator', () => {
  it('counts events, unique players and revenue per (window, region, type)', () => {
    const agg = new PartitionAggregator('t', 0, options());
    agg.apply(0, ev({ ts: T0 + 1000, player: 'a', type: 'item_purchase', cents: 499 }));
    agg.apply(1, ev({ ts: T0 + 2000, player: 'b', type: 'item_purchase', cents: 1 }));
    agg.apply(2, ev({ ts: T0 + 3000, player: 'a', type: 'item_purchase', cents: 1000 }));
    agg.apply(3, ev({ ts: T0 + 4000, player: 'a', region: 'NA' }));
    const store = new DocStore();
    store.flush(agg);
    const eu = store.get('EU', 'item_purchase', T0);
    expect(eu).toMatchObject({
      events: 3,
      unique_players: 2,
      revenue_cents: 1500,
      revenue_usd: 15,
      final: false,
      last_offset: 2,
    });
    expect(store.get('NA', 'enemy_defeated', T0)).toMatchObject({ events: 1, unique_players: 1 });
    expect(store.docs.size).toBe(2);
  });

  it('counts a repeated event_id once and records the duplicate', () => {
    const agg = new PartitionAggregator('t', 0, options());
    expect(agg.apply(0, ev({ ts: T0 + 1000, id: 'x', cents: 100, type: 'item_purchase' })).kind).toBe(
      'accepted',
    );
    expect(agg.apply(1, ev({ ts: T0 + 1000, id: 'x', cents: 100, type: 'item_purchase' })).kind).toBe(
      'duplicate',
    );
    const store = new DocStore();
    store.flush(agg);
    expect(store.get('EU', 'item_purchase', T0)).toMatchObject({
      events: 1,
      duplicates: 1,
      revenue_cents: 100,
    });
  });

  it('advances the watermark to max event time − allowed lateness and finalizes windows it passes', () => {
    const agg = new PartitionAggregator('t', 0, options({ allowedLatenessMs: 10 * MIN }));
    agg.apply(0, ev({ ts: T0 + 1000 }));
    expect(agg.watermarkMs).toBe(T0 + 1000 - 10 * MIN);
    agg.apply(1, ev({ ts: T0 + 11 * MIN - 1 }));
    const store = new DocStore();
    store.flush(agg);
    expect(store.get('EU', 'enemy_defeated', T0)?.final).toBe(false);
    // An older event does not move the watermark back.
    agg.apply(2, ev({ ts: T0 + 5 * MIN }));
    agg.apply(3, ev({ ts: T0 + 11 * MIN }));
    store.flush(agg);
    expect(store.get('EU', 'enemy_defeated', T0)).toMatchObject({ final: true, events: 1, last_offset: 0 });
    expect(store.get('EU', 'enemy_defeated', T0 + 5 * MIN)?.final).toBe(false);
  });

  it('accepts events within the allowed lateness and counts later ones as late on the closed window', () => {
    const agg = new PartitionAggregator('t', 0, options({ allowedLatenessMs: 2 * MIN }));
    agg.apply(0, ev({ ts: T0 + 1000, player: 'a' }));
    agg.apply(1, ev({ ts: T0 + 2 * MIN + 30_000 })); // watermark T0 + 30s: window T0 still open
    expect(agg.apply(2, ev({ ts: T0 + 50_000, player: 'b' })).kind).toBe('accepted');
    agg.apply(3, ev({ ts: T0 + 3 * MIN })); // watermark T0 + 1m: window T0 closed
    const late = agg.apply(4, ev({ ts: T0 + 10_000, player: 'c', cents: 250 }));
    expect(late).toEqual({ kind: 'late', replay: false, windows: 1, windowStart: T0 });
    const store = new DocStore();
    store.flush(agg);
    expect(store.get('EU', 'enemy_defeated', T0)).toMatchObject({
      events: 2,
      unique_players: 2,
      late_events: 1,
      late_revenue_cents: 250,
      final: true,
    });
    expect(agg.stats).toMatchObject({ accepted: 4, late: 1 });
  });

  it('forgets closed windows after the late retention; later arrivals are expired', () => {
    const agg = new PartitionAggregator(
      't',
      0,
      options({ allowedLatenessMs: MIN, lateRetentionMs: 2 * MIN }),
    );
    agg.apply(0, ev({ ts: T0 }));
    agg.apply(1, ev({ ts: T0 + 4 * MIN + 1 })); // watermark T0 + 3m + 1: window T0 (end T0+1m) forgotten after T0+3m
    expect(agg.apply(2, ev({ ts: T0 + 1 })).kind).toBe('expired');
    expect(agg.stats.expired).toBe(1);
  });

  it('dedupes a repeat of a late event as a duplicate, not a second late event', () => {
    const agg = new PartitionAggregator('t', 0, options({ allowedLatenessMs: MIN }));
    agg.apply(0, ev({ ts: T0 + 3 * MIN }));
    expect(agg.apply(1, ev({ ts: T0 + 1000, id: 'late-1' })).kind).toBe('late');
    expect(agg.apply(2, ev({ ts: T0 + 1000, id: 'late-1' })).kind).toBe('duplicate');
    const store = new DocStore();
    store.flush(agg);
    expect(store.get('EU', 'enemy_defeated', T0)).toMatchObject({
      events: 0,
      late_events: 1,
      duplicates: 1,
      final: true,
    });
  });

  it('counts malformed records without touching any window', () => {
    const agg = new PartitionAggregator('t', 0, options());
    expect(agg.apply(0, malformed)).toEqual({ kind: 'malformed', replay: false });
    expect(agg.stats.deadLettered).toBe(1);
    expect(agg.collect(NOW).upserts).toEqual([]);
    expect(agg.position).toBe(0);
  });

  it('aggregates hopping windows: one event in each overlapping window, late only where closed', () => {
    const agg = new PartitionAggregator(
      't',
      0,
      options({ kind: 'hopping', sizeMs: 3 * MIN, hopMs: MIN, allowedLatenessMs: 0 }),
    );
    agg.apply(0, ev({ ts: T0 + 10_000 }));
    const store = new DocStore();
    store.flush(agg);
    expect(
      [...store.docs.values()].map((d) => Date.parse(d.doc.window_start) - T0).sort((a, b) => a - b),
    ).toEqual([-2 * MIN, -MIN, 0]);
    agg.apply(1, ev({ ts: T0 + MIN + 10_000 })); // watermark passes the end of window T0-2m
    const outcome = agg.apply(2, ev({ ts: T0 + 20_000 }));
    expect(outcome).toMatchObject({ kind: 'late', windows: 1, windowStart: T0 - 2 * MIN });
    store.flush(agg);
    expect(store.get('EU', 'enemy_defeated', T0 - 2 * MIN)).toMatchObject({
      events: 1,
      late_events: 1,
      final: true,
    });
    expect(store.get('EU', 'enemy_defeated', T0)).toMatchObject({ events: 3, late_events: 0, final: false });
  });

  it('builds per-player session windows that extend, merge and re-key their documents', () => {
    const agg = new PartitionAggregator(
      't',
      0,
      options({ kind: 'session', sessionGapMs: MIN, allowedLatenessMs: 10 * MIN }),
    );
    const store = new DocStore();
    agg.apply(0, ev({ ts: T0, player: 'a' }));
    agg.apply(1, ev({ ts: T0 + 3 * MIN, player: 'a' })); // more than a gap later: a second session
    store.flush(agg);
    expect([...store.docs.values()].map((d) => d.doc.window_start).sort()).toEqual([
      new Date(T0).toISOString(),
      new Date(T0 + 3 * MIN).toISOString(),
    ]);
    // Events that bridge the two sessions merge them into one: [T0, T0+3m+gap).
    agg.apply(2, ev({ ts: T0 + 40_000, player: 'a' }));
    agg.apply(3, ev({ ts: T0 + 80_000, player: 'a' }));
    agg.apply(4, ev({ ts: T0 + 120_000, player: 'a' }));
    store.flush(agg);
    const docs = [...store.docs.values()].map((d) => d.doc);
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({
      window_start: new Date(T0).toISOString(),
      window_end: new Date(T0 + 4 * MIN).toISOString(),
      events: 5,
      unique_players: 1,
      player_id: 'a',
    });
    // An earlier event moves the start: the old document is deleted, the new one written.
    agg.apply(5, ev({ ts: T0 - 30_000, player: 'a' }));
    store.flush(agg);
    expect([...store.docs.values()].map((d) => d.doc.window_start)).toEqual([
      new Date(T0 - 30_000).toISOString(),
    ]);
  });

  it('raises the watermark of an idle partition from outside and replays that floor in place', () => {
    const agg = new PartitionAggregator('t', 0, options({ allowedLatenessMs: MIN }));
    agg.apply(0, ev({ ts: T0 }));
    expect(agg.advanceWatermark(T0 + 5 * MIN)).toBe(true);
    expect(agg.advanceWatermark(T0)).toBe(false);
    expect(agg.watermarkMs).toBe(T0 + 5 * MIN);
    const store = new DocStore();
    const batch = store.flush(agg);
    expect(store.get('EU', 'enemy_defeated', T0)?.final).toBe(true);
    // Same position, higher version: the floor's write is not mistaken for a stale one.
    expect(batch.version).toBeGreaterThan((agg.position + 1) * 16);
    const restored = new PartitionAggregator('t', 0, options({ allowedLatenessMs: MIN }), batch.checkpoint);
    expect(restored.replaying).toBe(true);
    restored.apply(0, ev({ ts: T0 }));
    expect(restored.replaying).toBe(false);
    expect(restored.watermarkMs).toBe(T0 + 5 * MIN);
    expect(restored.apply(1, ev({ ts: T0 + 1000 })).kind).toBe('late');
  });
});

describe('windows the watermark passes by more than the late retention in one step', () => {
  // Defaults: 1m tumbling windows, 10m allowed lateness, 10m late retention (a 5m gap for sessions).
  const windowings: Record<WindowKind, WindowingOptions> = {
    tumbling: options(),
    hopping: options({ kind: 'hopping', sizeMs: 5 * MIN, hopMs: MIN }),
    session: options({ kind: 'session' }),
  };
  // Past end + allowed lateness + retention of every window the first minute's events are in
  // (tumbling T0+1m, hopping T0+5m, sessions T0+3s+5m; plus 10m + 10m).
  const JUMP_TO_MS = T0 + 40 * MIN;

  /** A few events of the first minute: two regions, two types, revenue, a duplicate. */
  function firstMinute(agg: PartitionAggregator): void {
    agg.apply(0, ev({ ts: T0 + 1000, player: 'a', type: 'item_purchase', cents: 499 }));
    agg.apply(1, ev({ ts: T0 + 2000, player: 'b', type: 'item_purchase', cents: 1, id: 'jump-dup' }));
    agg.apply(2, ev({ ts: T0 + 2000, player: 'b', type: 'item_purchase', cents: 1, id: 'jump-dup' }));
    agg.apply(3, ev({ ts: T0 + 3000, player: 'a', region: 'NA' }));
  }

  const paths = {
    'an event': (agg: PartitionAggregator) => {
      agg.apply(4, ev({ ts: JUMP_TO_MS + windowings.tumbling.allowedLatenessMs, player: 'c' }));
    },
    'an idle partition floor': (agg: PartitionAggregator) => {
      expect(agg.advanceWatermark(JUMP_TO_MS)).toBe(true);
    },
  };

  for (const kind of ['tumbling', 'hopping', 'session'] as const) {
    for (const [path, jump] of Object.entries(paths)) {
      it(`writes each ${kind} window final exactly once before forgetting it (jump by ${path})`, () => {
        const windowing = windowings[kind];
        const agg = new PartitionAggregator('t', 0, windowing);
        const store = new DocStore();
        firstMinute(agg);
        store.flush(agg);
        const before = new Map([...store.docs].map(([id, { doc }]) => [id, doc]));
        expect(before.size).toBe({ tumbling: 2, hopping: 10, session: 3 }[kind]);
        for (const doc of before.values()) expect(doc.final).toBe(false);

        jump(agg);
        expect(agg.watermarkMs).toBe(JUMP_TO_MS);
        for (const doc of before.values()) {
          expect(
            Date.parse(doc.window_end) + windowing.allowedLatenessMs + windowing.lateRetentionMs,
          ).toBeLessThan(JUMP_TO_MS);
        }
        store.flush(agg);
        // Forgotten: only the jumping event's own window (if any) is still held.
        expect(agg.openCells).toBe(path === 'an event' ? (kind === 'hopping' ? 5 : 1) : 0);

        // Later: a record for the forgotten windows is expired, and nothing is written for them again.
        expect(agg.apply(5, ev({ ts: T0 + 4000, player: 'a', type: 'item_purchase', cents: 7 })).kind).toBe(
          'expired',
        );
        agg.apply(6, ev({ ts: JUMP_TO_MS + 11 * MIN, player: 'c' }));
        expect(agg.advanceWatermark(JUMP_TO_MS + 30 * MIN)).toBe(true);
        store.flush(agg);

        for (const [id, doc] of before) {
          // Same content; only `final` changed.
          expect(store.docs.get(id)?.doc).toEqual({ ...doc, final: true });
          const sent = store.sent.filter((s) => s.id === id).map((s) => s.doc.final);
          expect(sent).toEqual([false, true]);
        }
      });
    }
  }

  it('finalizes windows when there is no late retention at all (closed and forgotten in one step)', () => {
    for (const kind of ['tumbling', 'hopping', 'session'] as const) {
      const windowing = {
        ...windowings[kind],
        allowedLatenessMs: MIN,
        lateRetentionMs: 0,
        sessionGapMs: 30_000,
      };
      const agg = new PartitionAggregator('t', 0, windowing);
      const store = new DocStore();
      // Every 10 s for 20 minutes; players come in bursts of 40 s, so their sessions end.
      for (let i = 0; i < 120; i++) {
        agg.apply(i, ev({ ts: T0 + i * 10_000, player: `p-${Math.floor(i / 4) % 3}` }));
        if (i % 5 === 0) store.flush(agg);
      }
      store.flush(agg);
      const watermark = agg.watermarkMs as number;
      const passed = [...store.docs.values()].filter((d) => Date.parse(d.doc.window_end) <= watermark);
      expect(passed.length, kind).toBeGreaterThan(10);
      for (const { doc } of passed) expect(doc.final, `${kind} ${doc.window_start}`).toBe(true);
    }
  });
});

describe('restore after restart', () => {
  interface Stream {
    records: DecodeResult[];
    /** Idle-partition floors: after this offset, raise the watermark to this. */
    floors: Map<number, number>;
    /** Offsets at which event time leaps forward. */
    jumps: number[];
  }

  /**
   * A seeded stream with disorder: out-of-order, late beyond the lateness, duplicates, malformed.
   * With `jumpMs`, event time also leaps forward now and then by up to that much (a producer that
   * paused, a partition that was idle), half of the time announced by an idle floor just before.
   */
  function stream(n: number, seed: number, jumpMs = 0): Stream {
    let state = seed;
    const rand = () => {
      state = (Math.imul(state ^ (state >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
      return state / 2 ** 32;
    };
    const records: DecodeResult[] = [];
    const floors = new Map<number, number>();
    const jumps: number[] = [];
    const ids: Array<{ ts: number; id: string; player: string; cents: number }> = [];
    let leap = 0;
    for (let i = 0; i < n; i++) {
      if (jumpMs > 0 && i > 0 && rand() < 0.004) {
        leap += MIN + Math.floor(rand() * (jumpMs - MIN));
        jumps.push(i);
        if (rand() < 0.5) floors.set(i - 1, T0 + i * 200 + leap - Math.floor(rand() * 4 * MIN));
      }
      const r = rand();
      if (r < 0.02) {
        records.push(malformed);
        continue;
      }
      if (r < 0.06 && ids.length > 0) {
        const prev = ids[Math.max(0, ids.length - 1 - Math.floor(rand() * 20))] as (typeof ids)[number];
        records.push(
          ev({ ts: prev.ts, id: prev.id, player: prev.player, cents: prev.cents, type: 'item_purchase' }),
        );
        continue;
      }
      let ts = T0 + i * 200 + leap;
      if (r < 0.1)
        ts -= Math.floor(rand() * 6 * MIN); // late, some beyond the 2m lateness
      else if (r < 0.2) ts -= Math.floor(rand() * 20_000); // out of order
      const spec = {
        ts,
        id: `e${seed}-${i}`,
        player: `p-${Math.floor(rand() * 40)}`,
        cents: Math.floor(rand() * 500),
      };
      ids.push(spec);
      records.push(ev({ ...spec, type: 'item_purchase', region: rand() < 0.5 ? 'EU' : 'NA' }));
    }
    return { records, floors, jumps };
  }

  /**
   * Applies the stream, flushing every `flushEvery` records, and crashes before each offset of
   * `crashes`. The floors are the consumer's: re-issued after a restart when the records are reached
   * again (a replaying aggregator refuses them and replays the checkpointed ones instead).
   */
  function run(
    { records, floors }: Stream,
    windowing: WindowingOptions,
    crashes: number[],
    flushEvery: number,
  ): DocStore {
    const store = new DocStore();
    let checkpoint: ReturnType<PartitionAggregator['checkpoint']> | undefined;
    let offset = 0;
    let agg = new PartitionAggregator('t', 3, windowing);
    const crashPoints = new Set(crashes);
    let sinceFlush = 0;
    while (offset < records.length) {
      if (crashPoints.has(offset)) {
        crashPoints.delete(offset);
        // Crash: in-memory state is lost; the documents and the last checkpoint survive.
        agg = new PartitionAggregator('t', 3, windowing, checkpoint);
        offset = agg.startOffset;
        sinceFlush = 0;
        continue;
      }
      agg.apply(offset, records[offset] as DecodeResult);
      const floor = floors.get(offset);
      if (floor !== undefined) agg.advanceWatermark(floor);
      offset++;
      if (++sinceFlush >= flushEvery && !agg.replaying) {
        const batch = agg.collect(NOW);
        store.write(batch);
        agg.acknowledge(batch);
        checkpoint = batch.checkpoint;
        sinceFlush = 0;
      }
    }
    const last = agg.collect(NOW);
    store.write(last);
    return store;
  }

  for (const kind of ['tumbling', 'hopping', 'session'] as const) {
    it(`gives the documents of an uninterrupted run after crashes at any point (${kind})`, () => {
      const windowing = options({
        kind,
        allowedLatenessMs: 2 * MIN,
        lateRetentionMs: 2 * MIN,
        ...(kind === 'hopping' ? { sizeMs: 3 * MIN, hopMs: MIN } : {}),
        ...(kind === 'session' ? { sessionGapMs: 30_000 } : {}),
      });
      const seeded = stream(6000, 7);
      const reference = run(seeded, windowing, [], 50).sources();
      expect(Object.keys(reference).length).toBeGreaterThan(10);
      for (const crashes of [[130, 1999, 2000, 4021], [17], [5999], [777, 3333, 5555]]) {
        expect(run(seeded, windowing, crashes, 50).sources()).toEqual(reference);
      }
      // Flushing at other moments changes nothing either.
      expect(run(seeded, windowing, [2500], 7).sources()).toEqual(reference);
    });
  }

  for (const kind of ['tumbling', 'hopping', 'session'] as const) {
    it(`also when the watermark leaps past windows and their late retention in one step (${kind})`, () => {
      const windowing = options({
        kind,
        allowedLatenessMs: 2 * MIN,
        lateRetentionMs: 2 * MIN,
        ...(kind === 'hopping' ? { sizeMs: 3 * MIN, hopMs: MIN } : {}),
        ...(kind === 'session' ? { sessionGapMs: 30_000 } : {}),
      });
      const jumpy = stream(6000, 11, 30 * MIN);
      const { records, floors, jumps } = jumpy;
      // Enough leaps, by events and by floors, to matter.
      expect(jumps.length).toBeGreaterThan(12);
      expect(floors.size).toBeGreaterThan(4);
      expect(jumps.length - floors.size).toBeGreaterThan(4);

      const uninterrupted = run(jumpy, windowing, [], 50);
      const reference = uninterrupted.sources();
      expect(Object.keys(reference).length).toBeGreaterThan(30);
      // Every window the watermark has passed by more than the late retention was written final.
      let maxTs = Number.NEGATIVE_INFINITY;
      for (const record of records) if (record.ok) maxTs = Math.max(maxTs, record.event.tsMs);
      for (const floor of floors.values()) maxTs = Math.max(maxTs, floor + windowing.allowedLatenessMs);
      const watermark = maxTs - windowing.allowedLatenessMs;
      const forgotten = Object.values(reference).filter(
        (doc) => Date.parse(doc.window_end) + windowing.lateRetentionMs <= watermark,
      );
      expect(forgotten.length).toBeGreaterThan(20);
      for (const doc of forgotten) expect(doc.final, `${doc.window_start} ${doc.region}`).toBe(true);

      // Crashes just before and after leaps and floors, and elsewhere.
      const around = [jumps[2], jumps[5], jumps[9]].flatMap((at) => [(at as number) - 1, at as number]);
      const floorAt = [...floors.keys()].slice(1, 4).flatMap((at) => [at, at + 1]);
      for (const crashes of [around, floorAt, [17, 2999], [5999]]) {
        const store = run(jumpy, windowing, crashes, 50);
        expect(store.sources()).toEqual(reference);
        // Once written final, a document is never written open again.
        const final = new Set<string>();
        for (const { id, doc } of store.sent) {
          if (doc.final) final.add(id);
          else expect(final.has(id), id).toBe(false);
        }
      }
      expect(run(jumpy, windowing, [floorAt[0] as number, 4000], 7).sources()).toEqual(reference);
    });
  }

  it('sweeps sessions at the same offsets in a replay that starts between two sweeps', () => {
    // An idle floor moves the watermark into a new second (a sweep); the replay starts after it, at
    // the first record of a new pane, and the next record raises the watermark within that second.
    const windowing = options({
      kind: 'session',
      sessionGapMs: 1000,
      allowedLatenessMs: 0,
      lateRetentionMs: 3000,
    });
    const records = [
      ev({ ts: T0 + 10_000, player: 'a' }),
      ev({ ts: T0 + 61_500, player: 'c' }), // late: a closed session of its own, remembered until T0+65.5s
      ev({ ts: T0 + 65_600, player: 'd' }), // no sweep in the first run (same second as the floor)
      ev({ ts: T0 + 62_000, player: 'c' }), // late again, on c's remembered session
    ];
    const run = (crash: boolean) => {
      const store = new DocStore();
      let agg = new PartitionAggregator('t', 0, windowing);
      agg.apply(0, records[0] as DecodeResult);
      agg.advanceWatermark(T0 + 65_200);
      agg.apply(1, records[1] as DecodeResult);
      agg.apply(2, records[2] as DecodeResult);
      const batch = store.flush(agg);
      if (crash) {
        agg = new PartitionAggregator('t', 0, windowing, batch.checkpoint);
        expect(agg.startOffset).toBe(1);
        agg.apply(1, records[1] as DecodeResult);
        agg.apply(2, records[2] as DecodeResult);
      }
      agg.apply(3, records[3] as DecodeResult);
      store.flush(agg);
      return store.sources();
    };
    const reference = run(false);
    expect(Object.values(reference).find((doc) => doc.player_id === 'c')).toMatchObject({
      window_start: new Date(T0 + 61_500).toISOString(),
      late_events: 2,
      final: true,
    });
    expect(run(true)).toEqual(reference);
  });

  it('replays from the first record of the oldest remembered window, with the watermark it had then', () => {
    const windowing = options({ allowedLatenessMs: MIN, lateRetentionMs: 2 * MIN });
    const agg = new PartitionAggregator('t', 0, windowing);
    agg.apply(0, ev({ ts: T0 }));
    agg.apply(1, ev({ ts: T0 + MIN + 5000 }));
    agg.apply(2, ev({ ts: T0 + 4 * MIN })); // watermark T0+3m: window T0 forgotten, T0+1m closed but remembered
    const checkpoint = agg.checkpoint(NOW);
    expect(checkpoint).toMatchObject({ position: 2, replayFrom: 1, replayMaxTsMs: T0 });
    const restored = new PartitionAggregator('t', 0, windowing, checkpoint);
    expect(restored.startOffset).toBe(1);
    expect(restored.replaying).toBe(true);
    expect(restored.apply(0, ev({ ts: T0 })).kind).toBe('skipped');
    expect(restored.apply(1, ev({ ts: T0 + MIN + 5000 }))).toMatchObject({ kind: 'accepted', replay: true });
    expect(restored.apply(2, ev({ ts: T0 + 4 * MIN }))).toMatchObject({ replay: true });
    expect(restored.replaying).toBe(false);
    expect(restored.collect(NOW).upserts).toEqual([]);
    expect(restored.stats).toEqual(agg.stats);
  });
});
