/**
 * The aggregation state of one partition: windows, watermark, dedupe, lateness, and what must be
 * written to Elasticsearch. Pure and synchronous — no I/O, no wall clock — so its behaviour is a
 * function of the records it is given, which is what makes the exactly-once effect possible:
 *
 * - Every document's content is a function of the partition's records up to some offset. Each flush
 *   writes the changed documents with an external version derived from the partition position, so
 *   Elasticsearch keeps the newest and ignores stale writes (a restarted or zombie consumer).
 * - A checkpoint (written after the documents it covers are acknowledged) names the offset to re-read
 *   from on restore (`replayFrom`: the first record of any window still remembered) and the max event
 *   time just before it. Restoring re-executes the records from there — deterministically — with
 *   side effects (late and dead-letter records, counters, writes) suppressed up to the checkpoint's
 *   position. Windows that were forgotten before the checkpoint are rebuilt partially at most and
 *   never written; windows still remembered are rebuilt completely.
 * - Idle partitions can have their watermark raised from outside (`advanceWatermark`); such "floors"
 *   are recorded in the checkpoint at the offset they happened, so a replay applies them in the same
 *   place.
 */
import { FingerprintSet } from './fingerprint-set.js';
import { type AggregateDoc, aggregateDocId, type DecodedEvent, type DecodeResult } from './types.js';
import {
  assignWindows,
  floorTo,
  paneMs,
  paneRetainedUntil,
  type WindowingOptions,
  windowingHash,
} from './windows.js';

export const CHECKPOINT_FORMAT = 'gapipe-partition-state/1';

export interface PartitionCounters {
  /** Records applied (all kinds). */
  records: number;
  accepted: number;
  duplicates: number;
  /** Late for at least one window and remembered: counted on documents. */
  late: number;
  /** Later than the late retention: not on any document, only on the late topic. */
  expired: number;
  deadLettered: number;
}

export interface WatermarkFloor {
  /** Applied right after this offset. */
  afterOffset: number;
  maxTsMs: number;
}

export interface PartitionCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  topic: string;
  partition: number;
  /** windowingHash of the settings the state was built with. */
  windowing: string;
  /** Last offset applied, −1 when none. */
  position: number;
  /** Sub-version at `position` (watermark floors applied there). */
  floorSeq: number;
  /** Effective max event time (records and floors), null before any. */
  maxTsMs: number | null;
  /** First offset to re-read on restore. */
  replayFrom: number;
  /** Effective max event time just before `replayFrom`. */
  replayMaxTsMs: number | null;
  floors: WatermarkFloor[];
  counters: PartitionCounters;
  updated_at: string;
}

export type Outcome =
  /** Before the replay point or already applied: ignored. */
  | { kind: 'skipped' }
  | { kind: 'accepted'; replay: boolean }
  | { kind: 'duplicate'; replay: boolean }
  /** Late for `windows` of its windows (and accepted into the others, for hopping windows). */
  | { kind: 'late'; replay: boolean; windows: number; windowStart: number }
  | { kind: 'expired'; replay: boolean; windowStart: number }
  | { kind: 'malformed'; replay: boolean };

export interface FlushBatch {
  partition: number;
  /** External version for every write of this batch. */
  version: number;
  position: number;
  upserts: Array<{ id: string; doc: AggregateDoc }>;
  deletes: string[];
  checkpoint: PartitionCheckpoint;
  /** Internal: which changes this batch covers. */
  readonly seq: number;
  readonly cells: readonly Cell[];
}

interface Cell {
  windowStart: number;
  windowEnd: number;
  region: string;
  eventType: string;
  playerId: string | undefined;
  events: number;
  players: FingerprintSet | null;
  uniquePlayers: number;
  revenueCents: number;
  late: number;
  lateRevenueCents: number;
  duplicates: number;
  final: boolean;
  lastOffset: number;
  runId: string | undefined;
  changeSeq: number;
  /** Session windows: the session the cell belongs to. */
  session: Session | undefined;
}

interface Pane {
  start: number;
  ids: FingerprintSet;
  firstOffset: number;
  maxTsBefore: number;
  retainedUntil: number;
}

