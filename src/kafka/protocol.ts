/**
 * The few Kafka wire-protocol messages the producer speaks, in their non-flexible versions (Kafka 2.4
 * and newer answer all of them): ApiVersions v0, Metadata v8, InitProducerId v1 and Produce v8.
 * Requests are small and built with `RequestWriter`; the record batches inside a Produce request are
 * built elsewhere (record-batch.ts) and passed on as separate buffers, never copied.
 */

export const API_KEYS = { produce: 0, metadata: 3, apiVersions: 18, initProducerId: 22 } as const;
export type ApiName = keyof typeof API_KEYS;

/** The version of each request this client sends. */
export const API_VERSIONS: Record<ApiName, number> = {
  produce: 8,
  metadata: 8,
  apiVersions: 0,
  initProducerId: 1,
};

/** How the producer reacts to a broker error code. */
export type ErrorAction =
  /** Try again after a backoff; `refresh` says the partition's leader may have moved. */
  | 'retry'
  | 'retry-refresh'
  /** The idempotent producer's state on the broker is gone or out of step: new producer id. */
  | 'reset-producer'
  /** The record batch cannot be written as it is; the records fail, the run goes on. */
  | 'fail'
  /** Nothing the producer does will help (authorization, versions): the run stops. */
  | 'fatal';

interface ErrorInfo {
  name: string;
  action: ErrorAction;
}

