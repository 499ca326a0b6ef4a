/**
 * Ground truth: what a run produced, counted exactly, so a consumer's aggregates can be checked
 * number for number (`gapipe verify`).
 *
 * Format "gapipe-ground-truth/1" (a JSON file):
 *   format      "gapipe-ground-truth/1"
 *   run         the run's identity and settings (run id, seed, event-time start, players, regions…)
 *   windowMs    60000: tumbling windows of event time (`ts`), aligned to the epoch
 *   totals      records sent; valid records; distinct events; duplicates, late, out-of-order and
 *               malformed records injected; revenue
 *   malformedByKind  malformed records per kind (they have no valid window, region or type)
 *   windows     one entry per (window, region, event_type) that has at least one valid event, sorted:
 *                 window_start, window_end   ISO-8601
 *                 events           distinct event_ids among the valid events (duplicates not counted)
 *                 unique_players   distinct player_ids among them
 *                 revenue_cents    sum of price_usd in whole cents (exact); revenue_usd = revenue_cents / 100
 *                 late_events      how many of `events` were injected late (event time set back by --late-by)
 *                 duplicates       extra copies sent of events in this cell (same event_id, identical bytes)
 *
 * Counting happens as records are handed to the sink, so an interrupted run's manifest describes what
 * was actually produced. Memory stays bounded on long runs: a window no future event can reach (its
 * end is behind the earliest event time still possible: next event time − maximum lateness) drops its
 * player set and keeps only the counts.
 */
import { MALFORMED_KINDS, type MalformedKind } from './malformed.js';
import { REGION_CODES, type RegionCode } from './regions.js';

export const MANIFEST_FORMAT = 'gapipe-ground-truth/1';
export const WINDOW_MS = 60_000;

