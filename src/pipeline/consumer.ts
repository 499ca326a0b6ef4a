/**
 * The aggregation consumer: a consumer-group member that feeds each owned partition's records to its
 * PartitionAggregator, sends late and malformed records to their topics, and flushes changed
 * documents to the store every flush interval.
 *
 * Order of a flush — what makes a crash at any moment harmless:
 *   1. late and dead-letter records handed over so far are acknowledged by Kafka;
 *   2. the changed documents (and raw events) are written, versioned by partition position;
 *   3. each partition's checkpoint is written;
 *   4. the replay point of each partition is committed to Kafka.
 * A crash before 3 replays from the previous checkpoint and rewrites the same documents; Kafka
 * offsets never get ahead of what Elasticsearch holds. Commits run in the background, one at a time:
 * they only report progress (a restart starts from the checkpoint), so a slow broker never holds up
 * the next flush.
 *
 * Backpressure: while the store fails, side outputs are unacknowledged, or unflushed records exceed a
 * bound, fetching is paused and flushes are retried with backoff; nothing is committed until they
 * succeed.
 *
 * Kafka outages: the client reconnects by itself and side outputs are retried, for up to
 * `kafkaTimeoutMs` without an answer from Kafka; then the consumer fails with KAFKA_UNREACHABLE so a
 * supervisor can restart it. stop() is bounded by `stopTimeoutMs` whatever is down.
 */
import { type Clock, systemClock } from '../clock.js';
import { GapipeError, toGapipeError } from '../errors.js';
import type { Logger } from '../log.js';
import {
  type FlushBatch,
  type Outcome,
  PartitionAggregator,
  type PartitionCheckpoint,
} from './aggregator.js';
import { decodeEvent } from './decode.js';
import { SideOutputQueue, SideOutputsPendingError } from './side-outputs.js';
import { type AggregateStore, type RawEvent, RetryableStoreError, type WriteStats } from './store.js';
import {
  type BatchControl,
  type BatchResult,
  type ConsumerTransport,
  headerText,
  type OutgoingRecord,
  recordHeader,
  recordHeaderNumber,
  type TransportBatch,
  type TransportRecord,
} from './transport.js';
import type { ConsumeSnapshot, DecodeResult, PartitionSnapshot } from './types.js';
import { type WindowingOptions, windowingHash } from './windows.js';

export interface ConsumerOptions {
  topic: string;
  group: string;
  windowing: WindowingOptions;
  flushIntervalMs: number;
  /** A caught-up partition without records for this long stops holding the watermark back. */
  idleTimeoutMs: number;
  lateTopic: string;
  deadLetterTopic: string;
  indexRaw: boolean;
  /** Records applied but not yet flushed before fetching pauses. */
  maxUnflushedRecords: number;
  /** Longest wait between two flush attempts while the store fails. */
  maxBackoffMs: number;
  /**
   * How long Kafka may go without answering (no heartbeat, fetch or commit; late/dead-letter records
   * unacknowledged) before the consumer gives up with KAFKA_UNREACHABLE. Default 3 minutes.
   */
  kafkaTimeoutMs?: number;
  /** How long stop() keeps trying to flush before it gives up (a restart replays the rest). Default 3 s. */
  stopTimeoutMs?: number;
}

/** Seeks back for missing records before the partition is declared unreadable. */
const MAX_SEEKS = 50;

export const CONSUMER_DEFAULTS = {
  flushIntervalMs: 1000,
  idleTimeoutMs: 30_000,
  maxUnflushedRecords: 500_000,
  maxBackoffMs: 5000,
  // Longer than a broker restart or a couple of minutes of outage; Kafka's producer gives a record 2m.
  kafkaTimeoutMs: 180_000,
  stopTimeoutMs: 3000,
};

/** How often the consumer checks on Kafka. */
const WATCH_INTERVAL_MS = 1000;
/**
 * Silence after which Kafka counts as unreachable for the progress view and --exit-idle: a healthy
 * client heartbeats every few seconds, and fetches wait at most 5 s.
 */
const SILENCE_MS = 15_000;
/** Longest wait of a running flush for side outputs before it is retried (and fetching paused). */
const SIDE_OUTPUT_WAIT_MS = 5000;

