import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBroker, MemoryConsumerTransport } from '../../src/bench/embedded.js';
import { GapipeError } from '../../src/errors.js';
import { createRecordingLogger, type Logger } from '../../src/log.js';
import { AggregationConsumer, CONSUMER_DEFAULTS, type ConsumerOptions } from '../../src/pipeline/consumer.js';
import { MemoryStore } from '../../src/pipeline/store.js';
import type {
  BatchControl,
  ConsumerTransport,
  OutgoingRecord,
  TransportHandlers,
  TransportRecord,
} from '../../src/pipeline/transport.js';
import { WINDOWING_DEFAULTS } from '../../src/pipeline/windows.js';
import { StepClock, settle } from './step-clock.js';

const T0 = Date.parse('2026-11-21T20:00:00.000Z');

function event(tsMs: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: 1,
    event_id: randomUUID(),
    event_type: 'enemy_defeated',
    ts: new Date(tsMs).toISOString(),
    player_id: 'p-000001',
    username: 'Ines.Dickinson',
    region: 'NA',
    country: 'US',
    platform: 'pc',
    session_id: 's-000001-0001',
    enemy_type: 'slime',
    weapon: 'battle_axe',
    xp: 11,
    ...overrides,
  };
}

function record(offset: number, value: string | Record<string, unknown>): TransportRecord {
  return {
    offset,
    key: Buffer.from('p-000001'),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: { 'gapipe-intended-ts': String(T0 + offset), 'gapipe-run-id': 'run-1' },
    timestampMs: T0,
  };
}

class FakeTransport implements ConsumerTransport {
  readonly description = 'fake';
  handlers!: TransportHandlers;
  commits: Array<{ partition: number; offset: number }> = [];
  produced: Array<{ topic: string; record: OutgoingRecord }> = [];
  paused = new Set<number>();
  /** The broker is gone: sends fail and commits hang, as kafkajs's do. */
  down = false;
  /** Sends fail while the broker still answers the consumer. */
  refuseSends = false;
  produceAttempts = 0;
  stopped = false;
  async start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
  }
  pause(partitions: number[]): void {
    for (const p of partitions) this.paused.add(p);
  }
  resume(partitions: number[]): void {
    for (const p of partitions) this.paused.delete(p);
  }
  private hungCommits: Array<(error: Error) => void> = [];
  async commit(offsets: Array<{ partition: number; offset: number }>): Promise<void> {
    // kafkajs keeps retrying a commit inside while the coordinator is away.
    if (this.down) return new Promise((_, reject) => this.hungCommits.push(reject));
    this.commits.push(...offsets);
  }
  /** The broker is back: what hung fails, and the coordinator answers heartbeats again. */
  recover(): void {
    this.down = false;
    for (const reject of this.hungCommits.splice(0)) reject(new Error('Connection closed'));
    this.contact();
  }
  async produce(topic: string, records: OutgoingRecord[]): Promise<void> {
    this.produceAttempts++;
    if (this.down || this.refuseSends) throw new Error('The producer is disconnected');
    for (const r of records) this.produced.push({ topic, record: r });
  }
  async partitionCount(): Promise<number> {
    return 2;
  }
  async stop(): Promise<void> {
    this.stopped = true;
  }
  /** A heartbeat the coordinator answered. */
  contact(): void {
    this.handlers.onContact?.();
  }
  batch(partition: number, records: TransportRecord[], highWatermark?: number) {
    const control: BatchControl = { heartbeat: async () => {}, isActive: () => true };
    return this.handlers.onBatch(
      { partition, records, highWatermark: highWatermark ?? (records.at(-1)?.offset ?? -1) + 1 },
      control,
    );
  }
}

const options: ConsumerOptions = {
  topic: 'game-events',
  group: 'g',
  windowing: { ...WINDOWING_DEFAULTS, allowedLatenessMs: 60_000, lateRetentionMs: 60_000 },
  ...CONSUMER_DEFAULTS,
  lateTopic: 'game-events-late',
  deadLetterTopic: 'game-events-dlq',
  indexRaw: false,
};

const consumers: AggregationConsumer[] = [];
afterEach(async () => {
  for (const c of consumers.splice(0)) await c.stop().catch(() => {});
});

