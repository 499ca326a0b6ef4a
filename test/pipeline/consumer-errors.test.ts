/**
 * What the user is told when the consumer cannot go on: every way out is a GapipeError with a code
 * other than INTERNAL and with next steps, driven through the consumer's public loop.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { GapipeError, toGapipeError } from '../../src/errors.js';
import { AggregationConsumer, CONSUMER_DEFAULTS, type ConsumerOptions } from '../../src/pipeline/consumer.js';
import { SideOutputsPendingError } from '../../src/pipeline/side-outputs.js';
import { MemoryStore, RetryableStoreError } from '../../src/pipeline/store.js';
import type {
  BatchResult,
  ConsumerTransport,
  TransportHandlers,
  TransportRecord,
} from '../../src/pipeline/transport.js';
import { WINDOWING_DEFAULTS } from '../../src/pipeline/windows.js';
import { settle } from './step-clock.js';

const T0 = Date.parse('2026-11-21T20:00:00.000Z');

function record(offset: number): TransportRecord {
  const event = {
    schema: 1,
    event_id: randomUUID(),
    event_type: 'enemy_defeated',
    ts: new Date(T0 + offset).toISOString(),
    player_id: 'p-000001',
    username: 'Ines.Dickinson',
    region: 'NA',
    country: 'US',
    platform: 'pc',
    session_id: 's-000001-0001',
    enemy_type: 'slime',
    weapon: 'battle_axe',
    xp: 11,
  };
  return {
    offset,
    key: Buffer.from('p-000001'),
    value: Buffer.from(JSON.stringify(event)),
    headers: {},
    timestampMs: T0,
  };
}

/** Enough of Kafka for these tests: batches are handed in by the test, with a switchable isActive. */
class FakeTransport implements ConsumerTransport {
  readonly description = 'fake';
  handlers!: TransportHandlers;
  /** What BatchControl.isActive answers: false once the partition is revoked or the consumer stops. */
  active = true;
  commits: Array<{ partition: number; offset: number }> = [];
  async start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
  }
  pause(): void {}
  resume(): void {}
  async commit(offsets: Array<{ partition: number; offset: number }>): Promise<void> {
    this.commits.push(...offsets);
  }
  async produce(): Promise<void> {}
  async partitionCount(): Promise<number> {
    return 1;
  }
  async stop(): Promise<void> {}
  batch(partition: number, records: TransportRecord[]): Promise<BatchResult> {
    return this.handlers.onBatch(
      { partition, records, highWatermark: (records.at(-1)?.offset ?? -1) + 1 },
      { heartbeat: async () => {}, isActive: () => this.active },
    );
  }
}

/**
 * Short waits (retry backoffs) pass at once and move time on by their length; the flush and watch
 * loops' long ones never end by themselves.
 */
class ShortSleepClock implements Clock {
  private t = T0;
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    if (ms >= 1000) return new Promise(() => {});
    this.t += ms;
    return settle();
  }
}

const options: ConsumerOptions = {
  topic: 'game-events',
  group: 'g',
  windowing: { ...WINDOWING_DEFAULTS, allowedLatenessMs: 60_000, lateRetentionMs: 60_000 },
  ...CONSUMER_DEFAULTS,
  maxBackoffMs: 100,
  lateTopic: 'game-events-late',
  deadLetterTopic: 'game-events-dlq',
  indexRaw: false,
};

const consumers: AggregationConsumer[] = [];
afterEach(async () => {
  for (const c of consumers.splice(0)) await c.stop().catch(() => {});
});

async function start(store: MemoryStore) {
  const transport = new FakeTransport();
  const consumer = new AggregationConsumer(options, { transport, store, clock: new ShortSleepClock() });
  consumers.push(consumer);
  await consumer.start();
  transport.handlers.onAssignment([0]);
  return { transport, consumer };
}

describe('errors a store or Kafka outage leaves behind', () => {
  it('RetryableStoreError is a user-facing Elasticsearch error, never "a bug in gapipe"', () => {
    const error = new RetryableStoreError('Elasticsearch bulk request failed: connection failed', {
      cause: new Error('connect ECONNREFUSED 127.0.0.1:9200'),
    });
    expect(error).toBeInstanceOf(GapipeError);
    expect(toGapipeError(error)).toBe(error);
    expect(error.code).toBe('ELASTICSEARCH_UNREACHABLE');
    expect(error.exitCode).toBe(5);
    expect(error.nextSteps).toMatch(/Elasticsearch is up.*resumes from its last checkpoint/);
  });

  it('late/dead-letter records Kafka has not acknowledged are a Kafka error', () => {
    const error = new SideOutputsPendingError(12, 'The producer is disconnected');
    expect(error).toBeInstanceOf(RetryableStoreError);
    expect(error.code).toBe('KAFKA_UNREACHABLE');
    expect(error.message).toBe(
      '12 late/dead-letter records not yet acknowledged by Kafka: The producer is disconnected',
    );
    expect(error.nextSteps).toMatch(/Kafka is up/);
  });

  it('a restore cut short by a stop while Elasticsearch is away ends quietly: nothing was applied', async () => {
    const store = new MemoryStore();
    store.unavailable = 'connect ECONNREFUSED 127.0.0.1:9200';
    const { transport, consumer } = await start(store);
    const batch = transport.batch(0, [record(0)]);
    // The restore keeps retrying while the partition is ours…
    for (let i = 0; i < 5; i++) await settle();
    expect(consumer.snapshot().sinkError).toBe('connect ECONNREFUSED 127.0.0.1:9200');
    // …and gives up once it is not: the records go back to Kafka, for whoever restores next.
    transport.active = false;
    expect(await batch).toEqual({ seekTo: 0 });
    store.unavailable = undefined;
    await expect(consumer.stop()).resolves.toBeUndefined();
    expect(consumer.snapshot()).toMatchObject({ consumed: 0, written: 0 });
  });

  it('records deleted by retention before a restore could re-read them are KAFKA_RECORDS_GONE, not INTERNAL', async () => {
    const store = new MemoryStore();
    const first = await start(store);
    await first.transport.batch(0, [record(0), record(1)]);
    await first.consumer.flush();
    await first.consumer.stop();
    expect(store.checkpoints.get('game-events:0')?.source).toMatchObject({ replayFrom: 0, position: 1 });

    // Retention removed offsets 0–99: Kafka answers every seek back with offset 100 onwards.
    const { transport, consumer } = await start(store);
    for (let i = 0; i < 60 && (await transport.batch(0, [record(100)])).seekTo === 0; i++) {
      if (consumer.snapshot().consumed > 0) break;
    }
    const error = await consumer.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('KAFKA_RECORDS_GONE');
    expect((error as GapipeError).exitCode).toBe(8);
    expect((error as GapipeError).message).toBe(
      'Partition 0 of game-events: records 0–99 are no longer in Kafka (deleted by retention?), and the checkpoint in memory needs them to rebuild its open windows',
    );
    expect((error as GapipeError).nextSteps).toMatch(/fresh --index.*retention/);
    // Nothing was aggregated across the gap.
    expect(consumer.snapshot().consumed).toBe(0);
  });
});
