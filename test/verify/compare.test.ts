import { describe, expect, it } from 'vitest';
import type { AggregateDoc } from '../../src/pipeline/types.js';
import { compareAggregates, normaliseWindowStart } from '../../src/verify/compare.js';
import { cellDoc as doc, T0, T1, cellWindow as win } from './helpers/fixtures.js';

/** The manifest window split over three partitions (players never share a partition). */
function splitOverPartitions(): AggregateDoc[] {
  return [
    doc({ partition: 0, events: 5, unique_players: 3, revenue_cents: 1000, revenue_usd: 10, duplicates: 1 }),
    doc({ partition: 1, events: 3, unique_players: 2, revenue_cents: 200, revenue_usd: 2, duplicates: 0 }),
    doc({ partition: 2, events: 2, unique_players: 1, revenue_cents: 34, revenue_usd: 0.34, duplicates: 0 }),
  ];
}

describe('compareAggregates', () => {
  it('matches a cell summed over several partitions, and counts totals', () => {
    const windows = [
      win(),
      win({ window_start: T1, region: 'NA', event_type: 'level_up', revenue_cents: 0 }),
    ];
    const docs = [
      ...splitOverPartitions(),
      doc({ window_start: T1, region: 'NA', event_type: 'level_up', revenue_cents: 0, partition: 4 }),
    ];
    const result = compareAggregates(windows, docs);
    expect(result.differences).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.docs).toBe(4);
    expect(result.cells).toEqual({
      compared: 2,
      matching: 2,
      differing: 0,
      bounded: 0,
      missing: 0,
      unexpected: 0,
      producerFailed: 0,
    });
    expect(result.totals).toEqual({
      expected: { events: 20, revenueCents: 1234, duplicates: 2, lateEvents: 0, producerFailed: 0 },
      actual: {
        events: 20,
        acceptedEvents: 20,
        lateEvents: 0,
        revenueCents: 1234,
        acceptedRevenueCents: 1234,
        lateRevenueCents: 0,
        duplicates: 2,
      },
    });
  });

  it('normalises window starts through Date: other ISO spellings and epoch millis name the same cell', () => {
    expect(normaliseWindowStart('2026-11-21T20:00:00Z')).toBe(T0);
    expect(normaliseWindowStart(Date.parse(T0))).toBe(T0);
    const windows = [win({ window_start: '2026-11-21T20:00:00Z' })];
    const docs = [doc({ window_start: '2026-11-21T21:00:00+01:00' })];
    expect(compareAggregates(windows, docs).ok).toBe(true);
  });

  it('reports one mismatch per differing field, with the expected and actual values', () => {
    const docs = [doc({ events: 9, revenue_cents: 1200, duplicates: 0, unique_players: 5 })];
    const result = compareAggregates([win()], docs);
    expect(result.ok).toBe(false);
    expect(result.cells).toMatchObject({ compared: 1, matching: 0, differing: 1 });
    const cell = { window_start: T0, region: 'EU', event_type: 'item_purchase' };
    expect(result.differences).toEqual([
      { ...cell, field: 'events', expected: 10, actual: 9, accepted: 9, late: 0, kind: 'mismatch' },
      {
        ...cell,
        field: 'revenue_cents',
        expected: 1234,
        actual: 1200,
        accepted: 1200,
        late: 0,
        kind: 'mismatch',
      },
      { ...cell, field: 'duplicates', expected: 1, actual: 0, kind: 'mismatch' },
      { ...cell, field: 'unique_players', expected: 6, actual: 5, kind: 'mismatch' },
    ]);
  });

  it('counts late events and late revenue as part of the cell', () => {
    const docs = [
      doc({
        partition: 0,
        events: 6,
        late_events: 2,
        revenue_cents: 1000,
        late_revenue_cents: 234,
        unique_players: 4,
      }),
      doc({ partition: 1, events: 2, late_events: 0, revenue_cents: 0, duplicates: 0, unique_players: 1 }),
    ];
    const result = compareAggregates([win()], docs);
    expect(result.differences).toEqual([]);
    expect(result.cells).toMatchObject({ matching: 1, bounded: 1 });
    expect(result.totals.actual).toMatchObject({
      events: 10,
      acceptedEvents: 8,
      lateEvents: 2,
      revenueCents: 1234,
      acceptedRevenueCents: 1000,
      lateRevenueCents: 234,
    });
  });

  it('shows accepted and late apart when an events count with late events differs', () => {
    const result = compareAggregates([win()], [doc({ events: 7, late_events: 2, unique_players: 5 })]);
    expect(result.differences).toEqual([
      expect.objectContaining({
        field: 'events',
        expected: 10,
        actual: 9,
        accepted: 7,
        late: 2,
        kind: 'mismatch',
      }),
    ]);
  });

  describe('unique players with late events: a bound, not an equation', () => {
    // Manifest: 6 players. Documents: 4 players among the accepted events, 3 late events.
    const late = (uniquePlayers: number) => [
      doc({ events: 7, late_events: 3, unique_players: uniquePlayers }),
    ];

    it.each([4, 5, 6])(
      '%i accepted players + 3 late events bound 6: bounded, not a difference',
      (players) => {
        const result = compareAggregates([win()], late(players));
        expect(result.ok).toBe(true);
        expect(result.cells).toEqual({
          compared: 1,
          matching: 1,
          differing: 0,
          bounded: 1,
          missing: 0,
          unexpected: 0,
          producerFailed: 0,
        });
      },
    );

    it('fails when the accepted players alone exceed the manifest', () => {
      const result = compareAggregates([win()], late(7));
      expect(result.cells).toMatchObject({ differing: 1, bounded: 0 });
      expect(result.differences).toEqual([
        expect.objectContaining({
          field: 'unique_players',
          expected: 6,
          actual: 7,
          actualMax: 10,
          kind: 'bound',
        }),
      ]);
    });

    it('fails when even every late event being a new player cannot reach the manifest', () => {
      const result = compareAggregates([win()], late(2));
      expect(result.differences).toEqual([
        expect.objectContaining({
          field: 'unique_players',
          expected: 6,
          actual: 2,
          actualMax: 5,
          kind: 'bound',
        }),
      ]);
    });

    it('a bounded cell that differs elsewhere counts as differing, not bounded', () => {
      const result = compareAggregates(
        [win()],
        [doc({ events: 7, late_events: 3, unique_players: 5, duplicates: 4 })],
      );
      expect(result.cells).toMatchObject({ differing: 1, matching: 0, bounded: 0 });
      expect(result.differences.map((d) => d.field)).toEqual(['duplicates']);
    });
  });

  it('reports a manifest cell without documents as missing, one entry per non-zero field', () => {
    const result = compareAggregates(
      [win({ window_start: T1, region: 'NA', event_type: 'level_up', revenue_cents: 0, duplicates: 0 })],
      [],
    );
    expect(result.cells).toEqual({
      compared: 1,
      matching: 0,
      differing: 1,
      bounded: 0,
      missing: 1,
      unexpected: 0,
      producerFailed: 0,
    });
    const cell = { window_start: T1, region: 'NA', event_type: 'level_up' };
    expect(result.differences).toEqual([
      { ...cell, field: 'events', expected: 10, actual: 0, kind: 'missing' },
      { ...cell, field: 'unique_players', expected: 6, actual: 0, kind: 'missing' },
    ]);
  });

  it('reports documents of a cell the manifest does not list as unexpected', () => {
    const result = compareAggregates(
      [win()],
      [
        ...splitOverPartitions(),
        doc({
          region: 'ASIA',
          events: 0,
          late_events: 2,
          revenue_cents: 0,
          late_revenue_cents: 99,
          duplicates: 0,
          unique_players: 0,
        }),
      ],
    );
    expect(result.cells).toEqual({
      compared: 2,
      matching: 1,
      differing: 1,
      bounded: 0,
      missing: 0,
      unexpected: 1,
      producerFailed: 0,
    });
    const cell = { window_start: T0, region: 'ASIA', event_type: 'item_purchase' };
    expect(result.differences).toEqual([
      { ...cell, field: 'events', expected: 0, actual: 2, accepted: 0, late: 2, kind: 'unexpected' },
      { ...cell, field: 'revenue_cents', expected: 0, actual: 99, accepted: 0, late: 99, kind: 'unexpected' },
    ]);
  });

  it('an unexpected document of zeros is still reported', () => {
    const zeros = doc({ region: 'SA', events: 0, unique_players: 0, revenue_cents: 0, duplicates: 0 });
    const result = compareAggregates([], [zeros]);
    expect(result.ok).toBe(false);
    expect(result.differences).toEqual([
      expect.objectContaining({ region: 'SA', field: 'events', kind: 'unexpected' }),
    ]);
  });

  it('compares revenue in whole cents only: float dollars that do not add up exactly do not matter', () => {
    // 0.1 + 0.2 !== 0.3 in floating point; the cents add up exactly.
    const windows = [
      win({ revenue_usd: 0.3, revenue_cents: 30, events: 2, unique_players: 2, duplicates: 0 }),
    ];
    const docs = [
      doc({ partition: 0, revenue_usd: 0.1, revenue_cents: 10, events: 1, unique_players: 1, duplicates: 0 }),
      doc({ partition: 1, revenue_usd: 0.2, revenue_cents: 20, events: 1, unique_players: 1, duplicates: 0 }),
    ];
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(compareAggregates(windows, docs).ok).toBe(true);

    // …and matching dollars do not hide a cent that is off.
    const offByOne = [doc({ revenue_usd: 12.34, revenue_cents: 1233 })];
    expect(compareAggregates([win()], offByOne).differences).toEqual([
      expect.objectContaining({ field: 'revenue_cents', expected: 1234, actual: 1233 }),
    ]);
  });

  it('counts documents not yet final without holding them against the result', () => {
    const docs = splitOverPartitions().map((d, i) => ({ ...d, final: i === 0 }));
    const result = compareAggregates([win()], docs);
    expect(result.ok).toBe(true);
    expect(result.notFinal).toBe(2);
  });

  it('sorts differences by window, region and type, whatever order the documents came in', () => {
    const windows = [
      win({ window_start: T1, region: 'EU' }),
      win({ window_start: T0, region: 'NA' }),
      win({ window_start: T0, region: 'EU' }),
    ];
    const result = compareAggregates(windows, []);
    const cells = [...new Set(result.differences.map((d) => `${d.window_start} ${d.region}`))];
    expect(cells).toEqual([`${T0} EU`, `${T0} NA`, `${T1} EU`]);
  });

  it('treats fields an older consumer did not write as 0', () => {
    const old = doc() as Partial<AggregateDoc>;
    delete old.late_events;
    delete old.late_revenue_cents;
    expect(compareAggregates([win()], [old as AggregateDoc]).ok).toBe(true);
  });
});

