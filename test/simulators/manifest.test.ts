import { describe, expect, it } from 'vitest';
import { TrafficGenerator, type GeneratedRecord as TrafficRecord } from '../../src/simulators/generator.js';
import {
  GroundTruthRecorder,
  MANIFEST_FORMAT,
  type ManifestWindow,
  serializeManifest,
  WINDOW_MS,
} from '../../src/simulators/manifest.js';
import type { SinkRecord } from '../../src/simulators/sinks/types.js';
import { isValidRecord } from './event-schema.js';
import { EVENING_EU, generateAll, parse, simulateOptions } from './helpers.js';

const DISORDER = {
  late: 0.03,
  lateByMs: { min: 120_000, max: 900_000 },
  duplicates: 0.02,
  malformed: 0.01,
  outOfOrder: 0.03,
};

/** Counts the emitted stream independently, the way a correct consumer would. */
function recount(records: readonly SinkRecord[]) {
  const cells = new Map<
    string,
    { ids: Set<string>; players: Set<string>; revenueCents: number; late: number; duplicates: number }
  >();
  let malformed = 0;
  for (const record of records) {
    if (!isValidRecord(record.value)) {
      malformed++;
      continue;
    }
    const event = parse(record);
    const ts = Date.parse(String(event.ts));
    const window = Math.floor(ts / WINDOW_MS) * WINDOW_MS;
    const key = `${new Date(window).toISOString()}|${event.region}|${event.event_type}`;
    let cell = cells.get(key);
    if (!cell) {
      cell = { ids: new Set(), players: new Set(), revenueCents: 0, late: 0, duplicates: 0 };
      cells.set(key, cell);
    }
    const id = String(event.event_id);
    if (cell.ids.has(id)) {
      cell.duplicates++;
      continue;
    }
    cell.ids.add(id);
    cell.players.add(String(event.player_id));
    if (typeof event.price_usd === 'number') cell.revenueCents += Math.round(event.price_usd * 100);
    if (Math.floor(EVENING_EU + record.intendedMs) - ts >= DISORDER.lateByMs.min) cell.late++;
  }
  const windows = [...cells.entries()].map(([key, cell]) => {
    const [start, region, type] = key.split('|') as [string, string, string];
    return {
      window_start: start,
      region,
      event_type: type,
      events: cell.ids.size,
      unique_players: cell.players.size,
      revenue_cents: cell.revenueCents,
      late_events: cell.late,
      duplicates: cell.duplicates,
    };
  });
  return { windows, malformed };
}

describe('ground-truth manifest', () => {
  const recorder = new GroundTruthRecorder(['NA', 'EU', 'ASIA']);
  // 400 events/s for 5 minutes of event time: several windows, purchases, all kinds of disorder.
  const { records, generator } = generateAll(
    { events: undefined, durationMs: 300_000, startRate: 400, players: 3000, disorder: DISORDER },
    recorder,
  );
  const manifest = recorder.toManifest({ runId: 'test', seed: 42 });

  it('matches a recount of the emitted stream exactly', () => {
    const truth = recount(records);
    const strip = (w: ManifestWindow) => {
      const { window_end: _end, revenue_usd: _usd, ...rest } = w;
      return rest;
    };
    const order = (a: { window_start: string; region: string; event_type: string }, b: typeof a) =>
      `${a.window_start}${a.region}${a.event_type}`.localeCompare(
        `${b.window_start}${b.region}${b.event_type}`,
      );
    expect(manifest.windows.map(strip).sort(order)).toEqual(truth.windows.sort(order));
    expect(manifest.totals.malformed).toBe(truth.malformed);
    expect(Object.values(manifest.malformedByKind).reduce((a, b) => a + b, 0)).toBe(truth.malformed);
  }, 120_000);

  it('has totals that agree with the windows and with the generator', () => {
    const sum = (pick: (w: ManifestWindow) => number) => manifest.windows.reduce((a, w) => a + pick(w), 0);
    const stats = generator.stats();
    expect(manifest.totals.records).toBe(records.length);
    expect(manifest.totals.distinctEvents).toBe(sum((w) => w.events));
    expect(manifest.totals.duplicates).toBe(sum((w) => w.duplicates));
    expect(manifest.totals.late).toBe(sum((w) => w.late_events));
    expect(manifest.totals.revenueCents).toBe(sum((w) => w.revenue_cents));
    expect(manifest.totals.revenueUsd).toBe(manifest.totals.revenueCents / 100);
    expect(manifest.totals).toMatchObject({
      duplicates: stats.duplicates,
      late: stats.late,
      malformed: stats.malformed,
      outOfOrder: stats.outOfOrder,
      distinctEvents: stats.events,
    });
    expect(manifest.totals.late).toBeGreaterThan(0);
    expect(manifest.totals.revenueCents).toBeGreaterThan(0);
    for (const w of manifest.windows) {
      expect(w.revenue_usd).toBe(w.revenue_cents / 100);
      expect(Date.parse(w.window_end) - Date.parse(w.window_start)).toBe(WINDOW_MS);
      expect(w.unique_players).toBeLessThanOrEqual(w.events);
    }
  });

  it('documents its format in the file and keeps one window per line', () => {
    const text = serializeManifest(manifest);
    const parsed = JSON.parse(text);
    expect(parsed.format).toBe(MANIFEST_FORMAT);
    expect(parsed.about).toMatch(/distinct event_ids/);
    expect(parsed.windowMs).toBe(60_000);
    expect(parsed.windows).toEqual(manifest.windows);
    const windowLines = text.split('\n').filter((line) => line.trimStart().startsWith('{"window_start"'));
    expect(windowLines).toHaveLength(manifest.windows.length);
  });

  it('keeps memory bounded on long runs: windows no event can reach drop their player sets', () => {
    const longRun = new GroundTruthRecorder(['NA', 'EU', 'ASIA']);
    const generator2 = new TrafficGenerator(
      simulateOptions({
        events: undefined,
        durationMs: 3 * 3_600_000,
        startRate: 5,
        disorder: { ...DISORDER, lateByMs: { min: 60_000, max: 300_000 } },
      }),
    );
    generator2.observe(longRun);
    let maxOpen = 0;
    const batch: SinkRecord[] = [];
    while (!generator2.done) {
      batch.length = 0;
      generator2.fill(batch, Number.POSITIVE_INFINITY, 50);
      maxOpen = Math.max(maxOpen, longRun.openWindowCount);
    }
    // 180 windows in the run; at most lateness (5 min) + the current one + a little are open at once.
    expect(maxOpen).toBeLessThanOrEqual(8);
    expect(longRun.openWindowCount).toBe(0);
    const result = longRun.toManifest({});
    expect(new Set(result.windows.map((w) => w.window_start)).size).toBeGreaterThanOrEqual(179);
  });
});

