/**
 * `gapipe verify` for an engine that leaves out the optional document fields (docs/engines.md, "What
 * is optional"), like the Spark job: no `duplicates`, no `late_events`/`late_revenue_cents`, no
 * `final`. And the bench's windows to ignore.
 */
import { describe, expect, it } from 'vitest';
import type { AggregateDoc } from '../../src/pipeline/types.js';
import type { ManifestWindow } from '../../src/simulators/manifest.js';
import { compareAggregates, omittedDocFields } from '../../src/verify/compare.js';
import { MemoryAggregateReader } from '../../src/verify/reader.js';
import { verify } from '../../src/verify/verify.js';
import {
  cellDoc as fullDoc,
  INDEX,
  manifestFolder,
  manifestOf,
  T0,
  T1,
  cellWindow as win,
} from './helpers/fixtures.js';

const NOT_COMPARED = 'the engine does not report duplicates: not compared';

/** A document as the Spark job writes it: no duplicates, no late counts, no final. */
function sparkDoc(overrides: Partial<AggregateDoc> = {}): AggregateDoc {
  const {
    duplicates: _duplicates,
    late_events: _late,
    late_revenue_cents: _lateRevenue,
    final: _final,
    ...rest
  } = fullDoc(overrides);
  return { ...rest, run_id: 'r1' } as AggregateDoc;
}

describe('omittedDocFields', () => {
  it('names the optional fields no document carries; none for gapipe consumer documents or no documents', () => {
    expect(omittedDocFields([sparkDoc(), sparkDoc({ partition: 1 })])).toEqual([
      'duplicates',
      'late_events',
      'final',
    ]);
    expect(omittedDocFields([fullDoc()])).toEqual([]);
    expect(omittedDocFields([])).toEqual([]);
    // One document carrying a field is enough: the engine reports it.
    expect(omittedDocFields([sparkDoc(), { ...sparkDoc({ partition: 1 }), duplicates: 0 }])).toEqual([
      'late_events',
      'final',
    ]);
    // A null is as good as absent.
    expect(omittedDocFields([{ ...sparkDoc(), duplicates: null as unknown as number }])).toContain(
      'duplicates',
    );
  });
});

describe('compareAggregates: duplicates not reported', () => {
  it('passes documents without a duplicates field, and says once that duplicates were not compared', () => {
    const windows = [win(), win({ window_start: T1, duplicates: 5 })];
    const docs = [
      sparkDoc({ partition: 0, events: 6, unique_players: 4, revenue_cents: 1000 }),
      sparkDoc({ partition: 1, events: 4, unique_players: 2, revenue_cents: 234 }),
      sparkDoc({ window_start: T1 }),
    ];
    const result = compareAggregates(windows, docs);
    expect(result.differences).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.cells).toMatchObject({ compared: 2, matching: 2, differing: 0, bounded: 0 });
    expect(result.omittedFields).toContain('duplicates');
    expect(result.notes.filter((note) => note === NOT_COMPARED)).toHaveLength(1);
  });

  it('with the field on the documents, a duplicates mismatch is still a difference', () => {
    const result = compareAggregates([win()], [fullDoc({ duplicates: 0 })]);
    expect(result.ok).toBe(false);
    expect(result.omittedFields).toEqual([]);
    expect(result.notes).toEqual([]);
    expect(result.differences).toEqual([
      {
        window_start: T0,
        region: 'EU',
        event_type: 'item_purchase',
        field: 'duplicates',
        expected: 1,
        actual: 0,
        kind: 'mismatch',
      },
    ]);
  });

  it('a document without the field among others that have it counts as 0', () => {
    const docs = [
      fullDoc({ partition: 0, events: 6, unique_players: 4, revenue_cents: 1000, duplicates: 1 }),
      sparkDoc({ partition: 1, events: 4, unique_players: 2, revenue_cents: 234 }),
    ];
    const result = compareAggregates([win({ duplicates: 2 })], docs);
    expect(result.omittedFields).not.toContain('duplicates');
    expect(result.differences).toEqual([
      expect.objectContaining({ field: 'duplicates', expected: 2, actual: 1, kind: 'mismatch' }),
    ]);
  });

  it('a missing cell does not list duplicates the engine does not report', () => {
    const result = compareAggregates([win(), win({ region: 'NA' })], [sparkDoc()]);
    expect(result.cells).toMatchObject({ missing: 1, differing: 1 });
    expect(result.differences.map((d) => [d.region, d.field, d.kind])).toEqual([
      ['NA', 'events', 'missing'],
      ['NA', 'revenue_cents', 'missing'],
      ['NA', 'unique_players', 'missing'],
    ]);
  });
});

