import { afterEach, describe, expect, it } from 'vitest';
import {
  type FetchedBatch,
  type GroupBatchControl,
  type GroupConsumerHandlers,
  type GroupConsumerOptions,
  KafkaGroupConsumer,
} from '../../src/kafka/consumer.js';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssign,
} from '../../src/kafka/consumer-protocol.js';
import { KafkaTransportError } from '../../src/kafka/transport.js';
import { FakeGroupBroker, type FakeRecord } from './fake-group-broker.js';

const TOPIC = 'events';
const running: Array<{ stop(): Promise<unknown> }> = [];

afterEach(async () => {
  for (const item of running.splice(0).reverse()) await item.stop();
});

function records(partition: number, count: number, from = 0): FakeRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `p-${partition}-${from + i}`,
    value: `{"n":${from + i}}`,
    headers: { 'gapipe-run-id': 'run', 'gapipe-intended-ts': String(1000 + from + i) },
  }));
}

async function broker(partitions = 3): Promise<FakeGroupBroker> {
  const fake = new FakeGroupBroker(TOPIC, partitions);
  await fake.start();
  running.push(fake);
  return fake;
}

interface Seen {
  batches: FetchedBatch[];
  assignments: number[][];
  /** Per partition, the offsets delivered, in order. */
  offsets: Map<number, number[]>;
  errors: Error[];
  fatal: Error[];
  contacts: number;
}

