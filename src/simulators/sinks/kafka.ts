/**
 * The Kafka sink: the Sink interface over a producer transport (src/kafka/transport.ts) — by default
 * gapipe's own producer (src/kafka/producer.ts), which encodes the generator's records straight into
 * Kafka record batches.
 *
 * - Delivery like Kafka's Java producer: idempotent by default (acks=all), every record retried until
 *   `deliveryTimeoutMs` (120 s), so a broker restart costs latency, not records. Records that do
 *   finally fail are counted, their reasons kept for the summary, and handed to `onFailed` so the
 *   ground truth can leave them out.
 * - Produce-ack latency is recorded per record from its intended send time (open-loop: a stalled
 *   producer shows up in the numbers), in microseconds, in an HDR histogram.
 * - A broker that cannot be reached at `open()` fails the run within seconds; one that acknowledges
 *   nothing for the whole delivery timeout (and at least a minute) mid-run makes the sink fatal, and
 *   the run stops.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import { type Clock, systemClock } from '../../clock.js';
import { GapipeError } from '../../errors.js';
import { createKafkaProducer } from '../../kafka/producer.js';
import {
  type Acks,
  type CreateProducerTransport,
  KafkaTransportError,
  type ProducerTransport,
  type RecordCodec,
} from '../../kafka/transport.js';
import { createStderrLogger, type Logger } from '../../log.js';
import type { Sink, SinkRecord, SinkStats } from './types.js';

export type KafkaAcks = 'all' | '1' | '0';
export type KafkaCompression = 'none' | 'gzip';

export interface KafkaSinkOptions {
  brokers: string[];
  topic: string;
  clientId?: string | undefined;
  /** all (-1, the default: durable), 1 (leader only) or 0 (fire and forget, no ack latency). */
  acks?: KafkaAcks | undefined;
  compression?: KafkaCompression | undefined;
  /** The idempotent producer: broker-side dedupe of retried batches. Default: on with acks=all. */
  idempotent?: boolean | undefined;
  /** Most records in one partition's batch. */
  batchSize?: number | undefined;
  /** Most bytes in one partition's batch. */
  batchBytes?: number | undefined;
  /** How long a batch that is not full waits for more records. */
  lingerMs?: number | undefined;
  /** How long a record is retried before it counts as failed. */
  deliveryTimeoutMs?: number | undefined;
  clock?: Clock | undefined;
  /** Producer diagnostics (connection losses, retries) as debug lines; stderr with GAPIPE_DEBUG=1 by default. */
  logger?: Logger | undefined;
  /** Told of every acknowledged batch: the records' intended send times and the ack time (bench). */
  onAcknowledged?: ((intendedMs: readonly number[], nowMs: number) => void) | undefined;
  /** Told of records that will not reach Kafka, so a ground truth can take them out. */
  onFailed?: ((records: readonly SinkRecord[]) => void) | undefined;
  /** The producer behind the sink (tests pass their own); gapipe's Kafka producer by default. */
  createTransport?: CreateProducerTransport | undefined;
}

export const KAFKA_SINK_DEFAULTS = {
  acks: 'all' as KafkaAcks,
  compression: 'none' as KafkaCompression,
  batchSize: 4000,
  batchBytes: 256 * 1024,
  lingerMs: 5,
  deliveryTimeoutMs: 120_000,
};

const ACKS: Record<KafkaAcks, Acks> = { all: -1, '1': 1, '0': 0 };

/** Header names, in the order the codec gives their values. */
const HEADER_NAMES = ['gapipe-intended-ts', 'gapipe-run-id'] as const;

/**
 * How the producer reads a SinkRecord. The intended-time header is the record's `intendedMs` in whole
 * milliseconds (what `RecordHeaders` documents), written as digits without a string in between.
 */
export const SINK_RECORD_CODEC: RecordCodec<SinkRecord> = {
  key: (record) => record.key,
  value: (record) => record.value,
  headerNames: HEADER_NAMES,
  headerValue: (record, index) =>
    index === 0 ? Math.round(record.intendedMs) : record.headers['gapipe-run-id'],
};

/** Histogram of latencies in microseconds, auto-resizing so no value is ever clipped. */
export function latencyHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
}

export class KafkaSink implements Sink {
  readonly description: string;
  private readonly brokers: string;
  private readonly topic: string;
  private readonly measuresLatency: boolean;
  private readonly transport: ProducerTransport<SinkRecord>;
  private readonly histogram = latencyHistogram();
  private readonly errors: string[] = [];
  private readonly onAcknowledged: KafkaSinkOptions['onAcknowledged'];
  private readonly onFailed: KafkaSinkOptions['onFailed'];
  private acknowledged = 0;
  private failed = 0;
  private bytes = 0;
  private fatal: GapipeError | undefined;