/** Broker error codes the producer can meet (Kafka's Errors enum), with the Java producer's reaction. */
export const ERRORS: Record<number, ErrorInfo> = {
  [-1]: { name: 'UNKNOWN_SERVER_ERROR', action: 'retry' },
  1: { name: 'OFFSET_OUT_OF_RANGE', action: 'fail' },
  2: { name: 'CORRUPT_MESSAGE', action: 'retry' },
  3: { name: 'UNKNOWN_TOPIC_OR_PARTITION', action: 'retry-refresh' },
  5: { name: 'LEADER_NOT_AVAILABLE', action: 'retry-refresh' },
  6: { name: 'NOT_LEADER_OR_FOLLOWER', action: 'retry-refresh' },
  7: { name: 'REQUEST_TIMED_OUT', action: 'retry' },
  8: { name: 'BROKER_NOT_AVAILABLE', action: 'retry-refresh' },
  10: { name: 'MESSAGE_TOO_LARGE', action: 'fail' },
  13: { name: 'NETWORK_EXCEPTION', action: 'retry-refresh' },
  14: { name: 'COORDINATOR_LOAD_IN_PROGRESS', action: 'retry' },
  15: { name: 'COORDINATOR_NOT_AVAILABLE', action: 'retry' },
  16: { name: 'NOT_COORDINATOR', action: 'retry' },
  17: { name: 'INVALID_TOPIC_EXCEPTION', action: 'fatal' },
  18: { name: 'RECORD_LIST_TOO_LARGE', action: 'fail' },
  19: { name: 'NOT_ENOUGH_REPLICAS', action: 'retry' },
  20: { name: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', action: 'retry' },
  21: { name: 'INVALID_REQUIRED_ACKS', action: 'fatal' },
  29: { name: 'TOPIC_AUTHORIZATION_FAILED', action: 'fatal' },
  31: { name: 'CLUSTER_AUTHORIZATION_FAILED', action: 'fatal' },
  35: { name: 'UNSUPPORTED_VERSION', action: 'fatal' },
  41: { name: 'NOT_CONTROLLER', action: 'retry-refresh' },
  43: { name: 'UNSUPPORTED_FOR_MESSAGE_FORMAT', action: 'fatal' },
  45: { name: 'OUT_OF_ORDER_SEQUENCE_NUMBER', action: 'reset-producer' },
  47: { name: 'INVALID_PRODUCER_EPOCH', action: 'reset-producer' },
  51: { name: 'CONCURRENT_TRANSACTIONS', action: 'retry' },
  56: { name: 'KAFKA_STORAGE_ERROR', action: 'retry-refresh' },
  59: { name: 'UNKNOWN_PRODUCER_ID', action: 'reset-producer' },
  60: { name: 'REASSIGNMENT_IN_PROGRESS', action: 'retry' },
  74: { name: 'FENCED_LEADER_EPOCH', action: 'retry-refresh' },
  75: { name: 'UNKNOWN_LEADER_EPOCH', action: 'retry-refresh' },
  87: { name: 'INVALID_RECORD', action: 'fail' },
  89: { name: 'THROTTLING_QUOTA_EXCEEDED', action: 'retry' },
  90: { name: 'PRODUCER_FENCED', action: 'reset-producer' },
};

/** Kafka's error code 46: a retried batch the broker already has. The producer counts it as written. */
export const DUPLICATE_SEQUENCE_NUMBER = 46;
export const UNKNOWN_TOPIC_OR_PARTITION = 3;

export function errorInfo(code: number): ErrorInfo {
  return ERRORS[code] ?? { name: `error code ${code}`, action: 'fail' };
}

/** An error a broker answered with. */
export class KafkaBrokerError extends Error {
  readonly code: number;
  readonly action: ErrorAction;
  constructor(code: number, detail?: string | null) {
    const info = errorInfo(code);
    super(detail ? `${info.name}: ${detail}` : info.name);
    this.name = 'KafkaBrokerError';
    this.code = code;
    this.action = info.action;
  }
}

/** A growable buffer for small requests. */
export class RequestWriter {
  private buf = Buffer.allocUnsafe(256);
  private pos = 0;

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  int8(value: number): this {
    this.ensure(1);
    this.pos = this.buf.writeInt8(value, this.pos);
    return this;
  }
  int16(value: number): this {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(value, this.pos);
    return this;
  }
  int32(value: number): this {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(value, this.pos);
    return this;
  }
  /** An INT64 from a number (exact up to 2^53). */
  int64(value: number): this {
    this.ensure(8);
    this.pos = this.buf.writeBigInt64BE(BigInt(value), this.pos);
    return this;
  }
  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }
  /** BYTES or NULLABLE_BYTES (null writes length -1). */
  bytes(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }
  /** A STRING or NULLABLE_STRING (null writes length -1). */
  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const length = Buffer.byteLength(value);
    this.int16(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, 'utf8');
    return this;
  }
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Reads a response body; throws a RangeError on a truncated one. */
export class ResponseReader {
  constructor(
    private readonly buf: Buffer,
    private pos = 0,
  ) {}
  int8(): number {
    const value = this.buf.readInt8(this.pos);
    this.pos += 1;
    return value;
  }
  int16(): number {
    const value = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return value;
  }
  int32(): number {
    const value = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }
  /** An INT64 as a number (exact up to 2^53: offsets, producer ids and timestamps stay below). */
  int64(): number {
    const value = Number(this.buf.readBigInt64BE(this.pos));
    this.pos += 8;
    return value;
  }
  boolean(): boolean {
    return this.int8() !== 0;
  }
  string(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    if (this.pos + length > this.buf.length) throw new RangeError('truncated string');
    const value = this.buf.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return value;
  }
  /** BYTES or NULLABLE_BYTES, as a view of the response (not copied); null for length -1. */
  bytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    if (this.pos + length > this.buf.length) throw new RangeError('truncated bytes');
    const value = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return value;
  }
  /** Where the next read starts. */
  get position(): number {
    return this.pos;
  }
  skip(bytes: number): void {
    this.pos += bytes;
  }
  /** An ARRAY, or null for a null array (length -1). */
  array<T>(item: (reader: this) => T): T[] {
    const count = this.int32();
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(item(this));
    return items;
  }
}

// --- ApiVersions v0 -----------------------------------------------------------------------------------

export interface ApiVersionRange {
  min: number;
  max: number;
}

export function encodeApiVersionsRequest(): Buffer {
  return Buffer.alloc(0);
}

export function decodeApiVersionsResponse(body: Buffer): Map<number, ApiVersionRange> {
  const reader = new ResponseReader(body);
  const errorCode = reader.int16();
  const ranges = new Map<number, ApiVersionRange>();
  // UNSUPPORTED_VERSION still lists the broker's versions (so a client can pick one).
  if (errorCode !== 0 && errorCode !== 35) throw new KafkaBrokerError(errorCode);
  for (const entry of reader.array((r) => ({ key: r.int16(), min: r.int16(), max: r.int16() }))) {
    ranges.set(entry.key, { min: entry.min, max: entry.max });
  }
  return ranges;
}

// --- Metadata v8 --------------------------------------------------------------------------------------

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface PartitionMetadata {
  errorCode: number;
  partition: number;
  leader: number;
  leaderEpoch: number;
}