/**
 * A started consumer with partitions 0 and 1 assigned, on a clock that moves only when told: its
 * own loop flushes every `flushIntervalMs` of that clock, so `tick()` is one turn of the loop.
 */
async function setup(
  overrides: Partial<ConsumerOptions> = {},
  store = new MemoryStore(),
  clock = new StepClock(T0),
  logger?: Logger,
) {
  const transport = new FakeTransport();
  const merged = { ...options, ...overrides };
  const consumer = new AggregationConsumer(merged, {
    transport,
    store,
    clock,
    ...(logger ? { logger } : {}),
  });
  consumers.push(consumer);
  await consumer.start();
  transport.handlers.onAssignment([0, 1]);
  const tick = () => clock.advance(merged.flushIntervalMs);
  return { transport, store, clock, consumer, tick };
}

describe('AggregationConsumer', () => {
  it('writes documents, then the checkpoint, then commits the replay point', async () => {
    const { transport, store, consumer, tick } = await setup();
    await transport.batch(0, [record(0, event(T0 + 1000)), record(1, event(T0 + 2000))]);
    expect(store.documents.size).toBe(0);
    await tick();
    const docs = [...store.documents.values()].map((d) => d.source);
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ events: 2, partition: 0, region: 'NA', final: false, last_offset: 1 });
    expect(store.checkpoints.get('game-events:0')?.source).toMatchObject({ position: 1, replayFrom: 0 });
    // The window is still open: its records are needed after a restart, so the commit stays at 0.
    expect(transport.commits).toEqual([{ partition: 0, offset: 0 }]);
    expect(consumer.snapshot()).toMatchObject({ consumed: 2, accepted: 2, written: 1 });
  });

  it('sends malformed records to the dead-letter topic with the reason, and late ones to the late topic', async () => {
    const { transport, consumer, tick } = await setup();
    await transport.batch(0, [
      record(0, event(T0 + 150_000)), // watermark T0 + 1m30s
      record(1, '{"schema":1,"event_id":'),
      record(2, event(T0, { region: 'MARS' })),
      record(3, event(T0 + 1000)), // its window ended before the watermark, and is still remembered: late
    ]);
    await tick();
    const dead = transport.produced.filter((p) => p.topic === 'game-events-dlq');
    expect(dead).toHaveLength(2);
    expect(dead[0]?.record.headers).toMatchObject({
      'gapipe-dlq-kind': 'invalid_json',
      'gapipe-source-partition': '0',
      'gapipe-source-offset': '1',
      'gapipe-run-id': 'run-1',
    });
    expect(dead[1]?.record.headers['gapipe-dlq-reason']).toMatch(/region/);
    const late = transport.produced.filter((p) => p.topic === 'game-events-late');
    expect(late).toHaveLength(1);
    expect(late[0]?.record.headers).toMatchObject({
      'gapipe-late-reason': 'window-closed',
      'gapipe-late-window-start': new Date(T0).toISOString(),
    });
    expect(consumer.snapshot()).toMatchObject({ consumed: 4, deadLettered: 2, late: 1, accepted: 1 });
  });

  it('pauses fetching while the store fails, commits nothing, and resumes after a successful flush', async () => {
    const store = new MemoryStore();
    const logger = createRecordingLogger();
    const { transport, consumer, clock, tick } = await setup({}, store, new StepClock(T0), logger);
    await transport.batch(1, [record(0, event(T0))]);
    store.unavailable = 'connect ECONNREFUSED 127.0.0.1:9200';
    await tick();
    expect(transport.commits).toEqual([]);
    expect(store.documents.size).toBe(0);
    expect(consumer.snapshot()).toMatchObject({
      backpressure: true,
      sinkError: 'connect ECONNREFUSED 127.0.0.1:9200',
      failedFlushes: 1,
    });
    expect([...transport.paused]).toEqual([0, 1]);
    // Retried with a growing backoff (250 ms, 500 ms, 1 s…), warned about once.
    await clock.advance(250 + 500 + 1000, 50);
    expect(consumer.snapshot().failedFlushes).toBe(4);
    expect(logger.lines.filter((line) => line.startsWith('warn'))).toEqual([
      'warn connect ECONNREFUSED 127.0.0.1:9200; retrying',
    ]);
    expect(store.documents.size).toBe(0);
    store.unavailable = undefined;
    await clock.advance(2000);
    expect(store.documents.size).toBe(1);
    expect(transport.commits).toEqual([{ partition: 1, offset: 0 }]);
    expect(consumer.snapshot()).toMatchObject({
      backpressure: false,
      sinkError: undefined,
      failedFlushes: 4,
    });
    expect([...transport.paused]).toEqual([]);
  });

  it('keeps committing after flushes that had nothing to write', async () => {
    const { transport, tick } = await setup();
    await tick();
    await tick();
    await transport.batch(0, [record(0, event(T0))]);
    await tick();
    await transport.batch(1, [record(0, event(T0))]);
    await tick();
    expect(transport.commits).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
  });

  it('pauses fetching when too many records wait for a flush', async () => {
    const { transport, tick } = await setup({ maxUnflushedRecords: 3 });
    await transport.batch(
      0,
      [0, 1, 2].map((o) => record(o, event(T0 + o))),
    );
    expect([...transport.paused]).toEqual([0, 1]);
    await tick();
    expect([...transport.paused]).toEqual([]);
  });

  it('restores from the checkpoint after a restart and asks to re-read from the replay point', async () => {
    const store = new MemoryStore();
    const first = await setup({}, store);
    await first.transport.batch(0, [record(0, event(T0)), record(1, event(T0 + 1000))]);
    await first.tick();
    await first.transport.batch(0, [record(2, event(T0 + 2000))]); // applied, never flushed: lost in the crash
    const second = await setup({}, store);
    // Kafka resumed at the committed offset… but had it been ahead, the consumer would go back.
    expect(await second.transport.batch(0, [record(2, event(T0 + 2000))])).toEqual({ seekTo: 0 });
    await second.transport.batch(
      0,
      [0, 1, 2].map((o) => record(o, event(T0 + o * 1000))),
    );
    expect(second.consumer.snapshot()).toMatchObject({ replayed: 2, consumed: 1 });
    await second.tick();
    expect([...store.documents.values()].map((d) => d.source.events)).toEqual([3]);
  });

  it('never aggregates across a gap in offsets: it seeks back for the missing records', async () => {
    const { transport, consumer } = await setup();
    await transport.batch(0, [record(0, event(T0)), record(1, event(T0 + 1))]);
    // A batch fetched before a seek, or after a rebalance, that skips offsets 2–4.
    expect(await transport.batch(0, [record(5, event(T0 + 5))])).toEqual({ seekTo: 2 });
    expect(consumer.snapshot().consumed).toBe(2);
    await transport.batch(
      0,
      [2, 3, 4, 5].map((o) => record(o, event(T0 + o))),
    );
    expect(consumer.snapshot().consumed).toBe(6);
  });

  it('refuses a checkpoint built with other window settings', async () => {
    const store = new MemoryStore();
    const first = await setup({}, store);
    await first.transport.batch(0, [record(0, event(T0))]);
    await first.tick();
    const { transport, consumer } = await setup(
      { windowing: { ...options.windowing, allowedLatenessMs: 5000 } },
      store,
    );
    await transport.batch(0, [record(0, event(T0))]);
    await expect(consumer.done).rejects.toThrow(/other window or lateness settings/);
  });

  it('lets an idle partition stop holding the watermark back after the idle timeout', async () => {
    const { transport, store, clock, consumer, tick } = await setup({ idleTimeoutMs: 30_000 });
    await transport.batch(0, [record(0, event(T0))]);
    await transport.batch(1, [record(0, event(T0 + 2 * 60_000))]);
    expect(consumer.snapshot().watermarkMs).toBe(T0 - 60_000);
    await clock.advance(31_000);
    const partition0 = () => [...store.documents.values()].find((d) => d.source.partition === 0)?.source;
    expect(partition0()).toMatchObject({ events: 1, final: false });
    await transport.batch(1, [record(1, event(T0 + 150_000))]);
    // Partition 0 is caught up and silent: the consumer's watermark is partition 1's alone…
    expect(consumer.snapshot().watermarkMs).toBe(T0 + 90_000);
    expect(consumer.snapshot().partitions.map((p) => p.idle)).toEqual([true, false]);
    // …and at the next turn of the loop it closes the idle partition's window, which is written final.
    await tick();
    expect(consumer.snapshot().partitions[0]?.watermarkMs).toBe(T0 + 90_000);
    expect(partition0()).toMatchObject({ events: 1, final: true });
  });

  it('drops revoked partitions and restores newly assigned ones from the store', async () => {
    const store = new MemoryStore();
    const { transport, consumer, tick } = await setup({}, store);
    await transport.batch(0, [record(0, event(T0))]);
    await tick();
    transport.handlers.onAssignment([1]);
    expect(consumer.snapshot().partitions.map((p) => p.partition)).toEqual([]);
    transport.handlers.onAssignment([0, 1]);
    await transport.batch(0, [record(0, event(T0)), record(1, event(T0 + 1))]);
    expect(consumer.snapshot()).toMatchObject({ replayed: 1, consumed: 2 });
  });
});

