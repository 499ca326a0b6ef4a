/**
 * gapipe's own Kafka group consumer: one topic, the classic group protocol with eager rebalancing and
 * the range assignor, fetches decoded straight from the response buffer (record-batch-reader.ts). It
 * is written for the aggregation consumer's hot path — per record one small object and no copies —
 * and keeps the semantics its caller relies on:
 *
 * - Membership: FindCoordinator, JoinGroup (with the member id the broker asks for), SyncGroup (the
 *   leader assigns ranges), heartbeats on their own connection and timer, so a long batch handler
 *   never costs the membership. A heartbeat that reports a rebalance (or a stale generation) revokes
 *   every partition at once — batches of the old generation are no longer delivered, and `isActive`
 *   turns false for one in progress — and the member joins again; `onAssignment` gives the new
 *   partitions. An unknown member id (the session expired during an outage) joins afresh.
 * - Positions: a newly assigned partition starts at the group's committed offset, else at the log's
 *   start or end (`fromBeginning`); an offset out of range resets the same way. A handler's `seekTo`
 *   moves the position; otherwise the position moves past the delivered batch. Batches are delivered
 *   one at a time, in order per partition; while one is handled the next fetch is already on its way
 *   (data for a partition that was sought, paused or revoked meanwhile is dropped and fetched again).
 * - Pause and resume per partition; commit the given offsets with the current generation.
 * - Failures: connections are reopened and requests retried with backoff for as long as it takes —
 *   `onConnectionError` reports each, `onContact` each answer, and the caller decides when an outage
 *   has lasted too long. Only errors no retry can fix (authorization, an unsupported codec, protocol
 *   versions) end it through `onFatal`.
 */
import { type Logger, silentLogger } from '../log.js';
import { BrokerConnection, KafkaConnectionError } from './connection.js';
import {
  CONSUMER_API_KEYS,
  CONSUMER_API_VERSIONS,
  CONSUMER_ERRORS,
  type ConsumerApiName,
  type Coordinator,
  consumerBrokerError,
  decodeAssignment,
  decodeFetchResponse,
  decodeFindCoordinatorResponse,
  decodeHeartbeatResponse,
  decodeJoinGroupResponse,
  decodeListOffsetsResponse,
  decodeOffsetCommitResponse,
  decodeOffsetFetchResponse,
  decodeSubscription,
  decodeSyncGroupResponse,
  EARLIEST,
  encodeAssignment,
  encodeFetchRequest,
  encodeFindCoordinatorRequest,
  encodeHeartbeatRequest,
  encodeJoinGroupRequest,
  encodeLeaveGroupRequest,
  encodeListOffsetsRequest,
  encodeOffsetCommitRequest,
  encodeOffsetFetchRequest,
  encodeSubscription,
  encodeSyncGroupRequest,
  type FetchedPartition,
  isRetriable,
  LATEST,
  rangeAssign,
} from './consumer-protocol.js';
import {
  API_KEYS,
  API_VERSIONS,
  decodeApiVersionsResponse,
  decodeMetadataResponse,
  encodeApiVersionsRequest,
  encodeMetadataRequest,
  KafkaBrokerError,
  type MetadataResponse,
} from './protocol.js';
import {
  type FetchedRecord,
  HeaderTextCache,
  readRecordBatches,
  UnsupportedBatchError,
} from './record-batch-reader.js';
import { KafkaTransportError } from './transport.js';

export type { FetchedRecord } from './record-batch-reader.js';

export interface FetchedBatch {
  partition: number;
  records: FetchedRecord[];
  /** The partition's end offset when fetched. */
  highWatermark: number;
}

export interface GroupBatchControl {
  /** Heartbeats run on their own timer: this resolves at once. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the batch's partition was revoked. */
  isActive(): boolean;
}

export interface GroupConsumerHandlers {
  onAssignment(partitions: number[]): void;
  onBatch(batch: FetchedBatch, control: GroupBatchControl): Promise<{ seekTo?: number }>;
  onRebalancing?(): void;
  onFatal(error: Error): void;
  onContact?(): void;
  onConnectionError?(error: Error): void;
}

export interface GroupConsumerOptions {
  brokers: readonly string[];
  topic: string;
  group: string;
  clientId: string;
  /** Where a partition without a committed offset (or out of range) starts. */
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** How long the coordinator waits for members to join again in a rebalance. */
  rebalanceTimeoutMs: number;
  /** Topics that must exist besides `topic` (checked by `start`). */
  requiredTopics?: readonly string[];
  logger?: Logger;
}

