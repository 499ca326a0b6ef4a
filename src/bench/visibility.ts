/**
 * The "visible" latency, measured from outside the pipeline: when does a record's effect show in
 * Elasticsearch? The bench knows, for each (window, region, event_type) cell, the intended send times
 * of the records that count towards it, in the order they were sent (each record's rank in its cell).
 * A poller asks Elasticsearch every few hundred milliseconds for each open cell's `events`, summed
 * over the partitions' documents; when the count first covers rank k, the records up to rank k are
 * visible, at the time of that poll. No engine cooperates: any job that writes the aggregates in
 * gapipe's document format is measured the same way.
 *
 * Resolution: a record is timed at the poll that first saw it, so a value is at most one poll
 * interval late. Records that count towards no cell are not timed: malformed records, duplicate
 * copies (a cell's count covers the event once), and events sent late on purpose (whether they count
 * depends on the engine's lateness settings).
 */
import type { Client } from '@elastic/elasticsearch';
import { EVENT_TYPES, WINDOW_MS } from '../simulators/manifest.js';

/** A cell's events in Elasticsearch, by cell key (see `cellKey`). */
export type CellCounts = Map<number, number>;

/** Reads the summed `events` of every cell whose window starts at or after `fromWindowMs`. */
export interface CellCountSource {
  counts(fromWindowMs: number): Promise<CellCounts>;
}

/**
 * How far behind the newest window a fully seen cell is kept. Events are sent out of order by seconds,
 * and events sent late on purpose are not tracked, so half an hour of event time is ample.
 */
const CELL_RETENTION_MS = 30 * 60_000;

/** Regions and event types fit in 3 bits each (the generator packs them the same way). */
const REGION_SLOTS = 8;
const TYPE_SLOTS = 8;

/** One number per (window, region, event_type): exact in a double for any window since 1970. */
export function cellKey(windowStartMs: number, region: number, type: number): number {
  return ((windowStartMs / WINDOW_MS) * REGION_SLOTS + region) * TYPE_SLOTS + type;
}

function windowOfKey(key: number): number {
  return Math.floor(key / (REGION_SLOTS * TYPE_SLOTS)) * WINDOW_MS;
}

/**
 * Intended send times of one cell's counting records, in rank order: `base` records were seen and
 * let go, then `head` of `times` are seen too. A cell lives as long as its window can get records: a
 * count read later is of the whole cell, so the ranks already seen must be remembered.
 */
class CellQueue {
  times = new Float64Array(64);
  length = 0;
  head = 0;
  base = 0;

  push(intendedMs: number): void {
    if (this.head === this.length && this.length > 0) {
      // Everything so far was seen: start over, keeping the count.
      this.base += this.length;
      this.head = 0;
      this.length = 0;
    }
    if (this.length === this.times.length) {
      const grown = new Float64Array(this.times.length * 2);
      grown.set(this.times);
      this.times = grown;
    }
    this.times[this.length++] = intendedMs;
  }
}

export class VisibilityTracker {
  private readonly cells = new Map<number, CellQueue>();
  private pendingCount = 0;
  private sentCount = 0;
  private newestWindowMs = Number.NEGATIVE_INFINITY;
  /** Records that became visible, by poll. */
  visible = 0;

  /** A record that counts towards its cell was handed to the producer. */
  sent(eventTsMs: number, region: number, type: number, intendedMs: number): void {
    const windowStart = eventTsMs - (((eventTsMs % WINDOW_MS) + WINDOW_MS) % WINDOW_MS);
    const key = cellKey(windowStart, region, type);
    let cell = this.cells.get(key);
    if (!cell) {
      cell = new CellQueue();
      this.cells.set(key, cell);
    }
    cell.push(intendedMs);
    this.pendingCount++;
    this.sentCount++;
    if (windowStart > this.newestWindowMs) {
      this.newestWindowMs = windowStart;
      this.forgetOldCells();
    }
  }

  /** Cells fully seen whose window is far behind the newest event time: no counting record comes now. */
  private forgetOldCells(): void {
    const before = this.newestWindowMs - CELL_RETENTION_MS;
    for (const [key, cell] of this.cells) {
      if (cell.head === cell.length && windowOfKey(key) < before) this.cells.delete(key);
    }
  }

  /** Cells held in memory (they follow the open windows, not the run's length). */
  cellsHeld(): number {
    return this.cells.size;
  }

  /** Counting records sent and seen in Elasticsearch since. */
  seen(): number {
    return this.sentCount - this.pendingCount;
  }

  /** Records sent and not seen in Elasticsearch yet. */
  pending(): number {
    return this.pendingCount;
  }

  /** The earliest window that still has records not seen: polls need not read older ones. */
  oldestPendingWindowMs(): number | undefined {
    let oldest: number | undefined;
    for (const [key, cell] of this.cells) {
      if (cell.head >= cell.length) continue;
      const start = windowOfKey(key);
      if (oldest === undefined || start < oldest) oldest = start;
    }
    return oldest;
  }

