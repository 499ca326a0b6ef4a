/**
 * The lab against a real Docker engine with the stand-in Kafka and Elasticsearch images: up, use
 * Kafka and Elasticsearch for real, up again (no-op), status, logs, down — and down removes only
 * what this lab created.
 */
import { createServer, type Server } from 'node:net';
import { Client } from '@elastic/elasticsearch';
import Docker from 'dockerode';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerodeFacade } from '../../src/lab/docker.js';
import { Lab, type LabStatusResult, type LabUpResult } from '../../src/lab/lab.js';
import { LABEL_LAB, labLabels } from '../../src/lab/naming.js';
import { freePort, infraEnv, parseJson, randomName, runCli } from './helpers.js';

const env = infraEnv();
process.env.DOCKER_HOST = env.DOCKER_HOST;
const docker = new Docker();
const labName = randomName('e2e');
const otherLabName = randomName('e2e-other');
const unrelatedContainers: string[] = [];
let kafkaPort: number;
let esPort: number;
let upResult: LabUpResult;

async function removeLab(name: string): Promise<void> {
  await new Lab({ docker: new DockerodeFacade() }).down(name, { volumes: true }).catch(() => {});
}

/** Starts a container that is not part of the lab but looks like it: same name prefix, other lab label. */
async function startBystander(name: string, labels: Record<string, string>): Promise<string> {
  const container = await docker.createContainer({
    name,
    Image: env.GAPIPE_KAFKA_IMAGE,
    Entrypoint: ['sleep', '900'],
    Labels: labels,
  });
  await container.start();
  unrelatedContainers.push(container.id);
  return container.id;
}

beforeAll(async () => {
  kafkaPort = await freePort();
  esPort = await freePort();
  await startBystander(`gapipe-${labName}-bystander`, {});
  await startBystander(`gapipe-${otherLabName}-kafka`, labLabels(otherLabName));
});

afterAll(async () => {
  await removeLab(labName);
  for (const id of unrelatedContainers)
    await docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => {});
});

const labFlags = () => [
  '--name',
  labName,
  '--services',
  'kafka,elasticsearch',
  '--partitions',
  '3',
  '--kafka-port',
  String(kafkaPort),
  '--es-port',
  String(esPort),
];

