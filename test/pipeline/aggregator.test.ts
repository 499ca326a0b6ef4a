import { describe, expect, it } from 'vitest';
import { type FlushBatch, PartitionAggregator } from '../../src/pipeline/aggregator.js';
import { fingerprint64 } from '../../src/pipeline/fingerprint.js';
import type { AggregateDoc, DecodeResult } from '../../src/pipeline/types.js';
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
  write(batch: FlushBatch): void {
    for (const { id, doc } of batch.upserts) {
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

describe('restore after restart', () => {
  /** A seeded stream with disorder: out-of-order, late beyond the lateness, duplicates, malformed. */
  function stream(n: number, seed: number): DecodeResult[] {
    let state = seed;
    const rand = () => {
      state = (Math.imul(state ^ (state >>> 15), 2246822519) + 0x9e3779b9) >>> 0;
      return state / 2 ** 32;
    };
    const records: DecodeResult[] = [];
    const ids: Array<{ ts: number; id: string; player: string; cents: number }> = [];
    for (let i = 0; i < n; i++) {
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
      let ts = T0 + i * 200;
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
    return records;
  }

  function run(
    records: DecodeResult[],
    windowing: WindowingOptions,
    crashes: Array<{ at: number; flushEvery: number }>,
    flushEvery: number,
  ): DocStore {
    const store = new DocStore();
    let checkpoint: ReturnType<PartitionAggregator['checkpoint']> | undefined;
    let offset = 0;
    let agg = new PartitionAggregator('t', 3, windowing);
    const crashPoints = new Set(crashes.map((c) => c.at));
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
      const records = stream(6000, 7);
      const reference = run(records, windowing, [], 50).sources();
      expect(Object.keys(reference).length).toBeGreaterThan(10);
      for (const crashes of [[130, 1999, 2000, 4021], [17], [5999], [777, 3333, 5555]]) {
        const got = run(
          records,
          windowing,
          crashes.map((at) => ({ at, flushEvery: 50 })),
          50,
        ).sources();
        expect(got).toEqual(reference);
      }
      // Flushing at other moments changes nothing either.
      expect(run(records, windowing, [{ at: 2500, flushEvery: 7 }], 7).sources()).toEqual(reference);
    });
  }

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
