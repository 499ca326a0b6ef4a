/**
 * A small in-process Kafka broker for the group consumer's unit tests: one node that holds one
 * topic's partitions and answers ApiVersions, Metadata, FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListOffsets and Fetch in the versions gapipe's
 * consumer sends. The group coordinator follows the classic protocol: a new member id is handed out
 * with MEMBER_ID_REQUIRED, a join or leave (or a session that expires) starts a rebalance that members
 * learn of from their heartbeats, a join round ends when every member has joined again (or after the
 * rebalance timeout), the leader's SyncGroup hands out the assignment, and requests of an old
 * generation are refused. Fetched records are encoded with kafkajs' record-batch encoder, an
 * implementation independent of gapipe's reader.
 */
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';

const require = createRequire(import.meta.url);
const { RecordBatch: encodeRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (options: object) => Promise<{ buffer: Buffer }>;
};
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => unknown;

export interface FakeRecord {
  key: string | null;
  value: string;
  headers?: Record<string, string>;
}

interface Member {
  id: string;
  metadata: Buffer;
  lastSeenMs: number;
  sessionTimeoutMs: number;
  /** Answers the member's JoinGroup when the join round ends. */
  joined: ((body: Buffer) => void) | undefined;
}

class Writer {
  private parts: Buffer[] = [];
  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    this.parts.push(b);
    return this;
  }
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int64(v: number): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const b = Buffer.from(v);
    return this.int16(b.length).raw(b);
  }
  bytes(v: Buffer | null): this {
    if (v === null) return this.int32(-1);
    return this.int32(v.length).raw(v);
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos = 0,
  ) {}
  private take(bytes: number): number {
    const at = this.pos;
    this.pos += bytes;
    return at;
  }
  int8(): number {
    return this.buf.readInt8(this.take(1));
  }
  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }
  int64(): number {
    return Number(this.buf.readBigInt64BE(this.take(8)));
  }
  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }
  bytes(): Buffer | null {
    const n = this.int32();
    if (n < 0) return null;
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
  array<T>(item: () => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
}

const VERSIONS: Array<[number, number, number]> = [
  [1, 4, 11],
  [2, 1, 5],
  [3, 0, 8],
  [8, 2, 7],
  [9, 1, 5],
  [10, 0, 2],
  [11, 2, 5],
  [12, 0, 3],
  [13, 0, 3],
  [14, 0, 3],
  [18, 0, 2],
];

export class FakeGroupBroker {
  readonly logs: FakeRecord[][];
  readonly committed = new Map<number, number>();
  /** Requests by API key, for tests that check what was asked. */
  readonly requests = new Map<number, number>();
  /** Records one Fetch answers per partition at most (small, so a run takes many fetches). */
  fetchRecords = 50;
  /** How long a join round waits for members that have not joined again. */
  rebalanceTimeoutMs = 3000;
  port = 0;
  generation = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly members = new Map<string, Member>();
  private phase: 'stable' | 'joining' | 'syncing' = 'stable';
  private leader = '';
  private assignments = new Map<string, Buffer>();
  private readonly syncWaiters: Array<() => void> = [];
  private roundTimer: NodeJS.Timeout | undefined;
  private sessionTimer: NodeJS.Timeout | undefined;
  private nextMember = 1;
  private readonly appended: Array<() => void> = [];

  constructor(
    readonly topic: string,
    partitions: number,
  ) {
    this.logs = Array.from({ length: partitions }, () => []);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Member ids of the group now. */
  get memberIds(): string[] {
    return [...this.members.keys()];
  }

  append(partition: number, records: FakeRecord[]): void {
    this.logs[partition]?.push(...records);
    for (const wake of this.appended.splice(0)) wake();
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.serve(socket));
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        const address = server.address();
        this.port = typeof address === 'object' && address ? address.port : 0;
        this.server = server;
        this.sessionTimer = setInterval(() => this.expireSessions(), 100);
        resolve();
      });
    });
  }

  /** Closes every connection and stops listening; the group's state is kept (as Kafka keeps it). */
  async stop(): Promise<void> {
    clearInterval(this.sessionTimer);
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    // Kafka answers a connection's requests in order: so does this broker.
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        queue = queue.then(async () => {
          const reader = new Reader(frame);
          const apiKey = reader.int16();
          reader.int16(); // version
          const correlationId = reader.int32();
          reader.string(); // client id
          this.requests.set(apiKey, (this.requests.get(apiKey) ?? 0) + 1);
          const body = await this.handle(apiKey, reader);
          if (socket.destroyed) return;
          const head = Buffer.alloc(8);
          head.writeInt32BE(body.length + 4, 0);
          head.writeInt32BE(correlationId, 4);
          socket.write(Buffer.concat([head, body]));
        });
      }
    });
  }

  private handle(apiKey: number, r: Reader): Promise<Buffer> | Buffer {
    switch (apiKey) {
      case 18: {
        const w = new Writer().int16(0).int32(VERSIONS.length);
        for (const [key, min, max] of VERSIONS) w.int16(key).int16(min).int16(max);
        return w.build();
      }
      case 3:
        return this.metadata(r);
      case 10:
        return new Writer()
          .int32(0)
          .int16(0)
          .string(null)
          .int32(0)
          .string('127.0.0.1')
          .int32(this.port)
          .build();
      case 11:
        return this.join(r);
      case 14:
        return this.sync(r);
      case 12:
        return this.heartbeat(r);
      case 13:
        return this.leave(r);
      case 8:
        return this.offsetCommit(r);
      case 9:
        return this.offsetFetch(r);
      case 2:
        return this.listOffsets(r);
      case 1:
        return this.fetch(r);
      default:
        throw new Error(`fake broker: API ${apiKey} not served`);
    }
  }

  private metadata(r: Reader): Buffer {
    const topics = r.array(() => r.string() ?? '');
    const w = new Writer().int32(0).int32(1).int32(0).string('127.0.0.1').int32(this.port).string(null);
    w.string('fake-cluster').int32(0).int32(topics.length);
    for (const topic of topics) {
      if (topic !== this.topic) {
        w.int16(3).string(topic).int8(0).int32(0).int32(0);
        continue;
      }
      w.int16(0).string(topic).int8(0).int32(this.logs.length);
      for (let p = 0; p < this.logs.length; p++) {
        w.int16(0).int32(p).int32(0).int32(0).int32(1).int32(0).int32(1).int32(0).int32(0);
      }
      w.int32(0);
    }
    return w.int32(0).build(); // cluster_authorized_operations
  }

  // --- the group --------------------------------------------------------------------------------------

  private join(r: Reader): Promise<Buffer> | Buffer {
    r.string(); // group
    const sessionTimeoutMs = r.int32();
    r.int32(); // rebalance timeout
    let memberId = r.string() ?? '';
    r.string(); // instance id
    r.string(); // protocol type
    const protocols = r.array(() => ({ name: r.string() ?? '', metadata: r.bytes() ?? Buffer.alloc(0) }));
    const joinError = (code: number, id: string) =>
      new Writer().int32(0).int16(code).int32(-1).string('').string('').string(id).int32(0).build();
    if (memberId === '') {
      memberId = `member-${this.nextMember++}`;
      this.members.set(memberId, {
        id: memberId,
        metadata: Buffer.alloc(0),
        lastSeenMs: Date.now(),
        sessionTimeoutMs,
        joined: undefined,
      });
      return joinError(79, memberId);
    }
    const member = this.members.get(memberId);
    if (!member) return joinError(25, memberId);
    if (protocols[0]?.name !== 'range') return joinError(23, memberId);
    member.metadata = protocols[0].metadata;
    member.lastSeenMs = Date.now();
    member.sessionTimeoutMs = sessionTimeoutMs;
    this.startRebalance();
    return new Promise<Buffer>((resolve) => {
      member.joined = resolve;
      this.maybeEndJoinRound();
    });
  }

  private startRebalance(): void {
    if (this.phase === 'joining') return;
    this.phase = 'joining';
    for (const waiter of this.syncWaiters.splice(0)) waiter();
    clearTimeout(this.roundTimer);
    this.roundTimer = setTimeout(() => {
      // Members that did not join again in time are out.
      for (const [id, member] of this.members) if (!member.joined) this.members.delete(id);
      this.maybeEndJoinRound();
    }, this.rebalanceTimeoutMs);
  }

  private maybeEndJoinRound(): void {
    if (this.phase !== 'joining') return;
    const members = [...this.members.values()];
    if (members.length === 0 || members.some((m) => !m.joined)) return;
    clearTimeout(this.roundTimer);
    this.generation++;
    this.phase = 'syncing';
    this.assignments = new Map();
    this.leader = members[0]?.id ?? '';
    for (const member of members) {
      const w = new Writer().int32(0).int16(0).int32(this.generation).string('range').string(this.leader);
      w.string(member.id);
      if (member.id === this.leader) {
        w.int32(members.length);
        for (const m of members) w.string(m.id).string(null).bytes(m.metadata);
      } else {
        w.int32(0);
      }
      const answer = member.joined;
      member.joined = undefined;
      answer?.(w.build());
    }
  }

  private async sync(r: Reader): Promise<Buffer> {
    r.string();
    const generation = r.int32();
    const memberId = r.string() ?? '';
    r.string();
    const assignments = r.array(() => ({ id: r.string() ?? '', assignment: r.bytes() ?? Buffer.alloc(0) }));
    const answer = (code: number, assignment: Buffer | null) =>
      new Writer().int32(0).int16(code).bytes(assignment).build();
    if (!this.members.has(memberId)) return answer(25, null);
    if (generation !== this.generation) return answer(22, null);
    if (this.phase === 'joining') return answer(27, null);
    if (memberId === this.leader) {
      for (const { id, assignment } of assignments) this.assignments.set(id, assignment);
      this.phase = 'stable';
      for (const waiter of this.syncWaiters.splice(0)) waiter();
    }
    while (this.phase === 'syncing') await new Promise<void>((resolve) => this.syncWaiters.push(resolve));
    // A member that joined or left meanwhile started the next rebalance.
    if ((this.phase as string) === 'joining' || generation !== this.generation) return answer(27, null);
    return answer(0, this.assignments.get(memberId) ?? Buffer.alloc(0));
  }

  private heartbeat(r: Reader): Buffer {
    r.string();
    const generation = r.int32();
    const memberId = r.string() ?? '';
    const member = this.members.get(memberId);
    const answer = (code: number) => new Writer().int32(0).int16(code).build();
    if (!member) return answer(25);
    member.lastSeenMs = Date.now();
    if (this.phase === 'joining') return answer(27);
    if (generation !== this.generation) return answer(22);
    return answer(0);
  }

  private leave(r: Reader): Buffer {
    r.string();
    const members = r.array(() => {
      const id = r.string() ?? '';
      r.string();
      return id;
    });
    for (const id of members) this.members.delete(id);
    if (this.members.size > 0) this.startRebalance();
    else this.phase = 'stable';
    const w = new Writer().int32(0).int16(0).int32(members.length);
    for (const id of members) w.string(id).string(null).int16(0);
    return w.build();
  }

  private expireSessions(): void {
    const now = Date.now();
    let expired = false;
    for (const [id, member] of this.members) {
      if (!member.joined && now - member.lastSeenMs > member.sessionTimeoutMs) {
        this.members.delete(id);
        expired = true;
      }
    }
    if (expired && this.members.size > 0) this.startRebalance();
    if (this.phase === 'joining') this.maybeEndJoinRound();
  }

  private offsetCommit(r: Reader): Buffer {
    r.string();
    const generation = r.int32();
    const memberId = r.string() ?? '';
    r.string();
    const topics = r.array(() => ({
      name: r.string() ?? '',
      partitions: r.array(() => {
        const partition = r.int32();
        const offset = r.int64();
        r.int32();
        r.string();
        return { partition, offset };
      }),
    }));
    const code = !this.members.has(memberId)
      ? 25
      : this.phase === 'joining'
        ? 27
        : generation !== this.generation
          ? 22
          : 0;
    const w = new Writer().int32(0).int32(topics.length);
    for (const topic of topics) {
      w.string(topic.name).int32(topic.partitions.length);
      for (const { partition, offset } of topic.partitions) {
        if (code === 0) this.committed.set(partition, offset);
        w.int32(partition).int16(code);
      }
    }
    return w.build();
  }

  private offsetFetch(r: Reader): Buffer {
    r.string();
    const topics = r.array(() => ({ name: r.string() ?? '', partitions: r.array(() => r.int32()) }));
    const w = new Writer().int32(0).int32(topics.length);
    for (const topic of topics) {
      w.string(topic.name).int32(topic.partitions.length);
      for (const p of topic.partitions)
        w.int32(p)
          .int64(this.committed.get(p) ?? -1)
          .int32(-1)
          .string('')
          .int16(0);
    }
    return w.int16(0).build();
  }

  private listOffsets(r: Reader): Buffer {
    r.int32();
    r.int8();
    const topics = r.array(() => ({
      name: r.string() ?? '',
      partitions: r.array(() => {
        const partition = r.int32();
        r.int32();
        return { partition, timestamp: r.int64() };
      }),
    }));
    const w = new Writer().int32(0).int32(topics.length);
    for (const topic of topics) {
      w.string(topic.name).int32(topic.partitions.length);
      for (const { partition, timestamp } of topic.partitions) {
        const offset = timestamp === -2 ? 0 : (this.logs[partition]?.length ?? 0);
        w.int32(partition).int16(0).int64(-1).int64(offset).int32(0);
      }
    }
    return w.build();
  }

  private async fetch(r: Reader): Promise<Buffer> {
    r.int32();
    const maxWaitMs = r.int32();
    r.int32();
    r.int32();
    r.int8();
    r.int32();
    r.int32();
    const topics = r.array(() => ({
      name: r.string() ?? '',
      partitions: r.array(() => {
        const partition = r.int32();
        r.int32();
        const offset = r.int64();
        r.int64();
        r.int32();
        return { partition, offset };
      }),
    }));
    const hasData = () =>
      topics.some((t) =>
        t.partitions.some(({ partition, offset }) => offset < (this.logs[partition]?.length ?? 0)),
      );
    if (!hasData()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, maxWaitMs);
        this.appended.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const w = new Writer().int32(0).int16(0).int32(0).int32(topics.length);
    for (const topic of topics) {
      w.string(topic.name).int32(topic.partitions.length);
      for (const { partition, offset } of topic.partitions) {
        const log = this.logs[partition] ?? [];
        if (offset < 0 || offset > log.length) {
          w.int32(partition)
            .int16(1)
            .int64(log.length)
            .int64(log.length)
            .int64(0)
            .int32(-1)
            .int32(-1)
            .bytes(null);
          continue;
        }
        const slice = log.slice(offset, offset + this.fetchRecords);
        const records =
          slice.length === 0
            ? Buffer.alloc(0)
            : Buffer.from(
                (
                  await encodeRecordBatch({
                    firstOffset: String(offset),
                    firstTimestamp: 1_700_000_000_000 + offset,
                    maxTimestamp: 1_700_000_000_000 + offset + slice.length - 1,
                    lastOffsetDelta: slice.length - 1,
                    records: slice.map((record, i) =>
                      encodeRecord({
                        offsetDelta: i,
                        timestampDelta: i,
                        key: record.key === null ? null : Buffer.from(record.key),
                        value: Buffer.from(record.value),
                        headers: record.headers ?? {},
                      }),
                    ),
                  })
                ).buffer,
              );
        w.int32(partition)
          .int16(0)
          .int64(log.length)
          .int64(log.length)
          .int64(0)
          .int32(-1)
          .int32(-1)
          .bytes(records);
      }
    }
    return w.build();
  }
}
