/**
 * Where a bench run's Kafka and Elasticsearch are: a running lab, a lab started on request, explicit
 * endpoints, or the embedded pipeline — and the set-up requests that fail fast when an endpoint is wrong.
 */
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { GapipeError } from '../errors.js';
import { DockerodeFacade } from '../lab/docker.js';
import { Lab } from '../lab/lab.js';
import { type LabOptions, labInputFromEnv, resolveLabOptions } from '../lab/options.js';
import { AGGREGATES_INDEX, ensureIndexTemplate } from '../lab/provision/elasticsearch.js';
import type { Logger } from '../log.js';
import type { MemoryBroker } from './embedded.js';
import type { BenchOptions } from './run.js';
import type { BenchPhaseName } from './types.js';

export interface Endpoints {
  target: 'lab' | 'embedded';
  brokers?: string[];
  esUrl?: string;
  /** The lab the endpoints came from; absent for --brokers/--es and the embedded target. */
  labName?: string;
  labStarted: boolean;
  images: Record<string, { name: string; id: string }>;
}

export type PhaseReporter = (name: BenchPhaseName, text: string) => void;

/** How long a per-second reading waits for Kafka's end offsets before using the last ones. */
const OFFSETS_READING_BUDGET_MS = 800;
/** Kafka and Elasticsearch get this long to answer the set-up requests, so a wrong endpoint fails fast. */
const SETUP_CONNECT_TIMEOUT_MS = 3000;

/** Finds (or starts) the lab, or falls back to the embedded pipeline. */
export async function resolveTarget(
  options: BenchOptions,
  logger: Logger | undefined,
  phase: PhaseReporter,
): Promise<Endpoints> {
  if (options.target === 'embedded') return { target: 'embedded', labStarted: false, images: {} };
  if (options.brokers && options.esUrl) {
    return { target: 'lab', brokers: options.brokers, esUrl: options.esUrl, labStarted: false, images: {} };
  }
  const docker = new DockerodeFacade(logger ? { logger } : {});
  const lab = new Lab({ docker });
  let status: Awaited<ReturnType<Lab['status']>>;
  try {
    status = await lab.status(options.labName);
  } catch (error) {
    if (options.target === 'auto') {
      logger?.info(
        'No lab and no Docker here: running the embedded pipeline (in-process, no Kafka or Elasticsearch).',
      );
      return { target: 'embedded', labStarted: false, images: {} };
    }
    throw error;
  }
  const healthy = (service: string) => status.services.find((s) => s.service === service && s.healthy);
  let kafka = healthy('kafka');
  let es = healthy('elasticsearch');
  let labStarted = false;
  if ((!kafka || !es) && options.target === 'auto') {
    // Starting a lab may mean pulling gigabytes: only on request (--target lab).
    logger?.info(
      `No running lab '${options.labName}': running the embedded pipeline. \`gapipe lab up\` (or --target lab) benches the real one.`,
    );
    return { target: 'embedded', labStarted: false, images: {} };
  }
  if (!kafka || !es) {
    phase(
      'preparing',
      `starting lab '${options.labName}' (Kafka and Elasticsearch) — this can take a minute`,
    );
    logger?.info(`Starting lab '${options.labName}' (Kafka and Elasticsearch)…`);
    const labOptions: LabOptions = resolveLabOptions(
      { name: options.labName, services: ['kafka', 'elasticsearch'] },
      labInputFromEnv(),
    );
    await lab.up(labOptions);
    labStarted = !status.exists;
    status = await lab.status(options.labName);
    kafka = healthy('kafka');
    es = healthy('elasticsearch');
    if (!kafka?.endpoint || !es?.endpoint) {
      throw new GapipeError(
        'SERVICE_NOT_READY',
        `Lab '${options.labName}' is not healthy after starting it`,
        {
          nextSteps: '`gapipe lab status` and `gapipe lab logs kafka` show why',
        },
      );
    }
  }
  const images: Record<string, { name: string; id: string }> = {};
  for (const service of status.services) {
    if (service.service === 'kibana' || !service.container) continue;
    const info = await docker.inspectContainer(service.container).catch(() => undefined);
    images[service.service] = { name: service.image ?? info?.image ?? '', id: info?.imageId ?? '' };
  }
  return {
    target: 'lab',
    brokers: [kafka?.endpoint ?? ''],
    esUrl: es?.endpoint ?? '',
    labName: options.labName,
    labStarted,
    images,
  };
}