function member(
  fake: FakeGroupBroker,
  overrides: Partial<GroupConsumerOptions> = {},
  onBatch?: (
    batch: FetchedBatch,
    control: GroupBatchControl,
  ) => Promise<{ seekTo?: number }> | { seekTo?: number },
): { consumer: KafkaGroupConsumer; seen: Seen; handlers: GroupConsumerHandlers } {
  const seen: Seen = { batches: [], assignments: [], offsets: new Map(), errors: [], fatal: [], contacts: 0 };
  const consumer = new KafkaGroupConsumer(
    {
      brokers: [fake.address],
      topic: TOPIC,
      group: 'g',
      clientId: 'test',
      fromBeginning: true,
      sessionTimeoutMs: 3000,
      heartbeatIntervalMs: 100,
      rebalanceTimeoutMs: 3000,
      ...overrides,
    },
    { fetchMaxWaitMs: 100, retryBackoffMs: 20, retryBackoffMaxMs: 200, openTimeoutMs: 1000 },
  );
  const handlers: GroupConsumerHandlers = {
    onAssignment: (partitions) => seen.assignments.push(partitions),
    onBatch: async (batch, control) => {
      seen.batches.push(batch);
      const list = seen.offsets.get(batch.partition) ?? [];
      seen.offsets.set(batch.partition, list);
      list.push(...batch.records.map((r) => r.offset));
      return (await onBatch?.(batch, control)) ?? {};
    },
    onFatal: (error) => seen.fatal.push(error),
    onContact: () => seen.contacts++,
    onConnectionError: (error) => seen.errors.push(error),
  };
  running.push(consumer);
  return { consumer, seen, handlers };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('consumer protocol', () => {
  it("assigns ranges as Kafka's range assignor does", () => {
    const plan = rangeAssign(
      [
        { memberId: 'b', topics: [TOPIC] },
        { memberId: 'a', topics: [TOPIC, 'other'] },
        { memberId: 'c', topics: [TOPIC] },
      ],
      new Map([
        [TOPIC, 7],
        ['other', 2],
      ]),
    );
    expect(plan.get('a')?.get(TOPIC)).toEqual([0, 1, 2]);
    expect(plan.get('b')?.get(TOPIC)).toEqual([3, 4]);
    expect(plan.get('c')?.get(TOPIC)).toEqual([5, 6]);
    expect(plan.get('a')?.get('other')).toEqual([0, 1]);
    expect(plan.get('b')?.get('other')).toBeUndefined();
  });

  it('round-trips subscriptions and assignments', () => {
    expect(decodeSubscription(encodeSubscription([TOPIC, 'x']))).toEqual([TOPIC, 'x']);
    const assignment = new Map([[TOPIC, [0, 2]]]);
    expect(decodeAssignment(encodeAssignment(assignment))).toEqual(assignment);
    expect(decodeAssignment(Buffer.alloc(0))).toEqual(new Map());
  });
});

describe('KafkaGroupConsumer', () => {
  it('joins (with the member id the broker hands out), gets every partition and reads every record once, in order', async () => {
    const fake = await broker(3);
    for (let p = 0; p < 3; p++) fake.append(p, records(p, 230));
    const { consumer, seen, handlers } = member(fake);
    await consumer.start(handlers);
    await until(() => [...seen.offsets.values()].reduce((n, o) => n + o.length, 0) >= 690, 'all records');
    expect(seen.assignments).toEqual([[0, 1, 2]]);
    for (let p = 0; p < 3; p++) expect(seen.offsets.get(p)).toEqual(range(0, 230));
    const first = seen.batches.find((b) => b.partition === 1)?.records[5];
    expect(first?.key?.toString()).toBe('p-1-5');
    expect(first?.value?.toString()).toBe('{"n":5}');
    expect(first?.headerText('gapipe-run-id')).toBe('run');
    expect(first?.headerNumber('gapipe-intended-ts')).toBe(1005);
    expect(seen.batches.every((b) => b.highWatermark === 230)).toBe(true);
    expect(seen.contacts).toBeGreaterThan(0);
    // Records appended later arrive too.
    fake.append(2, records(2, 10, 230));
    await until(() => seen.offsets.get(2)?.length === 240, 'the new records');
    expect(seen.fatal).toEqual([]);
  });

  it('reads fetch responses of several MiB, which arrive over many socket reads', async () => {
    const fake = await broker(2);
    fake.fetchRecords = 4000;
    const pad = 'x'.repeat(1000);
    for (let p = 0; p < 2; p++) {
      fake.append(
        p,
        records(p, 4000).map((r) => ({ ...r, value: `${r.value}${pad}` })),
      );
    }
    const { consumer, seen, handlers } = member(fake);
    await consumer.start(handlers);
    await until(() => seen.offsets.get(0)?.length === 4000 && seen.offsets.get(1)?.length === 4000, 'all');
    expect(seen.batches.length).toBe(2); // one fetch answered both partitions whole
    const last = seen.batches[1]?.records[3999];
    expect(last?.value?.toString()).toBe(`{"n":3999}${pad}`);
    expect(last?.headerNumber('gapipe-intended-ts')).toBe(4999);
  });

  it('starts at the committed offsets, else at the log end when not from the beginning', async () => {
    const fake = await broker(2);
    fake.append(0, records(0, 100));
    fake.append(1, records(1, 100));
    fake.committed.set(0, 60);
    const { consumer, seen, handlers } = member(fake, { fromBeginning: false });
    await consumer.start(handlers);
    await until(() => seen.offsets.get(0)?.length === 40, 'partition 0 from its commit');
    fake.append(1, records(1, 5, 100));
    await until(() => seen.offsets.get(1)?.length === 5, 'new records of partition 1');
    expect(seen.offsets.get(0)).toEqual(range(60, 100));
    expect(seen.offsets.get(1)).toEqual(range(100, 105));
  });

  it('commits with its generation; a restarted member resumes there', async () => {
    const fake = await broker(2);
    fake.append(0, records(0, 100));
    fake.append(1, records(1, 100));
    const first = member(fake);
    await first.consumer.start(first.handlers);
    await until(() => (first.seen.offsets.get(0)?.length ?? 0) >= 100, 'partition 0');
    await first.consumer.commit([
      { partition: 0, offset: 80 },
      { partition: 1, offset: 30 },
    ]);
    expect(fake.committed).toEqual(
      new Map([
        [0, 80],
        [1, 30],
      ]),
    );
    await first.consumer.stop();
    expect(fake.memberIds).toEqual([]); // it left the group
    const second = member(fake);
    await second.consumer.start(second.handlers);
    await until(() => second.seen.offsets.get(1)?.length === 70, 'partition 1 from its commit');
    await until(() => second.seen.offsets.get(0)?.length === 20, 'partition 0 from its commit');
    expect(second.seen.offsets.get(0)?.[0]).toBe(80);
  });

  it('re-reads from where a handler seeks to, and never delivers data fetched before the seek', async () => {
    const fake = await broker(1);
    fake.append(0, records(0, 300));
    let sought = false;
    const { consumer, seen, handlers } = member(fake, {}, (batch) => {
      const last = batch.records.at(-1)?.offset ?? 0;
      if (!sought && last >= 149) {
        sought = true;
        return { seekTo: 20 };
      }
      return {};
    });
    await consumer.start(handlers);
    await until(() => seen.offsets.get(0)?.at(-1) === 299, 'the end');
    const offsets = seen.offsets.get(0) ?? [];
    const cut = offsets.indexOf(149) + 1;
    expect(offsets.slice(0, cut)).toEqual(range(0, 150));
    expect(offsets.slice(cut)).toEqual(range(20, 300));
  });

  it('delivers nothing of a paused partition until it is resumed, then goes on where it was', async () => {
    const fake = await broker(2);
    fake.append(0, records(0, 100));
    fake.append(1, records(1, 100));
    const { consumer, seen, handlers } = member(fake);
    consumer.pause([1]);
    await consumer.start(handlers);
    await until(() => seen.offsets.get(0)?.length === 100, 'partition 0');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen.offsets.get(1)).toBeUndefined();
    consumer.resume([1]);
    await until(() => seen.offsets.get(1)?.length === 100, 'partition 1');
    expect(seen.offsets.get(1)).toEqual(range(0, 100));
    // Paused in the middle of a partition: it stops there, and goes on from there.
    let pauseAt = 150;
    const delivered = () => seen.offsets.get(1)?.length ?? 0;
    fake.append(1, records(1, 200, 100));
    await until(() => delivered() >= pauseAt, 'some more');
    consumer.pause([1]);
    pauseAt = delivered();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(delivered()).toBe(pauseAt);
    consumer.resume([1]);
    await until(() => delivered() === 300, 'the rest');
    expect(seen.offsets.get(1)).toEqual(range(0, 300));
  });

  it('shares the partitions with a member that joins, revoking at once, and takes them back when it leaves', async () => {
    const fake = await broker(3);
    for (let p = 0; p < 3; p++) fake.append(p, records(p, 50));
    let activeAfterRevoke: boolean | undefined;
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const a = member(fake, {}, async (batch, control) => {
      // One batch of partition 2 is held while the group rebalances.
      if (batch.partition === 2 && activeAfterRevoke === undefined && batch.records[0]?.offset === 0) {
        await blocked;
        activeAfterRevoke = control.isActive();
      }
      return {};
    });
    await a.consumer.start(a.handlers);
    await until(() => (a.seen.offsets.get(0)?.length ?? 0) === 50, 'a reads partition 0');
    const b = member(fake);
    await b.consumer.start(b.handlers);
    await until(() => a.seen.assignments.length === 2 && b.seen.assignments.length === 1, 'the rebalance');
    release?.();
    await until(() => activeAfterRevoke !== undefined, 'the held batch');
    expect(activeAfterRevoke).toBe(false);
    const assignedA = a.seen.assignments[1] ?? [];
    const assignedB = b.seen.assignments[0] ?? [];
    expect([...assignedA, ...assignedB].sort()).toEqual([0, 1, 2]);
    expect(assignedA.length).toBeGreaterThan(0);
    expect(assignedB.length).toBeGreaterThan(0);
    // Each reads its own partitions from the start (nothing was committed).
    for (const p of assignedB) await until(() => b.seen.offsets.get(p)?.length === 50, `b reads ${p}`);
    await b.consumer.stop();
    await until(() => a.seen.assignments.length === 3, 'a gets everything back');
    expect(a.seen.assignments[2]).toEqual([0, 1, 2]);
    fake.append(1, records(1, 5, 50));
    await until(() => (a.seen.offsets.get(1) ?? []).includes(54), 'a reads partition 1 again');
    expect(a.seen.fatal).toEqual([]);
  });

  it('reconnects after the broker goes away, reporting the failures, and goes on', async () => {
    const fake = await broker(1);
    fake.append(0, records(0, 40));
    const { consumer, seen, handlers } = member(fake);
    await consumer.start(handlers);
    await until(() => seen.offsets.get(0)?.length === 40, 'the first records');
    await fake.stop();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen.errors.length).toBeGreaterThan(0);
    fake.append(0, records(0, 10, 40));
    await fake.start();
    await until(() => seen.offsets.get(0)?.length === 50, 'the records after the outage');
    expect(seen.offsets.get(0)).toEqual(range(0, 50));
    expect(seen.fatal).toEqual([]);
  });

  it('joins again under a new member id when its session expired', async () => {
    const fake = await broker(1);
    fake.append(0, records(0, 10));
    const { consumer, seen, handlers } = member(fake, { sessionTimeoutMs: 400, heartbeatIntervalMs: 100 });
    await consumer.start(handlers);
    await until(() => seen.assignments.length === 1, 'the first join');
    const before = fake.memberIds;
    await fake.stop();
    await new Promise((resolve) => setTimeout(resolve, 900));
    await fake.start(); // the session expires now: the member is unknown
    await until(() => seen.assignments.length === 2, 'the second join', 15_000);
    expect(fake.memberIds).toHaveLength(1);
    expect(fake.memberIds).not.toEqual(before);
  });

  it('fails to start with a clear reason: unreachable, or a topic that does not exist', async () => {
    const fake = await broker(1);
    const missing = member(fake, { requiredTopics: ['events-dlq', 'events-late'] });
    await expect(missing.consumer.start(missing.handlers)).rejects.toMatchObject({
      reason: 'unknown-topic',
      message: 'events-dlq, events-late',
    });
    await fake.stop();
    const unreachable = member(fake);
    const error = await unreachable.consumer.start(unreachable.handlers).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaTransportError);
    expect(error).toMatchObject({ reason: 'unreachable' });
    expect((error as Error).message).toMatch(/did not answer within 1s/);
  });
});
