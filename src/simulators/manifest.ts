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
import type { RegionCode } from './regions.js';

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

/** What the generator reports as it hands records over. Regions and types are indices. */
export interface GroundTruthObserver {
  valid(tsMs: number, region: number, type: number, player: number, priceCents: number, late: boolean): void;
  duplicate(tsMs: number, region: number, type: number): void;
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
}

export const MANIFEST_ABOUT =
  'Ground truth of one gapipe simulate run. windows: per (1-minute event-time window, region, event_type) of the valid events sent: ' +
  'events = distinct event_ids, unique_players = distinct player_ids, revenue_cents = exact sum of price_usd in cents ' +
  '(revenue_usd = revenue_cents / 100), late_events = how many of them were sent late on purpose, duplicates = extra copies ' +
  'sent (same event_id, same bytes). Malformed records belong to no window and are counted in totals and malformedByKind.';

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

  duplicate(tsMs: number, region: number, type: number): void {
    this.cell(tsMs, region, type).duplicates++;
    this.duplicates++;
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
          if (!cell || cell.events === 0) continue;
          windows.push({
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
          });
        }
      }
    }
    return {
      format: MANIFEST_FORMAT,
      about: MANIFEST_ABOUT,
      run,
      windowMs: WINDOW_MS,
      totals: {
        records: this.distinct + this.duplicates + malformed,
        validRecords: this.distinct + this.duplicates,
        distinctEvents: this.distinct,
        duplicates: this.duplicates,
        late: this.late,
        outOfOrder: this.outOfOrderCount,
        malformed,
        revenueCents: this.revenueCents,
        revenueUsd: this.revenueCents / 100,
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
      };
      cells[index] = cell;
    }
    return cell;
  }
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