export const EVENT_TYPES = [
  'player_join',
  'player_leave',
  'match_start',
  'match_end',
  'enemy_defeated',
  'item_purchase',
  'level_up',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The records of one event that was sent more than once (the original and its re-sent copies). Shared
 * by those records, so whoever learns that one of them failed can tell whether the event still
 * reached Kafka through another.
 */
export interface ResendGroup {
  /** Records of the event handed to the sink so far (the original and its copies). */
  sent: number;
  /** Of them, how many the producer gave up on. */
  failed: number;
  priceCents: number;
  late: boolean;
}

export type RecordKind = 'event' | 'duplicate' | 'malformed';

/** The ground-truth facts a generated record carries, so a failed record can be taken out again. */
export interface RecordFacts {
  readonly recordKind: RecordKind;
  /** Event time (valid records). */
  readonly tsMs: number;
  /** Region index (valid records). */
  readonly regionIndex: number;
  /** Index into EVENT_TYPES (valid records). */
  readonly typeIndex: number;
  readonly priceCents: number;
  readonly late: boolean;
  readonly malformedKind: MalformedKind | undefined;
  /** Set when the event was sent more than once. */
  readonly resendGroup: ResendGroup | undefined;
}

export function hasRecordFacts(record: object): record is RecordFacts {
  return typeof (record as Partial<RecordFacts>).recordKind === 'string';
}

/** What the generator reports as it hands records over. Regions and types are indices. */
export interface GroundTruthObserver {
  valid(tsMs: number, region: number, type: number, player: number, priceCents: number, late: boolean): void;
  /** A re-sent copy; `group.sent` already counts it. */
  duplicate(tsMs: number, region: number, type: number, group?: ResendGroup): void;
  outOfOrder(): void;
  malformed(kind: MalformedKind): void;
  /** No event from now on will have an event time before `eventTimeMs`. */
  advance(eventTimeMs: number): void;
}

export interface ManifestWindow {
  window_start: string;
  window_end: string;
  region: RegionCode;
  event_type: EventType;
  events: number;
  unique_players: number;
  revenue_usd: number;
  revenue_cents: number;
  late_events: number;
  duplicates: number;
  /** Records of this cell the producer gave up on; absent when none. */
  producer_failed?: number;
}

/** Records the producer gave up on, by what they were. */
export interface ProducerFailedTotals {
  records: number;
  /** Distinct events of which no record reached Kafka. */
  events: number;
  /** Re-sent copies that did not reach Kafka (and originals whose copy did). */
  duplicates: number;
  malformed: number;
}

export interface GroundTruthManifest {
  format: typeof MANIFEST_FORMAT;
  about: string;
  run: Record<string, unknown>;
  windowMs: number;
  totals: {
    records: number;
    validRecords: number;
    distinctEvents: number;
    duplicates: number;
    late: number;
    outOfOrder: number;
    malformed: number;
    revenueCents: number;
    revenueUsd: number;
    /** Absent in manifests of older versions: read it as all zeros. */
    producerFailed?: ProducerFailedTotals;
  };
  malformedByKind: Record<MalformedKind, number>;
  windows: ManifestWindow[];
}

interface Cell {
  events: number;
  /** Null once the window is final; `uniquePlayers` then holds the count. */
  players: Set<number> | null;
  uniquePlayers: number;
  revenueCents: number;
  late: number;
  duplicates: number;
  producerFailed: number;
}

export const MANIFEST_ABOUT =
  'Ground truth of one gapipe simulate run. windows: per (1-minute event-time window, region, event_type) of the valid events sent: ' +
  'events = distinct event_ids, unique_players = distinct player_ids, revenue_cents = exact sum of price_usd in cents ' +
  '(revenue_usd = revenue_cents / 100), late_events = how many of them were sent late on purpose, duplicates = extra copies ' +
  'sent (same event_id, same bytes). Malformed records belong to no window and are counted in totals and malformedByKind. ' +
  'Records the producer gave up on are taken out of these counts (a re-sent copy that arrived still carries its event) and ' +
  'counted in producer_failed per window and totals.producerFailed; unique_players of such a window is an upper bound.';

const CELLS_PER_WINDOW = 64; // region (≤ 8) × event type (≤ 8)

export class GroundTruthRecorder implements GroundTruthObserver {
  private readonly openWindows = new Map<number, Array<Cell | undefined>>();
  private readonly finalWindows = new Map<number, Array<Cell | undefined>>();
  private lowestOpen = Number.POSITIVE_INFINITY;
  /** Most events fall into the window of the previous one. */
  private lastWindow = Number.NaN;
  private lastCells: Array<Cell | undefined> | undefined;
  private distinct = 0;
  private duplicates = 0;
  private late = 0;
  private outOfOrderCount = 0;
  private revenueCents = 0;
  private readonly failed: ProducerFailedTotals = { records: 0, events: 0, duplicates: 0, malformed: 0 };
  private readonly malformedCounts = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0])) as Record<
    MalformedKind,
    number
  >;

  constructor(private readonly regions: readonly RegionCode[]) {}

  valid(tsMs: number, region: number, type: number, player: number, priceCents: number, late: boolean): void {
    const cell = this.cell(tsMs, region, type);
    cell.events++;
    cell.players?.add(player);
    cell.revenueCents += priceCents;
    this.distinct++;
    this.revenueCents += priceCents;
    if (late) {
      cell.late++;
      this.late++;
    }
  }

  duplicate(tsMs: number, region: number, type: number, group?: ResendGroup): void {
    const cell = this.cell(tsMs, region, type);
    cell.duplicates++;
    this.duplicates++;
    // A copy of an event whose earlier records failed may be the one that carries it after all.
    if (group && group.failed > 0)
      this.applyLoss(cell, group, group.sent - 1, group.failed, group.sent, group.failed);
  }

  /**
   * Takes records the producer gave up on out of the counts (records without ground-truth facts are
   * ignored); returns how many were taken out.
   */
  retract(records: readonly object[]): number {
    let taken = 0;
    for (const record of records) {
      if (!hasRecordFacts(record)) continue;
      taken++;
      this.failed.records++;
      if (record.recordKind === 'malformed') {
        const kind = record.malformedKind;
        if (kind) this.malformedCounts[kind]--;
        this.failed.malformed++;
        continue;
      }
      const cell = this.cell(record.tsMs, record.regionIndex, record.typeIndex);
      cell.producerFailed++;
      const group = record.resendGroup;
      if (group) {
        group.failed++;
        this.applyLoss(cell, group, group.sent, group.failed - 1, group.sent, group.failed);
      } else {
        this.applyLoss(cell, { priceCents: record.priceCents, late: record.late }, 1, 0, 1, 1);
      }
    }
    return taken;
  }

  outOfOrder(): void {
    this.outOfOrderCount++;
  }

  malformed(kind: MalformedKind): void {
    this.malformedCounts[kind]++;
  }

  advance(eventTimeMs: number): void {
    const horizon = Math.floor(eventTimeMs / WINDOW_MS);
    if (!(horizon > this.lowestOpen)) return;
    let lowest = Number.POSITIVE_INFINITY;
    for (const [window, cells] of this.openWindows) {
      if (window < horizon) {
        for (const cell of cells) {
          if (cell?.players) {
            cell.uniquePlayers = cell.players.size;
            cell.players = null;
          }
        }
        this.openWindows.delete(window);
        this.finalWindows.set(window, cells);
      } else if (window < lowest) {
        lowest = window;
      }
    }
    this.lowestOpen = lowest;
  }

  /**
   * Moves the counts from "the event's records were `sent0` with `failed0` lost" to `sent1`/`failed1`:
   * an event counts once while any of its records arrived; every other record that arrived is a
   * duplicate.
   */
  private applyLoss(
    cell: Cell,
    event: { priceCents: number; late: boolean },
    sent0: number,
    failed0: number,
    sent1: number,
    failed1: number,
  ): void {
    const [events0, duplicates0] = lostOf(sent0, failed0);
    const [events1, duplicates1] = lostOf(sent1, failed1);
    const events = events1 - events0;
    const duplicates = duplicates1 - duplicates0;
    cell.events -= events;
    cell.revenueCents -= events * event.priceCents;
    this.distinct -= events;
    this.revenueCents -= events * event.priceCents;
    if (event.late) {
      cell.late -= events;
      this.late -= events;
    }
    cell.duplicates -= duplicates;
    this.duplicates -= duplicates;
    this.failed.events += events;
    this.failed.duplicates += duplicates;
  }

  /** Windows still holding player sets (for tests of the memory bound). */
  get openWindowCount(): number {
    return this.openWindows.size;
  }

  toManifest(run: Record<string, unknown>): GroundTruthManifest {
    const windows: ManifestWindow[] = [];
    const all = new Map([...this.finalWindows, ...this.openWindows]);
    const malformed = Object.values(this.malformedCounts).reduce((sum, n) => sum + n, 0);
    for (const window of [...all.keys()].sort((a, b) => a - b)) {
      const cells = all.get(window) as Array<Cell | undefined>;
      const start = window * WINDOW_MS;
      for (let region = 0; region < this.regions.length; region++) {
        for (let type = 0; type < EVENT_TYPES.length; type++) {
          const cell = cells[region * 8 + type];
          // A cell whose every record failed stays listed, so verify can name the producer's failures.
          if (!cell || (cell.events === 0 && cell.producerFailed === 0)) continue;
          const window: ManifestWindow = {
            window_start: new Date(start).toISOString(),
            window_end: new Date(start + WINDOW_MS).toISOString(),
            region: this.regions[region] as RegionCode,
            event_type: EVENT_TYPES[type] as EventType,
            events: cell.events,
            unique_players: cell.players ? cell.players.size : cell.uniquePlayers,
            revenue_usd: cell.revenueCents / 100,
            revenue_cents: cell.revenueCents,
            late_events: cell.late,
            duplicates: cell.duplicates,
          };
          if (cell.producerFailed > 0) window.producer_failed = cell.producerFailed;
          windows.push(window);
        }
      }
    }
    return {
      format: MANIFEST_FORMAT,
      about: MANIFEST_ABOUT,
      run,
      windowMs: WINDOW_MS,
      totals: {
        records: this.distinct + this.duplicates + malformed + this.failed.records,
        validRecords: this.distinct + this.duplicates,
        distinctEvents: this.distinct,
        duplicates: this.duplicates,
        late: this.late,
        outOfOrder: this.outOfOrderCount,
        malformed,
        revenueCents: this.revenueCents,
        revenueUsd: this.revenueCents / 100,
        producerFailed: { ...this.failed },
      },
      malformedByKind: { ...this.malformedCounts },
      windows,
    };
  }

  private cell(tsMs: number, region: number, type: number): Cell {
    const window = Math.floor(tsMs / WINDOW_MS);
    let cells =
      window === this.lastWindow && this.lastCells
        ? this.lastCells
        : (this.openWindows.get(window) ?? this.finalWindows.get(window));
    if (!cells) {
      cells = new Array<Cell | undefined>(CELLS_PER_WINDOW);
      this.openWindows.set(window, cells);
      if (window < this.lowestOpen) this.lowestOpen = window;
    }
    this.lastWindow = window;
    this.lastCells = cells;
    const index = region * 8 + type;
    let cell = cells[index];
    if (!cell) {
      // A cell first touched after its window was finalized can only receive duplicates.
      const final = !this.openWindows.has(window);
      cell = {
        events: 0,
        players: final ? null : new Set(),
        uniquePlayers: 0,
        revenueCents: 0,
        late: 0,
        duplicates: 0,
        producerFailed: 0,
      };
      cells[index] = cell;
    }
    return cell;
  }
}

