/**
 * gapipe's own Kafka producer: the `ProducerTransport` for the Kafka sink. Written for the load
 * generator's hot path — records are encoded straight into one buffer per partition batch, batches go
 * out as they are, and per record there is no object, promise or closure — with the delivery
 * semantics of Kafka's Java producer:
 *
 * - Records are partitioned like the Java client (murmur2 of the key) and batched per partition; a
 *   batch is sent when full or `lingerMs` after it was started. Each connection has at most
 *   `maxInFlightRequests` (5) Produce requests outstanding, each with at most one batch per partition.
 * - Idempotent by default (acks=all): a producer id from InitProducerId and per-partition sequence
 *   numbers, so a batch retried after a lost response is not written twice, and a partition's batches
 *   are written in order. When a partition's batch fails, nothing more is sent to that partition until
 *   its outstanding batches are back; the failed ones are then resent in sequence order. If the broker
 *   lost the producer's state (OUT_OF_ORDER_SEQUENCE_NUMBER on the first unacknowledged batch,
 *   UNKNOWN_PRODUCER_ID) or a batch had to be given up, the producer waits for every outstanding
 *   request, gets a new producer id and numbers the unacknowledged batches afresh.
 * - Every failure that a retry can fix is retried, with backoff, until the batch is older than
 *   `deliveryTimeoutMs`; connections are reopened and metadata refreshed as needed, so a broker
 *   restart or a leader change costs latency, not records. Only then, or on an error that no retry can
 *   fix, the records fail. If nothing at all was acknowledged for the delivery timeout (and at least
 *   a minute), the broker is gone for good: the transport becomes fatal and the run stops.
 */
import type { Clock } from '../clock.js';
import { type Logger, silentLogger } from '../log.js';
import { BrokerConnection, KafkaConnectionError } from './connection.js';
import {
  API_KEYS,
  API_VERSIONS,
  type BrokerAddress,
  DUPLICATE_SEQUENCE_NUMBER,
  decodeApiVersionsResponse,
  decodeInitProducerIdResponse,
  decodeMetadataResponse,
  decodeProduceResponse,
  encodeApiVersionsRequest,
  encodeInitProducerIdRequest,
  encodeMetadataRequest,
  encodeProduceRequest,
  errorInfo,
  KafkaBrokerError,
  type MetadataResponse,
  type PartitionProduceResult,
  type ProducerIdentity,
  UNKNOWN_TOPIC_OR_PARTITION,
} from './protocol.js';
import { BufferPool, RecordBatch, RecordEncoder } from './record-batch.js';
import { KafkaTransportError, type ProducerTransport, type ProducerTransportOptions } from './transport.js';

/** Settings with Kafka's Java producer defaults; tests shorten them. */
export interface ProducerTuning {
  maxInFlightRequests: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /** The whole of `open()`: connect, versions, metadata, producer id. */
  openTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  reconnectBackoffMs: number;
  reconnectBackoffMaxMs: number;
}

export const PRODUCER_TUNING: ProducerTuning = {
  maxInFlightRequests: 5,
  requestTimeoutMs: 30_000,
  connectTimeoutMs: 3_000,
  openTimeoutMs: 10_000,
  retryBackoffMs: 100,
  retryBackoffMaxMs: 1_000,
  reconnectBackoffMs: 50,
  reconnectBackoffMaxMs: 1_000,
};

/**
 * When records expire and nothing at all was acknowledged for this long (or the delivery timeout, if
 * longer), the broker is taken to be gone: the transport becomes fatal rather than failing record
 * after record. With a short delivery timeout, a short outage fails records and the run goes on.
 */
const FATAL_SILENCE_MS = 60_000;