/** What the consumer measures per record, for `gapipe bench`. */
export interface ConsumerObserver {
  /** A record (not a replayed one) was received; `intendedMs` from its header when present. */
  delivered?(intendedMs: number | undefined, nowMs: number): void;
  /** The documents covering these records were acknowledged by the store. */
  stored?(intendedMs: Float64Array, count: number, nowMs: number): void;
  /** The documents covering these records became searchable. */
  visible?(intendedMs: Float64Array, count: number, nowMs: number): void;
}

export interface ConsumerDeps {
  transport: ConsumerTransport;
  store: AggregateStore;
  clock?: Clock;
  logger?: Logger;
  observer?: ConsumerObserver;
}

interface PartitionState {
  aggregator: PartitionAggregator;
  highWatermark: number;
  committed: number;
  lastRecordAtMs: number;
  /** Position at the last successful flush. */
  flushedPosition: number;
  /** Consecutive seeks back for missing records. */
  seeks: number;
}

export class AggregationConsumer {
  private readonly clock: Clock;
  private readonly partitions = new Map<number, PartitionState>();
  private readonly restoring = new Map<number, Promise<PartitionState>>();
  private readonly kafkaTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private assigned: number[] = [];
  private paused = false;
  private running = false;
  private started = false;
  private stopping = false;
  private fatal: Error | undefined;
  private readonly startedAtMs: number;
  private flushTimer: Promise<void> | undefined;
  private watchTimer: Promise<void> | undefined;
  private readonly wakers = new Set<() => void>();
  private flushing: Promise<void> | undefined;
  private committing: Promise<void> | undefined;
  private readonly commitQueue = new Map<number, number>();
  /** What the consumer knows about Kafka's health. */
  private readonly kafka = {
    /** The transport reports contact (onContact), so silence means something. */
    watched: false,
    lastContactMs: 0,
    /** The last failure since the last contact. */
    lastError: undefined as string | undefined,
    /** The problem last reported to the user, to report changes once. */
    reported: undefined as string | undefined,
  };
  private unflushedRecords = 0;
  private failingSinceMs: number | undefined;
  private sinkError: string | undefined;
  private raw: RawEvent[] = [];
  private readonly sideOutputs: SideOutputQueue;
  /** Intended send times of records applied since the last flush (for the sink latency). */
  private pendingIntended = new Float64Array(1024);
  private pendingIntendedCount = 0;
  private totals = {
    consumed: 0,
    accepted: 0,
    duplicates: 0,
    late: 0,
    deadLettered: 0,
    written: 0,
    rawWritten: 0,
    replayed: 0,
    flushes: 0,
    failedFlushes: 0,
  };
  private rate = { atMs: 0, consumed: 0, written: 0, consumedPerSec: 0, writtenPerSec: 0 };
  private resolveDone!: () => void;
  private rejectDone!: (error: Error) => void;
  /** Settles when the consumer has stopped: resolves after stop(), rejects on a fatal error. */
  readonly done: Promise<void>;