interface Window {
  start: number;
  end: number;
  closed: boolean;
  firstOffset: number;
  maxTsBefore: number;
  cells: Map<string, Cell>;
  /** The same cells by region, then event type: no key string to build per event. */
  byRegion: Map<string, Map<string, Cell>>;
}

interface Session {
  playerId: string;
  start: number;
  lastTs: number;
  closed: boolean;
  firstOffset: number;
  maxTsBefore: number;
  cells: Map<string, Cell>;
  /** Document ids this session has in Elasticsearch (they change when its start moves). */
  written: Set<string>;
}

const NONE = Number.NEGATIVE_INFINITY;

// The outcomes without details, shared: most records end in one of them, and none is ever changed.
const SKIPPED: Outcome = Object.freeze({ kind: 'skipped' });
const ACCEPTED: Outcome = Object.freeze({ kind: 'accepted', replay: false });
const ACCEPTED_REPLAY: Outcome = Object.freeze({ kind: 'accepted', replay: true });
const DUPLICATE: Outcome = Object.freeze({ kind: 'duplicate', replay: false });
const DUPLICATE_REPLAY: Outcome = Object.freeze({ kind: 'duplicate', replay: true });
const MALFORMED: Outcome = Object.freeze({ kind: 'malformed', replay: false });
const MALFORMED_REPLAY: Outcome = Object.freeze({ kind: 'malformed', replay: true });
const acceptedOf = (replay: boolean): Outcome => (replay ? ACCEPTED_REPLAY : ACCEPTED);
const duplicateOf = (replay: boolean): Outcome => (replay ? DUPLICATE_REPLAY : DUPLICATE);
/** Sessions are closed and forgotten in event-time steps of this size (cheap, and deterministic). */
const SESSION_SCAN_STEP_MS = 1000;
const MAX_FLOORS_PER_OFFSET = 15;
const VERSION_STRIDE = MAX_FLOORS_PER_OFFSET + 1;

export class PartitionAggregator {
  private maxTs = NONE;
  private positionValue = -1;
  private floorSeq = 0;
  private readonly replayThrough: number;
  private readonly replayFromOffset: number;
  private floors: WatermarkFloor[];
  private readonly counters: PartitionCounters;

  private readonly panes = new Map<number, Pane>();
  private nextPaneForget = Number.POSITIVE_INFINITY;
  private readonly windows = new Map<number, Window>();
  private nextWindowClose = Number.POSITIVE_INFINITY;
  private nextWindowForget = Number.POSITIVE_INFINITY;
  private readonly sessions = new Map<string, Session[]>();
  private sessionCount = 0;