describe('cells with records the producer gave up on', () => {
  // After the producer failed on 2 of its records: 8 events arrived, by at most 6 players.
  const failedCell = win({ events: 8, unique_players: 6, producer_failed: 2, revenue_cents: 1234 });

  it('compares events, revenue and duplicates exactly and unique players within the bound; lists the cell as the producer’s', () => {
    for (const players of [4, 5, 6]) {
      const result = compareAggregates([failedCell], [doc({ events: 8, unique_players: players })]);
      expect(result.ok, `${players} players`).toBe(true);
      expect(result.cells).toMatchObject({ matching: 1, bounded: 1, producerFailed: 1 });
      expect(result.producerFailures).toEqual([
        { window_start: T0, region: 'EU', event_type: 'item_purchase', records: 2 },
      ]);
      expect(result.totals.expected.producerFailed).toBe(2);
    }
  });

  it('still blames the pipeline for counts that differ from what reached Kafka', () => {
    const result = compareAggregates([failedCell], [doc({ events: 9, unique_players: 6 })]);
    expect(result.ok).toBe(false);
    expect(result.differences).toEqual([
      expect.objectContaining({ field: 'events', expected: 8, actual: 9, kind: 'mismatch' }),
    ]);
    expect(result.cells.producerFailed).toBe(1);
  });

  it('reports unique players outside [expected − failed, expected] as a broken bound', () => {
    const tooFew = compareAggregates([failedCell], [doc({ events: 8, unique_players: 3 })]);
    expect(tooFew.differences).toEqual([
      expect.objectContaining({
        field: 'unique_players',
        expected: 6,
        expectedMin: 4,
        actual: 3,
        actualMax: 3,
        kind: 'bound',
      }),
    ]);
    const tooMany = compareAggregates([failedCell], [doc({ events: 8, unique_players: 7 })]);
    expect(tooMany.differences).toEqual([
      expect.objectContaining({ field: 'unique_players', expected: 6, actual: 7, kind: 'bound' }),
    ]);
    // Late events widen the consumer's side: 3 accepted players + 1 late event reach 4.
    const withLate = compareAggregates([failedCell], [doc({ events: 7, late_events: 1, unique_players: 3 })]);
    expect(withLate.ok).toBe(true);
  });

  it('does not call a cell missing when every one of its records failed in the producer', () => {
    const lost = win({
      window_start: T1,
      events: 0,
      unique_players: 2,
      revenue_cents: 0,
      duplicates: 0,
      producer_failed: 3,
    });
    const result = compareAggregates([win(), lost], splitOverPartitions());
    expect(result.ok).toBe(true);
    expect(result.cells).toMatchObject({ compared: 2, matching: 2, missing: 0, producerFailed: 1 });
    expect(result.producerFailures).toEqual([
      { window_start: T1, region: 'EU', event_type: 'item_purchase', records: 3 },
    ]);
    // A cell with failures that still had events to deliver is missing when nothing was written.
    const partly = compareAggregates([win({ producer_failed: 1 })], []);
    expect(partly.cells.missing).toBe(1);
  });
});