/** Settings with Kafka's Java consumer defaults, except where noted; tests shorten them. */
export interface GroupConsumerTuning {
  fetchMaxWaitMs: number;
  fetchMinBytes: number;
  fetchMaxBytes: number;
  partitionMaxBytes: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /** How long `start` keeps trying to reach a broker. */
  openTimeoutMs: number;
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** read_committed: aborted transactions are skipped, as with kafkajs' default. */
  readCommitted: boolean;
}

export const GROUP_CONSUMER_TUNING: GroupConsumerTuning = {
  fetchMaxWaitMs: 500,
  fetchMinBytes: 1,
  fetchMaxBytes: 50 * 1024 * 1024,
  partitionMaxBytes: 1024 * 1024,
  requestTimeoutMs: 30_000,
  connectTimeoutMs: 3000,
  openTimeoutMs: 10_000,
  retryBackoffMs: 100,
  retryBackoffMaxMs: 5000,
  readCommitted: true,
};

/** Largest per-partition fetch size the consumer grows to for a batch that does not fit. */
const MAX_PARTITION_BYTES = 64 * 1024 * 1024;

interface PartitionState {
  /** The next offset to deliver; undefined until known (committed offset or log start/end). */
  position: number | undefined;
  /** The next offset to fetch: ahead of `position` while fetched data waits to be delivered. */
  fetchOffset: number;
  highWatermark: number;
  maxBytes: number;
}

interface Fetched {
  epoch: number;
  partition: number;
  requestedOffset: number;
  data: FetchedPartition;
}

interface Delivery {
  epoch: number;
  partition: number;
  requestedOffset: number;
  nextOffset: number;
  records: FetchedRecord[];
  highWatermark: number;
}

/** Errors that need the partition's leader looked up again. */
const LEADER_ERRORS = new Set<number>([
  CONSUMER_ERRORS.NOT_LEADER_OR_FOLLOWER,
  CONSUMER_ERRORS.LEADER_NOT_AVAILABLE,
  CONSUMER_ERRORS.UNKNOWN_TOPIC_OR_PARTITION,
  CONSUMER_ERRORS.FENCED_LEADER_EPOCH,
  CONSUMER_ERRORS.UNKNOWN_LEADER_EPOCH,
  CONSUMER_ERRORS.KAFKA_STORAGE_ERROR,
  CONSUMER_ERRORS.REPLICA_NOT_AVAILABLE,
]);

const COORDINATOR_ERRORS = new Set<number>([
  CONSUMER_ERRORS.NOT_COORDINATOR,
  CONSUMER_ERRORS.COORDINATOR_NOT_AVAILABLE,
  CONSUMER_ERRORS.COORDINATOR_LOAD_IN_PROGRESS,
]);

/** The group moved on without this member's generation: join again. */
const REJOIN_ERRORS = new Set<number>([
  CONSUMER_ERRORS.REBALANCE_IN_PROGRESS,
  CONSUMER_ERRORS.ILLEGAL_GENERATION,
  CONSUMER_ERRORS.UNKNOWN_MEMBER_ID,
]);

/** A batch handler threw: the consumer cannot go on. */
class HandlerError extends Error {
  constructor(readonly original: unknown) {
    super(describe(original), { cause: original });
    this.name = 'HandlerError';
  }
}

function parseAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

