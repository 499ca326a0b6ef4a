/**
 * The Kafka wire-protocol messages a group consumer speaks, in their last non-flexible versions
 * (Kafka 2.3 and newer answer all of them, Kafka 4 too): FindCoordinator v2, JoinGroup v5, SyncGroup
 * v3, Heartbeat v3, LeaveGroup v3, OffsetCommit v7, OffsetFetch v5, ListOffsets v5 and Fetch v11,
 * plus the consumer protocol's subscription and assignment (v0) carried inside JoinGroup and SyncGroup.
 * A Fetch response is not decoded here past each partition's header: its records stay a view of the
 * response buffer for the record-batch reader.
 */
import { KafkaBrokerError, RequestWriter, ResponseReader } from './protocol.js';

export const CONSUMER_API_KEYS = {
  fetch: 1,
  listOffsets: 2,
  offsetCommit: 8,
  offsetFetch: 9,
  findCoordinator: 10,
  joinGroup: 11,
  heartbeat: 12,
  leaveGroup: 13,
  syncGroup: 14,
} as const;
export type ConsumerApiName = keyof typeof CONSUMER_API_KEYS;

export const CONSUMER_API_VERSIONS: Record<ConsumerApiName, number> = {
  fetch: 11,
  listOffsets: 5,
  offsetCommit: 7,
  offsetFetch: 5,
  findCoordinator: 2,
  joinGroup: 5,
  heartbeat: 3,
  leaveGroup: 3,
  syncGroup: 3,
};

/** Broker error codes the consumer reacts to by name. */
export const CONSUMER_ERRORS = {
  OFFSET_OUT_OF_RANGE: 1,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  REPLICA_NOT_AVAILABLE: 9,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  ILLEGAL_GENERATION: 22,
  INCONSISTENT_GROUP_PROTOCOL: 23,
  UNKNOWN_MEMBER_ID: 25,
  INVALID_SESSION_TIMEOUT: 26,
  REBALANCE_IN_PROGRESS: 27,
  KAFKA_STORAGE_ERROR: 56,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  OFFSET_NOT_AVAILABLE: 78,
  MEMBER_ID_REQUIRED: 79,
} as const;

const NAMES: Record<number, string> = {
  22: 'ILLEGAL_GENERATION',
  23: 'INCONSISTENT_GROUP_PROTOCOL',
  24: 'INVALID_GROUP_ID',
  25: 'UNKNOWN_MEMBER_ID',
  26: 'INVALID_SESSION_TIMEOUT',
  27: 'REBALANCE_IN_PROGRESS',
  28: 'INVALID_COMMIT_OFFSET_SIZE',
  30: 'GROUP_AUTHORIZATION_FAILED',
  78: 'OFFSET_NOT_AVAILABLE',
  79: 'MEMBER_ID_REQUIRED',
  81: 'GROUP_MAX_SIZE_REACHED',
  82: 'FENCED_INSTANCE_ID',
};

/** A broker error of the group or fetch APIs (the producer's table names the common ones). */
export function consumerBrokerError(code: number, detail?: string | null): KafkaBrokerError {
  const error = new KafkaBrokerError(code, detail);
  const name = NAMES[code];
  if (name !== undefined && error.message.startsWith('error code')) {
    error.message = detail ? `${name}: ${detail}` : name;
  }
  return error;
}

/** Errors after which the same request to the same node may work (a leader moving, a broker starting). */
export function isRetriable(code: number): boolean {
  switch (code) {
    case CONSUMER_ERRORS.LEADER_NOT_AVAILABLE:
    case CONSUMER_ERRORS.NOT_LEADER_OR_FOLLOWER:
    case CONSUMER_ERRORS.REQUEST_TIMED_OUT:
    case CONSUMER_ERRORS.REPLICA_NOT_AVAILABLE:
    case CONSUMER_ERRORS.NETWORK_EXCEPTION:
    case CONSUMER_ERRORS.COORDINATOR_LOAD_IN_PROGRESS:
    case CONSUMER_ERRORS.COORDINATOR_NOT_AVAILABLE:
    case CONSUMER_ERRORS.NOT_COORDINATOR:
    case CONSUMER_ERRORS.UNKNOWN_TOPIC_OR_PARTITION:
    case CONSUMER_ERRORS.KAFKA_STORAGE_ERROR:
    case CONSUMER_ERRORS.FENCED_LEADER_EPOCH:
    case CONSUMER_ERRORS.UNKNOWN_LEADER_EPOCH:
    case CONSUMER_ERRORS.OFFSET_NOT_AVAILABLE:
    case -1: // UNKNOWN_SERVER_ERROR
      return true;
    default:
      return false;
  }
}

