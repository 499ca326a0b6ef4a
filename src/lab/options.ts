/**
 * Lab options: exported defaults, one merge of flags > environment > config file > defaults,
 * and one validation pass whose messages name the option and its allowed values.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { GapipeError, invalidFlag } from '../errors.js';
import { definedEntries } from '../objects.js';

export const SERVICE_NAMES = ['kafka', 'elasticsearch', 'kibana'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Versions the lab runs: the newest patch releases that also exist on Maven Central (see README). */
export const KAFKA_VERSION = '4.4.0';
export const ELASTIC_VERSION = '8.19.21';

export const LAB_DEFAULTS = {
  name: 'lab',
  services: [...SERVICE_NAMES] as ServiceName[],
  partitions: 6,
  bind: '127.0.0.1',
  topic: 'game-events',
  ports: { kafka: 9092, elasticsearch: 9200, kibana: 5601 } as Record<ServiceName, number>,
  images: {
    kafka: `apache/kafka:${KAFKA_VERSION}`,
    elasticsearch: `docker.elastic.co/elasticsearch/elasticsearch:${ELASTIC_VERSION}`,
    kibana: `docker.elastic.co/kibana/kibana:${ELASTIC_VERSION}`,
  } as Record<ServiceName, string>,
  /** Readiness budgets: generous because a cold JVM on a 2-core laptop is slow. */
  readyBudgetMs: { kafka: 120_000, elasticsearch: 180_000, kibana: 300_000 } as Record<ServiceName, number>,
  elasticsearchHeapMb: 512,
  kafkaHeapMb: 512,
} as const;

/** Memory each service needs at least (heap plus JVM/Node overhead), used by the pre-flight check. */
export const SERVICE_MEMORY_BYTES: Record<ServiceName, number> = {
  kafka: 768 * 1024 ** 2,
  elasticsearch: 1024 * 1024 ** 2,
  kibana: 1024 * 1024 ** 2,
};

/** How each service is spelled in flag names (--es-port, --es-image). */
export const FLAG_PREFIX: Record<ServiceName, string> = {
  kafka: 'kafka',
  elasticsearch: 'es',
  kibana: 'kibana',
};

export const IMAGE_ENV_VARS: Record<ServiceName, string> = {
  kafka: 'GAPIPE_KAFKA_IMAGE',
  elasticsearch: 'GAPIPE_ELASTICSEARCH_IMAGE',
  kibana: 'GAPIPE_KIBANA_IMAGE',
};

export const PORT_ENV_VARS: Record<ServiceName, string> = {
  kafka: 'GAPIPE_KAFKA_PORT',
  elasticsearch: 'GAPIPE_ELASTICSEARCH_PORT',
  kibana: 'GAPIPE_KIBANA_PORT',
};

export interface LabOptions {
  name: string;
  services: ServiceName[];
  partitions: number;
  bind: string;
  topic: string;
  ports: Record<ServiceName, number>;
  images: Record<ServiceName, string>;
  readyBudgetMs: Record<ServiceName, number>;
  elasticsearchHeapMb: number;
  kafkaHeapMb: number;
}

/** What a user may give, from any source; undefined means "not given here". */
export interface LabOptionsInput {
  name?: string | undefined;
  services?: string[] | undefined;
  partitions?: number | undefined;
  bind?: string | undefined;
  topic?: string | undefined;
  ports?: Partial<Record<ServiceName, number | undefined>> | undefined;
  images?: Partial<Record<ServiceName, string | undefined>> | undefined;
  readyBudgetMs?: Partial<Record<ServiceName, number | undefined>> | undefined;
  elasticsearchHeapMb?: number | undefined;
  kafkaHeapMb?: number | undefined;
}

/** Reads the image and port overrides from the environment. */
export function labInputFromEnv(env: NodeJS.ProcessEnv = process.env): LabOptionsInput {
  const images: Partial<Record<ServiceName, string>> = {};
  const ports: Partial<Record<ServiceName, number>> = {};
  for (const service of SERVICE_NAMES) {
    const image = env[IMAGE_ENV_VARS[service]];
    if (image) images[service] = image;
    const port = env[PORT_ENV_VARS[service]];
    if (port) ports[service] = parsePort(port, PORT_ENV_VARS[service]);
  }
  return { images, ports, name: env.GAPIPE_LAB || undefined };
}

function parsePort(raw: string, source: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || port < 1 || port > 65535) {
    throw invalidFlag(`${source} must be a port number from 1 to 65535, got '${raw}'`);
  }
  return port;
}