  /**
   * Applies one poll's counts, seen at `atMs`: every record whose rank its cell's count now covers is
   * reported visible (`record` gets the intended times and the poll's time). Cells with nothing left
   * to see are dropped once their count has caught up, so memory follows the open windows.
   */
  apply(
    counts: CellCounts,
    atMs: number,
    record: (intendedMs: Float64Array, count: number, nowMs: number) => void,
  ) {
    for (const [key, events] of counts) {
      const cell = this.cells.get(key);
      if (!cell) continue;
      const covered = Math.min(events - cell.base, cell.length);
      if (covered <= cell.head) continue;
      record(cell.times.subarray(cell.head, covered), covered - cell.head, atMs);
      this.pendingCount -= covered - cell.head;
      this.visible += covered - cell.head;
      cell.head = covered;
    }
  }
}

/**
 * Polls a count source while the run lasts and feeds the tracker; one poll at a time, `intervalMs`
 * from the start of one to the start of the next.
 */
export class VisibilityPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  /** The last poll's failure, if the last poll failed (the next one tries again). */
  lastError: string | undefined;
  polls = 0;

  constructor(
    private readonly tracker: VisibilityTracker,
    private readonly source: CellCountSource,
    private readonly record: (intendedMs: Float64Array, count: number, nowMs: number) => void,
    private readonly options: { intervalMs: number; now: () => number },
  ) {}

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.polling = this.pollOnce().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.options.intervalMs);
      });
    };
    this.timer = setTimeout(loop, this.options.intervalMs);
  }

  /** One poll now: what Elasticsearch shows is applied to the tracker. */
  async pollOnce(): Promise<void> {
    const from = this.tracker.oldestPendingWindowMs();
    if (from === undefined) return;
    const atMs = this.options.now();
    try {
      const counts = await this.source.counts(from);
      this.polls++;
      this.lastError = undefined;
      this.tracker.apply(counts, atMs, this.record);
    } catch (error) {
      this.lastError = (error as Error).message;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }
}

/**
 * Cell counts from the aggregates index: one composite aggregation over the run's tumbling-window
 * documents, summing `events` over partitions.
 */
export class ElasticsearchCellCounts implements CellCountSource {
  constructor(
    private readonly client: Client,
    private readonly index: string,
    private readonly topic: string,
    private readonly regions: readonly string[],
  ) {}

  async counts(fromWindowMs: number): Promise<CellCounts> {
    const out: CellCounts = new Map();
    let after: Record<string, string | number> | undefined;
    for (;;) {
      const response = await this.client.search({
        index: this.index,
        size: 0,
        track_total_hits: false,
        query: {
          bool: {
            filter: [
              { term: { topic: this.topic } },
              { term: { window_kind: 'tumbling' } },
              { range: { window_start: { gte: new Date(fromWindowMs).toISOString() } } },
            ],
          },
        },
        aggs: {
          cells: {
            composite: {
              size: 1000,
              sources: [
                { w: { terms: { field: 'window_start' } } },
                { r: { terms: { field: 'region' } } },
                { t: { terms: { field: 'event_type' } } },
              ],
              ...(after ? { after } : {}),
            },
            aggs: { events: { sum: { field: 'events' } } },
          },
        },
      });
      const cells = response.aggregations?.cells as
        | {
            buckets: Array<{ key: { w: number; r: string; t: string }; events: { value: number } }>;
            after_key?: Record<string, string | number>;
          }
        | undefined;
      for (const bucket of cells?.buckets ?? []) {
        const region = this.regions.indexOf(bucket.key.r);
        const type = (EVENT_TYPES as readonly string[]).indexOf(bucket.key.t);
        if (region < 0 || type < 0) continue;
        out.set(cellKey(Number(bucket.key.w), region, type), bucket.events.value);
      }
      if (!cells?.after_key || (cells.buckets.length ?? 0) < 1000) break;
      after = cells.after_key;
    }
    return out;
  }
}

/** Cell counts from documents in memory (the embedded target's store). */
export class DocumentCellCounts implements CellCountSource {
  constructor(
    private readonly documents: () => Iterable<{
      topic: string;
      window_kind: string;
      window_start: string;
      region: string;
      event_type: string;
      events: number;
    }>,
    private readonly topic: string,
    private readonly regions: readonly string[],
  ) {}

  async counts(fromWindowMs: number): Promise<CellCounts> {
    const out: CellCounts = new Map();
    for (const doc of this.documents()) {
      if (doc.topic !== this.topic || doc.window_kind !== 'tumbling') continue;
      const start = Date.parse(doc.window_start);
      if (start < fromWindowMs) continue;
      const region = this.regions.indexOf(doc.region);
      const type = (EVENT_TYPES as readonly string[]).indexOf(doc.event_type);
      if (region < 0 || type < 0) continue;
      const key = cellKey(start, region, type);
      out.set(key, (out.get(key) ?? 0) + doc.events);
    }
    return out;
  }
}
