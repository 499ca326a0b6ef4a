import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import { AggregationConsumer, CONSUMER_DEFAULTS } from '../../src/pipeline/consumer.js';
import { resolveConsumeOptions } from '../../src/pipeline/options.js';
import { MemoryStore } from '../../src/pipeline/store.js';
import { KafkaTransport, recordHeader, recordHeaderNumber } from '../../src/pipeline/transport.js';
import { WINDOWING_DEFAULTS } from '../../src/pipeline/windows.js';
import { FakeGroupBroker } from '../kafka/fake-group-broker.js';

const TOPIC = 'game-events';
const T0 = Date.parse('2026-11-21T20:00:00.000Z');
const cleanup: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function broker(): Promise<FakeGroupBroker> {
  const fake = new FakeGroupBroker(TOPIC, 2);
  await fake.start();
  cleanup.push(() => fake.stop());
  return fake;
}

function transport(fake: FakeGroupBroker, requiredTopics: string[] = []): KafkaTransport {
  return new KafkaTransport({
    client: 'gapipe',
    brokers: [fake.address],
    topic: TOPIC,
    group: 'aggregator',
    fromBeginning: true,
    sessionTimeoutMs: 6000,
    requiredTopics,
  });
}

const noHandlers = {
  onAssignment() {},
  onBatch: async () => ({}),
  onFatal() {},
};

describe('--kafka-client', () => {
  it("is gapipe's own client unless kafkajs is asked for", () => {
    expect(resolveConsumeOptions({}).kafkaClient).toBe('gapipe');
    expect(resolveConsumeOptions({ kafkaClient: 'kafkajs' }).kafkaClient).toBe('kafkajs');
    expect(() => resolveConsumeOptions({ kafkaClient: 'rdkafka' })).toThrow(
      "--kafka-client must be gapipe or kafkajs, got 'rdkafka'",
    );
  });
});

describe('recordHeader and recordHeaderNumber', () => {
  it('read plain header maps as the client delivered them', () => {
    const record = {
      offset: 0,
      key: null,
      value: null,
      timestampMs: 0,
      headers: { a: Buffer.from('12'), b: ['x', 'y'], c: 'not a number' },
    };
    expect(recordHeader(record, 'a')).toBe('12');
    expect(recordHeader(record, 'b')).toBe('x');
    expect(recordHeader(record, 'z')).toBeUndefined();
    expect(recordHeaderNumber(record, 'a')).toBe(12);
    expect(recordHeaderNumber(record, 'c')).toBeNaN();
    expect(recordHeaderNumber(record, 'z')).toBeUndefined();
  });
});

describe("KafkaTransport on gapipe's client", () => {
  it('names the missing topic, as the kafkajs transport does', async () => {
    const fake = await broker();
    const missingSide = transport(fake, ['game-events-late', 'game-events-dlq']);
    cleanup.push(() => missingSide.stop());
    const error = await missingSide.start(noHandlers).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GapipeError);
    expect(error).toMatchObject({
      code: 'INVALID_FLAG',
      message: `Topic game-events-late, game-events-dlq does not exist on ${fake.address}`,
    });
    const other = new KafkaTransport({
      client: 'gapipe',
      brokers: [fake.address],
      topic: 'nope',
      group: 'g',
      fromBeginning: true,
      sessionTimeoutMs: 6000,
    });
    cleanup.push(() => other.stop());
    await expect(other.start(noHandlers)).rejects.toMatchObject({
      code: 'INVALID_FLAG',
      message: `Topic nope does not exist on ${fake.address}`,
    });
  });

  it('feeds the aggregation consumer: documents, run id and intended times from the headers, commits', async () => {
    const fake = await broker();
    const count = 400;
    for (let i = 0; i < count; i++) {
      const partition = i % 2;
      fake.append(partition, [
        {
          key: `p-${partition}`,
          value: JSON.stringify({
            schema: 1,
            event_id: randomUUID(),
            event_type: 'enemy_defeated',
            ts: new Date(T0 + i * 100).toISOString(),
            player_id: `p-00000${partition}`,
            username: 'Ines.Dickinson',
            region: partition === 0 ? 'NA' : 'EU',
            country: 'US',
            platform: 'pc',
            session_id: 's-000001-0001',
            enemy_type: 'slime',
            weapon: 'battle_axe',
            xp: 11,
          }),
          headers: { 'gapipe-run-id': 'run-7', 'gapipe-intended-ts': String(T0 + i) },
        },
      ]);
    }
    const store = new MemoryStore();
    const intended: number[] = [];
    const kafka = transport(fake);
    const consumer = new AggregationConsumer(
      {
        topic: TOPIC,
        group: 'aggregator',
        windowing: WINDOWING_DEFAULTS,
        ...CONSUMER_DEFAULTS,
        flushIntervalMs: 100,
        lateTopic: `${TOPIC}-late`,
        deadLetterTopic: `${TOPIC}-dlq`,
        indexRaw: false,
      },
      {
        transport: kafka,
        store,
        observer: { delivered: (ms) => intended.push(ms ?? -1) },
      },
    );
    cleanup.push(() => consumer.stop().catch(() => {}));
    await consumer.start();
    const events = () => [...store.documents.values()].reduce((n, d) => n + d.source.events, 0);
    const deadline = Date.now() + 10_000;
    // Commits are the replay points of the checkpoints: here the start of the open windows.
    while (events() < count || !fake.committed.has(0) || !fake.committed.has(1)) {
      if (Date.now() > deadline)
        throw new Error(`${events()} events written, commits ${[...fake.committed]}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const docs = [...store.documents.values()].map((d) => d.source);
    expect(docs.reduce((n, d) => n + d.events, 0)).toBe(count);
    expect(new Set(docs.map((d) => d.region))).toEqual(new Set(['NA', 'EU']));
    expect(docs.every((d) => d.run_id === 'run-7')).toBe(true);
    expect(intended.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => T0 + i));
    expect(consumer.snapshot().consumed).toBe(count);
  });
});
