/**
 * The consumer's view of Kafka, small on purpose (OpenMessaging Benchmark's driver model): group
 * membership with assignment callbacks, batches per partition, pause/resume, seek, commits, and a
 * producer for the late and dead-letter topics. KafkaTransport is the real one (kafkajs); tests drive
 * the consumer through a fake.
 */
import { Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import { GapipeError } from '../errors.js';

/** Record headers as the client delivers them (read them with headerText). */
export type TransportHeaders = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

/** A header's (first) value as text. */
export function headerText(headers: TransportHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

export interface TransportRecord {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Converted to text only when read: most records need two of them, many need none. */
  headers: TransportHeaders;
  /** Broker timestamp, epoch ms. */
  timestampMs: number;
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
  brokers: string[];
  topic: string;
  group: string;
  clientId?: string;
  /** Where a group without committed offsets starts. */
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  /** Topics the consumer writes to (late, dead letter): checked at start. */
  requiredTopics?: string[];
}

export class KafkaTransport implements ConsumerTransport {
  readonly description: string;
  private readonly kafka: Kafka;
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
      connectionTimeout: 3000,
      // A restarting broker comes back within tens of seconds: keep trying that long.
      retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    this.consumer = this.kafka.consumer({
      groupId: options.group,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(1000, Math.floor(options.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: false,
      // Larger fetches: kafkajs fetches and processes in turn, so each round trip should carry more.
      maxBytesPerPartition: 16 * 1024 * 1024,
      maxBytes: 64 * 1024 * 1024,
      retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 5000 },
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
    const admin = this.kafka.admin();
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
