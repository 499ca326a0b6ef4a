/**
 * The lab service: `up`, `down`, `status` and `logs` over a DockerFacade. It never sees flags and never
 * renders; it reports progress through a `LabReporter` and returns plain result objects.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { type Clock, systemClock } from '../clock.js';
import { GapipeError, isGapipeError } from '../errors.js';
import {
  type ContainerInfo,
  type ContainerSpec,
  type DockerFacade,
  type PullProgress,
  shortId,
} from './docker.js';
import { elasticsearchService } from './elasticsearch.js';
import { kafkaService } from './kafka.js';
import { kibanaService } from './kibana.js';
import { LABEL_SERVICE, LABEL_SPEC_HASH, labLabels, networkName, serviceLabels } from './naming.js';
import {
  FLAG_PREFIX,
  isPublicBind,
  type LabOptions,
  SERVICE_MEMORY_BYTES,
  SERVICE_NAMES,
  type ServiceName,
} from './options.js';
import { type IndexTemplateResult, provisionElasticsearch } from './provision/elasticsearch.js';
import { type KibanaProvisionResult, provisionKibana } from './provision/kibana.js';
import { provisionTopics, type TopicResult } from './provision/topics.js';
import type { ServiceContext, ServiceDefinition } from './service.js';
import {
  type CheckResult,
  elasticsearchHealthStrategy,
  kafkaMetadataStrategy,
  kibanaStatusStrategy,
  type WaitStrategy,
  waitUntilReady,
} from './wait.js';

export const LABEL_ENDPOINT = 'org.gapipe.endpoint';

/** Progress callbacks; the UI layer decides how they look. */
export interface LabReporter {
  step(message: string): void;
  pull(progress: PullProgress): void;
  warn(message: string): void;
}

export const silentReporter: LabReporter = { step() {}, pull() {}, warn() {} };

export type ServiceStatus = 'created' | 'started' | 'recreated' | 'unchanged';

export interface ServiceUpResult {
  service: ServiceName;
  status: ServiceStatus;
  container: string;
  image: string;
  endpoint: string;
  readyMs: number;
}

export interface LabUpResult {
  lab: string;
  changed: boolean;
  services: ServiceUpResult[];
  endpoints: Partial<Record<ServiceName, string>>;
  provisioning: {
    topics?: TopicResult[];
    indexTemplates?: IndexTemplateResult[];
    kibana?: KibanaProvisionResult;
  };
  warnings: string[];
}

export interface ServiceHealth {
  service: ServiceName;
  state: 'missing' | string;
  healthy: boolean;
  container?: string;
  image?: string;
  endpoint?: string;
  detail?: string;
}

export interface LabStatusResult {
  lab: string;
  exists: boolean;
  healthy: boolean;
  services: ServiceHealth[];
}

export interface LabDownResult {
  lab: string;
  containers: string[];
  networks: string[];
  /** Volumes removed (only with `volumes: true`). */
  volumes: string[];
  /** The lab's volumes left in place (without `volumes: true`): its data, for the next `lab up`. */
  keptVolumes: string[];
}

/** The flag and environment variable that override each service's image (IMAGE_MISSING names them). */
const IMAGE_OVERRIDES: Record<ServiceName, { flag: string; env: string }> = {
  kafka: { flag: '--kafka-image', env: 'GAPIPE_KAFKA_IMAGE' },
  elasticsearch: { flag: '--es-image', env: 'GAPIPE_ELASTICSEARCH_IMAGE' },
  kibana: { flag: '--kibana-image', env: 'GAPIPE_KIBANA_IMAGE' },
};

// biome-ignore lint/suspicious/noExplicitAny: each definition has its own handle type
const DEFINITIONS: Record<ServiceName, ServiceDefinition<any>> = {
  kafka: kafkaService,
  elasticsearch: elasticsearchService,
  kibana: kibanaService,
};

/** Readiness check for a service at a known endpoint (used by status, where no handle exists). */
export function strategyFor(service: ServiceName, endpoint: string): WaitStrategy {
  switch (service) {
    case 'kafka':
      return kafkaMetadataStrategy(endpoint);
    case 'elasticsearch':
      return elasticsearchHealthStrategy(endpoint);
    case 'kibana':
      return kibanaStatusStrategy(endpoint);
  }
}