// --- FindCoordinator v2 -------------------------------------------------------------------------------

export interface Coordinator {
  nodeId: number;
  host: string;
  port: number;
}

export function encodeFindCoordinatorRequest(group: string): Buffer {
  return new RequestWriter().string(group).int8(0 /* key_type: group */).toBuffer();
}

export function decodeFindCoordinatorResponse(body: Buffer): Coordinator {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const errorCode = reader.int16();
  const message = reader.string();
  if (errorCode !== 0) throw consumerBrokerError(errorCode, message);
  return { nodeId: reader.int32(), host: reader.string() ?? '', port: reader.int32() };
}

// --- the consumer protocol (inside JoinGroup and SyncGroup) --------------------------------------------

/** ConsumerProtocolSubscription v0: the topics a member wants. */
export function encodeSubscription(topics: readonly string[]): Buffer {
  const writer = new RequestWriter().int16(0).int32(topics.length);
  for (const topic of topics) writer.string(topic);
  return writer.bytes(null).toBuffer();
}

/** The topics of a subscription of any version (they come first in every version). */
export function decodeSubscription(metadata: Buffer): string[] {
  if (metadata.length < 6) return [];
  const reader = new ResponseReader(metadata);
  reader.int16(); // version
  return reader.array((r) => r.string() ?? '');
}

/** ConsumerProtocolAssignment v0: topic → partitions. */
export function encodeAssignment(assignment: ReadonlyMap<string, readonly number[]>): Buffer {
  const writer = new RequestWriter().int16(0).int32(assignment.size);
  for (const [topic, partitions] of assignment) {
    writer.string(topic).int32(partitions.length);
    for (const partition of partitions) writer.int32(partition);
  }
  return writer.bytes(null).toBuffer();
}

/** An assignment of any version; empty bytes (a member left without partitions) is no partitions. */
export function decodeAssignment(bytes: Buffer | null): Map<string, number[]> {
  const assignment = new Map<string, number[]>();
  if (bytes === null || bytes.length < 6) return assignment;
  const reader = new ResponseReader(bytes);
  reader.int16(); // version
  for (const entry of reader.array((r) => ({
    topic: r.string() ?? '',
    partitions: r.array((p) => p.int32()),
  }))) {
    assignment.set(entry.topic, entry.partitions);
  }
  return assignment;
}

/**
 * Kafka's range assignor: per topic, members in member-id order get consecutive ranges of the
 * partitions, the first `partitions % members` one more.
 */
export function rangeAssign(
  members: ReadonlyArray<{ memberId: string; topics: readonly string[] }>,
  partitionsByTopic: ReadonlyMap<string, number>,
): Map<string, Map<string, number[]>> {
  const result = new Map<string, Map<string, number[]>>();
  for (const member of members) result.set(member.memberId, new Map());
  for (const [topic, count] of partitionsByTopic) {
    const subscribed = members
      .filter((m) => m.topics.includes(topic))
      .map((m) => m.memberId)
      .sort();
    if (subscribed.length === 0) continue;
    const each = Math.floor(count / subscribed.length);
    const extra = count % subscribed.length;
    let next = 0;
    subscribed.forEach((memberId, i) => {
      const take = each + (i < extra ? 1 : 0);
      const partitions: number[] = [];
      for (let p = next; p < next + take; p++) partitions.push(p);
      next += take;
      result.get(memberId)?.set(topic, partitions);
    });
  }
  return result;
}

// --- JoinGroup v5 ---------------------------------------------------------------------------------------

export interface JoinGroupRequest {
  group: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  protocolType: string;
  protocols: ReadonlyArray<{ name: string; metadata: Buffer }>;
}

