/**
 * gapipe's Kafka producer against an in-process broker (fake-broker.ts): delivery through lost
 * responses, leader errors, a broker that goes away and comes back, and a broker that forgot the
 * producer; records that run out of delivery time; open() errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { KafkaProducer, type ProducerTuning } from '../../src/kafka/producer.js';
import {
  KafkaTransportError,
  type ProducerTransportOptions,
  type RecordCodec,
} from '../../src/kafka/transport.js';
import { FakeBroker } from './fake-broker.js';

interface Item {
  key: string;
  n: number;
}

const codec: RecordCodec<Item> = {
  key: (item) => item.key,
  value: (item) => `{"n":${item.n}}`,
  headerNames: ['n'],
  headerValue: (item) => item.n,
};

const FAST: Partial<ProducerTuning> = {
  retryBackoffMs: 10,
  retryBackoffMaxMs: 50,
  reconnectBackoffMs: 10,
  reconnectBackoffMaxMs: 50,
  connectTimeoutMs: 500,
  openTimeoutMs: 2000,
  requestTimeoutMs: 2000,
};

const brokers: FakeBroker[] = [];
const producers: KafkaProducer<Item>[] = [];

afterEach(async () => {
  for (const producer of producers.splice(0)) await Promise.race([producer.close(), sleep(100)]);
  for (const broker of brokers.splice(0)) await broker.stop();
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function startBroker(partitions = 3): Promise<FakeBroker> {
  const broker = new FakeBroker('events', partitions);
  await broker.start();
  brokers.push(broker);
  return broker;
}

function producerFor(
  broker: FakeBroker,
  overrides: Partial<ProducerTransportOptions<Item>> = {},
  tuning: Partial<ProducerTuning> = FAST,
) {
  const acknowledged: Item[] = [];
  const failed: Array<{ items: readonly Item[]; error: Error }> = [];
  const producer = new KafkaProducer<Item>(
    {
      brokers: [broker.address],
      topic: 'events',
      clientId: 'test',
      acks: -1,
      idempotent: true,
      compression: 'none',
      batchBytes: 16 * 1024,
      batchRecords: 100,
      lingerMs: 2,
      deliveryTimeoutMs: 30_000,
      codec,
      clock: systemClock,
      onAcknowledged: (items) => acknowledged.push(...items),
      onFailed: (items, error) => failed.push({ items, error }),
      ...overrides,
    },
    tuning,
  );
  producers.push(producer);
  return { producer, acknowledged, failed };
}

function items(from: number, count: number): Item[] {
  return Array.from({ length: count }, (_, i) => ({ key: `p-${(from + i) % 97}`, n: from + i }));
}

/** Sends `total` records in chunks, a little at a time, like the paced simulator. */
async function sendPaced(producer: KafkaProducer<Item>, total: number, chunk = 200): Promise<void> {
  for (let n = 0; n < total; n += chunk) {
    producer.send(items(n, Math.min(chunk, total - n)));
    await sleep(2);
  }
}

/** Every record exactly once, and each key's records in the order sent. */
function expectExactlyOnce(broker: FakeBroker, total: number): void {
  const seen = broker.logs.flat().map((r) => JSON.parse(r.value).n as number);
  expect(seen.length).toBe(total);
  expect(new Set(seen).size).toBe(total);
  for (const log of broker.logs) {
    const byKey = new Map<string, number>();
    for (const record of log) {
      const n = JSON.parse(record.value).n as number;
      expect(n).toBeGreaterThan(byKey.get(record.key as string) ?? -1);
      byKey.set(record.key as string, n);
      expect(record.headers.n).toBe(String(n));
    }
  }
  expect(broker.crcFailures).toBe(0);
}