/** The host name that local clients use to reach the published ports. */
export function advertisedHost(bind: string): string {
  if (bind === '0.0.0.0') return '127.0.0.1';
  if (bind === '::') return '[::1]';
  return bind.includes(':') ? `[${bind}]` : bind;
}

/** Hash of everything that defines a container; a changed hash means the container is recreated. */
export function specHash(spec: ContainerSpec): string {
  const { labels: _labels, ...rest } = spec;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}

export interface LabDependencies {
  docker: DockerFacade;
  reporter?: LabReporter;
  clock?: Clock;
  /** Checks a host port is free; replaced in unit tests. */
  isPortFree?: (host: string, port: number) => Promise<boolean>;
  /** Whether to run the provisioning steps (unit tests of the container logic turn it off). */
  provision?: boolean;
  /** Readiness poll interval. */
  readyIntervalMs?: number;
}

export async function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export class Lab {
  private readonly docker: DockerFacade;
  private readonly reporter: LabReporter;
  private readonly clock: Clock;
  private readonly portFree: (host: string, port: number) => Promise<boolean>;
  private readonly provision: boolean;
  private readonly readyIntervalMs: number;

  constructor(deps: LabDependencies) {
    this.docker = deps.docker;
    this.reporter = deps.reporter ?? silentReporter;
    this.clock = deps.clock ?? systemClock;
    this.portFree = deps.isPortFree ?? isPortFree;
    this.provision = deps.provision ?? true;
    this.readyIntervalMs = deps.readyIntervalMs ?? 1000;
  }

  async up(options: LabOptions): Promise<LabUpResult> {
    await this.docker.ping();
    const warnings: string[] = [];
    const warn = (message: string) => {
      warnings.push(message);
      this.reporter.warn(message);
    };
    if (isPublicBind(options.bind)) {
      warn(
        `ports are published on ${options.bind}: anyone who can reach this machine can use Kafka, Elasticsearch and Kibana, which run without authentication`,
      );
    }
    const services = SERVICE_NAMES.filter((s) => options.services.includes(s));
    const existing = await this.docker.listContainers(labLabels(options.name));
    await this.checkMemory(services, existing);

    const { name: network, createdId: createdNetworkId } = await this.ensureNetwork(options.name);
    const ctx = (service: ServiceName): ServiceContext => ({
      options,
      network,
      labels: serviceLabels(options.name, service),
      advertisedHost: advertisedHost(options.bind),
    });

    const results: ServiceUpResult[] = [];
    // What this run created or started, so a failure leaves the lab as it found it.
    const touched: Array<{ id: string; status: ServiceStatus }> = [];
    // Kafka and Elasticsearch start together; Kibana needs Elasticsearch ready first.
    const waves = [services.filter((s) => s !== 'kibana'), services.filter((s) => s === 'kibana')];
    try {
      for (const wave of waves) {
        const started = [];
        for (const service of wave) {
          const s = await this.ensureService(ctx(service), existing);
          if (s.status !== 'unchanged') touched.push({ id: s.id, status: s.status });
          started.push(s);
        }
        const settled = await Promise.allSettled(started.map((s) => this.awaitReady(s, options)));
        for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
        for (const outcome of settled) if (outcome.status === 'fulfilled') results.push(outcome.value);
      }
    } catch (error) {
      for (const { id, status } of touched) {
        // A container that existed before (merely restarted) is stopped; one this run made is removed.
        if (status === 'started') await this.docker.stopContainer(id, 15).catch(() => {});
        else {
          this.reporter.step(`removing container ${shortId(id)} started by this run`);
          await this.docker.removeContainer(id).catch(() => {});
        }
      }
      // A network this run created is removed too when no container of the lab is left on it.
      const left = await this.docker.listContainers(labLabels(options.name)).catch(() => []);
      if (createdNetworkId !== undefined && left.length === 0) {
        this.reporter.step(`removing network ${network} created by this run`);
        await this.docker.removeNetwork(createdNetworkId).catch(() => {});
      }
      throw error;
    }

    const endpoints: Partial<Record<ServiceName, string>> = {};
    for (const r of results) endpoints[r.service] = r.endpoint;

    const provisioning: LabUpResult['provisioning'] = {};
    if (this.provision) {
      if (endpoints.kafka) {
        this.reporter.step(`kafka: provisioning topic ${options.topic} (${options.partitions} partitions)`);
        provisioning.topics = await provisionTopics({
          bootstrap: endpoints.kafka,
          topic: options.topic,
          partitions: options.partitions,
        });
        for (const t of provisioning.topics) if (t.note) warn(`topic ${t.topic} ${t.note}`);
      }
      if (endpoints.elasticsearch) {
        this.reporter.step('elasticsearch: provisioning index templates');
        provisioning.indexTemplates = await provisionElasticsearch(endpoints.elasticsearch);
      }
      if (endpoints.kibana) {
        this.reporter.step('kibana: provisioning data views and dashboard');
        provisioning.kibana = await provisionKibana({ kibanaUrl: endpoints.kibana });
      }
    }

    const changed =
      results.some((r) => r.status !== 'unchanged') ||
      (provisioning.topics ?? []).some((t) => t.status !== 'unchanged') ||
      (provisioning.indexTemplates ?? []).some(
        (t) => t.status !== 'unchanged' || t.indexStatus !== 'unchanged',
      ) ||
      (provisioning.kibana !== undefined && provisioning.kibana.status !== 'unchanged');
    return { lab: options.name, changed, services: results, endpoints, provisioning, warnings };
  }

  private async checkMemory(services: ServiceName[], existing: ContainerInfo[]): Promise<void> {
    const running = new Set(existing.filter((c) => c.running).map((c) => c.labels[LABEL_SERVICE]));
    const needed = services
      .filter((s) => !running.has(s))
      .reduce((sum, s) => sum + SERVICE_MEMORY_BYTES[s], 0);
    if (needed === 0) return;
    const { memTotalBytes } = await this.docker.info();
    if (memTotalBytes > 0 && memTotalBytes < needed) {
      const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
      throw new GapipeError(
        'INSUFFICIENT_MEMORY',
        `The lab needs about ${gib(needed)} for ${services.join(', ')}, but Docker has ${gib(memTotalBytes)} in all`,
        {
          nextSteps:
            'Give Docker more memory, start fewer services (--services kafka,elasticsearch), or lower --es-heap/--kafka-heap',
        },
      );
    }
  }

  /** The lab's network; `createdId` is set when this call made it (a failed `up` removes it again). */
  private async ensureNetwork(lab: string): Promise<{ name: string; createdId?: string }> {
    const name = networkName(lab);
    const networks = await this.docker.listNetworks(labLabels(lab));
    if (networks.some((n) => n.name === name)) return { name };
    this.reporter.step(`creating network ${name}`);
    return { name, createdId: await this.docker.createNetwork(name, labLabels(lab)) };
  }

  private async ensureImage(image: string, service: ServiceName): Promise<void> {
    if (await this.docker.imageId(image)) return;
    this.reporter.step(`${service}: pulling ${image}`);
    try {
      await this.docker.pullImage(image, (progress) => this.reporter.pull(progress));
    } catch (error) {
      if (!isGapipeError(error) || error.code !== 'IMAGE_MISSING') throw error;
      // Name this service's own flag and variable, and the way to run without a registry.
      const { flag, env } = IMAGE_OVERRIDES[service];
      const standIn =
        service === 'kibana'
          ? ' Kibana has no stand-in image: leave it out with --services kafka,elasticsearch.'
          : ' Without a registry, `npm run infra:up` in a gapipe checkout builds stand-in images and writes their names to .gapipe-infra.env.';
      throw new GapipeError('IMAGE_MISSING', error.message, {
        cause: error.cause,
        nextSteps: `Pull it where a registry is reachable (docker pull ${image}), or name an image you have with ${flag} or ${env}.${standIn}`,
      });
    }
  }

  /** Creates, starts or keeps the service's container; does not wait for readiness. */
  private async ensureService(
    ctx: ServiceContext,
    existing: ContainerInfo[],
  ): Promise<{
    service: ServiceName;
    id: string;
    status: ServiceStatus;
    spec: ContainerSpec;
    endpoint: string;
  }> {
    const definition = DEFINITIONS[ctx.labels[LABEL_SERVICE] as ServiceName];
    const service = definition.name;
    const handle = definition.handle(ctx);
    const endpoint = definition.endpoint(handle);
    const baseSpec = definition.containerSpec(ctx);
    const hash = specHash(baseSpec);
    const spec: ContainerSpec = {
      ...baseSpec,
      labels: { ...baseSpec.labels, [LABEL_SPEC_HASH]: hash, [LABEL_ENDPOINT]: endpoint },
    };
    const current = existing.find((c) => c.labels[LABEL_SERVICE] === service);
    let status: ServiceStatus = 'created';
    if (current) {
      if (current.labels[LABEL_SPEC_HASH] === hash) {
        if (current.running) return { service, id: current.id, status: 'unchanged', spec, endpoint };
        if (current.state === 'paused') {
          this.reporter.step(`${service}: unpausing container ${shortId(current.id)}`);
          await this.docker.unpauseContainer(current.id);
        } else {
          this.reporter.step(`${service}: starting stopped container ${shortId(current.id)}`);
          await this.docker.startContainer(current.id);
        }
        return { service, id: current.id, status: 'started', spec, endpoint };
      }
      // Have the new image before removing a container that works.
      await this.ensureImage(spec.image, service);
      this.reporter.step(`${service}: configuration changed, recreating container ${shortId(current.id)}`);
      await this.docker.stopContainer(current.id, 20);
      await this.docker.removeContainer(current.id);
      status = 'recreated';
    } else {
      // Only a port nobody holds can be published; say which one before Docker gives a vaguer error.
      for (const port of spec.ports) {
        if (!(await this.portFree(port.hostIp, port.hostPort))) {
          const flag = `--${FLAG_PREFIX[service]}-port`;
          throw new GapipeError(
            'PORT_IN_USE',
            `Port ${port.hostPort} on ${port.hostIp} is already in use, so ${service} cannot publish it`,
            {
              nextSteps: `Stop what listens there (see \`ss -ltnp 'sport = :${port.hostPort}'\`) or choose another port with ${flag}`,
            },
          );
        }
      }
    }
    await this.ensureImage(spec.image, service);
    for (const volume of spec.volumes) {
      const volumes = await this.docker.listVolumes(serviceLabels(ctx.options.name, service));
      if (!volumes.some((v) => v.name === volume.volume)) {
        await this.docker.createVolume(volume.volume, serviceLabels(ctx.options.name, service));
      }
    }
    this.reporter.step(`${service}: starting ${spec.image}`);
    const id = await this.docker.createContainer(spec);
    try {
      await this.docker.startContainer(id);
    } catch (error) {
      await this.docker.removeContainer(id);
      throw error;
    }
    return { service, id, status, spec, endpoint };
  }

  private async awaitReady(
    started: {
      service: ServiceName;
      id: string;
      status: ServiceStatus;
      spec: ContainerSpec;
      endpoint: string;
    },
    options: LabOptions,
  ): Promise<ServiceUpResult> {
    const { service, id } = started;
    const strategy = strategyFor(service, started.endpoint);
    if (started.status !== 'unchanged') this.reporter.step(`${service}: waiting for ${strategy.description}`);
    try {
      const readyMs = await waitUntilReady(strategy, {
        service,
        budgetMs: options.readyBudgetMs[service],
        intervalMs: this.readyIntervalMs,
        clock: this.clock,
        isAlive: async () => (await this.docker.inspectContainer(id))?.running ?? false,
        lastLogs: async () => (await this.docker.containerLogs(id, 25)).map((l) => l.text),
      });
      if (started.status !== 'unchanged')
        this.reporter.step(`${service}: ready after ${(readyMs / 1000).toFixed(1)}s`);
      return {
        service,
        status: started.status,
        container: shortId(id),
        image: started.spec.image,
        endpoint: started.endpoint,
        readyMs,
      };
    } catch (error) {
      // A service that never became ready is removed, not left half-started. An existing container
      // that merely failed its check this time is left for the user to inspect.
      if (started.status !== 'unchanged') {
        this.reporter.step(`${service}: removing container ${shortId(id)} that did not become ready`);
        await this.docker.removeContainer(id).catch(() => {});
      }
      throw error;
    }
  }

  /**
   * The endpoints a lab's containers were published on, read from their labels (no readiness check):
   * what `simulate`, `consume` and `verify` use for `--lab NAME`.
   */
  async endpoints(lab: string): Promise<Partial<Record<ServiceName, string>>> {
    await this.docker.ping();
    const endpoints: Partial<Record<ServiceName, string>> = {};
    for (const c of await this.docker.listContainers(labLabels(lab))) {
      const service = c.labels[LABEL_SERVICE] as ServiceName | undefined;
      const endpoint = c.labels[LABEL_ENDPOINT];
      if (service && endpoint && (SERVICE_NAMES as readonly string[]).includes(service))
        endpoints[service] = endpoint;
    }
    if (Object.keys(endpoints).length === 0) {
      throw new GapipeError('LAB_NOT_FOUND', `There is no lab named '${lab}'`, {
        nextSteps: `Start it with \`gapipe lab up --name ${lab}\`, or name the endpoints with --brokers and --es`,
      });
    }
    return endpoints;
  }

  async status(lab: string, checkTimeoutMs = 5000): Promise<LabStatusResult> {
    await this.docker.ping();
    const containers = await this.docker.listContainers(labLabels(lab));
    const services: ServiceHealth[] = [];
    for (const service of SERVICE_NAMES) {
      const c = containers.find((x) => x.labels[LABEL_SERVICE] === service);
      if (!c) continue;
      const endpoint = c.labels[LABEL_ENDPOINT];
      const health: ServiceHealth = {
        service,
        state: c.state,
        healthy: false,
        container: shortId(c.id),
        image: c.image,
      };
      if (endpoint) health.endpoint = endpoint;
      if (c.running && endpoint) {
        try {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<CheckResult>((resolve) => {
            timer = setTimeout(() => resolve({ ready: false, detail: 'check timed out' }), checkTimeoutMs);
          });
          const result = await Promise.race([strategyFor(service, endpoint).check(), timeout]).finally(() =>
            clearTimeout(timer),
          );
          health.healthy = result.ready;
          if (!result.ready && result.detail) health.detail = result.detail;
        } catch (error) {
          health.detail = (error as Error).message;
        }
      } else if (!c.running) {
        health.detail = `container is ${c.state}`;
      }
      services.push(health);
    }
    return {
      lab,
      exists: services.length > 0,
      healthy: services.length > 0 && services.every((s) => s.healthy),
      services,
    };
  }

  async down(lab: string, options: { volumes: boolean }): Promise<LabDownResult> {
    await this.docker.ping();
    const labels = labLabels(lab);
    const result: LabDownResult = { lab, containers: [], networks: [], volumes: [], keptVolumes: [] };
    for (const c of await this.docker.listContainers(labels)) {
      this.reporter.step(`removing container ${c.name} (${shortId(c.id)})`);
      if (c.running) await this.docker.stopContainer(c.id, 15);
      await this.docker.removeContainer(c.id);
      result.containers.push(c.name);
    }
    for (const n of await this.docker.listNetworks(labels)) {
      this.reporter.step(`removing network ${n.name}`);
      await this.docker.removeNetwork(n.id);
      result.networks.push(n.name);
    }
    for (const v of await this.docker.listVolumes(labels)) {
      if (!options.volumes) {
        result.keptVolumes.push(v.name);
        continue;
      }
      this.reporter.step(`removing volume ${v.name}`);
      await this.docker.removeVolume(v.name);
      result.volumes.push(v.name);
    }
    return result;
  }

  /** Finds the container of one service of a lab, or explains that there is none. */
  async serviceContainer(lab: string, service: ServiceName): Promise<ContainerInfo> {
    await this.docker.ping();
    const containers = await this.docker.listContainers(serviceLabels(lab, service));
    const container = containers[0];
    if (!container) {
      throw new GapipeError('LAB_NOT_FOUND', `Lab '${lab}' has no ${service} container`, {
        nextSteps: `Start it with \`gapipe lab up --name ${lab}\` (see \`gapipe lab status --name ${lab}\`)`,
      });
    }
    return container;
  }

  async logs(
    lab: string,
    service: ServiceName,
    options: { follow: boolean; tail: number; signal?: AbortSignal },
    onLine: (line: { stream: 'stdout' | 'stderr'; text: string }) => void,
  ): Promise<void> {
    const container = await this.serviceContainer(lab, service);
    if (options.follow) {
      await this.docker.followContainerLogs(container.id, options.tail, onLine, options.signal);
      return;
    }
    for (const line of await this.docker.containerLogs(container.id, options.tail)) onLine(line);
  }
}
