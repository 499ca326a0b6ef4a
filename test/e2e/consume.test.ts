/**
 * gapipe consume against the real lab (Kafka and Elasticsearch stand-ins): the exactly-once effect.
 *
 * One paced simulator run feeds four consumer groups at once, each into its own aggregates index:
 * an uninterrupted reference; one consumer killed with SIGKILL five times and restarted; two and
 * three consumers with members joining and leaving. Every index must hold the reference's documents
 * (write times aside) and pass `gapipe verify` against the simulator's manifest. Then Elasticsearch
 * is paused for 30 s under a consumer with a backlog, and the Kafka broker is restarted under
 * another: both catch up and verify.
 */
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
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

const lab = labForFile('e2e-consume');
let es: Client;
const running: RunningCli[] = [];

const DISORDER = [
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
];

function consumerFlags(topic: string, group: string, index: string, extra: string[] = []): string[] {
  return [
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
    // Short lateness so that windows close and late events happen within a short run; late events
    // are never later than lateness + retention, so all of them are accounted on documents.
    '--allowed-lateness',
    '30s',
    '--late-retention',
    '1m',
    '--flush-interval',
    '500ms',
    '--session-timeout',
    '6s',
    ...extra,
  ];
}

function startConsumer(topic: string, group: string, index: string, extra: string[] = []): RunningCli {
  const cli = startCli(consumerFlags(topic, group, index, extra), { ...lab.env, GAPIPE_DEBUG: '1' });
  running.push(cli);
  return cli;
}

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

