import { describe, expect, it } from 'vitest';
import { TrafficGenerator } from '../../src/simulators/generator.js';
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
