/**
 * The Kafka sink: kafkajs behind the Sink interface, with batching of its own in front of it
 * (kafkajs has no linger: every `send` call is one produce request, so without batching a load
 * generator spends its time on per-request overhead).
 *
 * - Records are buffered and sent when a batch is full (`batchSize` records or `batchBytes`) or
 *   `lingerMs` after the first buffered record, whichever comes first.
 * - At most `maxInFlightBatches` produce requests are outstanding; more batches wait in the buffer and
 *   count as in flight, so the simulator's in-flight budget bounds memory.
 * - Produce-ack latency is recorded per record from its intended send time (open-loop: a stalled
 *   producer shows up in the numbers), in microseconds, in an HDR histogram.
 * - A failed batch is retried with exponential backoff (on top of kafkajs' own retries); a batch that
 *   finally fails is counted as failed, with the reason — never dropped silently. When the broker
 *   stays unreachable for `fatalAfterMs`, the sink reports a fatal error and the run stops.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import { CompressionTypes, Kafka, logLevel, type Message, Partitioners, type Producer } from 'kafkajs';
import { type Clock, systemClock } from '../../clock.js';
import { describeCause, GapipeError } from '../../errors.js';
import { definedEntries } from '../../objects.js';
import type { Sink, SinkRecord, SinkStats } from './types.js';

export type KafkaAcks = 'all' | '1' | '0';
export type KafkaCompression = 'none' | 'gzip';

export interface KafkaSinkOptions {
  brokers: string[];
  topic: string;
  clientId?: string;
  /** all (-1, the default: durable), 1 (leader only) or 0 (fire and forget, no ack latency). */
  acks?: KafkaAcks;
  compression?: KafkaCompression;
  /** The idempotent producer (needs acks=all): broker-side dedupe of retried batches. */
  idempotent?: boolean;
  batchSize?: number;
  batchBytes?: number;
  lingerMs?: number;
  maxInFlightBatches?: number;
  /** Retries of a whole batch after kafkajs gave up on it. */
  retries?: number;
  /** How long every send may fail before the sink gives up on the run. */
  fatalAfterMs?: number;
  clock?: Clock;
  /** Told of every acknowledged batch: the records' intended send times and the ack time (bench). */
  onAcknowledged?: (intendedMs: readonly number[], nowMs: number) => void;
}

export const KAFKA_SINK_DEFAULTS = {
  acks: 'all' as KafkaAcks,
  compression: 'none' as KafkaCompression,
  idempotent: false,
  batchSize: 2000,
  batchBytes: 1024 * 1024,
  lingerMs: 5,
  maxInFlightBatches: 8,
  retries: 3,
  fatalAfterMs: 30_000,
};

const ACKS: Record<KafkaAcks, number> = { all: -1, '1': 1, '0': 0 };
const COMPRESSION: Record<KafkaCompression, CompressionTypes> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
};

/** Histogram of latencies in microseconds, auto-resizing so no value is ever clipped. */
export function latencyHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
}

interface Batch {
  messages: Message[];
  intended: number[];
  bytes: number;
}

export class KafkaSink implements Sink {
  readonly description: string;
  private readonly options: Required<Omit<KafkaSinkOptions, 'clientId' | 'clock'>> & { clientId: string };
  private readonly clock: Clock;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly histogram = latencyHistogram();
  private readonly errors: string[] = [];
  private readonly idle: Array<() => void> = [];
  private readonly queue: Batch[] = [];
  private current: Batch = { messages: [], intended: [], bytes: 0 };
  private lingerTimer: NodeJS.Timeout | undefined;
  private sending = 0;
  private buffered = 0;
  private acknowledged = 0;
  private failed = 0;
  private bytes = 0;
  private failingSince: number | undefined;
  private fatal: Error | undefined;

