/**
 * The bench's delivery tap against the lab's real Kafka: records written by gapipe's producer (a
 * backlog, then live ones) are each read once and timed, the tap's positions reach the topic's end
 * offsets, and its group ends with no committed offsets and no members.
 */
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryTap } from '../../src/bench/delivery-tap.js';
import { GapipeError } from '../../src/errors.js';
import { labForFile, parseJson, randomName, runCli, sleep } from './helpers.js';

const lab = labForFile('e2e-tap');
let admin: Admin;

beforeAll(async () => {
  admin = new Kafka({ clientId: 'e2e-admin', brokers: [lab.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect().catch(() => {});
});

async function endOffsets(topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

async function simulate(topic: string, events: number, extra: string[]): Promise<number> {
  const result = await runCli(
    [
      'simulate',
      '--brokers',
      lab.brokers,
      '--topic',
      topic,
      '--events',
      String(events),
      '--players',
      '500',
      '--json',
      ...extra,
    ],
    lab.env,
  );
  expect(result.code, result.stderr).toBe(0);
  const summary = parseJson<{ acknowledged: number; failed: number }>(result);
  expect(summary.failed).toBe(0);
  return summary.acknowledged;
}

async function until(condition: () => boolean, what: () => string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await sleep(50);
  }
}

describe('the delivery tap against real Kafka', () => {
  it('reads and times every record once, ends at the end offsets, and commits nothing', async () => {
    const testStartedAt = Date.now();
    const topic = randomName('e2e-tap');
    const group = `${topic}-tap`;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    });
    // A backlog: unpaced at a high rate, so every intended time is past by the time it is read.
    const backlog = await simulate(topic, 5000, ['--no-pace', '--rate', '1000000/s']);
    expect(backlog).toBe(5000);

    let timed = 0;
    let negative = 0;
    let callbacks = 0;
    let earliest = Number.POSITIVE_INFINITY;
    const tap = new DeliveryTap({ brokers: [lab.brokers], topic, group }, (intended, count, nowMs) => {
      callbacks++;
      timed += count;
      for (let i = 0; i < count; i++) {
        const ms = intended[i] as number;
        if (nowMs - ms < 0) negative++;
        earliest = Math.min(earliest, ms);
      }
    });
    try {
      await tap.start();
      await until(
        () => tap.read().consumed >= backlog,
        () => `${tap.read().consumed} of ${backlog} records`,
      );
      // Live records, paced: read as they arrive.
      const live = await simulate(topic, 2000, ['--rate', '4000/s']);
      const total = backlog + live;
      await until(
        () => tap.read().consumed >= total,
        () => `${tap.read().consumed} of ${total} records`,
      );
      await sleep(1000); // anything read twice would show now
      const reading = tap.read();
      expect(tap.error).toBeUndefined();
      expect(reading.consumed).toBe(total);
      expect(reading.untimed).toBe(0);
      expect(timed).toBe(total);
      expect(callbacks).toBeGreaterThan(0);
      expect(callbacks).toBeLessThan(total);
      expect(negative).toBe(0);
      // Intended times are the epoch ms at which this test's records were due, not another clock's.
      expect(earliest).toBeGreaterThanOrEqual(testStartedAt);
      expect(reading.positions).toEqual(await endOffsets(topic));
    } finally {
      await tap.stop();
    }
    // A measurement, not a pipeline: the group holds no offsets, and the tap left it.
    const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    expect(committed[0]?.partitions.map((p) => p.offset)).toEqual(['-1', '-1', '-1']);
    const { groups } = await admin.describeGroups([group]);
    expect(groups[0]?.members).toEqual([]);
  });

  it('start rejects with a GapipeError naming a topic that does not exist', async () => {
    const topic = randomName('e2e-tap-missing');
    const tap = new DeliveryTap({ brokers: [lab.brokers], topic, group: `${topic}-tap` }, () => {});
    const error = await tap.start().catch((e: unknown) => e);
    await tap.stop();
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('INVALID_ARGUMENT');
    expect((error as GapipeError).message).toContain(topic);
  });
});