describe('KafkaProducer', () => {
  it('delivers every record once, partitioned by key, in order', async () => {
    const broker = await startBroker();
    const { producer, acknowledged, failed } = producerFor(broker);
    await producer.open();
    await sendPaced(producer, 5000);
    await producer.flush();
    expect(producer.pending()).toBe(0);
    expect(failed).toEqual([]);
    expect(acknowledged).toHaveLength(5000);
    expectExactlyOnce(broker, 5000);
    expect(broker.logs.every((log) => log.length > 0)).toBe(true);
  });

  it('writes a batch once when its response is lost and it is sent again', async () => {
    const broker = await startBroker();
    broker.onProduce = ({ request }) => (request === 3 || request === 9 ? 'close-after' : undefined);
    const { producer, acknowledged, failed } = producerFor(broker);
    await producer.open();
    await sendPaced(producer, 5000);
    await producer.flush();
    expect(failed).toEqual([]);
    expect(acknowledged).toHaveLength(5000);
    expect(broker.duplicatesDropped).toBeGreaterThan(0);
    expectExactlyOnce(broker, 5000);
  });

  it('retries through leader errors and connections closed before writing', async () => {
    const broker = await startBroker();
    broker.onProduce = ({ request, partition }) =>
      request % 7 === 0 && partition === 1 ? 6 : request % 11 === 0 ? 'close-before' : undefined;
    const { producer, acknowledged, failed } = producerFor(broker);
    await producer.open();
    await sendPaced(producer, 5000);
    await producer.flush();
    expect(failed).toEqual([]);
    expect(acknowledged).toHaveLength(5000);
    expectExactlyOnce(broker, 5000);
  });

  it('loses nothing while the broker is away for a second and comes back', async () => {
    const broker = await startBroker();
    const { producer, acknowledged, failed } = producerFor(broker);
    await producer.open();
    const sending = sendPaced(producer, 6000, 100);
    await sleep(40);
    await broker.stop();
    await sleep(1000);
    await broker.start();
    await sending;
    await producer.flush();
    expect(failed).toEqual([]);
    expect(acknowledged).toHaveLength(6000);
    expectExactlyOnce(broker, 6000);
  });

  it('gets a new producer id when the broker forgot the producer, and goes on', async () => {
    const broker = await startBroker();
    const { producer, acknowledged, failed } = producerFor(broker);
    await producer.open();
    producer.send(items(0, 500));
    await producer.flush();
    broker.forgetProducers();
    producer.send(items(500, 500));
    await producer.flush();
    expect(failed).toEqual([]);
    expect(acknowledged).toHaveLength(1000);
    expectExactlyOnce(broker, 1000);
    const producerIds = new Set<number>();
    broker.onProduce = ({ producerId }) => {
      producerIds.add(producerId);
      return undefined;
    };
    producer.send(items(1000, 10));
    await producer.flush();
    expect([...producerIds]).toEqual([1001]);
  });

  it('fails the records it could not deliver within the delivery timeout, and counts them once', async () => {
    const broker = await startBroker();
    const { producer, acknowledged, failed } = producerFor(broker, { deliveryTimeoutMs: 300 });
    await producer.open();
    producer.send(items(0, 100));
    await producer.flush();
    await broker.stop();
    producer.send(items(100, 250));
    await producer.flush();
    expect(acknowledged).toHaveLength(100);
    const failedItems = failed.flatMap((f) => f.items);
    expect(failedItems.map((i) => i.n).sort((a, b) => a - b)).toEqual(items(100, 250).map((i) => i.n));
    expect(failed[0]?.error.message).toMatch(/delivery timeout \(0\.3s\).*connect/);
    expect(producer.pending()).toBe(0);
    // A short outage against a short delivery timeout fails records; the producer itself goes on.
    expect(producer.fatalError()).toBeUndefined();
    await broker.start();
    producer.send(items(350, 50));
    await producer.flush();
    expect(acknowledged).toHaveLength(150);
  });

  it('without idempotence (acks=1) still delivers through a lost response, at least once', async () => {
    const broker = await startBroker();
    broker.onProduce = ({ request }) => (request === 2 ? 'close-after' : undefined);
    const { producer, acknowledged, failed } = producerFor(broker, { acks: 1, idempotent: false });
    await producer.open();
    await sendPaced(producer, 2000);
    await producer.flush();
    expect(failed).toEqual([]);
    expect(acknowledged).toHaveLength(2000);
    const seen = new Set(broker.logs.flat().map((r) => JSON.parse(r.value).n as number));
    expect(seen.size).toBe(2000);
  });

  it('with acks=0 hands records over without waiting for an answer', async () => {
    const broker = await startBroker();
    const { producer, acknowledged } = producerFor(broker, { acks: 0, idempotent: false });
    await producer.open();
    producer.send(items(0, 300));
    await producer.flush();
    expect(acknowledged).toHaveLength(300);
    await sleep(100);
    expect(broker.logs.flat()).toHaveLength(300);
  });

  it('rejects open() within the connect timeout when nothing listens', async () => {
    const broker = await startBroker();
    await broker.stop();
    const { producer } = producerFor(broker);
    const started = Date.now();
    const error = await producer.open().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KafkaTransportError);
    expect((error as KafkaTransportError).reason).toBe('unreachable');
    expect((error as Error).message).toContain(broker.address);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects open() for a topic the broker does not have', async () => {
    const broker = await startBroker();
    const { producer } = producerFor(broker, { topic: 'missing' });
    const error = await producer.open().catch((e: unknown) => e);
    expect((error as KafkaTransportError).reason).toBe('unknown-topic');
    expect((error as Error).message).toContain("'missing'");
  });
});
