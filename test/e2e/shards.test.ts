/**
 * A run sharded over two "machines" (two processes, one of them with two generator threads) into the
 * lab's real Kafka: together they send exactly the records one run would, the consumer aggregates
 * them, and `gapipe verify` passes against the two manifests combined.
 */
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { labForFile, parseJson, randomName, runCli } from './helpers.js';

const lab = labForFile('e2e-shards');

async function createTopics(topic: string, partitions: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'e2e-admin', brokers: [lab.brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: partitions, replicationFactor: 1 },
        { topic: `${topic}-late`, numPartitions: 1, replicationFactor: 1 },
        { topic: `${topic}-dlq`, numPartitions: 1, replicationFactor: 1 },
      ],
    });
  } finally {
    await admin.disconnect();
  }
}

async function topicCount(topic: string): Promise<number> {
  const kafka = new Kafka({ clientId: 'e2e-admin', brokers: [lab.brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

interface Summary {
  produced: number;
  acknowledged: number;
  failed: number;
  workers: number;
  shard: { index: number; count: number };
  runId: string;
  produceAck?: { count: number };
}

describe('a sharded run against real Kafka', () => {
  it('two shard processes send the whole stream once; verify passes on their manifests combined', async () => {
    const topic = randomName('e2e-shards');
    await createTopics(topic, 6);
    const manifests = [join(lab.dir, 'truth-0.json'), join(lab.dir, 'truth-1.json')];
    const shard = (index: number, workers: number) =>
      runCli(
        [
          'simulate',
          '--brokers',
          lab.brokers,
          '--topic',
          topic,
          '--players',
          '600',
          '--rate',
          '1500/s',
          '--duration',
          '40s',
          '--seed',
          '31',
          '--start-time',
          '2026-11-21T20:00:20Z',
          '--late',
          '0.01',
          '--late-by',
          '20s..80s',
          '--duplicates',
          '0.01',
          '--malformed',
          '0.002',
          '--out-of-order',
          '0.02',
          '--shard',
          `${index}/2`,
          '--workers',
          String(workers),
          '--manifest',
          manifests[index] as string,
          '--json',
        ],
        lab.env,
      );
    const results = await Promise.all([shard(0, 2), shard(1, 1)]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const [first, second] = results.map((r) => parseJson<Summary>(r)) as [Summary, Summary];
    expect(first).toMatchObject({ workers: 2, shard: { index: 0, count: 2 }, failed: 0 });
    expect(second).toMatchObject({ workers: 1, shard: { index: 1, count: 2 }, failed: 0 });
    expect(first.runId).toBe(second.runId);
    // Every record once: what the shards produced is what the topic holds.
    const produced = first.produced + second.produced;
    expect(produced).toBeGreaterThan(50_000);
    expect(first.acknowledged + second.acknowledged).toBe(produced);
    expect(await topicCount(topic)).toBe(produced);
    // The two threads' produce→ack histograms were merged into the first shard's summary.
    expect(first.produceAck?.count).toBe(first.acknowledged);

    const index = `gapipe-aggregates-${topic}`;
    const consumed = await runCli(
      [
        'consume',
        '--brokers',
        lab.brokers,
        '--es',
        lab.esUrl,
        '--topic',
        topic,
        '--group',
        `${topic}-g`,
        '--index',
        index,
        '--allowed-lateness',
        '30s',
        '--late-retention',
        '1m',
        '--flush-interval',
        '500ms',
        '--exit-idle',
        '8s',
        '--json',
      ],
      lab.env,
    );
    expect(consumed.code, consumed.stderr).toBe(0);

    const verify = (...paths: string[]) =>
      runCli(
        [
          'verify',
          ...paths.flatMap((path) => ['--manifest', path]),
          '--es',
          lab.esUrl,
          '--index',
          index,
          '--wait',
          '60s',
          '--json',
        ],
        lab.env,
      );
    const both = await verify(...manifests);
    expect(both.code, `${both.stderr}\n${both.stdout.slice(-3000)}`).toBe(0);
    expect(parseJson<{ ok: boolean; manifests: string[] }>(both)).toMatchObject({ ok: true, manifests });
    // One shard's manifest alone is not the run's ground truth.
    const one = await verify(manifests[0] as string);
    expect(one.code).toBe(2);
    expect(one.stdout + one.stderr).toContain('Shard 1/2 of run');
  });
});
