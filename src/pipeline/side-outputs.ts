/**
 * Late and dead-letter records on their way to Kafka. They are sent in order, a few thousand per
 * request, and retried with backoff until Kafka acknowledges them, so a broker outage only delays
 * them. A flush waits — a bounded time — for everything handed over before it: a checkpoint never
 * covers a record whose side output Kafka has not acknowledged, and a restart re-sends whatever was
 * lost (at least once). How long an outage may last is the consumer's decision (`failingSinceMs`).
 */
import type { Clock } from '../clock.js';
import { RetryableStoreError } from './store.js';
import type { OutgoingRecord } from './transport.js';

/** Records per send: kafkajs sends of 20,000 records failed where 10,000 worked. */
const MAX_RECORDS_PER_SEND = 5000;
/**
 * Bytes per send, well under the broker's default max.message.bytes (1 MB), which bounds a
 * partition's batch: a backlog that built up during an outage goes out in pieces.
 */
const MAX_BYTES_PER_SEND = 512 * 1024;
/** Per-record framing (offset delta, timestamp, lengths) beside key, value and headers. */
const RECORD_OVERHEAD_BYTES = 32;
const FIRST_RETRY_MS = 250;

/** Side outputs handed over before a flush are not acknowledged yet: the flush is retried later. */
export class SideOutputsPendingError extends RetryableStoreError {
  constructor(
    /** Records waiting for Kafka. */
    readonly records: number,
    /** Kafka's last answer, when a send failed. */
    readonly reason: string | undefined,
  ) {
    super(
      `${records} late/dead-letter records not yet acknowledged by Kafka${reason === undefined ? '' : `: ${reason}`}`,
      {
        code: 'KAFKA_UNREACHABLE',
        nextSteps:
          'Check that Kafka is up (`gapipe lab status`), then start gapipe consume again: it resumes from its last checkpoint and sends these records again',
      },
    );
  }
}

export interface SideOutputQueueOptions {
  /** Sends records to a topic; resolves when Kafka has acknowledged all of them. */
  produce(topic: string, records: OutgoingRecord[]): Promise<void>;
  clock: Clock;
  /** Longest wait between two attempts. */
  maxBackoffMs: number;
  /** Every failed attempt (the queue retries it). */
  onFailure?(error: Error): void;
  /** Every acknowledged send. */
  onAcknowledged?(): void;
}

interface Pending {
  topic: string;
  records: OutgoingRecord[];
  seq: number;
  /** Records of this hand-over acknowledged already (a large one goes out in several sends). */
  sent: number;
}

function recordBytes(record: OutgoingRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const name in record.headers) bytes += name.length + (record.headers[name]?.length ?? 0);
  return bytes;
}

export class SideOutputQueue {
  private readonly pending: Pending[] = [];
  private pendingRecords = 0;
  private enqueued = 0;
  private acknowledged = 0;
  private working = false;
  private closed = false;
  private lastFailure: Error | undefined;
  private failingSince: number | undefined;
  /** Woken on every change: an acknowledgement, a failure, close, cancelWaits. */
  private listeners: Array<() => void> = [];
  private cancelled = 0;
  private readonly whenClosed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(private readonly options: SideOutputQueueOptions) {
    this.whenClosed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Records handed over and not yet acknowledged. */
  get size(): number {
    return this.pendingRecords;
  }

  /** When the attempts that keep failing started; undefined while sends succeed. */
  get failingSinceMs(): number | undefined {
    return this.failingSince;
  }

  get lastError(): Error | undefined {
    return this.lastFailure;
  }

  enqueue(topic: string, records: OutgoingRecord[]): void {
    if (this.closed || records.length === 0) return;
    this.pending.push({ topic, records, seq: ++this.enqueued, sent: 0 });
    this.pendingRecords += records.length;
    if (!this.working) {
      this.working = true;
      void this.work();
    }
  }

  /**
   * Resolves once everything enqueued before the call is acknowledged. Throws SideOutputsPendingError
   * when that takes longer than `waitMs`, when cancelWaits() is called, or once the queue is closed.
   */
  async drain(waitMs: number): Promise<void> {
    const target = this.enqueued;
    if (this.acknowledged >= target) return;
    const cancelledAtStart = this.cancelled;
    let timedOut = false;
    const timer = this.options.clock.sleep(waitMs).then(() => {
      timedOut = true;
      this.notify();
    });
    void timer;
    while (this.acknowledged < target) {
      if (timedOut || this.closed || this.cancelled !== cancelledAtStart) throw this.pendingError();
      await this.changed();
    }
  }

  /** Makes drains that are waiting now give up at once (the consumer is stopping). */
  cancelWaits(): void {
    this.cancelled++;
    this.notify();
  }

  /** Stops sending and retrying; what is still queued is dropped (a restart replays it). */
  close(): void {
    this.closed = true;
    this.resolveClosed();
    this.notify();
  }

  private pendingError(): SideOutputsPendingError {
    return new SideOutputsPendingError(this.pendingRecords, this.lastFailure?.message);
  }

  private async work(): Promise<void> {
    let attempt = 0;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const { topic, records } = this.nextSend();
        const startedAtMs = this.options.clock.now();
        try {
          await this.options.produce(topic, records);
        } catch (error) {
          if (this.closed) return;
          this.failingSince ??= startedAtMs;
          this.lastFailure = error instanceof Error ? error : new Error(String(error));
          this.options.onFailure?.(this.lastFailure);
          this.notify();
          // The backoff yields to the event loop; close() cuts it short.
          await Promise.race([
            this.options.clock.sleep(Math.min(FIRST_RETRY_MS * 2 ** attempt, this.options.maxBackoffMs)),
            this.whenClosed,
          ]);
          attempt = Math.min(attempt + 1, 16);
          continue;
        }
        attempt = 0;
        this.acknowledge(records.length);
        this.failingSince = undefined;
        this.lastFailure = undefined;
        this.options.onAcknowledged?.();
        this.notify();
      }
    } finally {
      this.working = false;
    }
  }

  /** The records of the next send: from the head on, one topic, within the count and byte bounds. */
  private nextSend(): { topic: string; records: OutgoingRecord[] } {
    const topic = (this.pending[0] as Pending).topic;
    const records: OutgoingRecord[] = [];
    let bytes = 0;
    for (const item of this.pending) {
      if (item.topic !== topic) break;
      for (let i = item.sent; i < item.records.length; i++) {
        const record = item.records[i] as OutgoingRecord;
        const size = recordBytes(record);
        const full = records.length >= MAX_RECORDS_PER_SEND || bytes + size > MAX_BYTES_PER_SEND;
        if (records.length > 0 && full) return { topic, records };
        records.push(record);
        bytes += size;
      }
    }
    return { topic, records };
  }

  /** The first `count` records waiting were acknowledged. */
  private acknowledge(count: number): void {
    this.pendingRecords -= count;
    let left = count;
    while (left > 0) {
      const head = this.pending[0] as Pending;
      const taken = Math.min(left, head.records.length - head.sent);
      head.sent += taken;
      left -= taken;
      if (head.sent === head.records.length) {
        this.pending.shift();
        this.acknowledged = head.seq;
      }
    }
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.listeners.push(resolve));
  }

  private notify(): void {
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}
