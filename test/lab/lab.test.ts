import { createServer as createHttpServer, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { GapipeError } from '../../src/errors.js';
import type { ContainerSpec, PullProgress } from '../../src/lab/docker.js';
import { advertisedHost, LABEL_ENDPOINT, Lab, type LabReporter, specHash } from '../../src/lab/lab.js';
import {
  LABEL_LAB,
  LABEL_MANAGED,
  LABEL_SERVICE,
  LABEL_SPEC_HASH,
  labLabels,
  serviceLabels,
} from '../../src/lab/naming.js';
import {
  kafkaClusterId,
  LAB_DEFAULTS,
  type LabOptions,
  type LabOptionsInput,
  resolveLabOptions,
} from '../../src/lab/options.js';
import { FakeDocker } from './fake-docker.js';

const LAB = 'unit';

/** A port nothing listens on: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for a service's readiness endpoint, so the lab's own
 * wait strategies (the Elasticsearch client, fetch for Kibana) run unchanged.
 */
class StubHttpService {
  requests = 0;
  onRequest: () => void = () => {};
  private readonly server: Server;

  constructor(private readonly answer: (path: string, response: ServerResponse) => void) {
    this.server = createHttpServer((request, response) => {
      this.requests++;
      this.onRequest();
      this.answer(request.url ?? '', response);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function sendJson(response: ServerResponse, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(200, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

let esHealth = 'green';
const fakeElasticsearch = new StubHttpService((path, response) => {
  if (!path.startsWith('/_cluster/health')) {
    response.writeHead(404).end();
    return;
  }
  sendJson(response, { status: esHealth, timed_out: false }, { 'x-elastic-product': 'Elasticsearch' });
});
const fakeKibana = new StubHttpService((path, response) => {
  if (path !== '/api/status') {
    response.writeHead(404).end();
    return;
  }
  sendJson(response, { status: { overall: { level: 'available' } } });
});
let esPort: number;
let kibanaPort: number;

beforeAll(async () => {
  esPort = await fakeElasticsearch.start();
  kibanaPort = await fakeKibana.start();
});
afterAll(async () => {
  await fakeElasticsearch.stop();
  await fakeKibana.stop();
});

class RecordingReporter implements LabReporter {
  steps: string[] = [];
  warnings: string[] = [];
  pulls: PullProgress[] = [];
  step(message: string) {
    this.steps.push(message);
  }
  warn(message: string) {
    this.warnings.push(message);
  }
  pull(progress: PullProgress) {
    this.pulls.push(progress);
  }
}

let docker: FakeDocker;
let reporter: RecordingReporter;
let portChecks: Array<[string, number]>;
let busyPorts: Set<number>;

beforeEach(() => {
  esHealth = 'green';
  docker = new FakeDocker();
  for (const image of Object.values(LAB_DEFAULTS.images)) docker.images.add(image);
  reporter = new RecordingReporter();
  portChecks = [];
  busyPorts = new Set();
});

function newLab(): Lab {
  return new Lab({
    docker,
    reporter,
    clock: new ManualClock(),
    provision: false,
    readyIntervalMs: 1000,
    isPortFree: async (host, port) => {
      portChecks.push([host, port]);
      return !busyPorts.has(port);
    },
  });
}

function options(input: LabOptionsInput = {}): LabOptions {
  return resolveLabOptions({ name: LAB, ...input });
}

/** Elasticsearch alone, published on the fake server's port. */
function esOptions(input: LabOptionsInput = {}): LabOptions {
  return options({ services: ['elasticsearch'], ...input, ports: { elasticsearch: esPort, ...input.ports } });
}

async function failure(promise: Promise<unknown>, code: GapipeError['code']): Promise<GapipeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GapipeError);
  expect((error as GapipeError).code).toBe(code);
  return error as GapipeError;
}

function labContainers() {
  return [...docker.containers.values()].filter((c) => c.info.labels[LABEL_LAB] === LAB);
}

describe('Lab.up: failures before anything is created', () => {
  it('fails with DOCKER_UNREACHABLE when Docker does not answer, and touches nothing', async () => {
    docker.unreachable = true;
    const error = await failure(newLab().up(options()), 'DOCKER_UNREACHABLE');
    expect(error.message).toBe('Docker is not reachable at unix:///fake/docker.sock');
    expect(error.nextSteps).toContain('DOCKER_HOST');
    expect(docker.calls.map((c) => c.op)).toEqual(['ping']);
  });

  it('fails with INSUFFICIENT_MEMORY naming what is needed and what Docker has', async () => {
    docker.memTotalBytes = 2 * 1024 ** 3;
    const error = await failure(newLab().up(options()), 'INSUFFICIENT_MEMORY');
    expect(error.message).toBe(
      'The lab needs about 2.8 GiB for kafka, elasticsearch, kibana, but Docker has 2.0 GiB in all',
    );
    expect(error.nextSteps).toContain('--services kafka,elasticsearch');
    expect(error.exitCode).toBe(4);
    expect(docker.networks.size).toBe(0);
    expect(docker.containers.size).toBe(0);
  });

  it('counts only the memory of services that are not already running', async () => {
    docker.seedContainer({ name: 'gapipe-unit-kafka', labels: serviceLabels(LAB, 'kafka') });
    docker.memTotalBytes = 1.5 * 1024 ** 3;
    const error = await failure(newLab().up(options()), 'INSUFFICIENT_MEMORY');
    expect(error.message).toContain('needs about 2.0 GiB');
    expect(error.message).toContain('Docker has 1.5 GiB');
  });

  it('fails with PORT_IN_USE naming the port, the address and the Kafka flag', async () => {
    busyPorts.add(19092);
    const error = await failure(
      newLab().up(options({ services: ['kafka'], ports: { kafka: 19092 } })),
      'PORT_IN_USE',
    );
    expect(error.message).toBe('Port 19092 on 127.0.0.1 is already in use, so kafka cannot publish it');
    expect(error.nextSteps).toContain('--kafka-port');
    expect(portChecks).toEqual([['127.0.0.1', 19092]]);
    expect(docker.containers.size).toBe(0);
  });

  it('names --es-port when the Elasticsearch port is taken, and checks on the bind address', async () => {
    busyPorts.add(esPort);
    const error = await failure(newLab().up(esOptions({ bind: '0.0.0.0' })), 'PORT_IN_USE');
    expect(error.message).toBe(
      `Port ${esPort} on 0.0.0.0 is already in use, so elasticsearch cannot publish it`,
    );
    expect(error.nextSteps).toContain('--es-port');
    expect(portChecks).toEqual([['0.0.0.0', esPort]]);
  });

  it('fails with IMAGE_MISSING when the image is neither here nor pullable, leaving no container', async () => {
    const error = await failure(
      newLab().up(options({ services: ['kafka'], images: { kafka: 'nowhere/kafka:0' } })),
      'IMAGE_MISSING',
    );
    expect(error.message).toBe('Image nowhere/kafka:0 is not on this machine and could not be pulled');
    expect(error.nextSteps).toContain('--kafka-image or GAPIPE_KAFKA_IMAGE');
    expect(error.nextSteps).toContain('npm run infra:up');
    expect(docker.callsOf('pullImage')).toEqual([['nowhere/kafka:0']]);
    expect(docker.containers.size).toBe(0);
  });

  // Kafka is created and started before Elasticsearch's image turns out to be missing; a failed
  // `lab up` must not leave it running half a lab.
  it('leaves no container behind when a later service of the same wave fails', async () => {
    const error = await failure(
      newLab().up(
        options({ services: ['kafka', 'elasticsearch'], images: { elasticsearch: 'nowhere/es:0' } }),
      ),
      'IMAGE_MISSING',
    );
    expect(error.message).toContain('nowhere/es:0');
    expect(labContainers().map((c) => c.info.name)).toEqual([]);
  });

  it('removes the network it created when it fails, and keeps one that was there before', async () => {
    await failure(
      newLab().up(options({ services: ['kafka'], images: { kafka: 'nowhere/kafka:0' } })),
      'IMAGE_MISSING',
    );
    expect([...docker.networks.values()].map((n) => n.name)).not.toContain('gapipe-unit');

    docker.seedNetwork('gapipe-unit', labLabels(LAB));
    const before = [...docker.networks.values()].map((n) => n.name);
    await failure(
      newLab().up(options({ services: ['kafka'], images: { kafka: 'nowhere/kafka:0' } })),
      'IMAGE_MISSING',
    );
    expect([...docker.networks.values()].map((n) => n.name)).toEqual(before);
  });
});

describe('Lab.up: a failure in one service of a wave', () => {
  // Kafka and Elasticsearch start together; when Kafka dies, Elasticsearch (which does become
  // ready) must not be left running as the only part of a lab whose `up` failed.
  it('leaves no container behind when another service of the wave does not become ready', async () => {
    const kafkaPort = await closedPort();
    docker.onStart = (c) => (c.info.name.endsWith('-kafka') ? 'exited' : 'running');
    await failure(
      newLab().up(
        options({ services: ['kafka', 'elasticsearch'], ports: { kafka: kafkaPort, elasticsearch: esPort } }),
      ),
      'SERVICE_NOT_READY',
    );
    expect(labContainers().map((c) => c.info.name)).toEqual([]);
  });
});

describe('Lab.up: a service that does not become ready', () => {
  it('fails with SERVICE_NOT_READY when the container exits, shows its log and removes it', async () => {
    const port = await closedPort();
    docker.onStart = () => 'exited';
    docker.logsFor = (spec) =>
      spec.name.endsWith('kafka') ? ['Formatting storage', 'ERROR Exiting Kafka due to fatal exception'] : [];
    const error = await failure(
      newLab().up(options({ services: ['kafka'], ports: { kafka: port } })),
      'SERVICE_NOT_READY',
    );
    expect(error.message).toMatch(
      new RegExp(
        `^kafka did not become ready: a Kafka metadata request to 127\\.0\\.0\\.1:${port} — its container stopped \\(last check: .+\\)$`,
      ),
    );
    expect(error.details).toEqual([
      'last log lines of kafka:',
      '  Formatting storage',
      '  ERROR Exiting Kafka due to fatal exception',
    ]);
    const [created] = docker.callsOf('createContainer')[0] as [ContainerSpec];
    expect(docker.containers.size).toBe(0);
    expect(docker.callsOf('removeContainer').length).toBeGreaterThan(0);
    expect(reporter.steps.some((s) => s.startsWith('kafka: removing container'))).toBe(true);
    expect(created.name).toBe('gapipe-unit-kafka');
  });

  it('removes a running container that stays unready past its budget', async () => {
    const port = await closedPort();
    const clock = new ManualClock();
    const lab = new Lab({
      docker,
      reporter,
      clock,
      provision: false,
      readyIntervalMs: 1000,
      isPortFree: async () => true,
    });
    const error = await failure(
      lab.up(options({ services: ['kafka'], ports: { kafka: port }, readyBudgetMs: { kafka: 3000 } })),
      'SERVICE_NOT_READY',
    );
    expect(error.message).toContain('not ready within 3s');
    expect(clock.now()).toBe(3000);
    expect(docker.containers.size).toBe(0);
  });

  it('removes a container that Docker created but could not start', async () => {
    docker.startError = () => new GapipeError('DOCKER_OPERATION_FAILED', 'Docker could not start container');
    const error = await failure(newLab().up(esOptions()), 'DOCKER_OPERATION_FAILED');
    expect(error.message).toBe('Docker could not start container');
    expect(docker.callsOf('createContainer')).toHaveLength(1);
    expect(docker.containers.size).toBe(0);
  });
});

describe('Lab.up: what it creates', () => {
  it('creates the network, volume and a running container, all labelled, and waits until ready', async () => {
    const result = await newLab().up(esOptions());
    const endpoint = `http://127.0.0.1:${esPort}`;
    expect(result).toMatchObject({
      lab: LAB,
      changed: true,
      endpoints: { elasticsearch: endpoint },
      provisioning: {},
      warnings: [],
    });
    expect(result.services).toHaveLength(1);
    const [service] = result.services;
    expect(service).toMatchObject({
      service: 'elasticsearch',
      status: 'created',
      image: LAB_DEFAULTS.images.elasticsearch,
      endpoint,
      readyMs: 0,
    });
    expect(service?.container).toMatch(/^[0-9a-f]{12}$/);
    expect(fakeElasticsearch.requests).toBeGreaterThan(0);

    const [network] = [...docker.networks.values()];
    expect(network).toMatchObject({ name: 'gapipe-unit', labels: labLabels(LAB) });
    expect([...docker.volumes.values()]).toEqual([
      { name: 'gapipe-unit-elasticsearch-data', labels: serviceLabels(LAB, 'elasticsearch') },
    ]);
    const [container] = labContainers();
    expect(container?.info).toMatchObject({ name: 'gapipe-unit-elasticsearch', running: true });
    expect(container?.info.labels).toMatchObject({
      [LABEL_MANAGED]: 'true',
      [LABEL_LAB]: LAB,
      [LABEL_SERVICE]: 'elasticsearch',
      [LABEL_ENDPOINT]: endpoint,
    });
    expect(container?.info.labels[LABEL_SPEC_HASH]).toMatch(/^[0-9a-f]{16}$/);
    expect(container?.spec).toMatchObject({
      network: 'gapipe-unit',
      ports: [{ containerPort: 9200, hostIp: '127.0.0.1', hostPort: esPort }],
      volumes: [{ volume: 'gapipe-unit-elasticsearch-data', path: '/usr/share/elasticsearch/data' }],
    });
    expect(reporter.steps).toEqual([
      'creating network gapipe-unit',
      `elasticsearch: starting ${LAB_DEFAULTS.images.elasticsearch}`,
      `elasticsearch: waiting for Elasticsearch cluster health at ${endpoint}`,
      'elasticsearch: ready after 0.0s',
    ]);
  });

  it('labels and publishes the Kafka container the same way, with a stable cluster id', async () => {
    const port = await closedPort();
    docker.onStart = () => 'exited';
    await failure(newLab().up(options({ services: ['kafka'], ports: { kafka: port } })), 'SERVICE_NOT_READY');
    const [spec] = docker.callsOf('createContainer')[0] as [ContainerSpec];
    expect(spec.labels).toMatchObject(serviceLabels(LAB, 'kafka'));
    expect(spec.ports).toEqual([{ containerPort: 9092, hostIp: '127.0.0.1', hostPort: port }]);
    expect(spec.env.CLUSTER_ID).toBe(kafkaClusterId(LAB));
    expect(spec.env.KAFKA_ADVERTISED_LISTENERS).toContain(`PLAINTEXT://127.0.0.1:${port}`);
    expect(docker.callsOf('createVolume')).toEqual([['gapipe-unit-kafka-data', serviceLabels(LAB, 'kafka')]]);
  });

  it('publishes on a public bind address with a warning, and still gives a local endpoint', async () => {
    const result = await newLab().up(esOptions({ bind: '0.0.0.0' }));
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain('ports are published on 0.0.0.0');
    expect(reporter.warnings).toEqual(result.warnings);
    expect(labContainers()[0]?.spec?.ports).toEqual([
      { containerPort: 9200, hostIp: '0.0.0.0', hostPort: esPort },
    ]);
    expect(result.endpoints.elasticsearch).toBe(`http://127.0.0.1:${esPort}`);
  });

  it('pulls a missing image that the registry has, reporting progress', async () => {
    const image = 'registry.example/es:1';
    docker.registry.add(image);
    const result = await newLab().up(esOptions({ images: { elasticsearch: image } }));
    expect(result.services[0]?.image).toBe(image);
    expect(reporter.steps).toContain(`elasticsearch: pulling ${image}`);
    expect(reporter.pulls.map((p) => p.status)).toEqual([
      'Pulling fs layer',
      'Downloading',
      'Download complete',
    ]);
    expect(reporter.pulls.every((p) => p.image === image)).toBe(true);
  });

  it('starts Kibana only after Elasticsearch is ready, pointing it at Elasticsearch on the lab network', async () => {
    let createsBeforeFirstHealthCheck: number | undefined;
    fakeElasticsearch.onRequest = () => {
      createsBeforeFirstHealthCheck ??= docker.callsOf('createContainer').length;
    };
    try {
      const result = await newLab().up(
        options({
          services: ['elasticsearch', 'kibana'],
          ports: { elasticsearch: esPort, kibana: kibanaPort },
        }),
      );
      expect(result.services.map((s) => [s.service, s.status])).toEqual([
        ['elasticsearch', 'created'],
        ['kibana', 'created'],
      ]);
      expect(result.endpoints).toEqual({
        elasticsearch: `http://127.0.0.1:${esPort}`,
        kibana: `http://127.0.0.1:${kibanaPort}`,
      });
    } finally {
      fakeElasticsearch.onRequest = () => {};
    }
    const created = docker.callsOf('createContainer').map(([spec]) => (spec as ContainerSpec).name);
    expect(created).toEqual(['gapipe-unit-elasticsearch', 'gapipe-unit-kibana']);
    expect(createsBeforeFirstHealthCheck).toBe(1);
    const kibana = docker.containerNamed('gapipe-unit-kibana');
    expect(kibana?.spec?.env.ELASTICSEARCH_HOSTS).toBe('http://gapipe-unit-elasticsearch:9200');
    expect(kibana?.spec?.ports).toEqual([{ containerPort: 5601, hostIp: '127.0.0.1', hostPort: kibanaPort }]);
    expect(kibana?.info.labels).toMatchObject(serviceLabels(LAB, 'kibana'));
  });
});

describe('Lab.up: running it again', () => {
  it('changes nothing when the lab is already up with the same options', async () => {
    const first = await newLab().up(esOptions());
    const before = docker.calls.length;
    reporter.steps = [];

    const second = await newLab().up(esOptions());
    expect(second.changed).toBe(false);
    expect(second.services.map((s) => [s.status, s.container])).toEqual([
      ['unchanged', first.services[0]?.container],
    ]);
    const ops = docker.calls.slice(before).map((c) => c.op);
    for (const op of [
      'createContainer',
      'startContainer',
      'createNetwork',
      'createVolume',
      'pullImage',
      'info',
    ]) {
      expect(ops).not.toContain(op);
    }
    expect(reporter.steps).toEqual([]);
    expect(labContainers()).toHaveLength(1);
  });

  it('recreates the container when the image changes, keeping the volume', async () => {
    await newLab().up(esOptions());
    const [old] = labContainers();
    const newImage = 'docker.elastic.co/elasticsearch/elasticsearch:8.19.22';
    docker.images.add(newImage);

    const result = await newLab().up(esOptions({ images: { elasticsearch: newImage } }));
    expect(result.changed).toBe(true);
    expect(result.services[0]?.status).toBe('recreated');
    expect(docker.callsOf('stopContainer')).toEqual([[old?.info.id, 20]]);
    expect(docker.containers.has(old?.info.id ?? '')).toBe(false);
    const [current] = labContainers();
    expect(current?.info.image).toBe(newImage);
    expect(current?.info.labels[LABEL_SPEC_HASH]).not.toBe(old?.info.labels[LABEL_SPEC_HASH]);
    expect(docker.callsOf('createVolume')).toHaveLength(1);
    expect(docker.volumes.size).toBe(1);
  });

  it('keeps the working container when a changed image cannot be pulled', async () => {
    await newLab().up(esOptions());
    const [old] = labContainers();
    const error = await newLab()
      .up(esOptions({ images: { elasticsearch: 'nowhere/elasticsearch:0' } }))
      .catch((e: unknown) => e as GapipeError);
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('IMAGE_MISSING');
    expect(docker.callsOf('stopContainer')).toEqual([]);
    expect(labContainers().map((c) => [c.info.id, c.info.running])).toEqual([[old?.info.id, true]]);
  });

  it('recreates the container when its environment changes (heap size)', async () => {
    await newLab().up(esOptions());
    const result = await newLab().up(esOptions({ elasticsearchHeapMb: 1024 }));
    expect(result.services[0]?.status).toBe('recreated');
    expect(labContainers()[0]?.spec?.env.ES_JAVA_OPTS).toBe('-Xms1024m -Xmx1024m');
  });

  it('starts a stopped container with an unchanged spec instead of recreating it', async () => {
    await newLab().up(esOptions());
    const [container] = labContainers();
    await docker.stopContainer(container?.info.id ?? '', 1);
    const createsBefore = docker.callsOf('createContainer').length;

    const result = await newLab().up(esOptions());
    expect(result.services[0]?.status).toBe('started');
    expect(result.changed).toBe(true);
    expect(docker.callsOf('createContainer')).toHaveLength(createsBefore);
    expect(docker.callsOf('startContainer').at(-1)).toEqual([container?.info.id]);
    expect(labContainers()[0]?.info.running).toBe(true);
  });

  it('unpauses a paused container', async () => {
    await newLab().up(esOptions());
    const [container] = labContainers();
    await docker.pauseContainer(container?.info.id ?? '');

    const result = await newLab().up(esOptions());
    expect(result.services[0]?.status).toBe('started');
    expect(docker.callsOf('unpauseContainer')).toEqual([[container?.info.id]]);
  });
});

describe('Lab.endpoints', () => {
  it("reads each service's endpoint from its container's labels, and only this lab's", async () => {
    docker.seedContainer({
      name: 'gapipe-unit-kafka',
      labels: { ...serviceLabels(LAB, 'kafka'), [LABEL_ENDPOINT]: '127.0.0.1:19092' },
    });
    docker.seedContainer({
      name: 'gapipe-unit-elasticsearch',
      labels: { ...serviceLabels(LAB, 'elasticsearch'), [LABEL_ENDPOINT]: 'http://127.0.0.1:19200' },
    });
    docker.seedContainer({
      name: 'gapipe-other-kafka',
      labels: { ...serviceLabels('other', 'kafka'), [LABEL_ENDPOINT]: '127.0.0.1:9092' },
    });
    expect(await newLab().endpoints(LAB)).toEqual({
      kafka: '127.0.0.1:19092',
      elasticsearch: 'http://127.0.0.1:19200',
    });
  });

  it('fails with LAB_NOT_FOUND, saying how to start it, when there is no such lab', async () => {
    const error = await failure(newLab().endpoints('absent'), 'LAB_NOT_FOUND');
    expect(error.nextSteps).toContain('gapipe lab up --name absent');
  });
});

describe('Lab.status', () => {
  // status() races each check against clock.sleep; a ManualClock would make the timeout win at once.
  const statusLab = () => new Lab({ docker, provision: false });

  it('reports a missing lab as not existing', async () => {
    docker.seedContainer({ name: 'gapipe-other-kafka', labels: serviceLabels('other', 'kafka') });
    expect(await statusLab().status(LAB, 2000)).toEqual({
      lab: LAB,
      exists: false,
      healthy: false,
      services: [],
    });
  });

  it('runs the readiness check of a running service against its recorded endpoint', async () => {
    await newLab().up(esOptions());
    const status = await statusLab().status(LAB, 2000);
    expect(status.exists).toBe(true);
    expect(status.healthy).toBe(true);
    expect(status.services).toEqual([
      {
        service: 'elasticsearch',
        state: 'running',
        healthy: true,
        container: labContainers()[0]?.info.id.slice(0, 12),
        image: LAB_DEFAULTS.images.elasticsearch,
        endpoint: `http://127.0.0.1:${esPort}`,
      },
    ]);
  });

  it('reports a failing check with its detail', async () => {
    await newLab().up(esOptions());
    esHealth = 'red';
    const status = await statusLab().status(LAB, 2000);
    expect(status.healthy).toBe(false);
    expect(status.services[0]).toMatchObject({ healthy: false, detail: 'cluster health red' });
  });

  it('reports a stopped container without checking it', async () => {
    await newLab().up(esOptions());
    await docker.stopContainer(labContainers()[0]?.info.id ?? '', 1);
    const requests = fakeElasticsearch.requests;
    const status = await statusLab().status(LAB, 2000);
    expect(status).toMatchObject({ exists: true, healthy: false });
    expect(status.services[0]).toMatchObject({
      state: 'exited',
      healthy: false,
      detail: 'container is exited',
    });
    expect(fakeElasticsearch.requests).toBe(requests);
  });
});

describe('Lab.down', () => {
  let kept: { containers: string[]; networks: string[]; volumes: string[] };

  beforeEach(() => {
    docker.seedContainer({
      name: 'gapipe-unit-kafka',
      labels: serviceLabels(LAB, 'kafka'),
      state: 'running',
    });
    docker.seedContainer({
      name: 'gapipe-unit-elasticsearch',
      labels: serviceLabels(LAB, 'elasticsearch'),
      state: 'exited',
    });
    docker.seedNetwork('gapipe-unit', labLabels(LAB));
    docker.seedVolume('gapipe-unit-kafka-data', serviceLabels(LAB, 'kafka'));
    docker.seedVolume('gapipe-unit-elasticsearch-data', serviceLabels(LAB, 'elasticsearch'));
    // Things that are not this lab's: another lab, a stranger, and one that only looks like ours.
    docker.seedContainer({ name: 'gapipe-other-kafka', labels: serviceLabels('other', 'kafka') });
    docker.seedContainer({ name: 'postgres' });
    docker.seedContainer({ name: 'gapipe-unit-lookalike', labels: { [LABEL_LAB]: LAB } });
    docker.seedNetwork('gapipe-other', labLabels('other'));
    docker.seedNetwork('bridge');
    docker.seedVolume('gapipe-other-kafka-data', serviceLabels('other', 'kafka'));
    docker.seedVolume('pgdata');
    kept = {
      containers: ['gapipe-other-kafka', 'postgres', 'gapipe-unit-lookalike'],
      networks: ['gapipe-other', 'bridge'],
      volumes: ['gapipe-other-kafka-data', 'pgdata'],
    };
  });

  const names = () => ({
    containers: [...docker.containers.values()].map((c) => c.info.name).sort(),
    networks: [...docker.networks.values()].map((n) => n.name).sort(),
    volumes: [...docker.volumes.keys()].sort(),
  });

  it("removes only the lab's containers and network and keeps volumes by default", async () => {
    const result = await newLab().down(LAB, { volumes: false });
    expect(result).toEqual({
      lab: LAB,
      containers: ['gapipe-unit-kafka', 'gapipe-unit-elasticsearch'],
      networks: ['gapipe-unit'],
      volumes: [],
      keptVolumes: ['gapipe-unit-kafka-data', 'gapipe-unit-elasticsearch-data'],
    });
    expect(names()).toEqual({
      containers: [...kept.containers].sort(),
      networks: [...kept.networks].sort(),
      volumes: [...kept.volumes, 'gapipe-unit-elasticsearch-data', 'gapipe-unit-kafka-data'].sort(),
    });
    // Only the running container needed stopping.
    expect(docker.callsOf('stopContainer')).toHaveLength(1);
  });

  it("also removes the lab's volumes, and only those, with volumes: true", async () => {
    const result = await newLab().down(LAB, { volumes: true });
    expect(result.volumes.sort()).toEqual(['gapipe-unit-elasticsearch-data', 'gapipe-unit-kafka-data']);
    expect(names()).toEqual({
      containers: [...kept.containers].sort(),
      networks: [...kept.networks].sort(),
      volumes: [...kept.volumes].sort(),
    });
  });

  it('removes nothing for a lab that does not exist', async () => {
    const before = names();
    expect(await newLab().down('absent', { volumes: true })).toEqual({
      lab: 'absent',
      containers: [],
      networks: [],
      volumes: [],
      keptVolumes: [],
    });
    expect(names()).toEqual(before);
  });

  it('fails with DOCKER_UNREACHABLE when Docker does not answer', async () => {
    docker.unreachable = true;
    const before = names();
    await failure(newLab().down(LAB, { volumes: true }), 'DOCKER_UNREACHABLE');
    expect(names()).toEqual(before);
  });
});

describe('Lab.logs', () => {
  it("prints the last lines of the service's container", async () => {
    const id = docker.seedContainer({ name: 'gapipe-unit-kafka', labels: serviceLabels(LAB, 'kafka') });
    const container = docker.containers.get(id);
    container?.logs.push(
      { stream: 'stdout', text: 'one' },
      { stream: 'stderr', text: 'two' },
      { stream: 'stdout', text: 'three' },
    );
    const lines: string[] = [];
    await newLab().logs(LAB, 'kafka', { follow: false, tail: 2 }, (line) =>
      lines.push(`${line.stream}:${line.text}`),
    );
    expect(lines).toEqual(['stderr:two', 'stdout:three']);
  });

  it('fails with LAB_NOT_FOUND when the lab has no such container', async () => {
    const error = await failure(
      newLab().logs(LAB, 'kibana', { follow: false, tail: 10 }, () => {}),
      'LAB_NOT_FOUND',
    );
    expect(error.message).toBe("Lab 'unit' has no kibana container");
    expect(error.nextSteps).toContain('gapipe lab up --name unit');
  });
});

describe('specHash', () => {
  const spec: ContainerSpec = {
    name: 'gapipe-unit-kafka',
    image: 'apache/kafka:4.4.0',
    env: { A: '1', B: '2' },
    labels: { [LABEL_LAB]: LAB },
    network: 'gapipe-unit',
    networkAliases: ['kafka'],
    ports: [{ containerPort: 9092, hostIp: '127.0.0.1', hostPort: 9092 }],
    volumes: [{ volume: 'gapipe-unit-kafka-data', path: '/var/lib/kafka/data' }],
  };

  it('is 16 hex characters and the same for an equal spec', () => {
    expect(specHash(spec)).toMatch(/^[0-9a-f]{16}$/);
    expect(specHash(structuredClone(spec))).toBe(specHash(spec));
  });

  it('ignores labels (which carry the hash itself)', () => {
    expect(specHash({ ...spec, labels: { other: 'x' } })).toBe(specHash(spec));
  });

  it('changes when the image, the environment or the ports change', () => {
    const hashes = new Set([
      specHash(spec),
      specHash({ ...spec, image: 'apache/kafka:4.4.1' }),
      specHash({ ...spec, env: { A: '1', B: '3' } }),
      specHash({ ...spec, ports: [{ containerPort: 9092, hostIp: '127.0.0.1', hostPort: 19092 }] }),
      specHash({ ...spec, ports: [{ containerPort: 9092, hostIp: '0.0.0.0', hostPort: 9092 }] }),
    ]);
    expect(hashes.size).toBe(5);
  });
});

describe('advertisedHost', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['0.0.0.0', '127.0.0.1'],
    ['192.168.1.20', '192.168.1.20'],
    ['::', '[::1]'],
    ['::1', '[::1]'],
    ['fe80::1', '[fe80::1]'],
  ])('%s → %s', (bind, host) => {
    expect(advertisedHost(bind)).toBe(host);
  });
});