describe('gapipe lab against a real Docker engine', () => {
  it('lab up starts Kafka and Elasticsearch, waits for them and provisions them', async () => {
    const result = await runCli(['lab', 'up', ...labFlags(), '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    upResult = parseJson<LabUpResult>(result);
    expect(upResult.changed).toBe(true);
    expect(upResult.endpoints).toEqual({
      kafka: `127.0.0.1:${kafkaPort}`,
      elasticsearch: `http://127.0.0.1:${esPort}`,
    });
    expect(upResult.services.map((s) => [s.service, s.status])).toEqual([
      ['kafka', 'created'],
      ['elasticsearch', 'created'],
    ]);
    expect(upResult.services.map((s) => s.image)).toEqual([
      env.GAPIPE_KAFKA_IMAGE,
      env.GAPIPE_ELASTICSEARCH_IMAGE,
    ]);
    expect(upResult.provisioning.topics?.map((t) => [t.topic, t.partitions, t.status])).toEqual([
      ['game-events', 3, 'created'],
      ['game-events-late', 3, 'created'],
      ['game-events-dlq', 3, 'created'],
    ]);
    expect(upResult.provisioning.indexTemplates?.map((t) => t.status)).toEqual(['created', 'created']);
  });

  it('publishes every port on 127.0.0.1 only and labels everything it created', async () => {
    const containers = await docker.listContainers({ filters: { label: [`${LABEL_LAB}=${labName}`] } });
    expect(containers).toHaveLength(2);
    for (const c of containers) {
      const published = c.Ports.filter((p) => p.PublicPort !== undefined);
      expect(published.length).toBeGreaterThan(0);
      for (const p of published) expect(p.IP).toBe('127.0.0.1');
    }
    const networks = await docker.listNetworks({ filters: { label: [`${LABEL_LAB}=${labName}`] } });
    expect(networks.map((n) => n.Name)).toEqual([`gapipe-${labName}`]);
    const volumes = await docker.listVolumes({ filters: { label: [`${LABEL_LAB}=${labName}`] } });
    expect((volumes.Volumes ?? []).map((v) => v.Name).sort()).toEqual([
      `gapipe-${labName}-elasticsearch-data`,
      `gapipe-${labName}-kafka-data`,
    ]);
  });

  it('carries a record through Kafka with kafkajs', async () => {
    const kafka = new Kafka({
      clientId: 'e2e',
      brokers: [upResult.endpoints.kafka ?? ''],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: randomName('e2e-group') });
    await producer.connect();
    await consumer.connect();
    try {
      const value = JSON.stringify({ event_id: randomName('ev'), event_type: 'player_join' });
      await producer.send({ topic: 'game-events', messages: [{ key: 'player-1', value }] });
      await consumer.subscribe({ topic: 'game-events', fromBeginning: true });
      const received = await new Promise<{ key: string; value: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record consumed within 60s')), 60_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          },
        });
      });
      expect(received).toEqual({ key: 'player-1', value });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });

  it('indexes and searches a document in Elasticsearch, with the template mapping applied', async () => {
    const client = new Client({ node: upResult.endpoints.elasticsearch ?? '' });
    try {
      await client.index({
        index: 'gapipe-events',
        id: 'e2e-1',
        refresh: 'wait_for',
        document: {
          schema: 1,
          event_id: 'e2e-1',
          event_type: 'item_purchase',
          ts: '2026-11-21T20:00:00.123Z',
          player_id: 'p-1',
          region: 'EU',
          price_usd: 4.99,
        },
      });
      const found = await client.search({
        index: 'gapipe-events',
        query: {
          bool: { filter: [{ term: { region: 'EU' } }, { range: { ts: { gte: '2026-11-21T19:59:00Z' } } }] },
        },
      });
      expect(found.hits.hits.map((h) => h._id)).toEqual(['e2e-1']);
      const mapping = await client.indices.getMapping({ index: 'gapipe-events' });
      const properties = mapping['gapipe-events']?.mappings.properties ?? {};
      expect(properties.ts?.type).toBe('date');
      expect(properties.region?.type).toBe('keyword');
      const aggregates = await client.indices.getMapping({ index: 'gapipe-aggregates' });
      expect(aggregates['gapipe-aggregates']?.mappings.properties?.window_start?.type).toBe('date');
    } finally {
      await client.close();
    }
  });

  it('a second lab up on the healthy lab changes nothing and says so', async () => {
    const json = await runCli(['lab', 'up', ...labFlags(), '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const again = parseJson<LabUpResult>(json);
    expect(again.changed).toBe(false);
    expect(again.services.map((s) => s.status)).toEqual(['unchanged', 'unchanged']);
    expect(again.services.map((s) => s.container)).toEqual(upResult.services.map((s) => s.container));
    expect(again.provisioning.topics?.every((t) => t.status === 'unchanged')).toBe(true);
    expect(again.provisioning.indexTemplates?.every((t) => t.status === 'unchanged')).toBe(true);

    const human = await runCli(['lab', 'up', ...labFlags()], env);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('nothing changed');
    expect(human.stdout).toContain(`127.0.0.1:${kafkaPort}`);
  });

  it('lab status reports both services healthy', async () => {
    const result = await runCli(['lab', 'status', '--name', labName, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const status = parseJson<LabStatusResult>(result);
    expect(status.healthy).toBe(true);
    expect(status.services.map((s) => [s.service, s.healthy, s.endpoint])).toEqual([
      ['kafka', true, `127.0.0.1:${kafkaPort}`],
      ['elasticsearch', true, `http://127.0.0.1:${esPort}`],
    ]);
  });

  it('lab logs prints the service log, demultiplexed into plain lines', async () => {
    const result = await runCli(['lab', 'logs', 'kafka', '--name', labName, '--tail', '50'], env);
    expect(result.code, result.stderr).toBe(0);
    const lines = `${result.stdout}${result.stderr}`.split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(0);
    // Docker's 8-byte frame headers start with \u0001 or \u0002 followed by three zero bytes.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for raw frame headers on purpose
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/[\u0001\u0002]\u0000\u0000\u0000/);
  });

  it('lab down removes exactly this lab and nothing else', async () => {
    const result = await runCli(['lab', 'down', '--name', labName, '--volumes', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const down = parseJson<{ containers: string[]; networks: string[]; volumes: string[] }>(result);
    expect(down.containers.sort()).toEqual([`gapipe-${labName}-elasticsearch`, `gapipe-${labName}-kafka`]);
    expect(down.networks).toEqual([`gapipe-${labName}`]);
    expect(down.volumes).toHaveLength(2);

    const filter = { filters: { label: [`${LABEL_LAB}=${labName}`] } };
    expect(await docker.listContainers({ all: true, ...filter })).toHaveLength(0);
    expect(await docker.listNetworks(filter)).toHaveLength(0);
    expect((await docker.listVolumes(filter)).Volumes ?? []).toHaveLength(0);
    for (const id of unrelatedContainers) {
      expect((await docker.getContainer(id).inspect()).State.Running).toBe(true);
    }
    const status = await runCli(['lab', 'status', '--name', labName], env);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain(`No lab named '${labName}'`);
  });
});

describe('gapipe lab errors against a real Docker engine', () => {
  const failingLab = randomName('e2e-fail');
  let blocker: Server | undefined;

  afterAll(async () => {
    blocker?.close();
    await removeLab(failingLab);
  });

  it('an image that is not there and cannot be pulled is named in the error', async () => {
    const result = await runCli(
      ['lab', 'up', '--name', failingLab, '--services', 'kafka', '--kafka-port', String(await freePort())],
      { ...env, GAPIPE_KAFKA_IMAGE: 'gapipe-e2e/does-not-exist:0.0.0' },
    );
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('Image gapipe-e2e/does-not-exist:0.0.0 is not on this machine');
    expect(result.stderr).toContain('--kafka-image or GAPIPE_KAFKA_IMAGE');
    expect(result.stderr).toContain('npm run infra:up');
  });

  it('a port already taken is named, and nothing is started', async () => {
    const port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(port, '127.0.0.1', resolve));
    const result = await runCli(
      ['lab', 'up', '--name', failingLab, '--services', 'elasticsearch', '--es-port', String(port), '--json'],
      env,
    );
    expect(result.code).toBe(4);
    const error = parseJson<{ error: { code: string; message: string; nextSteps: string } }>(result).error;
    expect(error.code).toBe('PORT_IN_USE');
    expect(error.message).toContain(`Port ${port} on 127.0.0.1`);
    expect(error.nextSteps).toContain('--es-port');
    const filter = { filters: { label: [`${LABEL_LAB}=${failingLab}`] } };
    expect(await docker.listContainers({ all: true, ...filter })).toHaveLength(0);
  });

  it('a service that does not become ready within its budget is removed and its logs are shown', async () => {
    const result = await runCli(
      [
        'lab',
        'up',
        '--name',
        failingLab,
        '--services',
        'elasticsearch',
        '--es-port',
        String(await freePort()),
        '--ready-timeout',
        '10',
      ],
      // A wrong image for the service: a Kafka broker never answers Elasticsearch's health API, but it logs.
      { ...env, GAPIPE_ELASTICSEARCH_IMAGE: env.GAPIPE_KAFKA_IMAGE ?? '' },
    );
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('elasticsearch did not become ready');
    expect(result.stderr).toContain('not ready within 10s');
    expect(result.stderr).toContain('last log lines of elasticsearch');
    const filter = { filters: { label: [`${LABEL_LAB}=${failingLab}`] } };
    expect(await docker.listContainers({ all: true, ...filter })).toHaveLength(0);
  });
});
