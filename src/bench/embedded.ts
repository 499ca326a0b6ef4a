/**
 * The embedded pipeline: an in-process memory broker standing in for Kafka (partitioned by player,
 * with consumer-group assignment, pause/resume, seek and commits) and a simulator sink that writes
 * into it. With the memory store it runs the very same generator, aggregator and consumer loop as the
 * lab — no Docker, no network — so `gapipe bench` works on any machine with Node. Its numbers are of
 * the code alone and say so.
 */
import { fingerprint64 } from '../pipeline/fingerprint.js';
import type {
  BatchResult,
  ConsumerTransport,
  OutgoingRecord,
  TransportHandlers,
  TransportRecord,
} from '../pipeline/transport.js';
import type { Sink, SinkRecord, SinkStats } from '../simulators/sinks/types.js';

const BATCH = 4096;

export class MemoryBroker {
  private readonly topics = new Map<string, TransportRecord[][]>();
  private readonly groups = new Map<string, MemoryConsumerTransport[]>();

  createTopic(name: string, partitions: number): void {
    if (!this.topics.has(name))
      this.topics.set(
        name,
        Array.from({ length: partitions }, () => []),
      );
  }

  partitions(topic: string): TransportRecord[][] {
    const partitions = this.topics.get(topic);
    if (!partitions) throw new Error(`memory broker: no topic ${topic}`);
    return partitions;
  }

  /** Appends to the partition of the key (all of a player's records in one partition, as in Kafka). */
  append(
    topic: string,
    key: Buffer | null,
    value: Buffer | null,
    headers: Record<string, string>,
    nowMs: number,
  ): void {
    const partitions = this.partitions(topic);
    const index = key ? fingerprint64(key.toString('latin1')).lo % partitions.length : 0;
    const partition = partitions[index] as TransportRecord[];
    partition.push({ offset: partition.length, key, value, headers, timestampMs: nowMs });
  }

  /** Each partition's end offset (the offset the next record will get), by partition. */
  endOffsets(topic: string): Map<number, number> {
    return new Map(this.partitions(topic).map((log, partition) => [partition, log.length]));
  }

  count(topic: string): number {
    return this.partitions(topic).reduce((n, p) => n + p.length, 0);
  }

  /** Joins a member and reassigns the group's partitions round-robin. */
  join(group: string, member: MemoryConsumerTransport): void {
    const members = this.groups.get(group) ?? [];
    members.push(member);
    this.groups.set(group, members);
    this.rebalance(group);
  }

  leave(group: string, member: MemoryConsumerTransport): void {
    const members = (this.groups.get(group) ?? []).filter((m) => m !== member);
    this.groups.set(group, members);
    this.rebalance(group);
  }

  private rebalance(group: string): void {
    const members = this.groups.get(group) ?? [];
    members.forEach((member, i) => {
      const count = this.partitions(member.topic).length;
      const owned: number[] = [];
      for (let p = 0; p < count; p++) if (p % members.length === i) owned.push(p);
      member.assign(owned);
    });
  }
}

/** A simulator sink into the memory broker: acknowledged as soon as appended. */
export class MemoryBrokerSink implements Sink {
  readonly description: string;
  private acknowledged = 0;
  private bytes = 0;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly topic: string,
    private readonly onAcknowledged?: (intendedMs: readonly number[], nowMs: number) => void,
  ) {
    this.description = `memory broker → ${topic}`;
  }

  async open(): Promise<void> {}

  send(records: readonly SinkRecord[]): void {
    const now = Date.now();
    const intended: number[] = [];
    for (const record of records) {
      const value = typeof record.value === 'string' ? Buffer.from(record.value) : record.value;
      this.bytes += value.length;
      this.broker.append(this.topic, Buffer.from(record.key), value, { ...record.headers }, now);
      intended.push(record.intendedMs);
    }
    this.acknowledged += records.length;
    this.onAcknowledged?.(intended, now);
  }

  inFlight(): number {
    return 0;
  }

  stats(): SinkStats {
    return { acknowledged: this.acknowledged, failed: 0, bytes: this.bytes };
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  fatalError(): Error | undefined {
    return undefined;
  }
}

/** One consumer-group member on the memory broker. */
export class MemoryConsumerTransport implements ConsumerTransport {
  readonly description: string;
  private handlers: TransportHandlers | undefined;
  private owned: number[] = [];
  private readonly positions = new Map<number, number>();
  private readonly committed = new Map<number, number>();
  private readonly paused = new Set<number>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly broker: MemoryBroker,
    readonly topic: string,
    private readonly group: string,
    private readonly committedOffsets: Map<string, number> = new Map(),
  ) {
    this.description = `memory broker ← ${topic} (group ${group})`;
  }

  assign(partitions: number[]): void {
    this.owned = partitions;
    for (const p of partitions) {
      // A newly owned partition resumes at the group's committed offset, as in Kafka.
      if (!this.positions.has(p)) this.positions.set(p, this.committedOffsets.get(`${this.group}:${p}`) ?? 0);
    }
    for (const p of [...this.positions.keys()]) if (!partitions.includes(p)) this.positions.delete(p);
    this.handlers?.onAssignment([...partitions]);
  }

  async start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
    this.running = true;
    this.broker.join(this.group, this);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const partitions = this.broker.partitions(this.topic);
    while (this.running) {
      let delivered = false;
      for (const p of this.owned) {
        if (!this.running) break;
        if (this.paused.has(p)) continue;
        const log = partitions[p] as TransportRecord[];
        const position = this.positions.get(p) ?? 0;
        if (position >= log.length) continue;
        const records = log.slice(position, position + BATCH);
        let result: BatchResult;
        try {
          result = await (this.handlers as TransportHandlers).onBatch(
            { partition: p, records, highWatermark: log.length },
            { heartbeat: async () => {}, isActive: () => this.running && this.owned.includes(p) },
          );
        } catch (error) {
          this.handlers?.onFatal(error as Error);
          return;
        }
        if (!this.owned.includes(p)) continue;
        this.positions.set(p, result.seekTo ?? position + records.length);
        delivered = true;
      }
      await new Promise((resolve) => (delivered ? setImmediate(resolve) : setTimeout(resolve, 5)));
    }
  }

  pause(partitions: number[]): void {
    for (const p of partitions) this.paused.add(p);
  }

  resume(partitions: number[]): void {
    for (const p of partitions) this.paused.delete(p);
  }

  async commit(offsets: Array<{ partition: number; offset: number }>): Promise<void> {
    for (const { partition, offset } of offsets) {
      this.committed.set(partition, offset);
      this.committedOffsets.set(`${this.group}:${partition}`, offset);
    }
  }

  async produce(topic: string, records: OutgoingRecord[]): Promise<void> {
    const now = Date.now();
    for (const r of records) this.broker.append(topic, r.key, r.value, r.headers, now);
  }

  async partitionCount(): Promise<number> {
    return this.broker.partitions(this.topic).length;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.loop;
    this.broker.leave(this.group, this);
  }
}