  constructor(options: KafkaSinkOptions) {
    const acks = options.acks ?? KAFKA_SINK_DEFAULTS.acks;
    const idempotent = options.idempotent ?? acks === 'all';
    if (idempotent && acks !== 'all') {
      throw new GapipeError('INVALID_FLAG', '--idempotent needs --acks all', {
        nextSteps: 'Drop --idempotent, or use --acks all',
      });
    }
    this.brokers = options.brokers.join(',');
    this.topic = options.topic;
    this.description = `kafka ${this.brokers} → ${options.topic}`;
    this.measuresLatency = acks !== '0';
    this.onAcknowledged = options.onAcknowledged;
    this.onFailed = options.onFailed;
    const create = options.createTransport ?? createKafkaProducer;
    this.transport = create<SinkRecord>({
      brokers: options.brokers,
      topic: options.topic,
      clientId: options.clientId ?? 'gapipe-simulate',
      acks: ACKS[acks],
      idempotent,
      compression: options.compression ?? KAFKA_SINK_DEFAULTS.compression,
      batchBytes: options.batchBytes ?? KAFKA_SINK_DEFAULTS.batchBytes,
      batchRecords: options.batchSize ?? KAFKA_SINK_DEFAULTS.batchSize,
      lingerMs: options.lingerMs ?? KAFKA_SINK_DEFAULTS.lingerMs,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? KAFKA_SINK_DEFAULTS.deliveryTimeoutMs,
      codec: SINK_RECORD_CODEC,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? createStderrLogger({ quiet: true }),
      onAcknowledged: (records, nowMs) => this.recordAcknowledged(records, nowMs),
      onFailed: (records, error) => this.recordFailed(records, error),
    });
  }

  async open(): Promise<void> {
    try {
      await this.transport.open();
    } catch (error) {
      throw this.toGapipeError(error, true);
    }
  }

  send(records: readonly SinkRecord[]): void {
    let bytes = 0;
    for (let i = 0; i < records.length; i++) bytes += (records[i] as SinkRecord).value.length;
    this.bytes += bytes;
    this.transport.send(records);
  }

  inFlight(): number {
    return this.transport.pending();
  }

  stats(): SinkStats {
    return {
      acknowledged: this.acknowledged,
      failed: this.failed,
      bytes: this.bytes,
      produceAckLatencyUs: this.measuresLatency ? this.histogram : undefined,
      errors: this.errors.length > 0 ? [...this.errors] : undefined,
    };
  }

  flush(): Promise<void> {
    return this.transport.flush();
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  fatalError(): Error | undefined {
    if (this.fatal) return this.fatal;
    const error = this.transport.fatalError();
    if (error) this.fatal = this.toGapipeError(error);
    return this.fatal;
  }

  private recordAcknowledged(records: readonly SinkRecord[], nowMs: number): void {
    this.acknowledged += records.length;
    if (!this.measuresLatency) return;
    const histogram = this.histogram;
    for (let i = 0; i < records.length; i++) {
      const latencyUs = Math.round((nowMs - (records[i] as SinkRecord).intendedMs) * 1000);
      histogram.recordValue(latencyUs > 1 ? latencyUs : 1);
    }
    if (this.onAcknowledged) this.onAcknowledged(records.map(intendedOf), nowMs);
  }

  private recordFailed(records: readonly SinkRecord[], error: Error): void {
    this.failed += records.length;
    const message = error.message;
    if (this.errors.length < 5 && !this.errors.includes(message)) this.errors.push(message);
    this.onFailed?.(records);
  }

  private toGapipeError(error: unknown, atOpen = false): GapipeError {
    if (error instanceof GapipeError) return error;
    const reason = error instanceof KafkaTransportError ? error.reason : 'unreachable';
    const message = error instanceof Error ? error.message : String(error);
    switch (reason) {
      case 'unknown-topic':
        return new GapipeError('INVALID_FLAG', `Topic '${this.topic}' does not exist on ${this.brokers}`, {
          nextSteps: `Create it with \`gapipe lab up --topic ${this.topic}\`, or pass an existing one with --topic`,
        });
      case 'unsupported':
        return new GapipeError(
          'SINK_FAILED',
          `Kafka at ${this.brokers} is too old for gapipe's producer: ${message}`,
          {
            cause: error,
            nextSteps: 'Use a Kafka 2.4 or newer cluster (the lab runs Kafka 4)',
          },
        );
      case 'refused':
        return new GapipeError('SINK_FAILED', message, {
          cause: error,
          nextSteps: `Check the broker's log (\`gapipe lab logs kafka\`) and the topic's settings and ACLs`,
        });
      case 'unreachable':
        // At the start the cause (refused, timed out) is shown under the message.
        return new GapipeError(
          'KAFKA_UNREACHABLE',
          atOpen ? `Kafka is not reachable at ${this.brokers}` : message,
          {
            cause: error,
            nextSteps:
              'Start the lab with `gapipe lab up` (or check it with `gapipe lab status`), or point --brokers (GAPIPE_BROKERS) at your cluster',
          },
        );
    }
  }
}

function intendedOf(record: SinkRecord): number {
  return record.intendedMs;
}
