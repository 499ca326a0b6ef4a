/**
 * What `gapipe consume` and `gapipe verify` tell a user, against the real lab:
 * - a broker that is down at the start fails consume within seconds (it used to wait ~50 s), with
 *   KAFKA_UNREACHABLE naming the broker and the fix, on either Kafka client;
 * - the committed offsets in consume's summary are the ones Kafka holds for the group;
 * - verify after a second simulate into the same topic says that another run's events are there.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { ConsumeResult } from '../../src/pipeline/consume.js';
import type { VerifyResult } from '../../src/verify/verify.js';
import { freePort, labForFile, parseJson, randomName, runCli } from './helpers.js';

const lab = labForFile('e2e-messages');

function admin() {
  return new Kafka({ clientId: 'e2e-admin', brokers: [lab.brokers], logLevel: logLevel.NOTHING }).admin();
}

async function createTopics(topic: string): Promise<void> {
  const client = admin();
  await client.connect();
  try {
    await client.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: 3, replicationFactor: 1 },
        { topic: `${topic}-late`, numPartitions: 1, replicationFactor: 1 },
        { topic: `${topic}-dlq`, numPartitions: 1, replicationFactor: 1 },
      ],
    });
  } finally {
    await client.disconnect();
  }
}

async function committedOffsets(group: string, topic: string): Promise<Record<number, number>> {
  const client = admin();
  await client.connect();
  try {
    const [offsets] = await client.fetchOffsets({ groupId: group, topics: [topic] });
    return Object.fromEntries((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await client.disconnect();
  }
}

describe('gapipe consume with Kafka down at the start', () => {
  it.each([
    ['gapipe', 'nohost:1'],
    ['kafkajs', 'nohost:1'],
    ['kafkajs', 'a closed port'],
  ])(
    'on the %s client fails within seconds for %s, naming the broker and the fix',
    async (client, target) => {
      const broker = target === 'a closed port' ? `127.0.0.1:${await freePort()}` : target;
      const started = Date.now();
      const result = await runCli(
        ['consume', '--brokers', broker, '--es', lab.esUrl, '--kafka-client', client, '--exit-idle', '5s'],
        lab.env,
        120_000,
      );
      const elapsedMs = Date.now() - started;
      expect(result.code, result.stderr).toBe(5);
      expect(result.stderr).toContain(`✖ Kafka is not reachable at ${broker}`);
      expect(result.stderr).toMatch(/→ .*--brokers/);
      expect(result.stderr).not.toContain('bug in gapipe');
      // It waited ~50 s before; the first-contact budget is 10 s, plus the CLI's own start.
      expect(elapsedMs).toBeLessThan(25_000);
    },
  );
});

describe('two simulator runs into one topic', () => {
  it('consume shows the committed offsets Kafka holds; verify of the second run names the first', async () => {
    const topic = randomName('e2e-twice');
    const group = `${topic}-group`;
    const index = `gapipe-aggregates-${topic}`;
    await createTopics(topic);
    const consume = () =>
      runCli(
        [
          'consume',
          '--brokers',
          lab.brokers,
          '--es',
          lab.esUrl,
          '--topic',
          topic,
          '--group',
          group,
          '--index',
          index,
          '--exit-idle',
          '3s',
          '--json',
        ],
        lab.env,
      );
    const runs: Array<{ manifest: string; runId: string }> = [];
    for (const n of [1, 2]) {
      const manifest = join(lab.dir, `run${n}.json`);
      const simulate = await runCli(
        [
          'simulate',
          '--brokers',
          lab.brokers,
          '--topic',
          topic,
          '--rate',
          '200/s',
          '--duration',
          '3s',
          '--seed',
          String(n),
          '--manifest',
          manifest,
          '--quiet',
        ],
        lab.env,
      );
      expect(simulate.code, simulate.stderr).toBe(0);
      const run = JSON.parse(await readFile(manifest, 'utf8')).run as { runId: string };
      runs.push({ manifest, runId: run.runId });

      const consumed = await consume();
      expect(consumed.code, consumed.stderr).toBe(0);
      const result = parseJson<ConsumeResult>(consumed);
      expect(result.partitions.length).toBeGreaterThan(0);
      // The summary's committed offsets are what Kafka holds for the group after the run.
      const kafka = await committedOffsets(group, topic);
      for (const p of result.partitions)
        expect(p.committed, `partition ${p.partition}`).toBe(kafka[p.partition]);

      if (n === 1) {
        // Alone in the topic, the first run verifies clean and nothing is said about other runs.
        const first = await runCli(
          ['verify', '--manifest', manifest, '--es', lab.esUrl, '--index', index],
          lab.env,
        );
        expect(first.code, first.stdout).toBe(0);
        expect(first.stdout).not.toContain('Another run');
      }
    }

    const second = await runCli(
      ['verify', '--manifest', runs[1]?.manifest as string, '--es', lab.esUrl, '--index', index],
      lab.env,
    );
    expect(second.code, second.stdout).toBe(1);
    expect(second.stdout).toContain(`! Another run's events are in topic ${topic} and index ${index}:`);
    expect(second.stdout).toContain(runs[0]?.runId as string);
    expect(second.stdout).toContain('→ Give each run a topic of its own');

    const json = parseJson<VerifyResult>(
      await runCli(
        ['verify', '--manifest', runs[1]?.manifest as string, '--es', lab.esUrl, '--index', index, '--json'],
        lab.env,
      ),
    );
    expect(json.otherRuns?.runs.map((r) => r.runId)).toEqual([runs[0]?.runId]);
  });
});