/** Merges the sources, first wins (flags, environment, config file), then validates once. */
export function resolveLabOptions(...sources: LabOptionsInput[]): LabOptions {
  const merged: LabOptionsInput = {};
  for (const source of [...sources].reverse()) {
    const { ports, images, readyBudgetMs, ...scalars } = source;
    Object.assign(merged, definedEntries(scalars));
    merged.ports = { ...merged.ports, ...definedEntries(ports) };
    merged.images = { ...merged.images, ...definedEntries(images) };
    merged.readyBudgetMs = { ...merged.readyBudgetMs, ...definedEntries(readyBudgetMs) };
  }
  const options: LabOptions = {
    name: merged.name ?? LAB_DEFAULTS.name,
    services: (merged.services as ServiceName[] | undefined) ?? [...LAB_DEFAULTS.services],
    partitions: merged.partitions ?? LAB_DEFAULTS.partitions,
    bind: merged.bind ?? LAB_DEFAULTS.bind,
    topic: merged.topic ?? LAB_DEFAULTS.topic,
    ports: { ...LAB_DEFAULTS.ports, ...merged.ports } as Record<ServiceName, number>,
    images: { ...LAB_DEFAULTS.images, ...merged.images } as Record<ServiceName, string>,
    readyBudgetMs: { ...LAB_DEFAULTS.readyBudgetMs, ...merged.readyBudgetMs } as Record<ServiceName, number>,
    elasticsearchHeapMb: merged.elasticsearchHeapMb ?? LAB_DEFAULTS.elasticsearchHeapMb,
    kafkaHeapMb: merged.kafkaHeapMb ?? LAB_DEFAULTS.kafkaHeapMb,
  };
  validateLabOptions(options);
  return options;
}

const LAB_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,30}$/;
const TOPIC_PATTERN = /^[a-zA-Z0-9._-]{1,200}$/;

export function validateLabOptions(options: LabOptions): void {
  if (!LAB_NAME_PATTERN.test(options.name)) {
    throw invalidFlag(
      `--name must be 1-31 lowercase letters, digits, '-' or '_', starting with a letter or digit, got '${options.name}'`,
    );
  }
  for (const service of options.services) {
    if (!(SERVICE_NAMES as readonly string[]).includes(service)) {
      throw new GapipeError('UNKNOWN_SERVICE', `--services has an unknown service '${service}'`, {
        nextSteps: `Choose from ${SERVICE_NAMES.join(', ')}, e.g. --services kafka,elasticsearch`,
      });
    }
  }
  if (options.services.length === 0) {
    throw invalidFlag(`--services must name at least one of ${SERVICE_NAMES.join(', ')}`);
  }
  if (options.services.includes('kibana') && !options.services.includes('elasticsearch')) {
    throw invalidFlag(
      '--services includes kibana without elasticsearch; Kibana needs Elasticsearch',
      'Add elasticsearch, e.g. --services elasticsearch,kibana',
    );
  }
  if (!Number.isInteger(options.partitions) || options.partitions < 1 || options.partitions > 1000) {
    throw invalidFlag(`--partitions must be a whole number from 1 to 1000, got '${options.partitions}'`);
  }
  if (isIP(options.bind) === 0) {
    throw invalidFlag(
      `--bind must be an IP address such as 127.0.0.1 or 0.0.0.0, got '${options.bind}'`,
      'Use --bind 127.0.0.1 (the default) to keep the lab private to this machine',
    );
  }
  if (!TOPIC_PATTERN.test(options.topic)) {
    throw invalidFlag(`--topic must be 1-200 of a-z A-Z 0-9 . _ -, got '${options.topic}'`);
  }
  const seen = new Map<number, ServiceName>();
  for (const service of SERVICE_NAMES) {
    const port = options.ports[service];
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw invalidFlag(
        `--${FLAG_PREFIX[service]}-port must be a port number from 1 to 65535, got '${port}'`,
      );
    }
    const other = seen.get(port);
    if (other && options.services.includes(service) && options.services.includes(other)) {
      throw invalidFlag(
        `--${FLAG_PREFIX[service]}-port and --${FLAG_PREFIX[other]}-port are both ${port}; each service needs its own port`,
      );
    }
    seen.set(port, service);
    if (!options.images[service]?.trim())
      throw invalidFlag(`--${FLAG_PREFIX[service]}-image must not be empty`);
  }
  for (const [flag, value] of [
    ['--es-heap', options.elasticsearchHeapMb],
    ['--kafka-heap', options.kafkaHeapMb],
  ] as const) {
    if (!Number.isInteger(value) || value < 256 || value > 32_768) {
      throw invalidFlag(`${flag} must be a number of MiB from 256 to 32768, got '${value}'`);
    }
  }
}

/** True when the lab's ports are reachable from other machines. */
export function isPublicBind(bind: string): boolean {
  return !(bind === '127.0.0.1' || bind === '::1' || bind.startsWith('127.'));
}

/** Stable, derived from the lab name, so a recreated Kafka container finds its formatted volume valid. */
export function kafkaClusterId(labName: string): string {
  return createHash('sha256').update(`gapipe-lab:${labName}`).digest().subarray(0, 16).toString('base64url');
}

/** Parses a comma separated --services value. */
export function parseServicesList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}
