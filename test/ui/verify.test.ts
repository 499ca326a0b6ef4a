import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatCents, renderVerifyAttempt, renderVerifyResult } from '../../src/ui/verify.js';
import type { AggregateComparison, VerifyDifference } from '../../src/verify/compare.js';
import type { VerifyResult } from '../../src/verify/verify.js';

const plain = (text: string) => stripVTControlCharacters(text);

const matching: VerifyResult = {
  ok: true,
  index: 'gapipe-aggregates',
  topic: 'game-events',
  manifest: 'truth.json',
  docs: 3702,
  cells: { compared: 1234, matching: 1234, differing: 0, bounded: 12, missing: 0, unexpected: 0 },
  totals: {
    expected: { events: 100_000, revenueCents: 1_234_567, duplicates: 10, lateEvents: 40 },
    actual: {
      events: 100_000,
      acceptedEvents: 99_975,
      lateEvents: 25,
      revenueCents: 1_234_567,
      acceptedRevenueCents: 1_230_000,
      lateRevenueCents: 4567,
      duplicates: 10,
    },
  },
  notFinal: 0,
  differences: [],
  attempts: 1,
  waitedMs: 0,
};

function difference(i: number, overrides: Partial<VerifyDifference> = {}): VerifyDifference {
  return {
    window_start: new Date(Date.UTC(2026, 10, 21, 20, i)).toISOString(),
    region: 'EU',
    event_type: 'match_end',
    field: 'events',
    expected: 1200,
    actual: 1199,
    accepted: 1199,
    late: 0,
    kind: 'mismatch',
    ...overrides,
  };
}

function differing(
  differences: VerifyDifference[],
  cells: Partial<VerifyResult['cells']> = {},
): VerifyResult {
  return {
    ...matching,
    ok: false,
    cells: { ...matching.cells, matching: 1231, differing: 3, bounded: 0, ...cells },
    differences,
  };
}

describe('renderVerifyResult', () => {
  it('all matching: header, totals and the ✔ summary, no table', () => {
    const lines = plain(renderVerifyResult(matching)).trimEnd().split('\n');
    expect(lines).toEqual([
      'Compared 3,702 documents of topic game-events in gapipe-aggregates with truth.json',
      '  found / expected: events 100,000 / 100,000 (25 of them late) · revenue $12,345.67 / $12,345.67 · duplicates 10 / 10',
      '✔ 1,234 cells match the manifest (12 bounded by late events)',
    ]);
  });

  it('leaves out the bounded remark when no cell was bounded, and says how long it waited', () => {
    const text = plain(
      renderVerifyResult({
        ...matching,
        cells: { ...matching.cells, bounded: 0 },
        attempts: 3,
        waitedMs: 2000,
      }),
    );
    expect(text).toContain('with truth.json (3 reads in 2s)');
    expect(text.trimEnd().split('\n').pop()).toBe('✔ 1,234 cells match the manifest');
  });

  it('counts documents not yet final, as information', () => {
    const text = plain(renderVerifyResult({ ...matching, notFinal: 412 }));
    expect(text).toContain('412 documents not final yet');
    expect(text).toContain('✔');
  });

  it('differences: a table with window, region, type, field, expected, actual, then ✘ n of m cells differ', () => {
    const text = plain(
      renderVerifyResult(
        differing(
          [
            difference(0),
            difference(0, { field: 'events', expected: 10, actual: 9, accepted: 7, late: 2 }),
            difference(1, { field: 'unique_players', expected: 6, actual: 7, actualMax: 10, kind: 'bound' }),
            difference(2, { region: 'NA', expected: 5, actual: 0, kind: 'missing' }),
            difference(3, { region: 'SA', expected: 0, actual: 3, kind: 'unexpected' }),
          ],
          { differing: 3, missing: 1, unexpected: 1 },
        ),
      ),
    );
    const lines = text.trimEnd().split('\n');
    expect(lines[3]).toMatch(/^window\s+region\s+type\s+field\s+expected\s+actual\s+kind$/);
    expect(lines[4]).toMatch(/^-+ +-+/);
    expect(lines[5]).toMatch(
      /^2026-11-21T20:00:00\.000Z\s+EU\s+match_end\s+events\s+1,200\s+1,199\s+mismatch$/,
    );
    expect(lines[6]).toMatch(/\s10\s+9 \(2 late\)\s+mismatch$/);
    expect(lines[7]).toMatch(/unique_players\s+6\s+7\.\.10\s+outside bound$/);
    expect(lines[8]).toMatch(/^2026-11-21T20:02:00\.000Z\s+NA\s.*\s5\s+0\s+missing$/);
    expect(lines[9]).toMatch(/\sSA\s.*unexpected$/);
    expect(lines.at(-1)).toBe('✘ 3 of 1,234 cells differ (1 missing, 1 unexpected)');
  });

  it('prints at most 50 rows and says how many more there are', () => {
    const many = Array.from({ length: 1234 }, (_, i) => difference(i));
    const lines = plain(renderVerifyResult(differing(many, { differing: 1234, matching: 0 }))).split('\n');
    const rows = lines.filter((line) => /^\d{4}-\d\d-\d\dT/.test(line));
    expect(rows).toHaveLength(50);
    expect(lines).toContain('… and 1,184 more differences (--json lists them all)');
    expect(lines.filter(Boolean).at(-1)).toBe('✘ 1,234 of 1,234 cells differ');
  });

  it('one differing cell is singular', () => {
    const text = plain(renderVerifyResult(differing([difference(0)], { differing: 1, matching: 1233 })));
    expect(text.trimEnd().split('\n').pop()).toBe('✘ 1 of 1,234 cells differs');
  });

  it('says so when the topic has no documents at all', () => {
    const text = plain(
      renderVerifyResult(differing([difference(0, { kind: 'missing' })], { missing: 1234, differing: 1234 })),
    );
    expect(text).not.toContain('no documents');
    const empty = plain(
      renderVerifyResult({
        ...differing([difference(0, { kind: 'missing' })], { missing: 1234, differing: 1234 }),
        docs: 0,
      }),
    );
    expect(empty).toContain('no documents for topic game-events in gapipe-aggregates yet');
  });
});

describe('formatting', () => {
  it('formats cents as dollars without floating point', () => {
    expect(formatCents(0)).toBe('$0.00');
    expect(formatCents(5)).toBe('$0.05');
    expect(formatCents(123_456_789)).toBe('$1,234,567.89');
    expect(formatCents(-250)).toBe('-$2.50');
  });

  it('renders a progress line per read while waiting', () => {
    const comparison = (differingCells: number) =>
      ({
        ok: differingCells === 0,
        cells: { compared: 1234, differing: differingCells },
      }) as AggregateComparison;
    expect(
      renderVerifyAttempt({
        attempt: 2,
        elapsedMs: 1000,
        remainingMs: 59_000,
        last: false,
        comparison: comparison(3),
      }),
    ).toBe('read 2: 3 of 1,234 cells differ; reading again, for up to 59s more');
    expect(
      renderVerifyAttempt({
        attempt: 3,
        elapsedMs: 2000,
        remainingMs: 0,
        last: true,
        comparison: comparison(0),
      }),
    ).toBe('read 3: 1,234 cells match');
  });
});
