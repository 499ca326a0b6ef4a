/**
 * gapipe simulate into the lab's real Kafka (stand-in image), read back with an independent kafkajs
 * consumer: every record arrives once, keyed by its player, with the measurement headers, and valid.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { validateRecord } from '../simulators/event-schema.js';
import { labForFile, parseJson, randomName, runCli } from './helpers.js';

const lab = labForFile('e2e-sim', { services: 'kafka', flags: ['--partitions', '3'] });

const EVENTS = 3000;
const runFlags = [
  '--players',
  '200',
  '--rate',
  '3000/s',
  '--events',
  String(EVENTS),
  '--seed',
  '11',
  '--start-time',
  '2026-11-21T20:00:00Z',
  '--duplicates',
  '0.01',
];

interface Received {
  key: string;
  value: string;
  intended: string;
  runId: string;
}

async function readTopic(count: number): Promise<Received[]> {
  const kafka = new Kafka({ clientId: 'e2e-reader', brokers: [lab.brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: randomName('e2e-reader') });
  await consumer.connect();
  const received: Received[] = [];
  try {
    await consumer.subscribe({ topic: 'game-events', fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${received.length} of ${count} records within 60s`)),
        60_000,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push({
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
            intended: message.headers?.['gapipe-intended-ts']?.toString() ?? '',
            runId: message.headers?.['gapipe-run-id']?.toString() ?? '',
          });
          if (received.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return received;
}

describe('gapipe simulate into Kafka', () => {
  it('delivers every record, keyed by player, with headers, each a valid event — the same bytes as the file sink', async () => {
    const run = await runCli(['simulate', ...runFlags, '--brokers', lab.brokers, '--json'], lab.env);
    expect(run.code, run.stderr).toBe(0);
    const summary = parseJson<{ runId: string; produced: number; acknowledged: number; failed: number }>(run);
    expect(summary).toMatchObject({ produced: EVENTS, acknowledged: EVENTS, failed: 0 });

    const file = join(lab.dir, 'events.ndjson');
    const fileRun = await runCli(['simulate', ...runFlags, '--sink', 'file', '--out', file], lab.env);
    expect(fileRun.code, fileRun.stderr).toBe(0);
    const expected = (await readFile(file, 'utf8')).split('\n').filter((l) => l.length > 0);
    expect(expected).toHaveLength(EVENTS);

    const received = await readTopic(EVENTS);
    expect(received).toHaveLength(EVENTS);
    // Partitions interleave differently, but the multiset of payloads is exactly the seeded stream.
    expect(received.map((r) => r.value).sort()).toEqual([...expected].sort());
    for (const record of received) {
      expect(validateRecord(record.value)).toEqual([]);
      const event = JSON.parse(record.value) as { player_id: string };
      expect(record.key).toBe(event.player_id);
      expect(record.runId).toBe(summary.runId);
      expect(Number.isFinite(Number(record.intended))).toBe(true);
    }
    // Duplicates are re-sent with the same event_id, as an at-least-once game client would.
    const ids = received.map((r) => (JSON.parse(r.value) as { event_id: string }).event_id);
    expect(new Set(ids).size).toBeLessThan(ids.length);
  });
});