describe('compareAggregates: late events dropped uncounted', () => {
  // Manifest: 10 events of 6 players worth $12.34, 3 of the events sent late.
  const lateCell = win({ late_events: 3 });

  it.each([
    ['one late event dropped', 9, 1200, 6],
    ['every late event dropped, with their players and revenue', 7, 900, 4],
    ['late events dropped, their players also seen on time', 8, 1234, 6],
  ])('%s: within the bound, bounded', (_what, events, revenueCents, uniquePlayers) => {
    const result = compareAggregates(
      [lateCell],
      [sparkDoc({ events, revenue_cents: revenueCents, unique_players: uniquePlayers })],
    );
    expect(result.differences).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.cells).toMatchObject({ compared: 1, matching: 1, differing: 0, bounded: 1 });
    expect(result.omittedFields).toContain('late_events');
  });

  it('a cell whose late events all arrived in time is exact, not bounded', () => {
    const result = compareAggregates([lateCell], [sparkDoc()]);
    expect(result.ok).toBe(true);
    expect(result.cells).toMatchObject({ matching: 1, bounded: 0 });
  });

  it('short by more than the injected late events: a bound difference on events', () => {
    const result = compareAggregates(
      [lateCell],
      [sparkDoc({ events: 6, revenue_cents: 900, unique_players: 4 })],
    );
    expect(result.ok).toBe(false);
    expect(result.cells).toMatchObject({ differing: 1, bounded: 0 });
    expect(result.differences).toEqual([
      {
        window_start: T0,
        region: 'EU',
        event_type: 'item_purchase',
        field: 'events',
        expected: 10,
        expectedMin: 7,
        actual: 6,
        accepted: 6,
        late: 0,
        kind: 'bound',
      },
    ]);
  });

  it('events above the expected: a difference', () => {
    const result = compareAggregates([lateCell], [sparkDoc({ events: 11 })]);
    expect(result.differences).toEqual([
      expect.objectContaining({ field: 'events', expected: 10, expectedMin: 7, actual: 11, kind: 'bound' }),
    ]);
  });

  it('revenue above the expected: a difference, even with events missing', () => {
    const result = compareAggregates([lateCell], [sparkDoc({ events: 8, revenue_cents: 1235 })]);
    expect(result.differences).toEqual([
      expect.objectContaining({
        field: 'revenue_cents',
        expected: 1234,
        expectedMin: 0,
        actual: 1235,
        kind: 'bound',
      }),
    ]);
  });

  it('revenue short while no event is missing: a difference (no late event took it)', () => {
    const result = compareAggregates([lateCell], [sparkDoc({ revenue_cents: 1200 })]);
    expect(result.differences).toEqual([
      expect.objectContaining({
        field: 'revenue_cents',
        expected: 1234,
        expectedMin: 1234,
        actual: 1200,
        kind: 'bound',
      }),
    ]);
  });

  it('unique players beyond what the missing events allow: a bound difference', () => {
    // 2 events missing: at most 2 players with them; 3 found + 2 cannot reach 6.
    const tooFew = compareAggregates([lateCell], [sparkDoc({ events: 8, unique_players: 3 })]);
    expect(tooFew.differences).toEqual([
      expect.objectContaining({
        field: 'unique_players',
        expected: 6,
        actual: 3,
        actualMax: 5,
        kind: 'bound',
      }),
    ]);
    const tooMany = compareAggregates([lateCell], [sparkDoc({ events: 8, unique_players: 7 })]);
    expect(tooMany.differences).toEqual([
      expect.objectContaining({ field: 'unique_players', expected: 6, actual: 7, kind: 'bound' }),
    ]);
  });

  it('a cell without injected late events stays exact', () => {
    const result = compareAggregates(
      [lateCell, win({ region: 'NA' })],
      [sparkDoc(), sparkDoc({ region: 'NA', events: 9, unique_players: 5, revenue_cents: 1234 })],
    );
    expect(result.cells).toMatchObject({ matching: 1, differing: 1, bounded: 0 });
    expect(result.differences).toEqual([
      expect.objectContaining({ region: 'NA', field: 'events', expected: 10, actual: 9, kind: 'mismatch' }),
      expect.objectContaining({
        region: 'NA',
        field: 'unique_players',
        expected: 6,
        actual: 5,
        kind: 'mismatch',
      }),
    ]);
    expect(result.differences[0]).not.toHaveProperty('expectedMin');
  });

  it('a cell whose every event was late may have no documents: bounded, not missing', () => {
    const allLate = win({ region: 'NA', events: 2, late_events: 2, unique_players: 2, revenue_cents: 500 });
    const result = compareAggregates([lateCell, allLate], [sparkDoc()]);
    expect(result.ok).toBe(true);
    expect(result.cells).toMatchObject({ compared: 2, matching: 2, missing: 0, bounded: 1 });

    // With one on-time event, the cell should have a document: missing.
    const oneOnTime = win({ region: 'NA', events: 3, late_events: 2, unique_players: 2, revenue_cents: 500 });
    const missing = compareAggregates([lateCell, oneOnTime], [sparkDoc()]);
    expect(missing.cells).toMatchObject({ missing: 1, differing: 1 });
  });

  it('gapipe consumer documents (late events counted) keep the exact comparison', () => {
    // The same shortfall is a difference when the engine reports late events: it should have counted them.
    const result = compareAggregates(
      [lateCell],
      [fullDoc({ events: 9, revenue_cents: 1200, unique_players: 6 })],
    );
    expect(result.omittedFields).toEqual([]);
    expect(result.differences.map((d) => [d.field, d.kind])).toEqual([
      ['events', 'mismatch'],
      ['revenue_cents', 'mismatch'],
    ]);
  });
});