export interface JoinGroupResponse {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  members: Array<{ memberId: string; metadata: Buffer }>;
}

export function encodeJoinGroupRequest(request: JoinGroupRequest): Buffer {
  const writer = new RequestWriter()
    .string(request.group)
    .int32(request.sessionTimeoutMs)
    .int32(request.rebalanceTimeoutMs)
    .string(request.memberId)
    .string(null) // group_instance_id: dynamic membership
    .string(request.protocolType)
    .int32(request.protocols.length);
  for (const protocol of request.protocols) writer.string(protocol.name).bytes(protocol.metadata);
  return writer.toBuffer();
}

/** The response as it is: MEMBER_ID_REQUIRED carries the member id to join with, so errors are data. */
export function decodeJoinGroupResponse(body: Buffer): JoinGroupResponse {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const errorCode = reader.int16();
  const generationId = reader.int32();
  const protocolName = reader.string() ?? '';
  const leader = reader.string() ?? '';
  const memberId = reader.string() ?? '';
  const members = reader.array((r) => {
    const id = r.string() ?? '';
    r.string(); // group_instance_id
    return { memberId: id, metadata: r.bytes() ?? Buffer.alloc(0) };
  });
  return { errorCode, generationId, protocolName, leader, memberId, members };
}

// --- SyncGroup v3 ---------------------------------------------------------------------------------------

export function encodeSyncGroupRequest(
  group: string,
  generationId: number,
  memberId: string,
  assignments: ReadonlyArray<{ memberId: string; assignment: Buffer }>,
): Buffer {
  const writer = new RequestWriter()
    .string(group)
    .int32(generationId)
    .string(memberId)
    .string(null)
    .int32(assignments.length);
  for (const entry of assignments) writer.string(entry.memberId).bytes(entry.assignment);
  return writer.toBuffer();
}

export function decodeSyncGroupResponse(body: Buffer): Buffer | null {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const errorCode = reader.int16();
  if (errorCode !== 0) throw consumerBrokerError(errorCode);
  return reader.bytes();
}

// --- Heartbeat v3 and LeaveGroup v3 ---------------------------------------------------------------------

export function encodeHeartbeatRequest(group: string, generationId: number, memberId: string): Buffer {
  return new RequestWriter().string(group).int32(generationId).string(memberId).string(null).toBuffer();
}

/** Throws the broker's error (REBALANCE_IN_PROGRESS among them). */
export function decodeHeartbeatResponse(body: Buffer): void {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const errorCode = reader.int16();
  if (errorCode !== 0) throw consumerBrokerError(errorCode);
}

export function encodeLeaveGroupRequest(group: string, memberId: string): Buffer {
  return new RequestWriter().string(group).int32(1).string(memberId).string(null).toBuffer();
}

// --- OffsetCommit v7 and OffsetFetch v5 -------------------------------------------------------------------

export function encodeOffsetCommitRequest(
  group: string,
  generationId: number,
  memberId: string,
  topic: string,
  offsets: ReadonlyArray<{ partition: number; offset: number }>,
): Buffer {
  const writer = new RequestWriter()
    .string(group)
    .int32(generationId)
    .string(memberId)
    .string(null)
    .int32(1)
    .string(topic)
    .int32(offsets.length);
  for (const { partition, offset } of offsets) {
    writer.int32(partition).int64(offset).int32(-1).string(null); // leader epoch, metadata
  }
  return writer.toBuffer();
}

/** Throws the first partition's error. */
export function decodeOffsetCommitResponse(body: Buffer): void {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const topics = reader.array((r) => {
    r.string();
    return r.array((p) => ({ partition: p.int32(), errorCode: p.int16() }));
  });
  for (const partitions of topics) {
    for (const { errorCode } of partitions) if (errorCode !== 0) throw consumerBrokerError(errorCode);
  }
}

export function encodeOffsetFetchRequest(
  group: string,
  topic: string,
  partitions: readonly number[],
): Buffer {
  const writer = new RequestWriter().string(group).int32(1).string(topic).int32(partitions.length);
  for (const partition of partitions) writer.int32(partition);
  return writer.toBuffer();
}