describe('records the producer gave up on', () => {
  // Many re-sent copies (players send every ~1.3 s, well inside the re-send window).
  const disorder = { ...DISORDER, duplicates: 0.05 };
  const recorder = new GroundTruthRecorder(['NA', 'EU', 'ASIA']);
  const generator = new TrafficGenerator(
    simulateOptions({ events: undefined, durationMs: 180_000, startRate: 400, players: 500, disorder }),
  );
  generator.observe(recorder);
  const records: SinkRecord[] = [];
  const failed = new Set<SinkRecord>();
  let lateReports: SinkRecord[] = [];
  const batch: SinkRecord[] = [];
  while (!generator.done) {
    batch.length = 0;
    generator.fill(batch, Number.POSITIVE_INFINITY, 100);
    for (const record of batch) {
      records.push(record);
      // Every 9th record fails; half the failures are reported at once, half only at the end (after
      // later copies of the same event went out).
      if (records.length % 9 === 0) {
        failed.add(record);
        if (records.length % 2 === 0) recorder.retract([record]);
        else lateReports.push(record);
      }
    }
  }
  recorder.retract(lateReports);
  lateReports = [];
  const manifest = recorder.toManifest({});
  const delivered = records.filter((r) => !failed.has(r));
  const truth = recount(delivered);
  const key = (w: { window_start: string; region: string; event_type: string }) =>
    `${w.window_start}|${w.region}|${w.event_type}`;

  it('counts exactly what reached Kafka: events, revenue, duplicates and late events', () => {
    const expected = new Map(truth.windows.map((w) => [key(w), w]));
    // Some events reached Kafka only through their re-sent copy, and some copies failed while the original arrived.
    const groups = records.filter((r) => (r as TrafficRecord).resendGroup !== undefined);
    expect(groups.length).toBeGreaterThan(100);
    for (const w of manifest.windows) {
      const actual = expected.get(key(w));
      expect(
        { events: w.events, revenue: w.revenue_cents, duplicates: w.duplicates, late: w.late_events },
        key(w),
      ).toEqual({
        events: actual?.events ?? 0,
        revenue: actual?.revenue_cents ?? 0,
        duplicates: actual?.duplicates ?? 0,
        late: actual?.late_events ?? 0,
      });
      expected.delete(key(w));
    }
    expect([...expected.keys()]).toEqual([]);
    expect(manifest.totals.distinctEvents).toBe(truth.windows.reduce((n, w) => n + w.events, 0));
    expect(manifest.totals.malformed).toBe(truth.malformed);
  });

  it('keeps unique players as an upper bound and counts the failed records per cell and in totals', () => {
    const expected = new Map(truth.windows.map((w) => [key(w), w]));
    let failedInCells = 0;
    for (const w of manifest.windows) {
      const found = expected.get(key(w))?.unique_players ?? 0;
      const lost = w.producer_failed ?? 0;
      failedInCells += lost;
      expect(w.unique_players).toBeGreaterThanOrEqual(found);
      expect(w.unique_players - lost).toBeLessThanOrEqual(found);
    }
    const totals = manifest.totals.producerFailed;
    expect(totals?.records).toBe(failed.size);
    expect(failedInCells + (totals?.malformed ?? 0)).toBe(failed.size);
    expect(totals?.events).toBeGreaterThan(0);
    expect(totals?.duplicates).toBeGreaterThan(0);
    // Handed to the producer: what arrived plus what failed.
    expect(manifest.totals.records).toBe(records.length);
    expect(manifest.totals.validRecords + manifest.totals.malformed + failed.size).toBe(records.length);
  });

  it('ignores records without ground-truth facts', () => {
    const other = new GroundTruthRecorder(['NA']);
    const foreign = { key: 'k', value: 'v', headers: {}, intendedMs: 0 };
    expect(other.retract([foreign])).toBe(0);
    expect(other.toManifest({}).totals.producerFailed?.records).toBe(0);
  });
});