  constructor(options: KafkaSinkOptions) {
    this.options = {
      ...KAFKA_SINK_DEFAULTS,
      clientId: 'gapipe-simulate',
      ...definedEntries(options),
    } as never;
    this.clock = options.clock ?? systemClock;
    if (this.options.idempotent && this.options.acks !== 'all') {
      throw new GapipeError('INVALID_FLAG', '--idempotent needs --acks all', {
        nextSteps: 'Drop --idempotent, or use --acks all',
      });
    }
    this.description = `kafka ${options.brokers.join(',')} → ${options.topic}`;
    this.kafka = new Kafka({
      clientId: this.options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    this.producer = this.kafka.producer({
      // The Java client's partitioner: a player's events land where any Kafka client would put them.
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: this.options.idempotent,
      allowAutoTopicCreation: false,
      ...(this.options.idempotent ? { maxInFlightRequests: 1 } : {}),
    });
  }

  async open(): Promise<void> {
    const brokers = this.options.brokers.join(',');
    const admin = this.kafka.admin();
    let topics: string[];
    try {
      await admin.connect();
      topics = await admin.listTopics();
      await this.producer.connect();
    } catch (error) {
      throw new GapipeError('KAFKA_UNREACHABLE', `Kafka is not reachable at ${brokers}`, {
        cause: error,
        nextSteps: 'Start the lab with `gapipe lab up`, or point --brokers (GAPIPE_BROKERS) at your cluster',
      });
    } finally {
      await admin.disconnect().catch(() => {});
    }
    // Fail fast on a missing topic rather than failing every batch later.
    if (!topics.includes(this.options.topic)) {
      await this.producer.disconnect().catch(() => {});
      throw new GapipeError('INVALID_FLAG', `Topic '${this.options.topic}' does not exist on ${brokers}`, {
        nextSteps: `Create it with \`gapipe lab up --topic ${this.options.topic}\`, or pass an existing one with --topic`,
      });
    }
  }

  send(records: readonly SinkRecord[]): void {
    if (this.fatal) {
      this.failed += records.length;
      return;
    }
    for (const record of records) {
      const size =
        (typeof record.value === 'string' ? record.value.length : record.value.length) + record.key.length;
      this.current.messages.push({ key: record.key, value: record.value, headers: { ...record.headers } });
      this.current.intended.push(record.intendedMs);
      this.current.bytes += size;
      this.bytes += size;
      this.buffered += 1;
      if (
        this.current.messages.length >= this.options.batchSize ||
        this.current.bytes >= this.options.batchBytes
      ) {
        this.seal();
      }
    }
    if (this.current.messages.length > 0 && this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        this.seal();
      }, this.options.lingerMs);
    }
    this.pump();
  }

  /** Closes the batch being filled and queues it. */
  private seal(): void {
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (this.current.messages.length === 0) return;
    this.queue.push(this.current);
    this.current = { messages: [], intended: [], bytes: 0 };
    this.pump();
  }

  private pump(): void {
    while (this.sending < this.options.maxInFlightBatches && this.queue.length > 0) {
      const batch = this.queue.shift() as Batch;
      this.sending += 1;
      void this.deliver(batch).finally(() => {
        this.sending -= 1;
        this.buffered -= batch.messages.length;
        this.pump();
        if (this.inFlight() === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async deliver(batch: Batch): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.producer.send({
          topic: this.options.topic,
          messages: batch.messages,
          acks: ACKS[this.options.acks],
          compression: COMPRESSION[this.options.compression],
        });
        this.failingSince = undefined;
        this.acknowledged += batch.messages.length;
        if (this.options.acks !== '0') {
          const now = this.clock.now();
          for (const intended of batch.intended) {
            this.histogram.recordValue(Math.max(1, Math.round((now - intended) * 1000)));
          }
          this.options.onAcknowledged?.(batch.intended, now);
        }
        return;
      } catch (error) {
        const message = describeCause(error) ?? 'send failed';
        this.failingSince ??= this.clock.now();
        if (this.clock.now() - this.failingSince >= this.options.fatalAfterMs) {
          this.fatal ??= new GapipeError(
            'KAFKA_UNREACHABLE',
            `Kafka at ${this.options.brokers.join(',')} refused every record for ${Math.round(this.options.fatalAfterMs / 1000)}s: ${message}`,
            {
              cause: error,
              nextSteps: 'Check the broker (`gapipe lab status`, `gapipe lab logs kafka`) and the topic',
            },
          );
        }
        if (attempt >= this.options.retries || this.fatal) {
          this.failed += batch.messages.length;
          if (this.errors.length < 5 && !this.errors.includes(message)) this.errors.push(message);
          return;
        }
        await this.clock.sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
  }

  inFlight(): number {
    return this.buffered;
  }

  stats(): SinkStats {
    return {
      acknowledged: this.acknowledged,
      failed: this.failed,
      bytes: this.bytes,
      produceAckLatencyUs: this.options.acks === '0' ? undefined : this.histogram,
      errors: this.errors.length > 0 ? [...this.errors] : undefined,
    };
  }

  async flush(): Promise<void> {
    this.seal();
    if (this.inFlight() === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    await this.flush();
    await this.producer.disconnect().catch(() => {});
  }

  fatalError(): Error | undefined {
    return this.fatal;
  }
}