/** Committed offset per partition; -1 where the group has none. */
export function decodeOffsetFetchResponse(body: Buffer): Map<number, number> {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const offsets = new Map<number, number>();
  let partitionError = 0;
  reader.array((r) => {
    r.string();
    r.array((p) => {
      const partition = p.int32();
      const offset = p.int64();
      p.int32(); // committed_leader_epoch
      p.string(); // metadata
      const errorCode = p.int16();
      if (errorCode !== 0) partitionError ||= errorCode;
      offsets.set(partition, offset);
    });
  });
  const errorCode = reader.int16();
  if (errorCode !== 0) throw consumerBrokerError(errorCode);
  if (partitionError !== 0) throw consumerBrokerError(partitionError);
  return offsets;
}

// --- ListOffsets v5 --------------------------------------------------------------------------------------

/** ListOffsets' timestamps for the log's ends. */
export const EARLIEST = -2;
export const LATEST = -1;

export function encodeListOffsetsRequest(
  topic: string,
  partitions: readonly number[],
  timestamp: number,
  readCommitted: boolean,
): Buffer {
  const writer = new RequestWriter()
    .int32(-1) // replica_id: a consumer
    .int8(readCommitted ? 1 : 0)
    .int32(1)
    .string(topic)
    .int32(partitions.length);
  for (const partition of partitions) writer.int32(partition).int32(-1).int64(timestamp);
  return writer.toBuffer();
}

export function decodeListOffsetsResponse(body: Buffer): Map<number, number> {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const offsets = new Map<number, number>();
  reader.array((r) => {
    r.string();
    r.array((p) => {
      const partition = p.int32();
      const errorCode = p.int16();
      p.int64(); // timestamp
      const offset = p.int64();
      p.int32(); // leader_epoch
      if (errorCode !== 0) throw consumerBrokerError(errorCode);
      offsets.set(partition, offset);
    });
  });
  return offsets;
}

// --- Fetch v11 -------------------------------------------------------------------------------------------

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  readCommitted: boolean;
  topic: string;
  partitions: ReadonlyArray<{ partition: number; offset: number; maxBytes: number }>;
}

export function encodeFetchRequest(request: FetchRequest): Buffer {
  const writer = new RequestWriter()
    .int32(-1) // replica_id
    .int32(request.maxWaitMs)
    .int32(request.minBytes)
    .int32(request.maxBytes)
    .int8(request.readCommitted ? 1 : 0)
    .int32(0) // session_id: no fetch session, every request is a full one
    .int32(-1) // session_epoch
    .int32(1)
    .string(request.topic)
    .int32(request.partitions.length);
  for (const { partition, offset, maxBytes } of request.partitions) {
    writer.int32(partition).int32(-1).int64(offset).int64(-1).int32(maxBytes);
  }
  return writer.int32(0).string('').toBuffer(); // forgotten_topics_data, rack_id
}

export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

export interface FetchedPartition {
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  abortedTransactions: AbortedTransaction[];
  /** The record batches: a view of the response buffer, possibly ending in a partial batch. */
  records: Buffer | null;
}

export interface FetchResponse {
  errorCode: number;
  partitions: FetchedPartition[];
}

export function decodeFetchResponse(body: Buffer): FetchResponse {
  const reader = new ResponseReader(body);
  reader.int32(); // throttle_time_ms
  const errorCode = reader.int16();
  reader.int32(); // session_id
  const partitions: FetchedPartition[] = [];
  const topics = reader.int32();
  for (let t = 0; t < topics; t++) {
    reader.string();
    const count = reader.int32();
    for (let i = 0; i < count; i++) {
      const partition = reader.int32();
      const partitionError = reader.int16();
      const highWatermark = reader.int64();
      const lastStableOffset = reader.int64();
      const logStartOffset = reader.int64();
      const abortedTransactions = reader.array((r) => ({ producerId: r.int64(), firstOffset: r.int64() }));
      reader.int32(); // preferred_read_replica
      const records = reader.bytes();
      partitions.push({
        partition,
        errorCode: partitionError,
        highWatermark,
        lastStableOffset,
        logStartOffset,
        abortedTransactions,
        records,
      });
    }
  }
  return { errorCode, partitions };
}
