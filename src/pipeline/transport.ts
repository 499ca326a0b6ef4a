/**
 * The consumer's view of Kafka, small on purpose (OpenMessaging Benchmark's driver model): group
 * membership with assignment callbacks, batches per partition, pause/resume, seek, commits, and a
 * producer for the late and dead-letter topics. KafkaTransport is the real one, on one of two clients
 * (`--kafka-client`): gapipe's own group consumer (src/kafka/consumer.ts, the default: it reads record
 * batches straight from the fetch response, several times less CPU per record) or kafkajs (kept
 * selectable for one release). Late and dead-letter records go out through kafkajs' producer with
 * either: they are few, and its reconnect behaviour is what the consumer's retry loop was built on.
 * Tests drive the consumer through a fake.
 */
import { Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { GapipeError } from '../errors.js';
import { KafkaGroupConsumer } from '../kafka/consumer.js';
import { CONSUMER_ERRORS } from '../kafka/consumer-protocol.js';
import { KafkaBrokerError } from '../kafka/protocol.js';
import { UnsupportedBatchError } from '../kafka/record-batch-reader.js';
import { KafkaTransportError } from '../kafka/transport.js';
import type { Logger } from '../log.js';

const INCONSISTENT_GROUP_PROTOCOL = CONSUMER_ERRORS.INCONSISTENT_GROUP_PROTOCOL;

/** The Kafka clients the consumer can run on. */
export const KAFKA_CLIENTS = ['gapipe', 'kafkajs'] as const;
export type KafkaClientName = (typeof KAFKA_CLIENTS)[number];
export const DEFAULT_KAFKA_CLIENT: KafkaClientName = 'gapipe';

/** Record headers as the client delivers them (read them with headerText). */
export type TransportHeaders = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

/** A header's (first) value as text. */
export function headerText(headers: TransportHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** A record's header (first value) as text, through the record's own look-up when it has one. */
export function recordHeader(record: TransportRecord, name: string): string | undefined {
  return record.headerText ? record.headerText(name) : headerText(record.headers, name);
}

/** A record's header (first value) as `Number(text)` gives it; undefined when there is none. */
export function recordHeaderNumber(record: TransportRecord, name: string): number | undefined {
  if (record.headerNumber) return record.headerNumber(name);
  const text = headerText(record.headers, name);
  return text === undefined ? undefined : Number(text);
}

export interface TransportRecord {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Converted to text only when read: most records need two of them, many need none. */
  readonly headers: TransportHeaders;
  /** Broker timestamp, epoch ms. */
  readonly timestampMs: number;
  /**
   * One header's (first) value as text, without building `headers`: a transport that keeps records
   * as bytes finds it there (read it with recordHeader).
   */
  headerText?(name: string): string | undefined;
  /** The same header as `Number(text)` gives it, without making the string (see recordHeaderNumber). */
  headerNumber?(name: string): number | undefined;
}

export interface TransportBatch {
  partition: number;
  records: TransportRecord[];
  /** The partition's end offset (next offset to be written) when fetched. */
  highWatermark: number;
}

export interface BatchControl {
  /** Keeps the group membership alive during long waits inside a batch handler. */
  heartbeat(): Promise<void>;
  /** False once the transport is stopping or the batch's partition was revoked. */
  isActive(): boolean;
}

/** What the handler decided about a batch. */
export interface BatchResult {
  /** Re-read the partition from this offset instead of going on (records before it are missing). */
  seekTo?: number;
}

export interface TransportHandlers {
  /** The partitions this member owns now (after every rebalance). */
  onAssignment(partitions: number[]): void;
  onBatch(batch: TransportBatch, control: BatchControl): Promise<BatchResult>;
  /** The group is rebalancing: partitions may move. */
  onRebalancing?(): void;
  /** A non-retriable failure: the consumer cannot go on. */
  onFatal(error: Error): void;
  /**
   * Kafka answered (a heartbeat, a group join). A transport that calls this does so at least every
   * few seconds while Kafka is reachable, so the consumer can take a long silence for an outage.
   */
  onContact?(): void;
  /** A request to Kafka failed and the transport is retrying it (reconnecting, rejoining). */
  onConnectionError?(error: Error): void;
}

export interface OutgoingRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface ConsumerTransport {
  readonly description: string;
  start(handlers: TransportHandlers): Promise<void>;
  pause(partitions: number[]): void;
  resume(partitions: number[]): void;
  commit(offsets: Array<{ partition: number; offset: number }>): Promise<void>;
  /**
   * Sends records to another topic, acks=all; resolves when all are acknowledged. A failed send may
   * be retried: the next call reconnects if it has to.
   */
  produce(topic: string, records: OutgoingRecord[]): Promise<void>;
  /** Partition count of the consumed topic. */
  partitionCount(): Promise<number>;
  /** Leaves the group and disconnects; bounded in time even while Kafka is unreachable. */
  stop(): Promise<void>;
}

/** How long stop() waits for the clients to leave the group and disconnect. */
const DISCONNECT_TIMEOUT_MS = 2000;

export interface KafkaTransportOptions {
  /** The client underneath; default DEFAULT_KAFKA_CLIENT. */
  client?: KafkaClientName;
  brokers: string[];
  topic: string;
  group: string;
  clientId?: string;
  /** Where a group without committed offsets starts. */
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  /** Topics the consumer writes to (late, dead letter): checked at start. */
  requiredTopics?: string[];
  /** Rebalances, retries (GAPIPE_DEBUG=1); gapipe's client only. */
  logger?: Logger;
}

/** The Kafka transport on the client `options.client` names. */
export class KafkaTransport implements ConsumerTransport {
  private readonly client: ConsumerTransport;

  constructor(options: KafkaTransportOptions) {
    this.client =
      (options.client ?? DEFAULT_KAFKA_CLIENT) === 'kafkajs'
        ? new KafkajsTransport(options)
        : new GapipeKafkaTransport(options);
  }

  get description(): string {
    return this.client.description;
  }
  start(handlers: TransportHandlers): Promise<void> {
    return this.client.start(handlers);
  }
  pause(partitions: number[]): void {
    this.client.pause(partitions);
  }
  resume(partitions: number[]): void {
    this.client.resume(partitions);
  }
  commit(offsets: Array<{ partition: number; offset: number }>): Promise<void> {
    return this.client.commit(offsets);
  }
  produce(topic: string, records: OutgoingRecord[]): Promise<void> {
    return this.client.produce(topic, records);
  }
  partitionCount(): Promise<number> {
    return this.client.partitionCount();
  }
  stop(): Promise<void> {
    return this.client.stop();
  }
}

/**
 * The producer for late and dead-letter records: kafkajs, a client of its own with few retries inside
 * kafkajs (connect and metadata included), so that a send fails within seconds during an outage and
 * the consumer's retry loop — backoff, outage budget, prompt stop — stays in charge.
 */
class SideOutputProducer {
  private readonly producer;
  private connected: Promise<void> | undefined;

  constructor(options: KafkaTransportOptions) {
    this.producer = new Kafka({
      clientId: options.clientId ?? 'gapipe-consume',
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 2000 },
    }).producer({ allowAutoTopicCreation: false, idempotent: false });
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<void> {
    try {
      this.connected ??= this.producer.connect();
      await this.connected;
      await this.producer.send({ topic, acks: -1, messages: records });
    } catch (error) {
      // The next attempt starts from a fresh connection: kafkajs does not reconnect a producer whose
      // connect failed, and one that was disconnected answers every send with "The producer is
      // disconnected".
      this.connected = undefined;
      await this.producer.disconnect().catch(() => {});
      throw error;
    }
  }

  async disconnect(): Promise<void> {
    if (this.connected) await this.producer.disconnect().catch(() => {});
  }
}

/** Resolves after `ms` at the latest (bounded waits in stop()). */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([promise.then(() => {}), timeout]).finally(() => clearTimeout(timer));
}

/** The transport on gapipe's own group consumer (src/kafka/consumer.ts). */
class GapipeKafkaTransport implements ConsumerTransport {
  readonly description: string;
  private readonly consumer: KafkaGroupConsumer;
  private readonly sideOutputs: SideOutputProducer;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: KafkaTransportOptions) {
    this.description = `kafka ${options.brokers.join(',')} ← ${options.topic} (group ${options.group})`;
    this.consumer = new KafkaGroupConsumer({
      brokers: options.brokers,
      topic: options.topic,
      group: options.group,
      clientId: options.clientId ?? 'gapipe-consume',
      fromBeginning: options.fromBeginning,
      sessionTimeoutMs: options.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(1000, Math.floor(options.sessionTimeoutMs / 10)),
      // As kafkajs: members that are busy get a minute to join a rebalance.
      rebalanceTimeoutMs: 60_000,
      requiredTopics: options.requiredTopics ?? [],
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.sideOutputs = new SideOutputProducer(options);
  }

  async start(handlers: TransportHandlers): Promise<void> {
    const brokers = this.options.brokers.join(',');
    try {
      await this.consumer.start({
        ...handlers,
        onFatal: (error) => handlers.onFatal(this.explain(error)),
      });
    } catch (error) {
      if (error instanceof KafkaTransportError && error.reason === 'unknown-topic') {
        const missing = error.message.split(', ');
        if (missing.includes(this.options.topic)) {
          throw new GapipeError('INVALID_FLAG', `Topic ${this.options.topic} does not exist on ${brokers}`, {
            nextSteps: 'Create it (`gapipe lab up` creates game-events) or pass the right --topic',
          });
        }
        throw new GapipeError('INVALID_FLAG', `Topic ${missing.join(', ')} does not exist on ${brokers}`, {
          nextSteps:
            'Late and malformed records go there: create it (`gapipe lab up` creates <topic>-late and <topic>-dlq), or pass --late-topic / --dlq-topic',
        });
      }
      throw new GapipeError('KAFKA_UNREACHABLE', `Kafka is not reachable at ${brokers}`, {
        cause: error,
        nextSteps: 'Start the lab with `gapipe lab up`, or point --brokers (GAPIPE_BROKERS) at your cluster',
      });
    }
  }

  /** The failures a user can do something about, with what to do. */
  private explain(error: Error): Error {
    if (error instanceof UnsupportedBatchError) {
      return new GapipeError('INVALID_FLAG', error.message, {
        cause: error,
        nextSteps: 'Run with --kafka-client kafkajs, or have the producer send uncompressed or gzip batches',
      });
    }
    if (error instanceof KafkaBrokerError && error.code === INCONSISTENT_GROUP_PROTOCOL) {
      return new GapipeError(
        'INVALID_FLAG',
        `Group ${this.options.group} has members on another Kafka client, which assigns partitions differently (${error.message})`,
        { cause: error, nextSteps: 'Run every member of the group with the same --kafka-client' },
      );
    }
    return error;
  }

  pause(partitions: number[]): void {
    this.consumer.pause(partitions);
  }

  resume(partitions: number[]): void {
    this.consumer.resume(partitions);
  }

  commit(offsets: Array<{ partition: number; offset: number }>): Promise<void> {
    return this.consumer.commit(offsets);
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (this.stopped)
      throw new Error('the consumer is stopping: late/dead-letter records are no longer sent');
    await this.sideOutputs.produce(topic, records);
  }

  partitionCount(): Promise<number> {
    return this.consumer.partitionCount();
  }

  stop(): Promise<void> {
    // While Kafka is down, leaving the group waits for answers that will not come: give up on it (the
    // group drops this member after its session timeout anyway).
    this.stopped ??= within(
      Promise.all([this.consumer.stop(DISCONNECT_TIMEOUT_MS - 500), this.sideOutputs.disconnect()]),
      DISCONNECT_TIMEOUT_MS,
    );
    return this.stopped;
  }
}

/** How a kafkajs client connects and retries. */
export interface KafkajsRetryPolicy {
  /** Per connection attempt, ms. */
  connectionTimeout: number;
  retry: { retries: number; initialRetryTime: number; maxRetryTime: number };
}

/**
 * How long a broker that is down (or a wrong --brokers) may keep `gapipe consume` waiting before its
 * first answer: seconds, as for simulate. --kafka-timeout is for outages after a first contact.
 */
export const FIRST_CONTACT_BUDGET_MS = 10_000;

/** Until Kafka has answered once: a few quick attempts, within FIRST_CONTACT_BUDGET_MS. */
export const FIRST_CONTACT_POLICY: KafkajsRetryPolicy = {
  connectionTimeout: 2500,
  retry: { retries: 2, initialRetryTime: 250, maxRetryTime: 500 },
};

/** Once connected: a restarting broker comes back within tens of seconds, so keep trying that long. */
export const RECONNECT_POLICY: KafkajsRetryPolicy = {
  connectionTimeout: 3000,
  retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 },
};

/**
 * The longest a kafkajs client with `policy` tries to reach a broker that does not answer: every
 * attempt's connection timeout, plus the waits between attempts as kafkajs computes them (each twice
 * the last, up to 20% more by jitter, capped at maxRetryTime).
 */
export function worstCaseConnectMs(policy: KafkajsRetryPolicy): number {
  const { retries, initialRetryTime, maxRetryTime } = policy.retry;
  let wait = Math.min(initialRetryTime * 1.2, maxRetryTime);
  let total = (retries + 1) * policy.connectionTimeout;
  for (let i = 0; i < retries; i++) {
    total += wait;
    wait = Math.min(wait * 1.2 * 2, maxRetryTime);
  }
  return Math.ceil(total);
}

/** The transport on kafkajs' consumer. */
class KafkajsTransport implements ConsumerTransport {
  readonly description: string;
  private readonly kafka: Kafka;
  /** For the checks at start, the first contact: a broker that is down fails them in seconds. */
  private readonly firstContact: Kafka;
  private readonly consumer;
  private readonly producer;
  private producerConnected: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private readonly removers: Array<() => void> = [];

  constructor(private readonly options: KafkaTransportOptions) {
    this.description = `kafka ${options.brokers.join(',')} ← ${options.topic} (group ${options.group})`;
    this.kafka = new Kafka({
      clientId: options.clientId ?? 'gapipe-consume',
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      ...RECONNECT_POLICY,
    });
    this.firstContact = new Kafka({
      clientId: options.clientId ?? 'gapipe-consume',
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      ...FIRST_CONTACT_POLICY,
    });
    this.consumer = this.kafka.consumer({
      groupId: options.group,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(1000, Math.floor(options.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: false,
      // Larger fetches: kafkajs fetches and processes in turn, so each round trip should carry more.
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
      retry: RECONNECT_POLICY.retry,
    });
    // A client of its own with few retries inside kafkajs (connect and metadata included), so that a
    // send fails within seconds during an outage and the consumer's retry loop — backoff, outage
    // budget, prompt stop — stays in charge.
    this.producer = new Kafka({
      clientId: options.clientId ?? 'gapipe-consume',
      brokers: options.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      retry: { retries: 3, initialRetryTime: 300, maxRetryTime: 2000 },
    }).producer({ allowAutoTopicCreation: false, idempotent: false });
  }

  async start(handlers: TransportHandlers): Promise<void> {
    const brokers = this.options.brokers.join(',');
    const admin = this.firstContact.admin();
    try {
      await admin.connect();
      const topics = await admin.listTopics();
      if (!topics.includes(this.options.topic)) {
        throw new GapipeError('INVALID_FLAG', `Topic ${this.options.topic} does not exist on ${brokers}`, {
          nextSteps: 'Create it (`gapipe lab up` creates game-events) or pass the right --topic',
        });
      }
      const missing = (this.options.requiredTopics ?? []).filter((t) => !topics.includes(t));
      if (missing.length > 0) {
        throw new GapipeError('INVALID_FLAG', `Topic ${missing.join(', ')} does not exist on ${brokers}`, {
          nextSteps:
            'Late and malformed records go there: create it (`gapipe lab up` creates <topic>-late and <topic>-dlq), or pass --late-topic / --dlq-topic',
        });
      }
      await this.consumer.connect();
      // Stopped while connecting: do not join the group after all.
      if (this.stopped) {
        await this.consumer.disconnect().catch(() => {});
        return;
      }
    } catch (error) {
      if (error instanceof GapipeError) throw error;
      throw new GapipeError('KAFKA_UNREACHABLE', `Kafka is not reachable at ${brokers}`, {
        cause: error,
        nextSteps: 'Start the lab with `gapipe lab up`, or point --brokers (GAPIPE_BROKERS) at your cluster',
      });
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const { GROUP_JOIN, REBALANCING, CRASH, HEARTBEAT } = this.consumer.events;
    this.removers.push(
      this.consumer.on(GROUP_JOIN, (event) => {
        handlers.onContact?.();
        const assigned = event.payload.memberAssignment[this.options.topic] ?? [];
        handlers.onAssignment([...assigned].sort((a, b) => a - b));
      }),
      // A heartbeat is only reported when the coordinator answered it; the runner sends one at least
      // every fetch wait (5 s), paused or not. (FETCH is no sign of life: with every partition paused
      // kafkajs reports it without asking the broker.)
      this.consumer.on(HEARTBEAT, () => handlers.onContact?.()),
      this.consumer.on(REBALANCING, () => handlers.onRebalancing?.()),
      this.consumer.on(CRASH, (event) => {
        // kafkajs restarts itself after retriable failures (a broker outage among them), for as long
        // as it takes: the consumer decides when an outage has lasted too long. Anything else ends it.
        if (event.payload.restart) handlers.onConnectionError?.(event.payload.error);
        else handlers.onFatal(event.payload.error);
      }),
    );
    await this.consumer.subscribe({
      topics: [this.options.topic],
      fromBeginning: this.options.fromBeginning,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (batch.messages.length === 0) return;
        const records = batch.messages.map(toRecord);
        const result = await handlers.onBatch(
          { partition: batch.partition, records, highWatermark: Number(batch.highWatermark) },
          { heartbeat, isActive: () => isRunning() && !isStale() },
        );
        if (result.seekTo !== undefined) {
          this.consumer.seek({
            topic: this.options.topic,
            partition: batch.partition,
            offset: String(result.seekTo),
          });
          return;
        }
        resolveOffset(batch.lastOffset());
        await heartbeat();
      },
    });
  }

  pause(partitions: number[]): void {
    if (partitions.length > 0) this.consumer.pause([{ topic: this.options.topic, partitions }]);
  }

  resume(partitions: number[]): void {
    if (partitions.length > 0) this.consumer.resume([{ topic: this.options.topic, partitions }]);
  }

  async commit(offsets: Array<{ partition: number; offset: number }>): Promise<void> {
    if (offsets.length === 0) return;
    await this.consumer.commitOffsets(
      offsets.map(({ partition, offset }) => ({
        topic: this.options.topic,
        partition,
        offset: String(offset),
      })),
    );
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (this.stopped)
      throw new Error('the consumer is stopping: late/dead-letter records are no longer sent');
    try {
      this.producerConnected ??= this.producer.connect();
      await this.producerConnected;
      await this.producer.send({ topic, acks: -1, messages: records });
    } catch (error) {
      // The next attempt starts from a fresh connection: kafkajs does not reconnect a producer whose
      // connect failed, and one that was disconnected answers every send with "The producer is
      // disconnected".
      this.producerConnected = undefined;
      await this.producer.disconnect().catch(() => {});
      throw error;
    }
  }

  async partitionCount(): Promise<number> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const metadata = await admin.fetchTopicMetadata({ topics: [this.options.topic] });
      return metadata.topics[0]?.partitions.length ?? 0;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.disconnect();
    return this.stopped;
  }

  private async disconnect(): Promise<void> {
    for (const remove of this.removers.splice(0)) remove();
    const disconnected = Promise.all([
      this.consumer.disconnect().catch(() => {}),
      this.producerConnected ? this.producer.disconnect().catch(() => {}) : undefined,
    ]);
    // While Kafka is down, leaving the group waits for requests that will not be answered: give up on
    // it (the group drops this member after its session timeout anyway).
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DISCONNECT_TIMEOUT_MS);
      timer.unref();
    });
    await Promise.race([disconnected, timeout]);
    clearTimeout(timer);
  }
}

function toRecord(message: KafkaMessage): TransportRecord {
  return {
    offset: Number(message.offset),
    key: message.key,
    value: message.value,
    headers: message.headers ?? {},
    timestampMs: Number(message.timestamp),
  };
}