/** [events, duplicates] lost when `failed` of an event's `sent` records did not reach Kafka. */
function lostOf(sent: number, failed: number): [number, number] {
  if (failed <= 0) return [0, 0];
  return failed >= sent ? [1, sent - 1] : [0, failed];
}

/**
 * One manifest from the manifests of disjoint shards of a run (worker threads, or machines with
 * `--shard`): counts add up per cell, and so do unique players, because a player belongs to exactly
 * one shard. `run` becomes the merged manifest's run section. The caller checks the shards belong
 * together.
 */
export function mergeManifests(
  manifests: readonly GroundTruthManifest[],
  run: Record<string, unknown>,
): GroundTruthManifest {
  const cells = new Map<string, ManifestWindow>();
  const totals: GroundTruthManifest['totals'] = {
    records: 0,
    validRecords: 0,
    distinctEvents: 0,
    duplicates: 0,
    late: 0,
    outOfOrder: 0,
    malformed: 0,
    revenueCents: 0,
    revenueUsd: 0,
    producerFailed: { records: 0, events: 0, duplicates: 0, malformed: 0 },
  };
  const malformedByKind = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0])) as Record<
    MalformedKind,
    number
  >;
  for (const manifest of manifests) {
    for (const w of manifest.windows) {
      const key = `${w.window_start}|${w.region}|${w.event_type}`;
      const cell = cells.get(key);
      if (!cell) {
        cells.set(key, { ...w });
        continue;
      }
      cell.events += w.events;
      cell.unique_players += w.unique_players;
      cell.revenue_cents += w.revenue_cents;
      cell.revenue_usd = cell.revenue_cents / 100;
      cell.late_events += w.late_events;
      cell.duplicates += w.duplicates;
      const failed = (cell.producer_failed ?? 0) + (w.producer_failed ?? 0);
      if (failed > 0) cell.producer_failed = failed;
    }
    const t = manifest.totals;
    totals.records += t.records;
    totals.validRecords += t.validRecords;
    totals.distinctEvents += t.distinctEvents;
    totals.duplicates += t.duplicates;
    totals.late += t.late;
    totals.outOfOrder += t.outOfOrder;
    totals.malformed += t.malformed;
    totals.revenueCents += t.revenueCents;
    const failed = totals.producerFailed as ProducerFailedTotals;
    failed.records += t.producerFailed?.records ?? 0;
    failed.events += t.producerFailed?.events ?? 0;
    failed.duplicates += t.producerFailed?.duplicates ?? 0;
    failed.malformed += t.producerFailed?.malformed ?? 0;
    for (const kind of MALFORMED_KINDS) malformedByKind[kind] += manifest.malformedByKind?.[kind] ?? 0;
  }
  totals.revenueUsd = totals.revenueCents / 100;
  // The order a single recorder writes: the run's regions as given, then event types.
  const runRegions = Array.isArray(run.regions) ? (run.regions as string[]) : [...REGION_CODES];
  const regionOrder = (region: string) => {
    const i = runRegions.indexOf(region);
    return i >= 0 ? i : runRegions.length + REGION_CODES.indexOf(region as RegionCode);
  };
  const typeOrder = (type: string) => EVENT_TYPES.indexOf(type as EventType);
  const windows = [...cells.values()].sort(
    (a, b) =>
      Date.parse(a.window_start) - Date.parse(b.window_start) ||
      regionOrder(a.region) - regionOrder(b.region) ||
      typeOrder(a.event_type) - typeOrder(b.event_type),
  );
  return {
    format: MANIFEST_FORMAT,
    about: MANIFEST_ABOUT,
    run,
    windowMs: WINDOW_MS,
    totals,
    malformedByKind,
    windows,
  };
}

/**
 * The manifest as text: readable at the top, one window per line (a day-long run has tens of
 * thousands of them).
 */
export function serializeManifest(manifest: GroundTruthManifest): string {
  const { windows, ...head } = manifest;
  const top = JSON.stringify({ ...head, windows: [] }, null, 2);
  if (windows.length === 0) return `${top}\n`;
  const body = windows.map((w) => `    ${JSON.stringify(w)}`).join(',\n');
  return `${top.replace(/"windows": \[\]\n}$/, `"windows": [\n${body}\n  ]\n}`)}\n`;
}