  private readonly dirty = new Set<Cell>();
  private readonly pendingDeletes = new Map<string, number>();
  private seq = 0;
  private readonly windowStarts: number[] = [];
  private readonly hash: string;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly options: WindowingOptions,
    restore?: PartitionCheckpoint,
  ) {
    this.hash = windowingHash(options);
    if (restore) {
      this.replayThrough = restore.position;
      this.replayFromOffset = restore.replayFrom;
      this.floors = restore.floors.filter((f) => f.afterOffset >= restore.replayFrom);
      this.counters = { ...restore.counters };
      this.restoredFloorSeq = restore.floorSeq;
      this.restoredMaxTs = restore.maxTsMs ?? NONE;
      if (restore.replayFrom > restore.position) {
        // Nothing is remembered: continue right after the checkpoint.
        this.maxTs = restore.maxTsMs ?? NONE;
        this.positionValue = restore.position;
        this.floorSeq = restore.floorSeq;
        this.replayPending = false;
      } else {
        this.maxTs = restore.replayMaxTsMs ?? NONE;
        this.positionValue = restore.replayFrom - 1;
        this.replayPending = true;
      }
    } else {
      this.replayThrough = -1;
      this.replayFromOffset = 0;
      this.floors = [];
      this.counters = { records: 0, accepted: 0, duplicates: 0, late: 0, expired: 0, deadLettered: 0 };
    }
  }

  private restoredFloorSeq = 0;
  private restoredMaxTs = NONE;
  private replayPending = false;

  /** The windowing settings hash a checkpoint must match to be restored. */
  get windowingHash(): string {
    return this.hash;
  }

  /** Last offset applied, −1 before any. */
  get position(): number {
    return this.positionValue;
  }

  /** The first offset this aggregator needs to see. */
  get startOffset(): number {
    return Math.max(this.replayFromOffset, this.positionValue + 1);
  }

  /** True while re-reading records a previous owner already applied. */
  get replaying(): boolean {
    return this.replayPending;
  }

  get watermarkMs(): number | undefined {
    return this.maxTs === NONE ? undefined : this.maxTs - this.options.allowedLatenessMs;
  }

  get openWindows(): number {
    if (this.options.kind === 'session') return this.sessionCount;
    let open = 0;
    for (const w of this.windows.values()) if (!w.closed) open++;
    return open;
  }

  get openCells(): number {
    let cells = 0;
    if (this.options.kind === 'session') {
      for (const list of this.sessions.values()) for (const s of list) cells += s.cells.size;
    } else {
      for (const w of this.windows.values()) cells += w.cells.size;
    }
    return cells;
  }

  get stats(): Readonly<PartitionCounters> {
    return this.counters;
  }

  /** Changes waiting for a flush. */
  get pendingChanges(): number {
    return this.dirty.size + this.pendingDeletes.size;
  }

  /** Applies the record at `offset`. Offsets must come in increasing order. */
  apply(offset: number, decoded: DecodeResult, runId?: string): Outcome {
    if (offset < this.startOffset) return SKIPPED;
    // Offsets can jump (compaction, transaction markers): the replay may end without its last offset.
    if (this.replayPending && offset > this.replayThrough) this.finishReplay();
    const replay = this.replayPending;
    let outcome: Outcome;
    if (!decoded.ok) {
      outcome = replay ? MALFORMED_REPLAY : MALFORMED;
      if (!replay) this.counters.deadLettered++;
    } else {
      outcome = this.applyEvent(offset, decoded.event, runId, replay);
    }
    this.positionValue = offset;
    this.floorSeq = 0;
    if (!replay) this.counters.records++;
    // Floors recorded by a previous owner take effect where they did.
    if (replay && this.floors.length > 0) {
      for (const floor of this.floors) {
        if (floor.afterOffset === offset && floor.maxTsMs > this.maxTs)
          this.raiseMaxTs(floor.maxTsMs, offset);
      }
    }
    if (this.replayPending && offset === this.replayThrough) this.finishReplay();
    return outcome;
  }

  /**
   * Raises the watermark of an idle partition to `watermarkMs` (the consumer's watermark), closing its
   * windows. Returns false when it would not change anything.
   */
  advanceWatermark(watermarkMs: number): boolean {
    if (this.replaying) return false;
    const maxTs = watermarkMs + this.options.allowedLatenessMs;
    if (!(maxTs > this.maxTs) || this.floorSeq >= MAX_FLOORS_PER_OFFSET) return false;
    this.floorSeq++;
    this.floors.push({ afterOffset: this.positionValue, maxTsMs: maxTs });
    this.raiseMaxTs(maxTs, this.positionValue);
    return true;
  }

  /** The changes since the last acknowledged flush, as documents with their version. */
  collect(nowIso: string): FlushBatch {
    const version = (this.positionValue + 1) * VERSION_STRIDE + this.floorSeq;
    const upserts: FlushBatch['upserts'] = [];
    const cells = [...this.dirty];
    for (const cell of cells) {
      const doc = this.toDoc(cell, nowIso);
      upserts.push({ id: aggregateDocId(doc), doc });
    }
    return {
      partition: this.partition,
      version,
      position: this.positionValue,
      upserts,
      deletes: [...this.pendingDeletes.keys()],
      checkpoint: this.checkpoint(nowIso),
      seq: this.seq,
      cells,
    };
  }

  /** Marks what `batch` wrote as written; changes made since it was collected stay pending. */
  acknowledge(batch: FlushBatch): void {
    batch.cells.forEach((cell, i) => {
      if (cell.changeSeq <= batch.seq) this.dirty.delete(cell);
      const session = cell.session;
      if (!session) return;
      const id = batch.upserts[i]?.id as string;
      // A session re-keyed since the batch was collected: the id just written is already stale.
      if (id === this.cellId(cell)) session.written.add(id);
      else this.pendingDeletes.set(id, ++this.seq);
    });
    for (const id of batch.deletes) {
      const seq = this.pendingDeletes.get(id);
      if (seq !== undefined && seq <= batch.seq) this.pendingDeletes.delete(id);
    }
  }

  checkpoint(nowIso: string): PartitionCheckpoint {
    const { offset, maxTsBefore } = this.replayPoint();
    const floors = this.floors.filter((f) => f.afterOffset >= offset - 1);
    this.floors = floors;
    return {
      format: CHECKPOINT_FORMAT,
      topic: this.topic,
      partition: this.partition,
      windowing: this.hash,
      position: this.positionValue,
      floorSeq: this.floorSeq,
      maxTsMs: this.maxTs === NONE ? null : this.maxTs,
      replayFrom: offset,
      replayMaxTsMs: maxTsBefore === NONE ? null : maxTsBefore,
      floors: floors.map((f) => ({ ...f })),
      counters: { ...this.counters },
      updated_at: nowIso,
    };
  }

  // ——— internals ———

  private replayPoint(): { offset: number; maxTsBefore: number } {
    let offset = this.positionValue + 1;
    let maxTsBefore = this.maxTs;
    const consider = (first: number, before: number) => {
      if (first < offset) {
        offset = first;
        maxTsBefore = before;
      }
    };
    for (const p of this.panes.values()) consider(p.firstOffset, p.maxTsBefore);
    for (const w of this.windows.values()) consider(w.firstOffset, w.maxTsBefore);
    for (const list of this.sessions.values()) for (const s of list) consider(s.firstOffset, s.maxTsBefore);
    return { offset, maxTsBefore };
  }

  private finishReplay(): void {
    this.replayPending = false;
    // Normally reached already; not when the last replayed offsets are gone (compaction).
    if (this.restoredMaxTs > this.maxTs) this.raiseMaxTs(this.restoredMaxTs, this.positionValue);
    // Elasticsearch already holds every document as of the checkpoint: nothing rebuilt is dirty.
    this.dirty.clear();
    this.pendingDeletes.clear();
    for (const list of this.sessions.values()) {
      for (const session of list) {
        session.written.clear();
        for (const cell of session.cells.values()) session.written.add(this.cellId(cell));
      }
    }
    this.floorSeq = this.restoredFloorSeq;
  }

  private applyEvent(
    offset: number,
    event: DecodedEvent,
    runId: string | undefined,
    replay: boolean,
  ): Outcome {
    const watermark = this.maxTs - this.options.allowedLatenessMs;
    const ts = event.tsMs;
    const paneStart = floorTo(ts, paneMs(this.options));
    let outcome: Outcome;
    if (paneRetainedUntil(paneStart, this.options) <= watermark) {
      if (!replay) this.counters.expired++;
      outcome = { kind: 'expired', replay, windowStart: this.windowStartFor(ts) };
    } else {
      let pane = this.panes.get(paneStart);
      if (!pane) {
        pane = {
          start: paneStart,
          ids: new FingerprintSet(),
          firstOffset: offset,
          maxTsBefore: this.maxTs,
          retainedUntil: paneRetainedUntil(paneStart, this.options),
        };
        this.panes.set(paneStart, pane);
        if (pane.retainedUntil < this.nextPaneForget) this.nextPaneForget = pane.retainedUntil;
      }
      const duplicate = !pane.ids.add(event.eventHi, event.eventLo);
      outcome =
        this.options.kind === 'session'
          ? this.applySession(offset, event, runId, replay, duplicate, watermark)
          : this.applyWindows(offset, event, runId, replay, duplicate, watermark);
      if (!replay) {
        if (outcome.kind === 'accepted') this.counters.accepted++;
        else if (outcome.kind === 'duplicate') this.counters.duplicates++;
        else if (outcome.kind === 'late') this.counters.late++;
        else if (outcome.kind === 'expired') this.counters.expired++;
      }
    }
    if (ts > this.maxTs) this.raiseMaxTs(ts, offset);
    return outcome;
  }

  private windowStartFor(ts: number): number {
    if (this.options.kind === 'session') return ts;
    return floorTo(ts, this.options.kind === 'hopping' ? this.options.hopMs : this.options.sizeMs);
  }

  private applyWindows(
    offset: number,
    event: DecodedEvent,
    runId: string | undefined,
    replay: boolean,
    duplicate: boolean,
    watermark: number,
  ): Outcome {
    const starts = assignWindows(event.tsMs, this.options, this.windowStarts);
    let late = 0;
    let accepted = 0;
    let lateStart = Number.NaN;
    for (const start of starts) {
      const end = start + this.options.sizeMs;
      if (end + this.options.lateRetentionMs <= watermark) continue; // forgotten
      let window = this.windows.get(start);
      if (!window) {
        window = {
          start,
          end,
          closed: end <= watermark,
          firstOffset: offset,
          maxTsBefore: this.maxTs,
          cells: new Map(),
          byRegion: new Map(),
        };
        this.windows.set(start, window);
        if (!window.closed && end < this.nextWindowClose) this.nextWindowClose = end;
        const forget = end + this.options.lateRetentionMs;
        if (forget < this.nextWindowForget) this.nextWindowForget = forget;
      }
      let byType = window.byRegion.get(event.region);
      if (!byType) {
        byType = new Map();
        window.byRegion.set(event.region, byType);
      }
      let cell = byType.get(event.eventType);
      if (!cell) {
        cell = this.newCell(start, end, event.region, event.eventType, undefined, runId, window.closed);
        byType.set(event.eventType, cell);
        window.cells.set(`${event.region}\u0000${event.eventType}`, cell);
      }
      if (duplicate) cell.duplicates++;
      else if (window.closed) {
        cell.late++;
        cell.lateRevenueCents += event.priceCents;
        late++;
        if (Number.isNaN(lateStart)) lateStart = start;
      } else {
        cell.events++;
        cell.players?.add(event.playerHi, event.playerLo);
        cell.revenueCents += event.priceCents;
        accepted++;
      }
      this.touch(cell, offset);
    }
    if (duplicate) return duplicateOf(replay);
    if (late > 0) return { kind: 'late', replay, windows: late, windowStart: lateStart };
    if (accepted === 0) return { kind: 'expired', replay, windowStart: starts[0] ?? event.tsMs };
    return acceptedOf(replay);
  }

  private applySession(
    offset: number,
    event: DecodedEvent,
    runId: string | undefined,
    replay: boolean,
    duplicate: boolean,
    watermark: number,
  ): Outcome {
    const gap = this.options.sessionGapMs;
    const ts = event.tsMs;
    let list = this.sessions.get(event.playerId);
    if (!list) {
      list = [];
      this.sessions.set(event.playerId, list);
    }
    // Sessions this event touches: within `gap` of their span.
    const touching: Session[] = [];
    for (const s of list) {
      if (s.lastTs + gap <= watermark) s.closed = true;
      if (ts >= s.start - gap && ts < s.lastTs + gap) touching.push(s);
    }
    const open = touching.filter((s) => !s.closed);
    const key = `${event.region}\u0000${event.eventType}`;
    if (open.length === 0 && ts + gap <= watermark) {
      // Late: counted on a remembered closed session it belongs to, else on a closed one of its own.
      let session = touching[0];
      if (!session) {
        if (ts + gap + this.options.lateRetentionMs <= watermark) {
          return { kind: 'expired', replay, windowStart: ts };
        }
        session = this.newSession(event.playerId, ts, offset, true);
        list.push(session);
      }
      const cell = this.sessionCell(session, key, event, runId);
      if (duplicate) cell.duplicates++;
      else {
        cell.late++;
        cell.lateRevenueCents += event.priceCents;
      }
      this.touch(cell, offset);
      return duplicate
        ? duplicateOf(replay)
        : { kind: 'late', replay, windows: 1, windowStart: session.start };
    }
    let session: Session;
    const merged = open.length > 1;
    if (open.length === 0) {
      session = this.newSession(event.playerId, ts, offset, false);
      list.push(session);
    } else {
      session = open[0] as Session;
      const oldStart = session.start;
      for (const other of open.slice(1)) this.mergeSession(session, other, list);
      if (ts < session.start) session.start = ts;
      if (ts > session.lastTs) session.lastTs = ts;
      if (session.start !== oldStart) this.rekeySession(session);
    }
    const cell = this.sessionCell(session, key, event, runId);
    if (duplicate) cell.duplicates++;
    else {
      cell.events++;
      cell.uniquePlayers = 1;
      cell.revenueCents += event.priceCents;
    }
    const end = session.lastTs + gap;
    for (const c of session.cells.values()) {
      if (c.windowEnd !== end || c.windowStart !== session.start || merged) {
        c.windowStart = session.start;
        c.windowEnd = end;
        this.touch(c, offset);
      }
    }
    this.touch(cell, offset);
    return duplicate ? duplicateOf(replay) : acceptedOf(replay);
  }

  private newSession(playerId: string, ts: number, offset: number, closed: boolean): Session {
    this.sessionCount++;
    return {
      playerId,
      start: ts,
      lastTs: ts,
      closed,
      firstOffset: offset,
      maxTsBefore: this.maxTs,
      cells: new Map(),
      written: new Set(),
    };
  }

  private sessionCell(session: Session, key: string, event: DecodedEvent, runId: string | undefined): Cell {
    let cell = session.cells.get(key);
    if (!cell) {
      cell = this.newCell(
        session.start,
        session.lastTs + this.options.sessionGapMs,
        event.region,
        event.eventType,
        session.playerId,
        runId,
        session.closed,
      );
      cell.session = session;
      session.cells.set(key, cell);
    }
    return cell;
  }

  /** Folds `other` into `into` (both open sessions of one player that an event now connects). */
  private mergeSession(into: Session, other: Session, list: Session[]): void {
    into.start = Math.min(into.start, other.start);
    into.lastTs = Math.max(into.lastTs, other.lastTs);
    if (other.firstOffset < into.firstOffset) {
      into.firstOffset = other.firstOffset;
      into.maxTsBefore = other.maxTsBefore;
    }
    for (const id of other.written) this.pendingDeletes.set(id, ++this.seq);
    for (const [key, cell] of other.cells) {
      this.dirty.delete(cell);
      const target = into.cells.get(key);
      if (!target) {
        cell.session = into;
        into.cells.set(key, cell);
        continue;
      }
      target.events += cell.events;
      target.uniquePlayers = Math.max(target.uniquePlayers, cell.uniquePlayers);
      target.revenueCents += cell.revenueCents;
      target.late += cell.late;
      target.lateRevenueCents += cell.lateRevenueCents;
      target.duplicates += cell.duplicates;
      target.lastOffset = Math.max(target.lastOffset, cell.lastOffset);
      target.runId ??= cell.runId;
    }
    list.splice(list.indexOf(other), 1);
    this.sessionCount--;
  }

  /** The session's start moved: its documents get new ids, the old ones are deleted. */
  private rekeySession(session: Session): void {
    for (const id of session.written) this.pendingDeletes.set(id, ++this.seq);
    session.written.clear();
  }

  private newCell(
    start: number,
    end: number,
    region: string,
    eventType: string,
    playerId: string | undefined,
    runId: string | undefined,
    closed: boolean,
  ): Cell {
    return {
      windowStart: start,
      windowEnd: end,
      region,
      eventType,
      playerId,
      events: 0,
      players: closed || playerId !== undefined ? null : new FingerprintSet(),
      uniquePlayers: 0,
      revenueCents: 0,
      late: 0,
      lateRevenueCents: 0,
      duplicates: 0,
      final: closed,
      lastOffset: -1,
      runId,
      changeSeq: 0,
      session: undefined,
    };
  }

  private touch(cell: Cell, offset: number): void {
    cell.lastOffset = offset;
    cell.changeSeq = ++this.seq;
    this.dirty.add(cell);
  }

  /** Max event time rises (a record or a floor), so the watermark moves: close and forget what it passed. */
  private raiseMaxTs(maxTs: number, offset: number): void {
    const previous = this.maxTs - this.options.allowedLatenessMs;
    this.maxTs = maxTs;
    const watermark = maxTs - this.options.allowedLatenessMs;
    if (watermark >= this.nextWindowClose || watermark >= this.nextWindowForget) this.sweepWindows(watermark);
    if (watermark >= this.nextPaneForget) {
      let next = Number.POSITIVE_INFINITY;
      for (const [start, pane] of this.panes) {
        if (pane.retainedUntil <= watermark) this.panes.delete(start);
        else if (pane.retainedUntil < next) next = pane.retainedUntil;
      }
      this.nextPaneForget = next;
    }
    // Decided by this step alone, not by when the last sweep ran (state a restore does not have), so
    // a replay sweeps at exactly the offsets the first run did.
    if (
      this.options.kind === 'session' &&
      floorTo(watermark, SESSION_SCAN_STEP_MS) > floorTo(previous, SESSION_SCAN_STEP_MS)
    ) {
      this.sweepSessions(watermark, offset);
    }
  }

  private sweepWindows(watermark: number): void {
    let nextClose = Number.POSITIVE_INFINITY;
    let nextForget = Number.POSITIVE_INFINITY;
    for (const [start, window] of this.windows) {
      // Close before forgetting: one watermark step can pass both the end and the late retention (an
      // event or an idle floor far ahead, or no retention at all), and the window must still be
      // written final. Its cells stay pending until a flush takes them, remembered or not.
      if (!window.closed && window.end <= watermark) {
        window.closed = true;
        for (const cell of window.cells.values()) this.finalize(cell);
      }
      if (window.end + this.options.lateRetentionMs <= watermark) {
        this.windows.delete(start);
        continue;
      }
      if (!window.closed && window.end < nextClose) nextClose = window.end;
      const forget = window.end + this.options.lateRetentionMs;
      if (forget < nextForget) nextForget = forget;
    }
    this.nextWindowClose = nextClose;
    this.nextWindowForget = nextForget;
  }

  private sweepSessions(watermark: number, _offset: number): void {
    const gap = this.options.sessionGapMs;
    for (const [player, list] of this.sessions) {
      for (let i = list.length - 1; i >= 0; i--) {
        const session = list[i] as Session;
        const end = session.lastTs + gap;
        // As for windows: finalized first, even when this step also forgets it.
        if (!session.closed && end <= watermark) session.closed = true;
        if (session.closed) for (const cell of session.cells.values()) if (!cell.final) this.finalize(cell);
        if (end + this.options.lateRetentionMs <= watermark) {
          list.splice(i, 1);
          this.sessionCount--;
        }
      }
      if (list.length === 0) this.sessions.delete(player);
    }
  }

  private finalize(cell: Cell): void {
    if (cell.players) {
      cell.uniquePlayers = cell.players.size;
      cell.players = null;
    }
    cell.final = true;
    cell.changeSeq = ++this.seq;
    this.dirty.add(cell);
  }

  private cellId(cell: Cell): string {
    return aggregateDocId({
      topic: this.topic,
      partition: this.partition,
      window_kind: this.options.kind,
      window_start: new Date(cell.windowStart).toISOString(),
      region: cell.region,
      event_type: cell.eventType,
      player_id: cell.playerId,
    });
  }

  private toDoc(cell: Cell, nowIso: string): AggregateDoc {
    const doc: AggregateDoc = {
      window_start: new Date(cell.windowStart).toISOString(),
      window_end: new Date(cell.windowEnd).toISOString(),
      window_kind: this.options.kind,
      region: cell.region,
      event_type: cell.eventType,
      partition: this.partition,
      topic: this.topic,
      events: cell.events,
      unique_players: cell.players ? cell.players.size : cell.uniquePlayers,
      revenue_usd: cell.revenueCents / 100,
      revenue_cents: cell.revenueCents,
      late_events: cell.late,
      late_revenue_cents: cell.lateRevenueCents,
      duplicates: cell.duplicates,
      final: cell.final,
      last_offset: cell.lastOffset,
      updated_at: nowIso,
    };
    if (cell.playerId !== undefined) doc.player_id = cell.playerId;
    if (cell.runId !== undefined) doc.run_id = cell.runId;
    return doc;
  }
}
