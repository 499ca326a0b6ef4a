/**
 * gapipe consume through a Kafka broker outage, against the real lab: the broker container is killed
 * (SIGKILL, `docker kill`) while records flow to the consumer and dead-letter records are on their
 * way back to Kafka.
 *
 * - Down for 10 s, then started again: the consumer carries on, every malformed record of the
 *   simulator's manifest ends up in the dead-letter topic (at least once), and `gapipe verify` passes.
 * - Down for good: the consumer exits with code 5 (KAFKA_UNREACHABLE) once --kafka-timeout is over.
 * - SIGTERM during the outage: the consumer exits within seconds; started again after the broker is
 *   back, it finishes the topic and `gapipe verify` passes (stopping lost nothing).
 *
 * The stream is produced before the consumers start, so that the outage is the consumer's alone.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CliResult,
  labForFile,
  parseJson,
  type RunningCli,
  randomName,
  runCli,
  sleep,
  startCli,
} from './helpers.js';

const lab = labForFile('e2e-outage');
let topic: string;
let manifest: string;
const running: RunningCli[] = [];

interface Totals {
  records: number;
  malformed: number;
}

interface ConsumeSummary {
  consumed: number;
  deadLettered: number;
  late: number;
  stopReason: string;
}

interface ErrorOutput {
  error: { code: string; message: string; nextSteps?: string };
}

function kafka(): Kafka {
  return new Kafka({
    clientId: 'e2e-outage',
    brokers: [lab.brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 2 },
  });
}

function kafkaContainer() {
  return new Docker().getContainer(`gapipe-${lab.name}-kafka`);
}

/** Waits until the broker answers metadata requests again after a restart. */
async function waitForBroker(timeoutMs = 180_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const admin = kafka().admin();
    try {
      await admin.connect();
      await admin.fetchTopicOffsets(topic);
      return;
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await sleep(1000);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}

/** Starts the broker if it is not running, and waits until it answers. */
async function ensureBroker(): Promise<void> {
  const state = await kafkaContainer().inspect();
  if (!state.State.Running) await kafkaContainer().start();
  await waitForBroker();
}

/** The (partition, offset) of the source record behind every dead-letter record, and the total. */
async function deadLetters(): Promise<{ total: number; sources: Set<string> }> {
  const dlq = `${topic}-dlq`;
  const admin = kafka().admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(dlq);
  await admin.disconnect();
  const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  const sources = new Set<string>();
  let seen = 0;
  const consumer = kafka().consumer({ groupId: randomName('e2e-dlq-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic: dlq, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${seen} of ${total} dead letters`)), 120_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          const header = (name: string) => message.headers?.[name]?.toString();
          sources.add(`${header('gapipe-source-partition')}:${header('gapipe-source-offset')}`);
          seen++;
          if (seen >= total) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
    if (total === 0) resolve();
  });
  await consumer.disconnect();
  return { total, sources };
}

function startConsumer(group: string, extra: string[]): RunningCli {
  const cli = startCli(
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
      `gapipe-aggregates-${group}`,
      '--allowed-lateness',
      '30s',
      // Closed windows are remembered for the whole stream: a backlog written by several generator
      // workers interleaves their shards seconds apart, and every late event must land on a document
      // for verify to add up.
      '--late-retention',
      '10m',
      '--flush-interval',
      '500ms',
      '--session-timeout',
      '6s',
      '--json',
      ...extra,
    ],
    { ...lab.env, GAPIPE_DEBUG: '1' },
  );
  running.push(cli);
  return cli;
}

async function verify(group: string): Promise<CliResult> {
  return runCli(
    [
      'verify',
      '--manifest',
      manifest,
      '--es',
      lab.esUrl,
      '--index',
      `gapipe-aggregates-${group}`,
      '--topic',
      topic,
      '--wait',
      '60s',
      '--json',
    ],
    lab.env,
  );
}

async function totals(): Promise<Totals> {
  return (JSON.parse(await readFile(manifest, 'utf8')) as { totals: Totals }).totals;
}

beforeAll(async () => {
  topic = randomName('e2e-outage');
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 3, replicationFactor: 1 },
      { topic: `${topic}-late`, numPartitions: 1, replicationFactor: 1 },
      { topic: `${topic}-dlq`, numPartitions: 1, replicationFactor: 1 },
    ],
  });
  await admin.disconnect();
  // About 300,000 records: a few seconds of work for the consumer, so the broker dies mid-stream.
  manifest = join(lab.dir, 'manifest.json');
  const produced = await runCli(
    [
      'simulate',
      '--brokers',
      lab.brokers,
      '--topic',
      topic,
      '--players',
      '2000',
      '--rate',
      '1000/s',
      '--duration',
      '300s',
      '--no-pace',
      '--seed',
      '31',
      '--start-time',
      '2026-11-21T20:00:00Z',
      '--malformed',
      '0.01',
      '--late',
      '0.01',
      '--late-by',
      '20s..80s',
      '--duplicates',
      '0.01',
      '--out-of-order',
      '0.02',
      '--manifest',
      manifest,
      '--json',
    ],
    lab.env,
  );
  expect(produced.code, produced.stderr).toBe(0);
});

