/**
 * `gapipe simulate` through a broker outage, against the real lab: the Kafka container is SIGKILLed
 * (docker kill) for 10 s in the middle of a paced run and started again. The run must report no
 * failed record, and the topic must hold every record of the run exactly once — the same events, by
 * event_id, as the same seed and flags write to a file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { labForFile, parseJson, type RunningCli, randomName, runCli, sleep, startCli } from './helpers.js';

const lab = labForFile('e2e-outage', { services: 'kafka' });
const running: RunningCli[] = [];

function kafka(): Kafka {
  return new Kafka({ clientId: 'e2e-outage', brokers: [lab.brokers], logLevel: logLevel.NOTHING });
}

/** The event_id of every record in the topic, read from the beginning. */
async function eventIdsIn(topic: string): Promise<string[]> {
  const admin = kafka().admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const consumer = kafka().consumer({ groupId: randomName('e2e-outage-read') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const ids: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`read ${ids.length} of ${total} records in 120 s`)),
      120_000,
    );
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) {
            ids.push(JSON.parse((message.value as Buffer).toString('utf8')).event_id as string);
          }
          if (ids.length >= total) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return ids;
}

afterAll(() => {
  for (const cli of running) cli.child.kill('SIGKILL');
});

describe('gapipe simulate through a Kafka outage', () => {
  it('loses and duplicates nothing when the broker is killed for 10 s and started again', async () => {
    // The lab provisions this topic (6 partitions) and it is still empty.
    const topic = 'game-events';
    const stream = [
      '--players',
      '2000',
      '--rate',
      '3000/s',
      '--duration',
      '40s',
      '--seed',
      '31',
      '--start-time',
      '2026-11-21T20:00:00Z',
    ];
    const run = startCli(['simulate', '--brokers', lab.brokers, '--topic', topic, ...stream, '--json'], {
      ...lab.env,
      GAPIPE_DEBUG: '1',
    });
    running.push(run);
    await run.waitForStderr(/kafka: connected/, 60_000);
    await sleep(5000);
    const container = new Docker().getContainer(`gapipe-${lab.name}-kafka`);
    await container.kill(); // SIGKILL: no clean shutdown of the broker
    await sleep(10_000);
    await container.start();

    const result = await run.exited;
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const summary = parseJson<{ produced: number; acknowledged: number; failed: number; stopReason: string }>(
      result,
    );
    expect(summary.stopReason).toBe('completed');
    expect(summary.failed).toBe(0);
    expect(summary.acknowledged).toBe(summary.produced);
    // The outage hit records on their way: they were retried, not lost.
    expect(result.stderr).toMatch(/will be retried: connection to .* (closed|failed)/);

    const file = join(lab.dir, 'expected.ndjson');
    const expected = await runCli(
      ['simulate', '--sink', 'file', '--out', file, '--no-pace', ...stream, '--json'],
      lab.env,
    );
    expect(expected.code, expected.stderr).toBe(0);
    const expectedIds = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).event_id as string);
    expect(expectedIds.length).toBe(summary.produced);

    const ids = await eventIdsIn(topic);
    expect(ids.length).toBe(summary.produced);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(expectedIds.sort());
  });
});