async function committedOffsets(group: string, topic: string): Promise<string> {
  const kafka = new Kafka({ clientId: 'e2e-admin', brokers: [lab.brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return JSON.stringify(offsets?.partitions.sort((a, b) => a.partition - b.partition));
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

/** The documents of an index for a topic, by id, without the write time. */
async function documents(index: string): Promise<Record<string, Record<string, unknown>>> {
  await es.indices.refresh({ index });
  const result = await es.search<Record<string, unknown>>({ index, size: 10_000, query: { match_all: {} } });
  const out: Record<string, Record<string, unknown>> = {};
  for (const hit of result.hits.hits) {
    const { updated_at: _writeTime, ...source } = hit._source as Record<string, unknown>;
    out[hit._id as string] = source;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

async function verify(manifest: string, index: string, topic: string): Promise<CliResult> {
  return runCli(
    [
      'verify',
      '--manifest',
      manifest,
      '--es',
      lab.esUrl,
      '--index',
      index,
      '--topic',
      topic,
      '--wait',
      '60s',
      '--json',
    ],
    lab.env,
  );
}

function expectClean(result: CliResult): void {
  expect(result.code, `${result.stderr}\n${result.stdout.slice(-2000)}`).toBe(0);
}

beforeAll(() => {
  es = new Client({ node: lab.esUrl });
});

afterAll(async () => {
  for (const cli of running) cli.child.kill('SIGKILL');
  await es?.close();
});

describe('gapipe consume', () => {
  it('gives identical documents when killed five times, and with 1, 2 and 3 consumers joining and leaving', async () => {
    const topic = randomName('e2e-agg');
    await createTopics(topic, 6);
    const manifest = join(lab.dir, 'run1.json');
    const idx = (name: string) => `gapipe-aggregates-${topic}-${name}`;
    const exitIdle = ['--exit-idle', '8s', '--json'];

    const reference = startConsumer(topic, `${topic}-ref`, idx('ref'), exitIdle);
    const two = [
      startConsumer(topic, `${topic}-two`, idx('two'), exitIdle),
      startConsumer(topic, `${topic}-two`, idx('two'), exitIdle),
    ];
    const three = [startConsumer(topic, `${topic}-three`, idx('three'), exitIdle)];
    let killed = startConsumer(topic, `${topic}-kill`, idx('kill'));

    const simulate = startCli(
      [
        'simulate',
        '--brokers',
        lab.brokers,
        '--topic',
        topic,
        '--players',
        '400',
        '--rate',
        '700/s',
        '--duration',
        '75s',
        '--seed',
        '21',
        '--start-time',
        '2026-11-21T20:00:40Z',
        ...DISORDER,
        '--manifest',
        manifest,
        '--json',
      ],
      lab.env,
    );
    running.push(simulate);

    // Five SIGKILLs at random moments; the first right after a flush has started.
    let kills = 0;
    let killedDuringFlush = false;
    const killLoop = (async () => {
      while (kills < 5) {
        if (kills === 0) {
          await killed.waitForStderr(/debug flushed:/);
          const from = killed.stderr().length;
          await killed.waitForStderr(/debug flush: [1-9]\d* documents/, 60_000, from);
          const tail = killed.stderr().slice(killed.stderr().lastIndexOf('debug flush:'));
          killedDuringFlush = !tail.includes('debug flushed:');
        } else {
          await sleep(3000 + Math.floor(Math.random() * 7000));
        }
        killed.child.kill('SIGKILL');
        await killed.exited;
        kills++;
        killed = startConsumer(topic, `${topic}-kill`, idx('kill'), kills === 5 ? exitIdle : []);
      }
    })();

    // Members join and leave the two- and three-consumer groups.
    await sleep(12_000);
    three.push(startConsumer(topic, `${topic}-three`, idx('three'), exitIdle));
    await sleep(10_000);
    three.push(startConsumer(topic, `${topic}-three`, idx('three'), exitIdle));
    await sleep(8_000);
    (two[1] as RunningCli).child.kill('SIGTERM'); // leaves cleanly: flushes and commits
    await sleep(12_000);
    (three[0] as RunningCli).child.kill('SIGKILL'); // vanishes mid-run
    two.push(startConsumer(topic, `${topic}-two`, idx('two'), exitIdle));

    const simulated = await simulate.exited;
    expect(simulated.code, simulated.stderr).toBe(0);
    await killLoop;
    expect(kills).toBe(5);
    expect(killedDuringFlush).toBe(true);

    const finals = [reference, killed, two[0], two[2], three[1], three[2]] as RunningCli[];
    const results = await Promise.all(finals.map((c) => c.exited));
    for (const result of results) expect(result.code, result.stderr.slice(-3000)).toBe(0);

    const expected = await documents(idx('ref'));
    expect(Object.keys(expected).length).toBeGreaterThan(50);
    for (const name of ['ref', 'kill', 'two', 'three']) {
      expectClean(await verify(manifest, idx(name), topic));
      if (name !== 'ref') expect(await documents(idx(name)), name).toEqual(expected);
    }
    // The run had late events, duplicates and malformed records, and they went where they belong.
    const summary = parseJson<{ late: number; duplicates: number; deadLettered: number; consumed: number }>(
      results[0] as CliResult,
    );
    expect(summary.late).toBeGreaterThan(0);
    expect(summary.duplicates).toBeGreaterThan(0);
    expect(summary.deadLettered).toBeGreaterThan(0);
    expect(await topicCount(`${topic}-dlq`)).toBeGreaterThanOrEqual(summary.deadLettered);
    expect(await topicCount(`${topic}-late`)).toBeGreaterThanOrEqual(summary.late);
  });

  it('pauses fetching while Elasticsearch is paused for 30s, commits nothing past unwritten data, then catches up', async () => {
    const topic = randomName('e2e-espause');
    await createTopics(topic, 3);
    const manifest = join(lab.dir, 'run2.json');
    const index = `gapipe-aggregates-${topic}`;
    const group = `${topic}-g`;
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
        '150s',
        '--no-pace',
        '--seed',
        '22',
        '--start-time',
        '2026-11-21T20:00:00Z',
        ...DISORDER,
        '--manifest',
        manifest,
        '--json',
      ],
      lab.env,
    );
    expect(produced.code, produced.stderr).toBe(0);

    const consumer = startConsumer(topic, group, index, [
      '--exit-idle',
      '5s',
      '--max-unflushed',
      '5000',
      '--json',
    ]);
    await consumer.waitForStderr(/debug flushed: [1-9]/);
    const container = new Docker().getContainer(`gapipe-${lab.name}-elasticsearch`);
    await container.pause();
    let unpaused = false;
    try {
      await sleep(5000);
      const before = await committedOffsets(group, topic);
      await sleep(23_000);
      const after = await committedOffsets(group, topic);
      expect(after).toBe(before);
      expect(consumer.stderr()).toMatch(/fetching paused/);
      expect(consumer.stderr()).toMatch(/retrying/);
    } finally {
      await sleep(2000);
      await container.unpause();
      unpaused = true;
    }
    expect(unpaused).toBe(true);
    const result = await consumer.exited;
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    const summary = parseJson<{ consumed: number; failedFlushes: number }>(result);
    expect(summary.consumed).toBeGreaterThan(100_000);
    expect(summary.failedFlushes).toBeGreaterThan(0);
    expectClean(await verify(manifest, index, topic));
  });

  it('reconnects after the Kafka broker restarts mid-run', async () => {
    const topic = randomName('e2e-kafkarestart');
    await createTopics(topic, 3);
    const manifest = join(lab.dir, 'run3.json');
    const index = `gapipe-aggregates-${topic}`;
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
        '200s',
        '--no-pace',
        '--seed',
        '23',
        '--start-time',
        '2026-11-21T20:00:00Z',
        ...DISORDER,
        '--manifest',
        manifest,
        '--json',
      ],
      lab.env,
    );
    expect(produced.code, produced.stderr).toBe(0);
    const consumer = startConsumer(topic, `${topic}-g`, index, [
      '--exit-idle',
      '10s',
      '--max-unflushed',
      '5000',
      '--json',
    ]);
    await consumer.waitForStderr(/debug flushed: [1-9]/);
    await new Docker().getContainer(`gapipe-${lab.name}-kafka`).restart({ t: 2 });
    const result = await consumer.exited;
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(parseJson<{ consumed: number }>(result).consumed).toBeGreaterThanOrEqual(200_000);
    expectClean(await verify(manifest, index, topic));
  });
});