describe('AggregationConsumer on the memory broker', () => {
  it('takes what is appended through its own loop: documents, dead letters, checkpoints, commits', async () => {
    const broker = new MemoryBroker();
    for (const [topic, partitions] of [
      ['game-events', 2],
      ['game-events-late', 1],
      ['game-events-dlq', 1],
    ] as const) {
      broker.createTopic(topic, partitions);
    }
    const committed = new Map<string, number>();
    const store = new MemoryStore();
    const clock = new StepClock(T0);
    const consumer = new AggregationConsumer(options, {
      transport: new MemoryConsumerTransport(broker, 'game-events', 'g', committed),
      store,
      clock,
    });
    consumers.push(consumer);
    await consumer.start();
    const players = ['p-000001', 'p-000002', 'p-000003', 'p-000004'];
    for (let i = 0; i < 40; i++) {
      const player = players[i % players.length] as string;
      const value = JSON.stringify(event(T0 + i * 1000, { player_id: player }));
      broker.append('game-events', Buffer.from(player), Buffer.from(value), {}, T0);
    }
    broker.append('game-events', Buffer.from('p-000001'), Buffer.from('not json'), {}, T0);
    const ends = broker.endOffsets('game-events');
    expect([...ends.values()].every((end) => end > 0)).toBe(true); // both partitions get records

    await vi.waitFor(() => expect(consumer.snapshot().consumed).toBe(41));
    expect(store.documents.size).toBe(0); // nothing is written before the loop's flush
    await clock.advance(options.flushIntervalMs);
    await vi.waitFor(() => expect(committed.size).toBe(2));

    const docs = [...store.documents.values()].map((d) => d.source);
    expect(docs.reduce((sum, d) => sum + d.events, 0)).toBe(40);
    expect(new Set(docs.map((d) => d.partition))).toEqual(new Set([0, 1]));
    expect(broker.count('game-events-dlq')).toBe(1);
    for (const [partition, end] of ends) {
      expect(store.checkpoints.get(`game-events:${partition}`)?.source).toMatchObject({ position: end - 1 });
      // The windows are still open: a restart re-reads them, so the group's offset stays at their start.
      expect(committed.get(`g:${partition}`)).toBe(0);
    }
    expect(consumer.snapshot()).toMatchObject({ consumed: 41, accepted: 40, deadLettered: 1, flushes: 1 });
    await consumer.stop();
    await expect(consumer.done).resolves.toBeUndefined();
  });
});