interface PartitionState<T> {
  readonly index: number;
  /** Node id of the leader, -1 while unknown. */
  leader: number;
  /** Batches not in flight, oldest first; the last one may still be filling. */
  readonly queue: RecordBatch<T>[];
  inFlight: number;
  /** Batches that failed while others of the partition were still in flight; resent in order. */
  retries: RecordBatch<T>[];
  nextSequence: number;
  /** The sequence number after the last acknowledged record: what the broker expects next. */
  ackedSequence: number;
  retryAtMs: number;
  consecutiveFailures: number;
  /** Size of this partition's last batch: new batch buffers start at about that. */
  lastBatchBytes: number;
}

interface NodeState {
  host: string;
  port: number;
  connection: BrokerConnection | undefined;
  connecting: boolean;
  failures: number;
  retryAtMs: number;
}

function parseAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

function backoff(base: number, max: number, failures: number): number {
  const exponential = Math.min(max, base * 2 ** Math.max(0, failures - 1));
  // ±20% jitter, as the Java client does, so many producers do not retry in lockstep.
  return Math.round(exponential * (0.8 + Math.random() * 0.4));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class KafkaProducer<T> implements ProducerTransport<T> {
  private readonly tuning: ProducerTuning;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly encoder: RecordEncoder<T>;
  private readonly pool = new BufferPool();
  private readonly bootstrap: Array<{ host: string; port: number }>;
  private readonly partitions: PartitionState<T>[] = [];
  private byLeader = new Map<number, PartitionState<T>[]>();
  private readonly nodes = new Map<number, NodeState>();
  private control: BrokerConnection | undefined;
  private controlCursor = 0;
  private producerId = -1;
  private producerEpoch = -1;
  private pendingRecords = 0;
  private inFlightRequests = 0;
  private nextUnkeyedPartition = 0;
  private fatal: Error | undefined;
  private lastError: Error | undefined;
  private lastAckMs: number;
  private metadataRunning = false;
  private metadataWanted = false;
  private metadataFailures = 0;
  private metadataRetryAtMs = 0;
  private resetWanted = false;
  private resetRunning = false;
  private resetFailures = 0;
  private resetRetryAtMs = 0;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAtMs = Number.POSITIVE_INFINITY;
  private flushing = false;
  private readonly flushWaiters: Array<() => void> = [];
  private closed = false;

  constructor(
    private readonly options: ProducerTransportOptions<T>,
    tuning: Partial<ProducerTuning> = {},
  ) {
    this.tuning = { ...PRODUCER_TUNING, ...tuning };
    if (options.idempotent && options.acks !== -1) {
      throw new Error('an idempotent producer needs acks=all (-1)');
    }
    if (options.idempotent && this.tuning.maxInFlightRequests > 5) {
      throw new Error('an idempotent producer allows at most 5 requests in flight per connection');
    }
    this.clock = options.clock;
    this.log = options.logger ?? silentLogger;
    this.encoder = new RecordEncoder(options.codec);
    this.bootstrap = options.brokers.map(parseAddress);
    this.lastAckMs = this.clock.now();
  }

  // --- the transport interface ------------------------------------------------------------------------

  async open(): Promise<void> {
    const deadline = this.clock.now() + this.tuning.openTimeoutMs;
    const brokers = this.options.brokers.join(',');
    let connection: BrokerConnection | undefined;
    let lastError: unknown;
    for (const address of this.bootstrap) {
      const candidate = this.newConnection(address.host, address.port);
      try {
        await candidate.connect();
        connection = candidate;
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (!connection) {
      // The last attempt's error names the address and the reason (refused, timed out).
      throw new KafkaTransportError('unreachable', describe(lastError), { cause: lastError });
    }
    this.adoptControl(connection);
    const timer = setTimeout(() => connection.close(), Math.max(0, deadline - this.clock.now()));
    try {
      const versions = decodeApiVersionsResponse(
        await connection.request(API_KEYS.apiVersions, API_VERSIONS.apiVersions, [
          encodeApiVersionsRequest(),
        ]),
      );
      const needed: Array<keyof typeof API_KEYS> = this.options.idempotent
        ? ['produce', 'metadata', 'initProducerId']
        : ['produce', 'metadata'];
      for (const api of needed) {
        const range = versions.get(API_KEYS[api]);
        const version = API_VERSIONS[api];
        if (!range || range.min > version || range.max < version) {
          throw new KafkaTransportError(
            'unsupported',
            `the broker at ${connection.address} does not support ${api} v${version} (Kafka 2.4 or newer does)`,
          );
        }
      }
      const metadata = decodeMetadataResponse(
        await connection.request(API_KEYS.metadata, API_VERSIONS.metadata, [
          encodeMetadataRequest([this.options.topic]),
        ]),
      );
      const topic = metadata.topics.find((t) => t.name === this.options.topic);
      if (!topic || topic.errorCode === UNKNOWN_TOPIC_OR_PARTITION || topic.partitions.length === 0) {
        throw new KafkaTransportError(
          'unknown-topic',
          `topic '${this.options.topic}' does not exist on ${brokers}`,
        );
      }
      if (topic.errorCode !== 0 && errorInfo(topic.errorCode).action === 'fatal') {
        throw new KafkaTransportError(
          'refused',
          `the broker refused topic '${this.options.topic}': ${errorInfo(topic.errorCode).name}`,
        );
      }
      this.applyMetadata(metadata);
      if (this.options.idempotent) {
        for (;;) {
          try {
            this.setIdentity(await this.initProducerId(connection));
            break;
          } catch (error) {
            // A broker that has just started may not serve producer ids for a moment.
            if (!(error instanceof KafkaBrokerError) || error.action === 'fatal' || error.action === 'fail') {
              throw error;
            }
            if (this.clock.now() + this.tuning.retryBackoffMs >= deadline) throw error;
            await this.clock.sleep(this.tuning.retryBackoffMs);
          }
        }
      }
    } catch (error) {
      this.closeConnections();
      if (error instanceof KafkaTransportError) throw error;
      if (error instanceof KafkaBrokerError) {
        throw new KafkaTransportError(
          'refused',
          `Kafka at ${brokers} refused the producer: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      throw new KafkaTransportError(
        'unreachable',
        `Kafka at ${brokers} did not answer within ${this.tuning.openTimeoutMs / 1000}s: ${describe(error)}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    this.lastAckMs = this.clock.now();
  }

  send(records: readonly T[]): void {
    const count = records.length;
    if (count === 0) return;
    if (this.fatal || this.closed || this.partitions.length === 0) {
      this.options.onFailed(
        records,
        this.fatal ?? new Error(this.closed ? 'the producer is closed' : 'the producer is not open'),
      );
      return;
    }
    const now = this.clock.now();
    const encoder = this.encoder;
    const partitions = this.partitions;
    const partitionCount = partitions.length;
    for (let i = 0; i < count; i++) {
      const record = records[i] as T;
      encoder.prepare(record);
      const index =
        encoder.keyLength >= 0
          ? (encoder.keyHash() & 0x7fffffff) % partitionCount
          : this.nextUnkeyedPartition++ % partitionCount;
      const partition = partitions[index] as PartitionState<T>;
      const queue = partition.queue;
      let batch = queue[queue.length - 1];
      if (batch === undefined || !batch.tryAppend(encoder, record, now)) {
        if (batch !== undefined && !batch.closed) this.closeBatch(partition, batch);
        batch = new RecordBatch<T>(
          index,
          now,
          partition.lastBatchBytes,
          this.options.batchBytes,
          this.options.batchRecords,
          this.pool,
        );
        queue.push(batch);
        batch.tryAppend(encoder, record, now);
      }
      if (batch.full) this.closeBatch(partition, batch);
    }
    this.pendingRecords += count;
    this.drain();
  }

  pending(): number {
    return this.pendingRecords;
  }

  flush(): Promise<void> {
    if (this.pendingRecords === 0) return Promise.resolve();
    this.flushing = true;
    const done = new Promise<void>((resolve) => this.flushWaiters.push(resolve));
    this.drain();
    return done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.closeConnections();
  }

  fatalError(): Error | undefined {
    return this.fatal;
  }

  // --- batching and sending ---------------------------------------------------------------------------

  private closeBatch(partition: PartitionState<T>, batch: RecordBatch<T>): void {
    batch.close(this.options.compression);
    partition.lastBatchBytes = Math.min(this.options.batchBytes, batch.bytes + 1024);
  }

  /**
   * Sends whatever is ready, as far as the in-flight limits allow, and sets the timer for the next
   * moment something becomes ready (linger, backoff, reconnect, delivery timeout).
   */
  private drain(): void {
    if (this.closed) return;
    const now = this.clock.now();
    let wakeAt = this.expire(now);
    if (this.fatal) return;
    if (this.metadataWanted) this.requestMetadata();
    if (this.resetWanted) {
      // A new producer id only once nothing is in flight: every batch is then numbered afresh.
      if (this.inFlightRequests === 0) this.resetProducerId();
      return;
    }
    if (this.options.idempotent && this.producerId < 0) return;
    const linger = this.options.lingerMs;
    const maxInFlight = this.tuning.maxInFlightRequests;
    for (const [nodeId, partitions] of this.byLeader) {
      if (nodeId < 0) continue;
      let hasWork = false;
      for (const p of partitions) {
        if (p.queue.length > 0) {
          hasWork = true;
          break;
        }
      }
      if (!hasWork) continue;
      const connection = this.connectionTo(nodeId, now);
      if (!connection) continue;
      while (connection.inFlight < maxInFlight) {
        const batches: RecordBatch<T>[] = [];
        for (const p of partitions) {
          const head = p.queue[0];
          if (head === undefined || p.retries.length > 0 || p.inFlight >= maxInFlight) continue;
          if (p.retryAtMs > now) {
            wakeAt = Math.min(wakeAt, p.retryAtMs);
            continue;
          }
          if (!head.closed) {
            const readyAt = head.createdMs + linger;
            if (readyAt > now && !this.flushing) {
              wakeAt = Math.min(wakeAt, readyAt);
              continue;
            }
            this.closeBatch(p, head);
          }
          if (this.options.idempotent && head.baseSequence < 0) {
            head.baseSequence = p.nextSequence;
            // Sequence numbers wrap at 2^31, as Kafka's do.
            const next = p.nextSequence + head.count;
            p.nextSequence = next > 0x7fffffff ? next - 0x80000000 : next;
          }
          p.queue.shift();
          p.inFlight++;
          head.attempts++;
          batches.push(head);
        }
        if (batches.length === 0) break;
        this.produce(connection, batches);
      }
    }
    if (wakeAt !== Number.POSITIVE_INFINITY) this.scheduleWake(wakeAt);
  }

  private produce(connection: BrokerConnection, batches: RecordBatch<T>[]): void {
    const partitions: number[] = [];
    const wires: Buffer[] = [];
    for (const batch of batches) {
      partitions.push(batch.partition);
      wires.push(batch.stamp(this.producerId, this.producerEpoch));
    }
    const acks = this.options.acks;
    const body = encodeProduceRequest(
      this.options.topic,
      acks,
      this.tuning.requestTimeoutMs,
      partitions,
      wires,
    );
    this.inFlightRequests++;
    connection.request(API_KEYS.produce, API_VERSIONS.produce, body, acks !== 0).then(
      (response) => {
        this.inFlightRequests--;
        this.onProduceResponse(connection, batches, response);
      },
      (error: Error) => {
        this.inFlightRequests--;
        this.onProduceFailed(batches, error);
      },
    );
  }

  private onProduceResponse(connection: BrokerConnection, batches: RecordBatch<T>[], response: Buffer): void {
    const now = this.clock.now();
    if (this.options.acks === 0) {
      for (const batch of batches) this.acknowledge(batch, now);
      this.drain();
      return;
    }
    let results: PartitionProduceResult[];
    try {
      results = decodeProduceResponse(response);
    } catch (error) {
      connection.close();
      this.onProduceFailed(
        batches,
        new KafkaConnectionError(`unreadable Produce response: ${describe(error)}`),
      );
      return;
    }
    for (const batch of batches) {
      let result: PartitionProduceResult | undefined;
      for (const r of results) {
        if (r.partition === batch.partition) {
          result = r;
          break;
        }
      }
      if (result === undefined) {
        this.retry(batch, new Error(`no answer for partition ${batch.partition}`), true, now);
      } else if (result.errorCode === 0 || result.errorCode === DUPLICATE_SEQUENCE_NUMBER) {
        this.acknowledge(batch, now);
      } else {
        this.onBrokerError(batch, new KafkaBrokerError(result.errorCode, result.errorMessage), now);
      }
    }
    this.drain();
  }

  private onProduceFailed(batches: RecordBatch<T>[], error: Error): void {
    const now = this.clock.now();
    for (const batch of batches) this.retry(batch, error, true, now);
    this.drain();
  }

  private onBrokerError(batch: RecordBatch<T>, error: KafkaBrokerError, now: number): void {
    const partition = this.partitions[batch.partition] as PartitionState<T>;
    switch (error.action) {
      case 'retry':
      case 'retry-refresh':
        this.retry(batch, error, error.action === 'retry-refresh', now);
        return;
      case 'reset-producer':
        // OUT_OF_ORDER_SEQUENCE_NUMBER on a batch after one that failed is only the echo of that
        // failure: resending in order fixes it. On the first unacknowledged batch, the broker lost the
        // producer's state.
        if (
          this.options.idempotent &&
          (error.code !== 45 || batch.baseSequence === partition.ackedSequence)
        ) {
          this.resetWanted = true;
        }
        this.retry(batch, error, false, now);
        return;
      case 'fail':
        partition.inFlight--;
        this.failBatch(batch, error);
        this.requeueIfSettled(partition, now);
        return;
      case 'fatal':
        partition.inFlight--;
        this.failBatch(batch, error);
        this.becomeFatal(new KafkaTransportError('refused', `Kafka refused the records: ${error.message}`));
        return;
    }
  }

  private acknowledge(batch: RecordBatch<T>, now: number): void {
    const partition = this.partitions[batch.partition] as PartitionState<T>;
    partition.inFlight--;
    partition.consecutiveFailures = 0;
    if (batch.baseSequence >= 0) {
      partition.ackedSequence = Math.max(partition.ackedSequence, batch.baseSequence + batch.count);
    }
    this.lastAckMs = now;
    this.pendingRecords -= batch.count;
    batch.release();
    this.options.onAcknowledged(batch.records, now);
    this.requeueIfSettled(partition, now);
    this.settleFlush();
  }

  private retry(batch: RecordBatch<T>, error: Error, refreshMetadata: boolean, now: number): void {
    const partition = this.partitions[batch.partition] as PartitionState<T>;
    this.log.debug(
      `kafka: partition ${batch.partition}: ${batch.count} records (attempt ${batch.attempts}) will be retried: ${error.message}`,
    );
    partition.inFlight--;
    batch.lastError = error;
    this.lastError = error;
    partition.retries.push(batch);
    if (refreshMetadata) this.metadataWanted = true;
    this.requeueIfSettled(partition, now);
  }

  /** Once nothing of a partition is in flight, its failed batches go back to the front, in order. */
  private requeueIfSettled(partition: PartitionState<T>, now: number): void {
    if (partition.inFlight > 0 || partition.retries.length === 0) return;
    const retries = partition.retries;
    partition.retries = [];
    retries.sort((a, b) =>
      a.baseSequence >= 0 && b.baseSequence >= 0
        ? a.baseSequence - b.baseSequence
        : a.createdMs - b.createdMs,
    );
    partition.queue.unshift(...retries);
    partition.consecutiveFailures++;
    partition.retryAtMs =
      now + backoff(this.tuning.retryBackoffMs, this.tuning.retryBackoffMaxMs, partition.consecutiveFailures);
  }

  private failBatch(batch: RecordBatch<T>, error: Error): void {
    this.pendingRecords -= batch.count;
    // The sequence numbers of a given-up batch leave a gap the broker would never accept past.
    if (this.options.idempotent && batch.baseSequence >= 0) this.resetWanted = true;
    batch.release();
    this.options.onFailed(batch.records, error);
    this.settleFlush();
  }

  /** Fails the batches (not in flight) that are older than the delivery timeout; returns when the next one will be. */
  private expire(now: number): number {
    const timeout = this.options.deliveryTimeoutMs;
    let next = Number.POSITIVE_INFINITY;
    for (const partition of this.partitions) {
      const queue = partition.queue;
      while (queue.length > 0 && (queue[0] as RecordBatch<T>).createdMs + timeout <= now) {
        const batch = queue.shift() as RecordBatch<T>;
        const last = batch.lastError ?? this.lastError;
        const error = new Error(
          `not acknowledged within the delivery timeout (${timeout / 1000}s)${last ? `; last error: ${last.message}` : ''}`,
        );
        if (now - this.lastAckMs >= Math.max(timeout, FATAL_SILENCE_MS)) {
          this.becomeFatal(
            new KafkaTransportError(
              'unreachable',
              `Kafka at ${this.options.brokers.join(',')} acknowledged nothing for ${Math.round((now - this.lastAckMs) / 1000)}s${last ? `: ${last.message}` : ''}`,
              { cause: last },
            ),
          );
        }
        this.failBatch(batch, error);
      }
      const head = queue[0];
      if (head !== undefined) next = Math.min(next, head.createdMs + timeout);
    }
    return next;
  }

  private becomeFatal(error: Error): void {
    if (this.fatal) return;
    this.fatal = error;
    // Nothing waiting will be sent any more: fail it now so a flush does not wait for it.
    for (const partition of this.partitions) {
      for (const batch of [...partition.retries, ...partition.queue.splice(0)]) this.failBatch(batch, error);
      partition.retries = [];
    }
  }

  private settleFlush(): void {
    if (this.pendingRecords > 0 || this.flushWaiters.length === 0) return;
    this.flushing = false;
    for (const resolve of this.flushWaiters.splice(0)) resolve();
  }

  private scheduleWake(atMs: number): void {
    if (this.closed || atMs >= this.wakeAtMs) return;
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    this.wakeAtMs = atMs;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.wakeAtMs = Number.POSITIVE_INFINITY;
        this.drain();
      },
      Math.max(0, atMs - this.clock.now()),
    );
  }

  // --- connections ------------------------------------------------------------------------------------

  private newConnection(host: string, port: number): BrokerConnection {
    return new BrokerConnection({
      host,
      port,
      clientId: this.options.clientId,
      connectTimeoutMs: this.tuning.connectTimeoutMs,
      requestTimeoutMs: this.tuning.requestTimeoutMs,
    });
  }

  /** The data connection to a leader, or undefined while it is being (re)opened. */
  private connectionTo(nodeId: number, now: number): BrokerConnection | undefined {
    const node = this.nodes.get(nodeId);
    if (!node) {
      this.requestMetadata();
      return undefined;
    }
    if (node.connection?.usable) return node.connection;
    if (node.connecting) return undefined;
    if (node.retryAtMs > now) {
      this.scheduleWake(node.retryAtMs);
      return undefined;
    }
    node.connecting = true;
    const connection = this.newConnection(node.host, node.port);
    connection.connect().then(
      () => {
        node.connecting = false;
        if (this.closed) {
          connection.close();
          return;
        }
        node.connection = connection;
        this.log.debug(`kafka: connected to ${connection.address}`);
        connection.onClose = (error) => {
          this.log.debug(`kafka: ${error.message}`);
          if (node.connection === connection) node.connection = undefined;
          this.lastError = error;
          // A connection that never got an answer counts as a failed attempt: while a broker starts,
          // its port may accept and hang up at once, and the backoff must still grow.
          node.failures = connection.answered ? 1 : node.failures + 1;
          node.retryAtMs =
            this.clock.now() +
            backoff(this.tuning.reconnectBackoffMs, this.tuning.reconnectBackoffMaxMs, node.failures);
        };
        this.drain();
      },
      (error: Error) => {
        node.connecting = false;
        node.failures++;
        this.log.debug(`kafka: ${error.message} (attempt ${node.failures})`);
        node.retryAtMs =
          this.clock.now() +
          backoff(this.tuning.reconnectBackoffMs, this.tuning.reconnectBackoffMaxMs, node.failures);
        this.lastError = error;
        this.metadataWanted = true;
        this.scheduleWake(node.retryAtMs);
      },
    );
    return undefined;
  }

  private adoptControl(connection: BrokerConnection): void {
    this.control = connection;
    connection.onClose = () => {
      if (this.control === connection) this.control = undefined;
    };
  }

  /** The connection for metadata and producer ids: any broker, known ones first, then bootstrap. */
  private async controlConnection(): Promise<BrokerConnection> {
    if (this.control?.usable) return this.control;
    const candidates: Array<{ host: string; port: number }> = [...this.nodes.values(), ...this.bootstrap];
    const address = candidates[this.controlCursor++ % candidates.length] as { host: string; port: number };
    const connection = this.newConnection(address.host, address.port);
    await connection.connect();
    if (this.closed) {
      connection.close();
      throw new KafkaConnectionError('the producer is closed');
    }
    this.adoptControl(connection);
    return connection;
  }

  private closeConnections(): void {
    this.control?.close();
    this.control = undefined;
    for (const node of this.nodes.values()) {
      node.connection?.close();
      node.connection = undefined;
    }
  }

  // --- metadata and producer id -----------------------------------------------------------------------

  private requestMetadata(): void {
    this.metadataWanted = true;
    if (this.metadataRunning || this.closed) return;
    const now = this.clock.now();
    if (now < this.metadataRetryAtMs) {
      this.scheduleWake(this.metadataRetryAtMs);
      return;
    }
    this.metadataRunning = true;
    this.metadataWanted = false;
    this.fetchMetadata().then(
      (metadata) => {
        this.metadataRunning = false;
        this.metadataFailures = 0;
        this.metadataRetryAtMs = this.clock.now() + this.tuning.retryBackoffMs;
        this.applyMetadata(metadata);
        this.drain();
      },
      (error: Error) => {
        this.log.debug(`kafka: metadata request failed: ${error.message}`);
        this.metadataRunning = false;
        this.metadataWanted = true;
        this.metadataFailures++;
        this.lastError = error;
        this.metadataRetryAtMs =
          this.clock.now() +
          backoff(this.tuning.retryBackoffMs, this.tuning.retryBackoffMaxMs, this.metadataFailures);
        this.scheduleWake(this.metadataRetryAtMs);
      },
    );
  }

  private async fetchMetadata(): Promise<MetadataResponse> {
    const connection = await this.controlConnection();
    return decodeMetadataResponse(
      await connection.request(API_KEYS.metadata, API_VERSIONS.metadata, [
        encodeMetadataRequest([this.options.topic]),
      ]),
    );
  }

  private applyMetadata(metadata: MetadataResponse): void {
    for (const broker of metadata.brokers) this.updateNode(broker);
    this.log.debug(
      `kafka: metadata: ${metadata.topics.map((t) => `${t.name} error ${t.errorCode}, leaders ${t.partitions.map((p) => (p.errorCode ? `${p.leader}(${p.errorCode})` : p.leader)).join(',')}`).join('; ')}`,
    );
    const topic = metadata.topics.find((t) => t.name === this.options.topic);
    if (topic?.errorCode !== 0) {
      this.lastError = new KafkaBrokerError(
        topic?.errorCode ?? UNKNOWN_TOPIC_OR_PARTITION,
        `topic ${this.options.topic}`,
      );
      this.metadataWanted = true;
      return;
    }
    for (const meta of topic.partitions) {
      let partition = this.partitions[meta.partition];
      if (!partition) {
        // New partitions (the topic grew) are used like the Java client does: keys map over all of them.
        for (let i = this.partitions.length; i <= meta.partition; i++) {
          this.partitions.push({
            index: i,
            leader: -1,
            queue: [],
            inFlight: 0,
            retries: [],
            nextSequence: 0,
            ackedSequence: 0,
            retryAtMs: 0,
            consecutiveFailures: 0,
            lastBatchBytes: 16 * 1024,
          });
        }
        partition = this.partitions[meta.partition] as PartitionState<T>;
      }
      partition.leader = meta.leader >= 0 && this.nodes.has(meta.leader) ? meta.leader : -1;
      if (partition.leader < 0) this.metadataWanted = true;
    }
    const byLeader = new Map<number, PartitionState<T>[]>();
    for (const partition of this.partitions) {
      const list = byLeader.get(partition.leader) ?? [];
      list.push(partition);
      byLeader.set(partition.leader, list);
    }
    this.byLeader = byLeader;
  }

  private updateNode(broker: BrokerAddress): void {
    const node = this.nodes.get(broker.nodeId);
    if (node && node.host === broker.host && node.port === broker.port) return;
    node?.connection?.close();
    this.nodes.set(broker.nodeId, {
      host: broker.host,
      port: broker.port,
      connection: undefined,
      connecting: false,
      failures: 0,
      retryAtMs: 0,
    });
  }

  private async initProducerId(connection?: BrokerConnection): Promise<ProducerIdentity> {
    const control = connection ?? (await this.controlConnection());
    return decodeInitProducerIdResponse(
      await control.request(API_KEYS.initProducerId, API_VERSIONS.initProducerId, [
        encodeInitProducerIdRequest(),
      ]),
    );
  }

  private setIdentity(identity: ProducerIdentity): void {
    this.producerId = identity.producerId;
    this.producerEpoch = identity.producerEpoch;
  }

  private resetProducerId(): void {
    if (this.resetRunning || this.closed) return;
    const now = this.clock.now();
    if (now < this.resetRetryAtMs) {
      this.scheduleWake(this.resetRetryAtMs);
      return;
    }
    this.resetRunning = true;
    this.log.debug('kafka: asking for a new producer id');
    this.initProducerId().then(
      (identity) => {
        this.resetRunning = false;
        this.resetWanted = false;
        this.resetFailures = 0;
        this.setIdentity(identity);
        for (const partition of this.partitions) {
          partition.nextSequence = 0;
          partition.ackedSequence = 0;
          for (const batch of partition.queue) batch.baseSequence = -1;
        }
        this.drain();
      },
      (error: Error) => {
        this.resetRunning = false;
        this.resetFailures++;
        this.lastError = error;
        if (error instanceof KafkaBrokerError && error.action === 'fatal') {
          this.becomeFatal(
            new KafkaTransportError('refused', `Kafka refused a producer id: ${error.message}`),
          );
          return;
        }
        this.resetRetryAtMs =
          this.clock.now() +
          backoff(this.tuning.retryBackoffMs, this.tuning.retryBackoffMaxMs, this.resetFailures);
        this.scheduleWake(this.resetRetryAtMs);
      },
    );
  }
}

/** Creates gapipe's producer transport. */
export function createKafkaProducer<T>(
  options: ProducerTransportOptions<T>,
  tuning?: Partial<ProducerTuning>,
): ProducerTransport<T> {
  return new KafkaProducer(options, tuning);
}