afterAll(() => {
  for (const cli of running) cli.child.kill('SIGKILL');
});

describe('gapipe consume through a Kafka outage', () => {
  it('carries on after the broker is killed for 10 s: every malformed record is dead-lettered and verify passes', async () => {
    const expected = await totals();
    expect(expected.malformed).toBeGreaterThan(1000);
    const group = `${topic}-survive`;
    const consumer = startConsumer(group, ['--exit-idle', '15s']);
    await consumer.waitForStderr(/debug flushed: [1-9]/);
    try {
      await kafkaContainer().kill();
      const killedAt = consumer.stderr().length;
      await sleep(10_000);
      expect(consumer.child.exitCode).toBeNull();
      await kafkaContainer().start();
      // The outage was noticed (no answer, or dead letters refused), and work went on after it.
      await consumer.waitForStderr(/warning Kafka: /, 120_000, killedAt);
      await consumer.waitForStderr(/debug flushed: [1-9]\d* partitions, [1-9]/, 180_000, killedAt);
    } finally {
      await ensureBroker();
    }
    const result = await consumer.exited;
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const summary = parseJson<ConsumeSummary>(result);
    expect(summary.consumed).toBe(expected.records);
    expect(summary.deadLettered).toBe(expected.malformed);

    const { total, sources } = await deadLetters();
    expect(sources.size).toBe(expected.malformed);
    expect(total).toBeGreaterThanOrEqual(expected.malformed);

    const verified = await verify(group);
    expect(verified.code, `${verified.stderr}\n${verified.stdout.slice(-2000)}`).toBe(0);
  });

  it('exits with KAFKA_UNREACHABLE within --kafka-timeout and a few seconds when the broker stays down', async () => {
    const consumer = startConsumer(`${topic}-giveup`, ['--kafka-timeout', '20s']);
    await consumer.waitForStderr(/debug flushed: [1-9]/);
    let result: CliResult;
    let tookMs: number;
    try {
      await kafkaContainer().kill();
      const killedAt = Date.now();
      result = await Promise.race([
        consumer.exited,
        sleep(90_000).then(() => {
          throw new Error(`still running 90 s after the kill:\n${consumer.stderr().slice(-3000)}`);
        }),
      ]);
      tookMs = Date.now() - killedAt;
    } finally {
      await ensureBroker();
    }
    expect(result.code, result.stderr.slice(-3000)).toBe(5);
    const error = parseJson<ErrorOutput>(result).error;
    expect(error.code).toBe('KAFKA_UNREACHABLE');
    expect(error.message).toMatch(/^Gave up after 20s without Kafka/);
    expect(error.nextSteps).toMatch(/--kafka-timeout/);
    // Silence counts from the last answer, a few seconds at most before the kill.
    expect(tookMs).toBeGreaterThan(12_000);
    expect(tookMs).toBeLessThan(20_000 + 8000);
  });

  it('exits within seconds on SIGTERM during the outage, and a restart finishes the topic without loss', async () => {
    const group = `${topic}-sigterm`;
    const first = startConsumer(group, []);
    await first.waitForStderr(/debug flushed: [1-9]/);
    let result: CliResult;
    let tookMs: number;
    try {
      await kafkaContainer().kill();
      await sleep(3000);
      const signalledAt = Date.now();
      first.child.kill('SIGTERM');
      result = await Promise.race([
        first.exited,
        sleep(60_000).then(() => {
          throw new Error(`still running 60 s after SIGTERM:\n${first.stderr().slice(-3000)}`);
        }),
      ]);
      tookMs = Date.now() - signalledAt;
    } finally {
      await ensureBroker();
    }
    expect(tookMs).toBeLessThan(8000);
    // Either the last flush went through (nothing waited for Kafka) or it could not, and says so.
    if (result.code === 0) {
      expect(parseJson<ConsumeSummary>(result).stopReason).toBe('interrupted');
    } else {
      expect(result.code, result.stderr.slice(-3000)).toBe(5);
      const error = parseJson<ErrorOutput>(result).error;
      expect(error.code).toBe('KAFKA_UNREACHABLE');
      expect(error.message).toMatch(/^Stopped without the last flush/);
    }

    const second = startConsumer(group, ['--exit-idle', '10s']);
    const finished = await second.exited;
    expect(finished.code, finished.stderr.slice(-3000)).toBe(0);
    const verified = await verify(group);
    expect(verified.code, `${verified.stderr}\n${verified.stdout.slice(-2000)}`).toBe(0);
  });
});