describe('AggregationConsumer through a Kafka outage', () => {
  const MALFORMED = '{"schema":1,"event_id":';

  /** A consumer on a clock that moves only when told, with a transport that reports heartbeats. */
  async function outage(overrides: Partial<ConsumerOptions> = {}) {
    const logger = createRecordingLogger();
    const clock = new StepClock(T0);
    const parts = await setup({ kafkaTimeoutMs: 60_000, ...overrides }, new MemoryStore(), clock, logger);
    parts.transport.contact();
    let outcome: unknown = 'running';
    parts.consumer.done.then(
      () => {
        outcome = 'stopped';
      },
      (error) => {
        outcome = error;
      },
    );
    /** Stops the consumer the way a signal would, moving the clock until it has. */
    const stop = async (): Promise<{ stopped: unknown; tookMs: number }> => {
      let stopped: unknown = 'pending';
      parts.consumer.stop().then(
        () => {
          stopped = 'resolved';
        },
        (error) => {
          stopped = error;
        },
      );
      const tookMs = await clock.advanceUntil(() => stopped !== 'pending', 60_000);
      return { stopped, tookMs };
    };
    /** A minute of Kafka answering heartbeats, as a healthy client does every few seconds. */
    const healthy = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 1000) {
        parts.transport.contact();
        await clock.advance(1000);
      }
    };
    return { ...parts, logger, outcome: () => outcome, stop, healthy };
  }

  it('retries dead-letter records until Kafka is back, and writes and commits nothing past them before', async () => {
    const { transport, store, clock, consumer, logger, healthy, stop } = await outage();
    transport.down = true;
    await transport.batch(0, [
      record(0, event(T0 + 1000)),
      record(1, MALFORMED),
      record(2, event(T0 + 2000)),
    ]);
    await clock.advance(40_000);
    expect(store.documents.size).toBe(0);
    expect(store.checkpoints.size).toBe(0);
    expect(transport.commits).toEqual([]);
    expect(transport.produced).toEqual([]);
    // Backoff up to 5 s between attempts: the retry loop waits, it does not spin.
    expect(transport.produceAttempts).toBeGreaterThan(5);
    expect(transport.produceAttempts).toBeLessThan(20);
    const during = consumer.snapshot();
    expect(during.backpressure).toBe(true);
    expect([...transport.paused]).toEqual([0, 1]);
    expect(during.kafkaError).toMatch(
      /^late\/dead-letter records not acknowledged for \d+s: The producer is disconnected$/,
    );
    expect(logger.lines.filter((l) => l.startsWith('warn Kafka: late/dead-letter records'))).toHaveLength(1);

    transport.recover();
    await healthy(10_000);
    expect(transport.produced.map((p) => [p.topic, p.record.headers['gapipe-source-offset']])).toEqual([
      ['game-events-dlq', '1'],
    ]);
    expect([...store.documents.values()].map((d) => d.source)).toMatchObject([{ events: 2, last_offset: 2 }]);
    expect(store.checkpoints.get('game-events:0')?.source).toMatchObject({ position: 2 });
    expect(transport.commits.at(-1)).toEqual({ partition: 0, offset: 0 });
    expect(consumer.snapshot()).toMatchObject({ backpressure: false, deadLettered: 1, consumed: 3 });
    expect(consumer.snapshot().kafkaError).toBeUndefined();
    expect(logger.lines).toContain('info Kafka answers again');
    expect([...transport.paused]).toEqual([]);
    expect((await stop()).stopped).toBe('resolved');
  });

  it('gives up with KAFKA_UNREACHABLE once Kafka has not answered for the Kafka timeout', async () => {
    const { transport, clock, consumer, outcome } = await outage({ kafkaTimeoutMs: 60_000 });
    await transport.batch(0, [record(0, event(T0))]);
    await clock.advance(3000);
    transport.contact();
    const lastContact = clock.now();
    transport.down = true;
    await clock.advance(50_000);
    expect(outcome()).toBe('running');
    expect(consumer.snapshot().kafkaError).toMatch(/^no answer for 50s$/);
    await clock.advanceUntil(() => outcome() !== 'running', 30_000);
    const failure = outcome() as GapipeError;
    expect(failure).toBeInstanceOf(GapipeError);
    expect(failure.code).toBe('KAFKA_UNREACHABLE');
    expect(failure.exitCode).toBe(5);
    expect(failure.message).toBe('Gave up after 1m without Kafka (fake): no answer for 1m');
    expect(failure.nextSteps).toMatch(/start gapipe consume again.*--kafka-timeout/);
    expect(clock.now() - lastContact).toBeGreaterThanOrEqual(60_000);
    expect(clock.now() - lastContact).toBeLessThanOrEqual(61_000);
    expect(transport.stopped).toBe(true);
  });

  it('gives up when Kafka refuses dead-letter records for the Kafka timeout, even while it answers heartbeats', async () => {
    const { transport, clock, outcome } = await outage({ kafkaTimeoutMs: 30_000 });
    transport.refuseSends = true;
    await transport.batch(0, [record(0, MALFORMED)]);
    const startedAt = clock.now();
    while (outcome() === 'running' && clock.now() - startedAt < 60_000) {
      transport.contact();
      await clock.advance(1000);
    }
    expect(outcome()).toMatchObject({
      code: 'KAFKA_UNREACHABLE',
      message: expect.stringMatching(
        /^Gave up after 30s without Kafka \(fake\): late\/dead-letter records not acknowledged for 30s: The producer is disconnected$/,
      ),
    });
    expect(clock.now() - startedAt).toBeLessThanOrEqual(31_000);
  });

  it('survives an outage shorter than the Kafka timeout without a word beyond a warning', async () => {
    const { transport, store, clock, logger, outcome, healthy, stop } = await outage({
      kafkaTimeoutMs: 60_000,
    });
    await transport.batch(0, [record(0, event(T0))]);
    transport.down = true;
    await clock.advance(55_000);
    transport.recover();
    await transport.batch(0, [record(1, event(T0 + 1000))]);
    await healthy(30_000);
    expect(outcome()).toBe('running');
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn Kafka: no answer for 15s; retrying for up to 1m in all',
    ]);
    expect(logger.lines).toContain('info Kafka answers again');
    expect(store.checkpoints.get('game-events:0')?.source).toMatchObject({ position: 1 });
    expect(transport.commits.at(-1)).toEqual({ partition: 0, offset: 0 });
    expect((await stop()).stopped).toBe('resolved');
  });

  it('stops within the stop timeout during an outage, and says that the last flush was not made', async () => {
    const { transport, store, clock, stop } = await outage();
    transport.down = true;
    await transport.batch(0, [record(0, event(T0)), record(1, MALFORMED)]);
    await clock.advance(3000);
    const { stopped, tookMs } = await stop();
    expect(tookMs).toBeLessThanOrEqual(3000 + 100);
    expect(stopped).toMatchObject({
      code: 'KAFKA_UNREACHABLE',
      message:
        'Stopped without the last flush: Kafka did not acknowledge 1 late/dead-letter records within 3s: The producer is disconnected',
      nextSteps: expect.stringMatching(/Nothing is lost: the next start replays/),
    });
    expect(store.documents.size).toBe(0);
    expect(store.checkpoints.size).toBe(0);
    expect(transport.commits).toEqual([]);
    expect(transport.stopped).toBe(true);
    // Nothing keeps retrying behind the stopped consumer.
    const attempts = transport.produceAttempts;
    await clock.advance(60_000);
    expect(transport.produceAttempts).toBe(attempts);
  });

  it('stops cleanly during an outage when nothing waits for Kafka: the store gets the last flush', async () => {
    const { transport, store, stop } = await outage();
    transport.down = true;
    await transport.batch(0, [record(0, event(T0)), record(1, event(T0 + 1))]);
    // The commit does not come back; the stop does not wait for it longer than its timeout.
    const { stopped, tookMs } = await stop();
    expect(stopped).toBe('resolved');
    expect(tookMs).toBeLessThanOrEqual(3000 + 100);
    expect(store.checkpoints.get('game-events:0')?.source).toMatchObject({ position: 1 });
    expect(transport.commits).toEqual([]);
    expect(transport.stopped).toBe(true);
  });

  it('commits the last flush before leaving the group', async () => {
    const { transport, consumer } = await outage();
    await transport.batch(1, [record(0, event(T0)), record(1, event(T0 + 1))]);
    let stoppedTransportBeforeCommit: boolean | undefined;
    const commit = transport.commit.bind(transport);
    transport.commit = async (offsets) => {
      stoppedTransportBeforeCommit = transport.stopped;
      await commit(offsets);
    };
    await consumer.stop();
    expect(stoppedTransportBeforeCommit).toBe(false);
    expect(transport.commits).toEqual([{ partition: 1, offset: 0 }]);
    expect(transport.stopped).toBe(true);
    await settle();
  });
});

describe('chunkOperations', () => {
  it('splits bulk entries into bounded requests without separating an action from its document', async () => {
    const { chunkOperations } = await import('../../src/pipeline/store.js');
    const ops = [
      { index: { _id: 'a' } },
      { n: 1 },
      { delete: { _id: 'b' } },
      { index: { _id: 'c' } },
      { n: 2 },
      { index: { _id: 'd' } },
      '{"raw":1}',
    ];
    const chunks = chunkOperations(ops, 3);
    expect(chunks).toEqual([
      [ops[0], ops[1], ops[2]],
      [ops[3], ops[4]],
      [ops[5], ops[6]],
    ]);
    expect(chunks.flat()).toEqual(ops);
  });
});