describe('compareAggregates: final not written', () => {
  it('counts every document as not final, never as a difference', () => {
    const docs = [
      sparkDoc({ partition: 0, events: 6, unique_players: 4, revenue_cents: 1000 }),
      sparkDoc({ partition: 1, events: 4, unique_players: 2, revenue_cents: 234 }),
    ];
    const result = compareAggregates([win()], docs);
    expect(result.ok).toBe(true);
    expect(result.notFinal).toBe(2);
    expect(result.omittedFields).toContain('final');
    const note = result.notes.find((n) => n.includes('final'));
    expect(note).toContain('never a difference');
  });
});

describe('verify: windows to ignore', () => {
  const manifests = manifestFolder('gapipe-verify-ignore-');
  const writeManifest = (windows: ManifestWindow[]) => manifests.write(manifestOf(windows));

  // The bench's readiness probe: one event per partition into a window of the year 2000.
  const PROBE = '2000-01-01T00:00:00.000Z';
  const probeDocs = [0, 1, 2].map((partition) =>
    sparkDoc({
      window_start: PROBE,
      region: 'NA',
      event_type: 'player_join',
      partition,
      events: 1,
      unique_players: 1,
      revenue_cents: 0,
      run_id: 'probe',
    }),
  );

  it('documents of an ignored window are neither compared nor unexpected, nor another run', async () => {
    const path = writeManifest([win({ late_events: 3 })]);
    const reader = new MemoryAggregateReader({
      [INDEX]: [...probeDocs, sparkDoc({ events: 8, unique_players: 5, revenue_cents: 1000 })],
    });
    // Any spelling of the instant names the window.
    const result = await verify(
      { manifestPath: path, index: INDEX, waitMs: 0, ignoreWindowStarts: ['2000-01-01T00:00:00Z'] },
      { reader },
    );
    expect(result.differences).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.docs).toBe(1);
    expect(result.ignoredDocs).toBe(3);
    expect(result.cells).toMatchObject({ compared: 1, matching: 1, unexpected: 0, bounded: 1 });
    expect(result.otherRuns).toBeUndefined();
    expect(result.omittedFields).toEqual(['duplicates', 'late_events', 'final']);
    expect(result.notes).toContain(NOT_COMPARED);
  });

  it('without the option the same documents are unexpected', async () => {
    const path = writeManifest([win()]);
    const reader = new MemoryAggregateReader({ [INDEX]: [...probeDocs, sparkDoc()] });
    const result = await verify({ manifestPath: path, index: INDEX, waitMs: 0 }, { reader });
    expect(result.ok).toBe(false);
    expect(result.cells).toMatchObject({ unexpected: 1 });
    expect(result.differences[0]).toMatchObject({ window_start: PROBE, kind: 'unexpected' });
    expect(result.ignoredDocs).toBeUndefined();
  });

  it('a manifest cell of an ignored window is not expected either', async () => {
    const path = writeManifest([win(), win({ window_start: PROBE })]);
    const reader = new MemoryAggregateReader({ [INDEX]: [sparkDoc()] });
    const result = await verify(
      { manifestPath: path, index: INDEX, waitMs: 0, ignoreWindowStarts: [PROBE] },
      { reader },
    );
    expect(result.ok).toBe(true);
    expect(result.cells).toMatchObject({ compared: 1, missing: 0 });
    expect(result.ignoredDocs).toBe(0);
  });
});