export interface TopicMetadata {
  errorCode: number;
  name: string;
  partitions: PartitionMetadata[];
}

export interface MetadataResponse {
  brokers: BrokerAddress[];
  topics: TopicMetadata[];
}

export function encodeMetadataRequest(topics: readonly string[]): Buffer {
  const writer = new RequestWriter().int32(topics.length);
  for (const topic of topics) writer.string(topic);
  // allow_auto_topic_creation, include_cluster_authorized_operations, include_topic_authorized_operations
  return writer.boolean(false).boolean(false).boolean(false).toBuffer();
}

export function decodeMetadataResponse(body: Buffer): MetadataResponse {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const brokers = reader.array((r) => {
    const broker = { nodeId: r.int32(), host: r.string() ?? '', port: r.int32() };
    r.string(); // rack
    return broker;
  });
  reader.string(); // cluster_id
  reader.int32(); // controller_id
  const topics = reader.array((r) => {
    const errorCode = r.int16();
    const name = r.string() ?? '';
    r.boolean(); // is_internal
    const partitions = r.array((p) => {
      const partition = {
        errorCode: p.int16(),
        partition: p.int32(),
        leader: p.int32(),
        leaderEpoch: p.int32(),
      };
      p.array((q) => q.int32()); // replica_nodes
      p.array((q) => q.int32()); // isr_nodes
      p.array((q) => q.int32()); // offline_replicas
      return partition;
    });
    r.int32(); // topic_authorized_operations
    return { errorCode, name, partitions };
  });
  return { brokers, topics };
}

// --- InitProducerId v1 --------------------------------------------------------------------------------

export interface ProducerIdentity {
  producerId: number;
  producerEpoch: number;
}

export function encodeInitProducerIdRequest(): Buffer {
  // transactional_id null (an idempotent, non-transactional producer), transaction_timeout_ms
  return new RequestWriter().string(null).int32(60_000).toBuffer();
}

export function decodeInitProducerIdResponse(body: Buffer): ProducerIdentity {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const errorCode = reader.int16();
  if (errorCode !== 0) throw new KafkaBrokerError(errorCode);
  return { producerId: reader.int64(), producerEpoch: reader.int16() };
}

// --- Produce v8 ---------------------------------------------------------------------------------------

/**
 * The buffers of a Produce request for one topic: a prefix, then for each batch its partition and
 * length followed by the batch bytes themselves (not copied).
 */
export function encodeProduceRequest(
  topic: string,
  acks: number,
  timeoutMs: number,
  partitions: readonly number[],
  batches: readonly Buffer[],
): Buffer[] {
  const prefix = new RequestWriter()
    .string(null) // transactional_id
    .int16(acks)
    .int32(timeoutMs)
    .int32(1) // one topic
    .string(topic)
    .int32(partitions.length)
    .toBuffer();
  const heads = Buffer.allocUnsafe(8 * partitions.length);
  const parts: Buffer[] = [prefix];
  for (let i = 0; i < partitions.length; i++) {
    const batch = batches[i] as Buffer;
    heads.writeInt32BE(partitions[i] as number, 8 * i);
    heads.writeInt32BE(batch.length, 8 * i + 4);
    parts.push(heads.subarray(8 * i, 8 * i + 8), batch);
  }
  return parts;
}

export interface PartitionProduceResult {
  partition: number;
  errorCode: number;
  baseOffset: number;
  /** The broker's message for the error, or for rejected records, when it gives one. */
  errorMessage: string | null;
}

export function decodeProduceResponse(body: Buffer): PartitionProduceResult[] {
  const reader = new ResponseReader(body);
  const results: PartitionProduceResult[] = [];
  const topicCount = reader.int32();
  for (let t = 0; t < topicCount; t++) {
    reader.string(); // name: one topic per request
    const partitionCount = reader.int32();
    for (let p = 0; p < partitionCount; p++) {
      const partition = reader.int32();
      const errorCode = reader.int16();
      const baseOffset = reader.int64();
      reader.int64(); // log_append_time_ms
      reader.int64(); // log_start_offset
      const recordErrors = reader.array((r) => {
        r.int32(); // batch_index
        return r.string();
      });
      const errorMessage = reader.string() ?? recordErrors.find((m) => m) ?? null;
      results.push({ partition, errorCode, baseOffset, errorMessage });
    }
  }
  return results;
}