function backoff(base: number, max: number, failures: number): number {
  const exponential = Math.min(max, base * 2 ** Math.max(0, failures - 1));
  return Math.round(exponential * (0.8 + Math.random() * 0.4));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Failures a retry can fix: a lost connection, or a broker error marked retriable. */
function retriable(error: unknown): boolean {
  if (error instanceof KafkaConnectionError) return true;
  if (error instanceof KafkaBrokerError)
    return isRetriable(error.code) || COORDINATOR_ERRORS.has(error.code) || REJOIN_ERRORS.has(error.code);
  return error instanceof RangeError; // a response cut short: the connection is suspect
}

export class KafkaGroupConsumer {
  private readonly tuning: GroupConsumerTuning;
  private readonly log: Logger;
  private readonly bootstrap: Array<{ host: string; port: number }>;
  private readonly headerCache = new HeaderTextCache();
  private handlers: GroupConsumerHandlers | undefined;
  // Cluster view.
  private readonly nodes = new Map<number, { host: string; port: number }>();
  private readonly leaders = new Map<number, number>();
  private partitionTotal = 0;
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private bootstrapCursor = 0;
  // Group membership.
  private coordinator: Coordinator | undefined;
  private memberId = '';
  private generationId = -1;
  /** Changes whenever the assignment does: fetched data and batch controls of an older epoch are stale. */
  private epoch = 0;
  private assigned: number[] = [];
  private readonly partitions = new Map<number, PartitionState>();
  private readonly paused = new Set<number>();
  private rejoinWanted = true;
  // Life cycle.
  private running = false;
  private stopping = false;
  private fatal: Error | undefined;
  private groupLoopDone: Promise<void> | undefined;
  private fetchLoopDone: Promise<void> | undefined;
  private readonly stopWakers = new Set<() => void>();
  private readonly changeWakers = new Set<() => void>();

  constructor(
    private readonly options: GroupConsumerOptions,
    tuning: Partial<GroupConsumerTuning> = {},
  ) {
    this.tuning = { ...GROUP_CONSUMER_TUNING, ...tuning };
    this.log = options.logger ?? silentLogger;
    this.bootstrap = options.brokers.map(parseAddress);
  }

  /**
   * Connects, checks the broker's protocol versions and that the topics exist, then joins the group
   * and fetches in the background. Rejects with a `KafkaTransportError` (unreachable, unknown-topic,
   * unsupported) when that first step fails.
   */
  async start(handlers: GroupConsumerHandlers): Promise<void> {
    this.handlers = handlers;
    const deadline = Date.now() + this.tuning.openTimeoutMs;
    const topics = [this.options.topic, ...(this.options.requiredTopics ?? [])];
    let metadata: MetadataResponse | undefined;
    let lastError: unknown;
    for (let attempt = 1; !metadata && !this.stopping; attempt++) {
      try {
        const connection = await this.anyConnection();
        await this.checkVersions(connection);
        metadata = decodeMetadataResponse(
          await connection.request(API_KEYS.metadata, API_VERSIONS.metadata, [encodeMetadataRequest(topics)]),
        );
      } catch (error) {
        if (error instanceof KafkaTransportError) throw error;
        lastError = error;
        if (Date.now() + this.tuning.retryBackoffMs >= deadline) break;
        await this.sleep(backoff(this.tuning.retryBackoffMs, 1000, attempt));
      }
    }
    if (this.stopping) return;
    if (!metadata) {
      this.closeConnections();
      throw new KafkaTransportError(
        'unreachable',
        `Kafka at ${this.options.brokers.join(',')} did not answer within ${this.tuning.openTimeoutMs / 1000}s: ${describe(lastError)}`,
        { cause: lastError },
      );
    }
    const missing = topics.filter((name) => {
      const topic = metadata.topics.find((t) => t.name === name);
      return (
        !topic ||
        topic.errorCode === CONSUMER_ERRORS.UNKNOWN_TOPIC_OR_PARTITION ||
        topic.partitions.length === 0
      );
    });
    if (missing.length > 0) {
      this.closeConnections();
      throw new KafkaTransportError('unknown-topic', missing.join(', '));
    }
    this.applyMetadata(metadata);
    this.running = true;
    this.groupLoopDone = this.groupLoop();
    this.fetchLoopDone = this.fetchLoop();
  }

  pause(partitions: readonly number[]): void {
    for (const partition of partitions) this.paused.add(partition);
  }

  resume(partitions: readonly number[]): void {
    for (const partition of partitions) this.paused.delete(partition);
    this.wake();
  }

  /** Commits `offset` (the next offset to read) per partition, with the current generation. */
  async commit(offsets: ReadonlyArray<{ partition: number; offset: number }>): Promise<void> {
    if (offsets.length === 0) return;
    if (this.generationId < 0 || this.rejoinWanted) {
      throw consumerBrokerError(CONSUMER_ERRORS.REBALANCE_IN_PROGRESS, 'not a member of the group right now');
    }
    const connection = await this.coordinatorConnection();
    decodeOffsetCommitResponse(
      await connection.request(CONSUMER_API_KEYS.offsetCommit, CONSUMER_API_VERSIONS.offsetCommit, [
        encodeOffsetCommitRequest(
          this.options.group,
          this.generationId,
          this.memberId,
          this.options.topic,
          offsets,
        ),
      ]),
    );
    this.handlers?.onContact?.();
  }

  /** Partitions of the topic, from fresh metadata. */
  async partitionCount(): Promise<number> {
    await this.refreshMetadata();
    return this.partitionTotal;
  }

  /** Leaves the group (when Kafka answers within `leaveTimeoutMs`) and closes every connection. */
  async stop(leaveTimeoutMs = 1500): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.epoch++;
    this.wake(true);
    const memberId = this.memberId;
    if (this.running && memberId !== '' && this.coordinator) {
      const leave = this.coordinatorConnection()
        .then((connection) =>
          connection.request(CONSUMER_API_KEYS.leaveGroup, CONSUMER_API_VERSIONS.leaveGroup, [
            encodeLeaveGroupRequest(this.options.group, memberId),
          ]),
        )
        .catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        leave,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, leaveTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.closeConnections();
    await Promise.all([this.groupLoopDone, this.fetchLoopDone]);
  }

  // --- membership ---------------------------------------------------------------------------------------

  private async groupLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping && !this.fatal) {
      try {
        if (this.rejoinWanted) {
          await this.joinGroup();
        } else {
          await this.sleep(this.options.heartbeatIntervalMs);
          if (this.stopping) break;
          await this.heartbeat();
        }
        failures = 0;
      } catch (error) {
        if (this.stopping) break;
        if (error instanceof KafkaBrokerError && REJOIN_ERRORS.has(error.code)) {
          if (error.code === CONSUMER_ERRORS.UNKNOWN_MEMBER_ID) this.memberId = '';
          this.log.debug(`kafka: ${describe(error)}; joining the group again`);
          this.revoke();
          continue;
        }
        if (!retriable(error)) {
          this.failWith(error);
          break;
        }
        failures++;
        if (
          error instanceof KafkaConnectionError ||
          (error instanceof KafkaBrokerError && COORDINATOR_ERRORS.has(error.code))
        ) {
          this.coordinator = undefined;
        }
        this.handlers?.onConnectionError?.(error as Error);
        this.log.debug(`kafka group: ${describe(error)}; retrying`);
        await this.sleep(backoff(this.tuning.retryBackoffMs, this.tuning.retryBackoffMaxMs, failures));
      }
    }
  }

  /** Every partition is given up (eager rebalancing); the member joins again. */
  private revoke(): void {
    if (!this.rejoinWanted) this.handlers?.onRebalancing?.();
    this.rejoinWanted = true;
    this.generationId = -1;
    this.epoch++;
    this.assigned = [];
    this.partitions.clear();
  }

  private async joinGroup(): Promise<void> {
    this.revoke();
    const connection = await this.coordinatorConnection();
    const protocols = [{ name: 'range', metadata: encodeSubscription([this.options.topic]) }];
    let joined = decodeJoinGroupResponse(await this.requestJoin(connection, protocols));
    if (joined.errorCode === CONSUMER_ERRORS.MEMBER_ID_REQUIRED) {
      // Kafka 2.2+: the first join only hands out the member id to join with.
      this.memberId = joined.memberId;
      joined = decodeJoinGroupResponse(await this.requestJoin(connection, protocols));
    }
    if (joined.errorCode !== 0) throw consumerBrokerError(joined.errorCode);
    this.memberId = joined.memberId;
    this.handlers?.onContact?.();
    let assignments: Array<{ memberId: string; assignment: Buffer }> = [];
    if (joined.leader === joined.memberId) {
      const members = joined.members.map((m) => ({
        memberId: m.memberId,
        topics: decodeSubscription(m.metadata),
      }));
      const topics = [...new Set(members.flatMap((m) => m.topics))];
      const counts = await this.partitionCounts(topics);
      const plan = rangeAssign(members, counts);
      assignments = [...plan].map(([memberId, assignment]) => ({
        memberId,
        assignment: encodeAssignment(assignment),
      }));
      this.log.debug(
        `kafka group: leader of generation ${joined.generationId}, ${members.length} member(s): ${[...plan]
          .map(([id, a]) => `${id.slice(-8)}=[${a.get(this.options.topic)?.join(',') ?? ''}]`)
          .join(' ')}`,
      );
    }
    const assignment = decodeAssignment(await this.syncGroup(connection, joined.generationId, assignments));
    if (this.stopping) return;
    this.generationId = joined.generationId;
    this.rejoinWanted = false;
    this.epoch++;
    this.assigned = [...(assignment.get(this.options.topic) ?? [])].sort((a, b) => a - b);
    for (const partition of this.assigned) {
      this.partitions.set(partition, {
        position: undefined,
        fetchOffset: -1,
        highWatermark: 0,
        maxBytes: this.tuning.partitionMaxBytes,
      });
    }
    this.handlers?.onContact?.();
    this.handlers?.onAssignment([...this.assigned]);
    this.wake();
  }

  private requestJoin(
    connection: BrokerConnection,
    protocols: Array<{ name: string; metadata: Buffer }>,
  ): Promise<Buffer> {
    return connection.request(CONSUMER_API_KEYS.joinGroup, CONSUMER_API_VERSIONS.joinGroup, [
      encodeJoinGroupRequest({
        group: this.options.group,
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
        memberId: this.memberId,
        protocolType: 'consumer',
        protocols,
      }),
    ]);
  }

  private async syncGroup(
    connection: BrokerConnection,
    generationId: number,
    assignments: Array<{ memberId: string; assignment: Buffer }>,
  ): Promise<Buffer | null> {
    return decodeSyncGroupResponse(
      await connection.request(CONSUMER_API_KEYS.syncGroup, CONSUMER_API_VERSIONS.syncGroup, [
        encodeSyncGroupRequest(this.options.group, generationId, this.memberId, assignments),
      ]),
    );
  }

  private async heartbeat(): Promise<void> {
    const connection = await this.coordinatorConnection();
    decodeHeartbeatResponse(
      await connection.request(CONSUMER_API_KEYS.heartbeat, CONSUMER_API_VERSIONS.heartbeat, [
        encodeHeartbeatRequest(this.options.group, this.generationId, this.memberId),
      ]),
    );
    this.handlers?.onContact?.();
  }

  private async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const connection = await this.anyConnection();
    const metadata = decodeMetadataResponse(
      await connection.request(API_KEYS.metadata, API_VERSIONS.metadata, [encodeMetadataRequest(topics)]),
    );
    const counts = new Map<string, number>();
    for (const topic of metadata.topics)
      if (topic.errorCode === 0) counts.set(topic.name, topic.partitions.length);
    return counts;
  }

  // --- fetching -----------------------------------------------------------------------------------------

  private async fetchLoop(): Promise<void> {
    let prefetch: Promise<Fetched[]> | undefined;
    let failures = 0;
    while (!this.stopping && !this.fatal) {
      try {
        const fetched = await (prefetch ?? this.fetch());
        prefetch = undefined;
        if (this.stopping) break;
        const deliveries = await this.accept(fetched);
        failures = 0;
        // The next fetch goes out before this one's records are handled: the broker works meanwhile.
        if (deliveries.some((d) => d.nextOffset > d.requestedOffset)) {
          prefetch = this.fetch();
          prefetch.catch(() => {});
        }
        for (const delivery of deliveries) {
          if (this.stopping) break;
          await this.deliver(delivery);
        }
      } catch (error) {
        prefetch = undefined;
        if (this.stopping) break;
        if (!retriable(error)) {
          this.failWith(error instanceof HandlerError ? error.original : error);
          break;
        }
        failures++;
        this.handlers?.onConnectionError?.(error as Error);
        this.log.debug(`kafka fetch: ${describe(error)}; retrying`);
        await this.sleep(backoff(this.tuning.retryBackoffMs, this.tuning.retryBackoffMaxMs, failures));
        await this.refreshMetadata().catch(() => {});
      }
    }
  }

  /** One Fetch per leader of the fetchable partitions; waits for a change when there is none. */
  private async fetch(): Promise<Fetched[]> {
    await this.resolvePositions();
    const epoch = this.epoch;
    const byLeader = new Map<number, Array<{ partition: number; offset: number; maxBytes: number }>>();
    let leaderless = false;
    for (const partition of this.assigned) {
      const state = this.partitions.get(partition);
      if (!state || state.position === undefined || this.paused.has(partition)) continue;
      const leader = this.leaders.get(partition);
      if (leader === undefined || leader < 0 || !this.nodes.has(leader)) {
        leaderless = true;
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      byLeader.set(leader, list);
      list.push({ partition, offset: state.fetchOffset, maxBytes: state.maxBytes });
    }
    if (leaderless) await this.refreshMetadata();
    if (byLeader.size === 0) {
      await this.sleep(leaderless ? this.tuning.retryBackoffMs : 1000, true);
      return [];
    }
    const responses = await Promise.all(
      [...byLeader].map(async ([leader, partitions]) => {
        const connection = await this.nodeConnection(leader);
        const body = await connection.request(CONSUMER_API_KEYS.fetch, CONSUMER_API_VERSIONS.fetch, [
          encodeFetchRequest({
            maxWaitMs: this.tuning.fetchMaxWaitMs,
            minBytes: this.tuning.fetchMinBytes,
            maxBytes: this.tuning.fetchMaxBytes,
            readCommitted: this.tuning.readCommitted,
            topic: this.options.topic,
            partitions,
          }),
        ]);
        const response = decodeFetchResponse(body);
        if (response.errorCode !== 0) throw consumerBrokerError(response.errorCode);
        const requested = new Map(partitions.map((p) => [p.partition, p.offset]));
        return response.partitions.map((data) => ({
          epoch,
          partition: data.partition,
          requestedOffset: requested.get(data.partition) ?? -1,
          data,
        }));
      }),
    );
    this.handlers?.onContact?.();
    return responses.flat();
  }

  /** Reads the records of fetched data that is still wanted and moves the fetch offsets past them. */
  private async accept(fetched: Fetched[]): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    let refresh = false;
    for (const { epoch, partition, requestedOffset, data } of fetched) {
      const state = this.partitions.get(partition);
      if (epoch !== this.epoch || !state || requestedOffset !== state.fetchOffset) continue;
      if (data.errorCode !== 0) {
        if (data.errorCode === CONSUMER_ERRORS.OFFSET_OUT_OF_RANGE) {
          const reset = await this.listOffsets([partition], this.options.fromBeginning ? EARLIEST : LATEST);
          const offset = reset.get(partition);
          if (offset !== undefined && epoch === this.epoch && state.position === requestedOffset) {
            this.log.debug(
              `kafka: partition ${partition} offset ${requestedOffset} is out of range; resetting to ${offset}`,
            );
            state.position = offset;
            state.fetchOffset = offset;
          }
          continue;
        }
        if (LEADER_ERRORS.has(data.errorCode) || isRetriable(data.errorCode)) {
          refresh = true;
          continue;
        }
        throw consumerBrokerError(data.errorCode, `fetching partition ${partition} of ${this.options.topic}`);
      }
      state.highWatermark = data.highWatermark;
      let read: ReturnType<typeof readRecordBatches>;
      try {
        read = readRecordBatches(data.records, {
          fetchOffset: requestedOffset,
          abortedTransactions: data.abortedTransactions,
          cache: this.headerCache,
          partition,
        });
      } catch (error) {
        if (error instanceof UnsupportedBatchError) throw error;
        throw new UnsupportedBatchError(
          `partition ${partition} of ${this.options.topic}: unreadable record batch at offset ${requestedOffset} (${describe(error)})`,
        );
      }
      if (read.truncated && state.maxBytes < MAX_PARTITION_BYTES) state.maxBytes *= 2;
      state.fetchOffset = read.nextOffset;
      deliveries.push({
        epoch,
        partition,
        requestedOffset,
        nextOffset: read.nextOffset,
        records: read.records,
        highWatermark: data.highWatermark,
      });
    }
    if (refresh) {
      await this.refreshMetadata().catch(() => {});
      await this.sleep(this.tuning.retryBackoffMs);
    }
    return deliveries;
  }

  private async deliver(delivery: Delivery): Promise<void> {
    const { epoch, partition } = delivery;
    const state = this.partitions.get(partition);
    if (epoch !== this.epoch || !state || state.position !== delivery.requestedOffset) return;
    if (this.paused.has(partition)) {
      // Fetched before the pause: fetched again after the resume.
      state.fetchOffset = state.position;
      return;
    }
    if (delivery.records.length === 0) {
      state.position = delivery.nextOffset;
      return;
    }
    const handlers = this.handlers as GroupConsumerHandlers;
    let result: { seekTo?: number };
    try {
      result = await handlers.onBatch(
        { partition, records: delivery.records, highWatermark: delivery.highWatermark },
        {
          heartbeat: () => Promise.resolve(),
          isActive: () => !this.stopping && this.epoch === epoch,
        },
      );
    } catch (error) {
      // The handler's own failure: no retry of Kafka's can fix it.
      throw new HandlerError(error);
    }
    if (epoch !== this.epoch || this.partitions.get(partition) !== state) return;
    if (result.seekTo !== undefined) {
      state.position = result.seekTo;
      state.fetchOffset = result.seekTo;
    } else {
      state.position = delivery.nextOffset;
    }
  }

  /** Positions of newly assigned partitions: the committed offset, else the log's start or end. */
  private async resolvePositions(): Promise<void> {
    const epoch = this.epoch;
    const unknown = this.assigned.filter((p) => this.partitions.get(p)?.position === undefined);
    if (unknown.length === 0 || this.rejoinWanted) return;
    const connection = await this.coordinatorConnection();
    const committed = decodeOffsetFetchResponse(
      await connection.request(CONSUMER_API_KEYS.offsetFetch, CONSUMER_API_VERSIONS.offsetFetch, [
        encodeOffsetFetchRequest(this.options.group, this.options.topic, unknown),
      ]),
    );
    const missing = unknown.filter((p) => (committed.get(p) ?? -1) < 0);
    const reset =
      missing.length > 0
        ? await this.listOffsets(missing, this.options.fromBeginning ? EARLIEST : LATEST)
        : new Map<number, number>();
    if (epoch !== this.epoch) return;
    for (const partition of unknown) {
      const state = this.partitions.get(partition);
      const offset = (committed.get(partition) ?? -1) >= 0 ? committed.get(partition) : reset.get(partition);
      if (!state || offset === undefined) continue;
      state.position = offset;
      state.fetchOffset = offset;
    }
  }

  private async listOffsets(partitions: number[], timestamp: number): Promise<Map<number, number>> {
    const byLeader = new Map<number, number[]>();
    for (const partition of partitions) {
      const leader = this.leaders.get(partition) ?? -1;
      const list = byLeader.get(leader) ?? [];
      byLeader.set(leader, list);
      list.push(partition);
    }
    const offsets = new Map<number, number>();
    for (const [leader, list] of byLeader) {
      const connection =
        leader >= 0 && this.nodes.has(leader)
          ? await this.nodeConnection(leader)
          : await this.anyConnection();
      const answer = decodeListOffsetsResponse(
        await connection.request(CONSUMER_API_KEYS.listOffsets, CONSUMER_API_VERSIONS.listOffsets, [
          encodeListOffsetsRequest(this.options.topic, list, timestamp, this.tuning.readCommitted),
        ]),
      );
      for (const [partition, offset] of answer) offsets.set(partition, offset);
    }
    return offsets;
  }

  // --- connections and metadata ---------------------------------------------------------------------------

  private async checkVersions(connection: BrokerConnection): Promise<void> {
    const versions = decodeApiVersionsResponse(
      await connection.request(API_KEYS.apiVersions, API_VERSIONS.apiVersions, [encodeApiVersionsRequest()]),
    );
    const wanted: Array<[string, number, number]> = [
      ['metadata', API_KEYS.metadata, API_VERSIONS.metadata],
      ...(Object.keys(CONSUMER_API_KEYS) as ConsumerApiName[]).map((name): [string, number, number] => [
        name,
        CONSUMER_API_KEYS[name],
        CONSUMER_API_VERSIONS[name],
      ]),
    ];
    for (const [name, key, version] of wanted) {
      const range = versions.get(key);
      if (!range || range.min > version || range.max < version) {
        throw new KafkaTransportError(
          'unsupported',
          `the broker at ${connection.address} does not support ${name} v${version} (Kafka 2.3 or newer does)`,
        );
      }
    }
  }

  private applyMetadata(metadata: MetadataResponse): void {
    for (const broker of metadata.brokers)
      this.nodes.set(broker.nodeId, { host: broker.host, port: broker.port });
    const topic = metadata.topics.find((t) => t.name === this.options.topic);
    if (topic?.errorCode !== 0 || topic === undefined) return;
    this.partitionTotal = topic.partitions.length;
    for (const partition of topic.partitions) this.leaders.set(partition.partition, partition.leader);
  }

  private async refreshMetadata(): Promise<void> {
    const connection = await this.anyConnection();
    this.applyMetadata(
      decodeMetadataResponse(
        await connection.request(API_KEYS.metadata, API_VERSIONS.metadata, [
          encodeMetadataRequest([this.options.topic]),
        ]),
      ),
    );
  }

  /**
   * A connection for metadata and coordinator look-ups, apart from the fetch connections (a fetch can
   * wait on the broker for `fetchMaxWaitMs`): a known broker's, else the next address that answers.
   */
  private async anyConnection(): Promise<BrokerConnection> {
    const candidates = [...this.nodes.values(), ...this.bootstrap];
    for (const address of candidates) {
      const existing = this.connections.get(`addr:${address.host}:${address.port}`);
      const connection = existing && (await existing.catch(() => undefined));
      if (connection?.usable) return connection;
    }
    let lastError: unknown;
    for (let i = 0; i < candidates.length; i++) {
      const address = candidates[(this.bootstrapCursor + i) % candidates.length] as {
        host: string;
        port: number;
      };
      try {
        return await this.connect(`addr:${address.host}:${address.port}`, address.host, address.port);
      } catch (error) {
        lastError = error;
      }
    }
    this.bootstrapCursor++;
    throw lastError ?? new KafkaConnectionError('no broker address');
  }

  private nodeConnection(nodeId: number): Promise<BrokerConnection> {
    const node = this.nodes.get(nodeId);
    if (!node) return Promise.reject(new KafkaConnectionError(`broker ${nodeId} is not in the metadata`));
    return this.connect(`node:${nodeId}`, node.host, node.port);
  }

  /**
   * The coordinator's connection: its own, apart from the fetch connections, because a broker
   * answers a connection's requests in order and a JoinGroup can wait for the whole rebalance.
   */
  private async coordinatorConnection(): Promise<BrokerConnection> {
    if (!this.coordinator) {
      const connection = await this.anyConnection();
      this.coordinator = decodeFindCoordinatorResponse(
        await connection.request(CONSUMER_API_KEYS.findCoordinator, CONSUMER_API_VERSIONS.findCoordinator, [
          encodeFindCoordinatorRequest(this.options.group),
        ]),
      );
    }
    const { host, port, nodeId } = this.coordinator;
    return this.connect(
      `coordinator:${nodeId}`,
      host,
      port,
      this.options.rebalanceTimeoutMs + this.tuning.requestTimeoutMs,
    );
  }

  private connect(
    key: string,
    host: string,
    port: number,
    requestTimeoutMs = this.tuning.requestTimeoutMs + this.tuning.fetchMaxWaitMs,
  ): Promise<BrokerConnection> {
    const existing = this.connections.get(key);
    if (existing) return existing;
    if (this.stopping) return Promise.reject(new KafkaConnectionError('the consumer is stopping'));
    const connection = new BrokerConnection({
      host,
      port,
      clientId: this.options.clientId,
      connectTimeoutMs: this.tuning.connectTimeoutMs,
      requestTimeoutMs,
    });
    const pending = connection.connect().then(() => connection);
    this.connections.set(key, pending);
    const forget = () => {
      if (this.connections.get(key) === pending) this.connections.delete(key);
    };
    connection.onClose = forget;
    pending.catch(forget);
    return pending;
  }

  private closeConnections(): void {
    const all = [...this.connections.values()];
    this.connections.clear();
    for (const pending of all) pending.then((c) => c.close()).catch(() => {});
  }

  // --- helpers ----------------------------------------------------------------------------------------------

  private failWith(error: unknown): void {
    if (this.fatal || this.stopping) return;
    this.fatal = error instanceof Error ? error : new Error(String(error));
    this.wake(true);
    this.handlers?.onFatal(this.fatal);
  }

  /**
   * A sleep that `stop` cuts short, and with `onChange` also `resume` and a new assignment (the fetch
   * loop waits for those; the heartbeat timer does not).
   */
  private sleep(ms: number, onChange = false): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.stopWakers.delete(finish);
        this.changeWakers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.stopWakers.add(finish);
      if (onChange) this.changeWakers.add(finish);
    });
  }

  /** Ends the sleeps of the fetch loop (`all`: every sleep, for stop). */
  private wake(all = false): void {
    for (const wake of [...(all ? this.stopWakers : this.changeWakers)]) wake();
  }
}
