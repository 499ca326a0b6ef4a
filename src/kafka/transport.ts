/**
 * The producer transport: what the Kafka sink needs from a Kafka client, and nothing about which
 * client provides it. The sink hands records over in batches; the transport partitions, batches,
 * retries and reports each record once — acknowledged or failed — through the callbacks.
 *
 * Delivery semantics follow Kafka's Java producer: with `idempotent` (the default with acks=all)
 * the broker drops retried duplicates and keeps each partition in order; a record is retried until
 * `deliveryTimeoutMs` after it was handed over; only then, or on an error no retry can fix, it fails.
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Compression, RecordCodec } from './record-batch.js';

export type { Compression, RecordCodec } from './record-batch.js';

/** Broker acknowledgement: -1 all in-sync replicas, 1 the leader, 0 none (not even a response). */
export type Acks = -1 | 0 | 1;

export interface ProducerTransportOptions<T> {
  /** Bootstrap servers, host:port. */
  brokers: readonly string[];
  topic: string;
  clientId: string;
  acks: Acks;
  idempotent: boolean;
  compression: Compression;
  /** Most bytes in one partition's record batch. */
  batchBytes: number;
  /** Most records in one partition's record batch. */
  batchRecords: number;
  /** How long a batch that is not full waits for more records. */
  lingerMs: number;
  /** How long a record may take, from `send` to acknowledgement, retries included, before it fails. */
  deliveryTimeoutMs: number;
  /** How the transport reads a record. */
  codec: RecordCodec<T>;
  clock: Clock;
  /** Connection losses, retries, producer-id resets: debug lines (GAPIPE_DEBUG=1). */
  logger?: Logger | undefined;
  /** Records acknowledged by the broker, at `nowMs` (per partition in order). */
  onAcknowledged(records: readonly T[], nowMs: number): void;
  /** Records that will not be delivered: the delivery timeout passed, or the broker refused them. */
  onFailed(records: readonly T[], error: Error): void;
}

export interface ProducerTransport<T> {
  /**
   * Connects, checks that the topic exists and, for an idempotent producer, gets a producer id.
   * Rejects with a `KafkaTransportError` within a few seconds when that fails.
   */
  open(): Promise<void>;
  /** Hands records over; returns at once. */
  send(records: readonly T[]): void;
  /** Records handed over and neither acknowledged nor failed yet. */
  pending(): number;
  /** Resolves once everything handed over so far is acknowledged or failed. */
  flush(): Promise<void>;
  /** Flushes, then disconnects. */
  close(): Promise<void>;
  /** Set when the transport can deliver nothing more (the broker stayed away, authorization). */
  fatalError(): Error | undefined;
}

export type KafkaTransportErrorReason = 'unreachable' | 'unknown-topic' | 'unsupported' | 'refused';

/** Why a transport could not open, or stopped: the sink turns it into a message with next steps. */
export class KafkaTransportError extends Error {
  constructor(
    readonly reason: KafkaTransportErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KafkaTransportError';
  }
}

export type CreateProducerTransport = <T>(options: ProducerTransportOptions<T>) => ProducerTransport<T>;