  constructor(
    private readonly options: ConsumerOptions,
    private readonly deps: ConsumerDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.kafkaTimeoutMs = options.kafkaTimeoutMs ?? CONSUMER_DEFAULTS.kafkaTimeoutMs;
    this.stopTimeoutMs = options.stopTimeoutMs ?? CONSUMER_DEFAULTS.stopTimeoutMs;
    this.startedAtMs = this.clock.now();
    this.rate.atMs = this.startedAtMs;
    this.kafka.lastContactMs = this.startedAtMs;
    this.sideOutputs = new SideOutputQueue({
      produce: (topic, records) => deps.transport.produce(topic, records),
      clock: this.clock,
      maxBackoffMs: options.maxBackoffMs,
      onFailure: (error) => this.noteKafkaError(error),
      onAcknowledged: () => this.noteKafkaContact(),
    });
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => {});
  }

  async start(): Promise<void> {
    await this.deps.store.prepare();
    if (this.stopping) return;
    this.running = true;
    await this.deps.transport.start({
      onAssignment: (partitions) => this.onAssignment(partitions),
      onRebalancing: () => {
        this.deps.logger?.debug('rebalancing');
      },
      onBatch: (batch, control) => this.onBatch(batch, control),
      onFatal: (error) => this.fail(error),
      onContact: () => {
        this.kafka.watched = true;
        this.noteKafkaContact();
      },
      onConnectionError: (error) => this.noteKafkaError(error),
    });
    if (this.stopping) return;
    this.started = true;
    this.kafka.lastContactMs = this.clock.now();
    this.flushTimer = this.flushLoop();
    this.watchTimer = this.watchLoop();
  }

  /**
   * Flushes what was consumed, commits, and leaves the group — within `stopTimeoutMs`. When Kafka or
   * the store is down that long, it gives up and rejects: nothing is lost, the next start replays
   * from the last checkpoint.
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    const deadline = this.clock.now() + this.stopTimeoutMs;
    this.running = false;
    // Fetching stops (batches arriving now are handed back) while the last flush runs, so the flush
    // still has the group membership to commit with and the producer for the side outputs.
    this.deps.transport.pause(this.assigned);
    this.sideOutputs.cancelWaits();
    this.wakeAll();
    await this.flushTimer;
    await this.watchTimer;
    if (this.started && !this.fatal) {
      const failure = await this.finalFlush(deadline);
      if (failure) this.fatal = failure;
      else await this.waitForCommits(deadline);
    }
    this.sideOutputs.close();
    const leaving = this.deps.transport.stop().catch(() => {});
    // Leaving the group takes the coordinator: while Kafka does not answer, do not wait for it (the
    // group drops this member after its session timeout).
    const unreachable =
      this.kafkaDown(this.clock.now()) ||
      (this.fatal as GapipeError | undefined)?.code === 'KAFKA_UNREACHABLE';
    if (!unreachable) await leaving;
    await this.deps.store.close();
    if (this.fatal) this.rejectDone(this.fatal);
    else this.resolveDone();
    return this.done;
  }

  /** The last flush, retried until `deadline`; the error to exit with when it never succeeded. */
  private async finalFlush(deadline: number): Promise<GapipeError | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.flush(Math.max(0, deadline - this.clock.now()));
        return undefined;
      } catch (error) {
        if (!(error instanceof RetryableStoreError)) return toGapipeError(error);
        const left = deadline - this.clock.now();
        if (left <= 0) return this.stopFailure(error);
        await this.clock.sleep(Math.min(250 * 2 ** attempt, this.options.maxBackoffMs, left));
      }
    }
  }

  private stopFailure(error: RetryableStoreError): GapipeError {
    const budget = formatSeconds(this.stopTimeoutMs);
    const replay =
      'Nothing is lost: the next start replays the records since the last checkpoint (at least once to the late and dead-letter topics).';
    if (error instanceof SideOutputsPendingError) {
      return new GapipeError(
        'KAFKA_UNREACHABLE',
        `Stopped without the last flush: Kafka did not acknowledge ${error.records} late/dead-letter records within ${budget}${error.reason === undefined ? '' : `: ${error.reason}`}`,
        { cause: error, nextSteps: `Check that Kafka is up. ${replay}` },
      );
    }
    return new GapipeError(
      'ELASTICSEARCH_UNREACHABLE',
      `Stopped without the last flush: Elasticsearch did not take it within ${budget}: ${error.message}`,
      { cause: error, nextSteps: `Check that Elasticsearch is up. ${replay}` },
    );
  }

  snapshot(): ConsumeSnapshot {
    const now = this.clock.now();
    if (now - this.rate.atMs >= 1000) {
      const seconds = (now - this.rate.atMs) / 1000;
      this.rate.consumedPerSec = (this.totals.consumed - this.rate.consumed) / seconds;
      this.rate.writtenPerSec = (this.totals.written - this.rate.written) / seconds;
      this.rate.atMs = now;
      this.rate.consumed = this.totals.consumed;
      this.rate.written = this.totals.written;
    }
    const kafkaError = this.kafkaProblem(now);
    const partitions: PartitionSnapshot[] = [];
    let openWindows = 0;
    let openCells = 0;
    for (const [partition, state] of [...this.partitions].sort((a, b) => a[0] - b[0])) {
      const position = state.aggregator.position + 1;
      partitions.push({
        partition,
        position,
        highWatermark: state.highWatermark,
        lag: Math.max(0, state.highWatermark - position),
        committed: state.committed,
        watermarkMs: state.aggregator.watermarkMs,
        idle: this.isIdle(state, now),
      });
      openWindows += state.aggregator.openWindows;
      openCells += state.aggregator.openCells;
    }
    return {
      atMs: now,
      elapsedMs: now - this.startedAtMs,
      group: this.options.group,
      topic: this.options.topic,
      ...this.totals,
      consumedPerSec: this.rate.consumedPerSec,
      writtenPerSec: this.rate.writtenPerSec,
      watermarkMs: this.consumerWatermark(now),
      openWindows,
      openCells,
      assigned: [...this.assigned],
      partitions,
      backpressure: this.paused,
      sinkError: this.sinkError,
      ...(kafkaError === undefined ? {} : { kafkaError }),
      rssBytes: process.memoryUsage.rss(),
    };
  }

  // ——— partitions ———

  private onAssignment(partitions: number[]): void {
    this.assigned = partitions;
    for (const partition of [...this.partitions.keys()]) {
      // Revoked: the new owner restores from the last checkpoint; our unflushed changes are replayed there.
      if (!partitions.includes(partition)) this.partitions.delete(partition);
    }
    this.deps.logger?.debug(`assigned partitions [${partitions.join(', ')}] of ${this.options.topic}`);
    if (this.paused || this.stopping) this.deps.transport.pause(partitions);
  }

  private async restore(partition: number, control: BatchControl): Promise<PartitionState> {
    let checkpoint: PartitionCheckpoint | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        checkpoint = await this.deps.store.loadCheckpoint(this.options.topic, partition);
        break;
      } catch (error) {
        if (!(error instanceof RetryableStoreError) || !control.isActive()) throw error;
        this.noteSinkFailure(error);
        await this.clock.sleep(Math.min(250 * 2 ** attempt, this.options.maxBackoffMs));
        await control.heartbeat().catch(() => {});
      }
    }
    const expected = windowingHash(this.options.windowing);
    if (checkpoint && checkpoint.windowing !== expected) {
      throw new GapipeError(
        'INVALID_CONFIG',
        `Partition ${partition} of ${this.options.topic} was aggregated with other window or lateness settings`,
        {
          nextSteps:
            'Run with the settings it was built with, or write to a new --index (documents and state are per index)',
        },
      );
    }
    const aggregator = new PartitionAggregator(
      this.options.topic,
      partition,
      this.options.windowing,
      checkpoint,
    );
    this.deps.logger?.debug(
      checkpoint
        ? `partition ${partition}: restored checkpoint at offset ${checkpoint.position}, replaying from ${checkpoint.replayFrom}`
        : `partition ${partition}: no checkpoint, starting fresh`,
    );
    return {
      aggregator,
      highWatermark: 0,
      committed: checkpoint?.replayFrom ?? 0,
      lastRecordAtMs: this.clock.now(),
      flushedPosition: checkpoint?.position ?? -1,
      seeks: 0,
    };
  }

  private async onBatch(batch: TransportBatch, control: BatchControl): Promise<BatchResult> {
    if (this.fatal || this.stopping) return { seekTo: batch.records[0]?.offset ?? 0 };
    this.noteKafkaContact();
    const { partition } = batch;
    let state = this.partitions.get(partition);
    if (!state) {
      let pending = this.restoring.get(partition);
      if (!pending) {
        pending = this.restore(partition, control);
        this.restoring.set(partition, pending);
      }
      try {
        state = await pending;
      } catch (error) {
        // A store that is away only ends a restore once the partition was revoked or the consumer is
        // stopping: nothing was applied, so whoever reads the partition next restores it.
        if (!(error instanceof RetryableStoreError)) this.fail(error);
        return { seekTo: batch.records[0]?.offset ?? 0 };
      } finally {
        this.restoring.delete(partition);
      }
      // Revoked while restoring: leave the records for whoever owns the partition now.
      if (!this.assigned.includes(partition) && this.assigned.length > 0)
        return { seekTo: batch.records[0]?.offset ?? 0 };
      this.partitions.set(partition, state);
    }
    const aggregator = state.aggregator;
    state.highWatermark = batch.highWatermark;
    const first = batch.records[0];
    // Records between what was applied (or the replay point) and this batch are missing — a restore
    // that needs older records, or a batch fetched before a seek. Never aggregate across a gap: go
    // back for them. A fresh partition (no checkpoint) starts wherever the group starts it.
    const expected = aggregator.startOffset;
    const fresh = aggregator.position < 0 && !aggregator.replaying;
    if (first && !fresh && first.offset > expected) {
      state.seeks++;
      if (state.seeks > MAX_SEEKS) {
        this.fail(
          new GapipeError(
            'KAFKA_RECORDS_GONE',
            `Partition ${partition} of ${this.options.topic}: records ${expected}–${first.offset - 1} are no longer in Kafka (deleted by retention?), and the checkpoint in ${this.deps.store.description} needs them to rebuild its open windows`,
            {
              nextSteps:
                "Start over with a fresh --index (its windows are rebuilt from what Kafka still holds), and keep the topic's retention longer than the allowed lateness plus the longest time the consumer may be stopped",
            },
          ),
        );
        return { seekTo: expected };
      }
      this.deps.logger?.debug(
        `partition ${partition}: batch starts at ${first.offset}, seeking back to ${expected}`,
      );
      return { seekTo: expected };
    }
    if (first && first.offset <= expected) state.seeks = 0;
    const now = this.clock.now();
    const late: OutgoingRecord[] = [];
    const dead: OutgoingRecord[] = [];
    for (const record of batch.records) {
      if (record.offset < aggregator.startOffset) continue;
      const decoded = decodeEvent(record.value);
      const runId = recordHeader(record, 'gapipe-run-id');
      const outcome = aggregator.apply(record.offset, decoded, runId);
      if (outcome.kind === 'skipped') continue;
      if (outcome.replay) {
        this.totals.replayed++;
        continue;
      }
      this.totals.consumed++;
      this.unflushedRecords++;
      const intended = parseIntended(recordHeaderNumber(record, 'gapipe-intended-ts'));
      this.deps.observer?.delivered?.(intended, now);
      if (intended !== undefined) this.notePending(intended);
      this.sideEffects(outcome, decoded, record, partition, late, dead);
    }
    if (batch.records.length > 0) state.lastRecordAtMs = now;
    if (late.length > 0) this.sideOutputs.enqueue(this.options.lateTopic, late);
    if (dead.length > 0) this.sideOutputs.enqueue(this.options.deadLetterTopic, dead);
    if (this.unflushedRecords >= this.options.maxUnflushedRecords) this.setPaused(true);
    return {};
  }

  private sideEffects(
    outcome: Outcome,
    decoded: DecodeResult,
    record: TransportRecord,
    partition: number,
    late: OutgoingRecord[],
    dead: OutgoingRecord[],
  ): void {
    switch (outcome.kind) {
      case 'accepted':
        this.totals.accepted++;
        break;
      case 'duplicate':
        this.totals.duplicates++;
        break;
      case 'late':
      case 'expired':
        this.totals.late++;
        late.push({
          key: record.key,
          value: record.value,
          headers: {
            ...this.forwardedHeaders(record, partition),
            'gapipe-late-reason': outcome.kind === 'late' ? 'window-closed' : 'beyond-late-retention',
            'gapipe-late-window-start': new Date(outcome.windowStart).toISOString(),
          },
        });
        break;
      case 'malformed':
        this.totals.deadLettered++;
        if (!decoded.ok) {
          dead.push({
            key: record.key,
            value: record.value,
            headers: {
              ...this.forwardedHeaders(record, partition),
              'gapipe-dlq-reason': decoded.failure.reason,
              'gapipe-dlq-kind': decoded.failure.kind,
            },
          });
        }
        break;
      default:
        break;
    }
    if (this.options.indexRaw && decoded.ok && outcome.kind !== 'duplicate' && record.value) {
      const json = record.value.toString('utf8');
      const id = /"event_id":"([^"]+)"/.exec(json)?.[1];
      if (id) this.raw.push({ id, json });
    }
  }

  /** The record's own headers plus where it came from, for the late and dead-letter topics. */
  private forwardedHeaders(record: TransportRecord, partition: number): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const name of Object.keys(record.headers)) {
      const value = headerText(record.headers, name);
      if (value !== undefined) headers[name] = value;
    }
    headers['gapipe-source-topic'] = this.options.topic;
    headers['gapipe-source-partition'] = String(partition);
    headers['gapipe-source-offset'] = String(record.offset);
    return headers;
  }

  // ——— flushing ———

  private async flushLoop(): Promise<void> {
    let backoff = 0;
    while (this.running && !this.fatal) {
      await this.sleep(backoff || this.options.flushIntervalMs);
      if (!this.running || this.stopping || this.fatal) break;
      this.advanceIdlePartitions();
      try {
        await this.flush();
        backoff = 0;
      } catch (error) {
        if (error instanceof SideOutputsPendingError) {
          // Kafka's side: the outage watch reports it and decides when to give up.
          this.setPaused(true);
          backoff = Math.min(Math.max(250, backoff * 2), this.options.maxBackoffMs);
        } else if (error instanceof RetryableStoreError) {
          this.noteSinkFailure(error);
          backoff = Math.min(Math.max(250, backoff * 2), this.options.maxBackoffMs);
        } else {
          this.fail(error);
        }
      }
    }
  }

  /** A sleep that stop() and fail() cut short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        if (!this.wakers.delete(finish)) return;
        resolve();
      };
      this.wakers.add(finish);
      this.clock.sleep(ms).then(finish);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /**
   * One flush; concurrent callers share it. `sideOutputWaitMs` bounds the wait for late and
   * dead-letter records to be acknowledged before the flush fails (and is retried).
   */
  flush(sideOutputWaitMs = SIDE_OUTPUT_WAIT_MS): Promise<void> {
    this.flushing ??= this.flushOnce(sideOutputWaitMs).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flushOnce(sideOutputWaitMs: number): Promise<void> {
    const nowIso = new Date(this.clock.now()).toISOString();
    const batches: FlushBatch[] = [];
    for (const state of this.partitions.values()) {
      const aggregator = state.aggregator;
      if (aggregator.replaying) continue;
      if (aggregator.pendingChanges === 0 && aggregator.position === state.flushedPosition) continue;
      batches.push(aggregator.collect(nowIso));
    }
    const raw = this.raw;
    this.raw = [];
    const intended = this.pendingIntended.slice(0, this.pendingIntendedCount);
    const intendedCount = this.pendingIntendedCount;
    const unflushed = this.unflushedRecords;
    this.pendingIntendedCount = 0;
    let stats: WriteStats;
    try {
      this.deps.logger?.debug(
        `flush: ${batches.reduce((n, b) => n + b.upserts.length, 0)} documents, ${raw.length} raw events`,
      );
      await this.sideOutputs.drain(sideOutputWaitMs);
      stats = await this.deps.store.writeDocuments(batches, raw);
      for (const batch of batches) this.partitions.get(batch.partition)?.aggregator.acknowledge(batch);
      this.totals.written += stats.written;
      this.totals.rawWritten += stats.raw;
      await this.deps.store.writeCheckpoints(batches);
      this.deps.observer?.stored?.(intended, intendedCount, this.clock.now());
      if (this.deps.observer?.visible && intendedCount > 0)
        this.probeVisible(batches, intended, intendedCount);
    } catch (error) {
      this.raw = raw.concat(this.raw);
      this.restorePending(intended, intendedCount);
      this.totals.failedFlushes++;
      throw error;
    }
    this.totals.flushes++;
    this.deps.logger?.debug(
      `flushed: ${batches.length} partitions, ${stats.written} documents written, ${stats.stale} already newer`,
    );
    this.unflushedRecords = Math.max(0, this.unflushedRecords - unflushed);
    this.failingSinceMs = undefined;
    this.sinkError = undefined;
    for (const batch of batches) {
      const state = this.partitions.get(batch.partition);
      if (state) state.flushedPosition = batch.position;
    }
    for (const batch of batches) this.commitQueue.set(batch.partition, batch.checkpoint.replayFrom);
    this.startCommits();
    this.setPaused(this.unflushedRecords >= this.options.maxUnflushedRecords);
  }

  private startCommits(): void {
    if (this.committing || this.commitQueue.size === 0) return;
    this.committing = this.commitLoop().finally(() => {
      this.committing = undefined;
      this.startCommits();
    });
  }

  /** Commits the latest replay points, one commit at a time, until none is waiting. */
  private async commitLoop(): Promise<void> {
    while (this.commitQueue.size > 0) {
      const commits = [...this.commitQueue].map(([partition, offset]) => ({ partition, offset }));
      this.commitQueue.clear();
      try {
        await this.deps.transport.commit(commits);
        this.noteKafkaContact();
        for (const { partition, offset } of commits) {
          const state = this.partitions.get(partition);
          if (state) state.committed = offset;
        }
      } catch (error) {
        // Only progress reporting suffers: the checkpoint in the store is what a restart uses.
        this.deps.logger?.debug(`commit failed (${(error as Error).message}); the checkpoint stands`);
        if (this.running) this.noteKafkaError(error as Error);
      }
    }
  }

  /** The commits of the last flush, while there is time: they let the group resume where this stopped. */
  private async waitForCommits(deadline: number): Promise<void> {
    const timeUp = this.clock.sleep(Math.max(0, deadline - this.clock.now())).then(() => true);
    while (this.committing) {
      if (await Promise.race([this.committing.then(() => false), timeUp])) return;
    }
  }

  /**
   * Polls until a document of this flush is searchable (the index has one shard, so one visible
   * document means the whole flush is), then reports the records as visible.
   */
  private probeVisible(batches: FlushBatch[], intended: Float64Array, count: number): void {
    const probe = batches.find((b) => b.upserts.length > 0);
    const isVisible = this.deps.store.isVisible?.bind(this.deps.store);
    if (!probe || !isVisible) return;
    const id = (probe.upserts[0] as { id: string }).id;
    void (async () => {
      const started = this.clock.now();
      while (this.clock.now() - started < 60_000 && !this.fatal) {
        try {
          if (await isVisible(id, probe.version)) {
            this.deps.observer?.visible?.(intended, count, this.clock.now());
            return;
          }
        } catch {
          // Unreachable for now: try again.
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
  }

  private noteSinkFailure(error: Error): void {
    this.failingSinceMs ??= this.clock.now();
    if (this.sinkError !== error.message) this.deps.logger?.warn(`${error.message}; retrying`);
    this.sinkError = error.message;
    this.setPaused(true);
  }

  private setPaused(paused: boolean): void {
    // Stopping keeps every partition paused for good.
    if (paused === this.paused || this.stopping) return;
    this.paused = paused;
    const partitions = this.assigned;
    if (paused) this.deps.transport.pause(partitions);
    else this.deps.transport.resume(partitions);
    this.deps.logger?.debug(paused ? 'fetching paused (backpressure)' : 'fetching resumed');
  }

  // ——— watermark ———

  private isIdle(state: PartitionState, now: number): boolean {
    const caughtUp = state.aggregator.position + 1 >= state.highWatermark;
    return caughtUp && now - state.lastRecordAtMs >= this.options.idleTimeoutMs;
  }

  /** Minimum over active partitions; undefined when none has seen an event. */
  private consumerWatermark(now: number): number | undefined {
    let min: number | undefined;
    for (const state of this.partitions.values()) {
      if (this.isIdle(state, now)) continue;
      const w = state.aggregator.watermarkMs;
      if (w !== undefined && (min === undefined || w < min)) min = w;
    }
    return min;
  }

  private advanceIdlePartitions(): void {
    const now = this.clock.now();
    const watermark = this.consumerWatermark(now);
    if (watermark === undefined) return;
    for (const state of this.partitions.values()) {
      if (this.isIdle(state, now)) state.aggregator.advanceWatermark(watermark);
    }
  }

  private notePending(intendedMs: number): void {
    if (this.pendingIntendedCount === this.pendingIntended.length) {
      const bigger = new Float64Array(this.pendingIntended.length * 2);
      bigger.set(this.pendingIntended);
      this.pendingIntended = bigger;
    }
    this.pendingIntended[this.pendingIntendedCount++] = intendedMs;
  }

  private restorePending(intended: Float64Array, count: number): void {
    const current = this.pendingIntended.slice(0, this.pendingIntendedCount);
    this.pendingIntendedCount = 0;
    for (let i = 0; i < count; i++) this.notePending(intended[i] as number);
    for (const value of current) this.notePending(value);
  }

  // ——— Kafka's health ———

  private noteKafkaContact(): void {
    this.kafka.lastContactMs = this.clock.now();
    this.kafka.lastError = undefined;
  }

  private noteKafkaError(error: Error): void {
    this.kafka.lastError = error.message;
  }

  /** Side outputs keep failing, or a transport that reports contact has gone silent. */
  private kafkaDown(now: number): boolean {
    if (this.sideOutputs.failingSinceMs !== undefined) return true;
    return this.kafka.watched && now - this.kafka.lastContactMs >= SILENCE_MS;
  }

  /** What is wrong with Kafka right now, in a few words; undefined while it answers. */
  private kafkaProblem(now: number): string | undefined {
    const failingSince = this.sideOutputs.failingSinceMs;
    if (failingSince !== undefined) {
      const error = this.sideOutputs.lastError;
      return `late/dead-letter records not acknowledged for ${formatSeconds(now - failingSince)}${error ? `: ${error.message}` : ''}`;
    }
    const silence = now - this.kafka.lastContactMs;
    if (this.kafka.watched && silence >= SILENCE_MS) {
      return `no answer for ${formatSeconds(silence)}${this.kafka.lastError ? `: ${this.kafka.lastError}` : ''}`;
    }
    return this.kafka.lastError;
  }

  private async watchLoop(): Promise<void> {
    while (this.running && !this.fatal) {
      await this.sleep(WATCH_INTERVAL_MS);
      if (!this.running || this.stopping || this.fatal) break;
      this.checkKafka();
    }
  }

  /** Reports outages as they start and end, and gives up on one that lasts longer than the budget. */
  private checkKafka(): void {
    const now = this.clock.now();
    const problem = this.kafkaProblem(now);
    const failingSince = this.sideOutputs.failingSinceMs;
    const silentFor = this.kafka.watched ? now - this.kafka.lastContactMs : 0;
    const sideOutputsFor = failingSince === undefined ? 0 : now - failingSince;
    if (Math.max(silentFor, sideOutputsFor) >= this.kafkaTimeoutMs) {
      this.fail(
        new GapipeError(
          'KAFKA_UNREACHABLE',
          `Gave up after ${formatSeconds(this.kafkaTimeoutMs)} without Kafka (${this.deps.transport.description}): ${problem ?? 'no answer'}`,
          {
            nextSteps:
              'Check that the broker is up (`gapipe lab status`), then start gapipe consume again — it resumes from its last checkpoint; a supervisor can simply restart it. --kafka-timeout sets how long to wait',
          },
        ),
      );
      return;
    }
    // One line when an outage starts and one when it ends; the snapshot carries the details.
    const isDown = problem !== undefined && this.kafkaDown(now);
    if (isDown && this.kafka.reported === undefined) {
      this.kafka.reported = problem;
      this.deps.logger?.warn(
        `Kafka: ${problem}; retrying for up to ${formatSeconds(this.kafkaTimeoutMs)} in all`,
      );
    } else if (!isDown && this.kafka.reported !== undefined) {
      this.kafka.reported = undefined;
      this.deps.logger?.info('Kafka answers again');
    }
  }

  private fail(error: unknown): void {
    if (this.fatal) return;
    this.fatal = toGapipeError(error);
    this.running = false;
    this.sideOutputs.close();
    this.wakeAll();
    void this.deps.transport.stop().catch(() => {});
    void this.deps.store.close();
    this.rejectDone(this.fatal);
  }
}

function parseIntended(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

/** 45000 → "45s", 90000 → "1m30s", 180000 → "3m". */
function formatSeconds(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return rest === 0 ? `${minutes}m` : `${minutes}m${rest}s`;
}