/** What to do about an endpoint that does not answer: the lab's status, or the flag that named it. */
function endpointAdvice(endpoints: Endpoints, flag: '--brokers' | '--es'): string {
  if (endpoints.labName) {
    return `\`gapipe lab status --name ${endpoints.labName}\` shows the lab's services; \`gapipe lab up --name ${endpoints.labName}\` starts them`;
  }
  return `Check ${flag}: is the service running there and reachable from this machine?`;
}

/**
 * A client for the run's Elasticsearch that has answered once: a wrong --es fails here, in seconds,
 * before anything is created.
 */
export async function connectElasticsearch(endpoints: Endpoints): Promise<Client> {
  const url = endpoints.esUrl ?? '';
  const fail = (cause: unknown) =>
    new GapipeError('ELASTICSEARCH_UNREACHABLE', `no answer from ${url}`, {
      cause,
      nextSteps: endpointAdvice(endpoints, '--es'),
    });
  let probe: Client;
  try {
    probe = new Client({ node: url, requestTimeout: SETUP_CONNECT_TIMEOUT_MS, maxRetries: 1 });
  } catch (error) {
    throw fail(error);
  }
  try {
    await probe.cluster.health({ timeout: `${SETUP_CONNECT_TIMEOUT_MS}ms` });
  } catch (error) {
    // Any HTTP answer means something listens there; the run's own requests will say if it is wrong.
    const status = (error as { meta?: { statusCode?: number | null } }).meta?.statusCode;
    const answered = typeof status === 'number' && status > 0;
    if (!answered) throw fail(error);
  } finally {
    await probe.close().catch(() => {});
  }
  return new Client({ node: url, requestTimeout: 30_000 });
}

/** An admin client that has reached Kafka, with few, quick retries: a wrong --brokers fails in seconds. */
export async function connectKafka(endpoints: Endpoints): Promise<ReturnType<Kafka['admin']>> {
  const brokers = endpoints.brokers ?? [];
  const admin = new Kafka({
    clientId: 'gapipe-bench',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: SETUP_CONNECT_TIMEOUT_MS,
    retry: { retries: 2, initialRetryTime: 250, maxRetryTime: 1000 },
  }).admin();
  try {
    await admin.connect();
    return admin;
  } catch (error) {
    await admin.disconnect().catch(() => {});
    throw new GapipeError('KAFKA_UNREACHABLE', `no answer from ${brokers.join(',')}`, {
      cause: error,
      nextSteps: endpointAdvice(endpoints, '--brokers'),
    });
  }
}

/** The run's topic, with its -late and -dlq. */
export async function createRunTopics(
  admin: ReturnType<Kafka['admin']>,
  endpoints: Endpoints,
  topic: string,
  partitions: number,
): Promise<void> {
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: partitions, replicationFactor: 1 },
        { topic: `${topic}-late`, numPartitions: 1, replicationFactor: 1 },
        { topic: `${topic}-dlq`, numPartitions: 1, replicationFactor: 1 },
      ],
    });
  } catch (error) {
    throw new GapipeError(
      'KAFKA_UNREACHABLE',
      `${(endpoints.brokers ?? []).join(',')} did not create the run's topics (${topic} and its -late and -dlq)`,
      { cause: error, nextSteps: endpointAdvice(endpoints, '--brokers') },
    );
  }
}

/**
 * Reads the end offset of each partition of the run's topic: the memory broker's log lengths, or
 * Kafka's latest offsets (the last answer when Kafka is slower than the reading budget).
 */
export function endOffsetReader(
  endpoints: Endpoints,
  broker: MemoryBroker,
  topic: string,
  admin: ReturnType<Kafka['admin']> | undefined,
): () => Promise<Map<number, number>> {
  if (endpoints.target === 'embedded' || !admin) return async () => broker.endOffsets(topic);
  let last = new Map<number, number>();
  return async () => {
    const fetched = admin
      .fetchTopicOffsets(topic)
      .then((offsets) => new Map(offsets.map((o) => [o.partition, Number(o.high)] as [number, number])))
      .catch(() => undefined);
    const answer = await Promise.race([fetched, sleep(OFFSETS_READING_BUDGET_MS).then(() => undefined)]);
    if (answer) last = answer;
    return last;
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * The run's aggregates index, with gapipe's mapping (the aggregates template, installed when missing
 * or out of date), for an engine gapipe did not write: it finds the index as docs/engines.md says.
 */
export async function createRunIndex(es: Client, index: string): Promise<void> {
  await ensureIndexTemplate(es, AGGREGATES_INDEX, 'elasticsearch/aggregates-template.json');
  await es.indices.create({ index }, { ignore: [400] });
}
