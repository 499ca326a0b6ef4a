/**
 * Where the consumer's results go: aggregate documents, optional raw events, and per-partition
 * checkpoints. The Elasticsearch store is the real one; the memory store serves unit tests and the
 * embedded bench. Both honour external versions: a write with a version not above the stored one is
 * ignored (a stale or repeated write), which is how replays and zombie consumers stay harmless.
 */
import { Client, errors } from '@elastic/elasticsearch';
import { GapipeError } from '../errors.js';
import { AGGREGATES_INDEX, EVENTS_INDEX, ensureIndexTemplate } from '../lab/provision/elasticsearch.js';
import type { FlushBatch, PartitionCheckpoint } from './aggregator.js';
import { CHECKPOINT_FORMAT } from './aggregator.js';
import type { AggregateDoc } from './types.js';

export const STATE_INDEX = 'gapipe-consumer-state';

/** A raw event for --index-raw: its JSON text, indexed with _id = event_id. */
export interface RawEvent {
  id: string;
  json: string;
}

export interface WriteStats {
  /** Documents created or replaced. */
  written: number;
  /** Writes ignored because a newer version was already stored. */
  stale: number;
  deleted: number;
  raw: number;
}

export interface AggregateStore {
  readonly description: string;
  /** Index templates and the state index exist. */
  prepare(): Promise<void>;
  loadCheckpoint(topic: string, partition: number): Promise<PartitionCheckpoint | undefined>;
  /** Writes the batches' documents and deletes, and the raw events. Throws when anything failed. */
  writeDocuments(batches: readonly FlushBatch[], raw: readonly RawEvent[]): Promise<WriteStats>;
  /** Writes the batches' checkpoints; only after their documents are acknowledged. */
  writeCheckpoints(batches: readonly FlushBatch[]): Promise<void>;
  /** True once document `id` at `version` or newer is searchable (for the visible latency). */
  isVisible?(id: string, version: number): Promise<boolean>;
  close(): Promise<void>;
}

/** What to do about a store that stays away; nothing is lost, so waiting or restarting are both fine. */
const STORE_NEXT_STEPS =
  'Check that Elasticsearch is up (`gapipe lab status`, `gapipe lab logs elasticsearch`), then start gapipe consume again: it resumes from its last checkpoint and loses nothing';

export interface RetryableStoreErrorOptions {
  cause?: unknown;
  /** Which service is away; default Elasticsearch. */
  code?: 'ELASTICSEARCH_UNREACHABLE' | 'KAFKA_UNREACHABLE';
  nextSteps?: string;
}

/**
 * A write the store could not make now but may later (unreachable, overloaded, timed out). The
 * consumer retries these; one that still escapes (the consumer stopped or gave up meanwhile) is what
 * the user sees, so it is a GapipeError that names the service and what to do.
 */
export class RetryableStoreError extends GapipeError {
  constructor(message: string, options: RetryableStoreErrorOptions = {}) {
    super(options.code ?? 'ELASTICSEARCH_UNREACHABLE', message, {
      cause: options.cause,
      nextSteps: options.nextSteps ?? STORE_NEXT_STEPS,
    });
    this.name = 'RetryableStoreError';
  }
}

export interface ElasticsearchStoreOptions {
  url: string;
  index: string;
  rawIndex: string;
  requestTimeoutMs: number;
}

export const STORE_DEFAULTS = {
  index: AGGREGATES_INDEX,
  rawIndex: EVENTS_INDEX,
  requestTimeoutMs: 10_000,
};

/** Entries (action lines and documents) per bulk request: a few MB at most. */
const MAX_BULK_ENTRIES = 10_000;

/** Splits bulk entries into requests of at most `max`, never separating an action from its document. */
export function chunkOperations(operations: unknown[], max: number): unknown[][] {
  const chunks: unknown[][] = [];
  let current: unknown[] = [];
  for (let i = 0; i < operations.length; i++) {
    const action = operations[i] as Record<string, unknown>;
    const entries = 'delete' in action ? [action] : [action, operations[++i]];
    if (current.length + entries.length > max && current.length > 0) {
      chunks.push(current);
      current = [];
    }
    current.push(...entries);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function checkpointId(index: string, topic: string, partition: number): string {
  return `${index}:${topic}:${partition}`;
}

export class ElasticsearchStore implements AggregateStore {
  readonly description: string;
  private readonly client: Client;

  constructor(private readonly options: ElasticsearchStoreOptions) {
    this.description = `elasticsearch ${options.url} → ${options.index}`;
    // Retries are ours (with backoff, while fetching is paused); the client fails fast.
    this.client = new Client({ node: options.url, requestTimeout: options.requestTimeoutMs, maxRetries: 0 });
  }

  async prepare(): Promise<void> {
    try {
      await ensureIndexTemplate(this.client, AGGREGATES_INDEX, 'elasticsearch/aggregates-template.json');
      await ensureIndexTemplate(this.client, EVENTS_INDEX, 'elasticsearch/events-template.json');
      for (const index of [this.options.index, STATE_INDEX]) {
        const exists = await this.client.indices.exists({ index });
        if (!exists) {
          await this.client.indices.create(
            index === STATE_INDEX
              ? {
                  index,
                  settings: { number_of_shards: 1, number_of_replicas: 0 },
                  mappings: {
                    dynamic: false,
                    properties: { topic: { type: 'keyword' }, partition: { type: 'integer' } },
                  },
                }
              : { index },
            { ignore: [400] },
          );
        }
      }
    } catch (error) {
      throw this.unreachable(error, 'prepare the indices');
    }
  }

  async loadCheckpoint(topic: string, partition: number): Promise<PartitionCheckpoint | undefined> {
    try {
      const result = await this.client.get<PartitionCheckpoint>(
        { index: STATE_INDEX, id: checkpointId(this.options.index, topic, partition) },
        { ignore: [404] },
      );
      const source = result.found ? result._source : undefined;
      if (!source) return undefined;
      if (source.format !== CHECKPOINT_FORMAT) {
        throw new GapipeError(
          'INVALID_CONFIG',
          `The consumer state of ${topic}[${partition}] has an unknown format`,
          {
            nextSteps: `Use a new --index, or delete the document ${checkpointId(this.options.index, topic, partition)} from ${STATE_INDEX}`,
          },
        );
      }
      return source;
    } catch (error) {
      if (error instanceof GapipeError) throw error;
      throw new RetryableStoreError(
        `Cannot read the checkpoint of partition ${partition}: ${describe(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  async writeDocuments(batches: readonly FlushBatch[], raw: readonly RawEvent[]): Promise<WriteStats> {
    const operations: unknown[] = [];
    for (const batch of batches) {
      for (const { id, doc } of batch.upserts) {
        operations.push(
          {
            index: { _index: this.options.index, _id: id, version: batch.version, version_type: 'external' },
          },
          doc,
        );
      }
      for (const id of batch.deletes) {
        operations.push({
          delete: { _index: this.options.index, _id: id, version: batch.version, version_type: 'external' },
        });
      }
    }
    for (const event of raw) {
      // The event's own JSON text goes in as it is (the client passes strings through).
      operations.push({ index: { _index: this.options.rawIndex, _id: event.id } }, event.json);
    }
    const stats: WriteStats = { written: 0, stale: 0, deleted: 0, raw: 0 };
    if (operations.length === 0) return stats;
    // Bounded requests: Elasticsearch rejects (429) bulk bodies beyond its indexing-pressure limit, and
    // a backlog of raw events would otherwise be retried as one oversized request forever.
    const items: Array<Record<string, { status: number; _index: string }>> = [];
    for (const chunk of chunkOperations(operations, MAX_BULK_ENTRIES))
      items.push(...(await this.bulk(chunk)));
    for (const item of items) {
      const [action, result] = Object.entries(item)[0] as [string, { status: number; _index: string }];
      if (result.status === 409) stats.stale++;
      else if (action === 'delete') stats.deleted++;
      else if (result._index === this.options.rawIndex && this.options.rawIndex !== this.options.index)
        stats.raw++;
      else stats.written++;
    }
    return stats;
  }

  async writeCheckpoints(batches: readonly FlushBatch[]): Promise<void> {
    const operations: unknown[] = [];
    for (const batch of batches) {
      const id = checkpointId(this.options.index, batch.checkpoint.topic, batch.partition);
      operations.push(
        { index: { _index: STATE_INDEX, _id: id, version: batch.version, version_type: 'external' } },
        batch.checkpoint,
      );
    }
    if (operations.length > 0) await this.bulk(operations);
  }

  async isVisible(id: string, version: number): Promise<boolean> {
    const result = await this.client.search({
      index: this.options.index,
      query: { ids: { values: [id] } },
      version: true,
      size: 1,
      _source: false,
    });
    const hit = result.hits.hits[0];
    return hit?._version !== undefined && hit._version >= version;
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }

  /** One bulk request; returns its items when every item succeeded or was stale (409). */
  private async bulk(
    operations: unknown[],
  ): Promise<Array<Record<string, { status: number; _index: string }>>> {
    let response: Awaited<ReturnType<Client['bulk']>>;
    try {
      response = await this.client.bulk({ operations });
    } catch (error) {
      if (
        error instanceof errors.ResponseError &&
        error.statusCode !== undefined &&
        error.statusCode < 500 &&
        error.statusCode !== 429
      ) {
        throw new GapipeError('SINK_FAILED', `Elasticsearch refused a bulk request: ${describe(error)}`, {
          cause: error,
          nextSteps: 'Check the index templates (`gapipe lab up` installs them) and the Elasticsearch logs',
        });
      }
      throw new RetryableStoreError(`Elasticsearch bulk request failed: ${describe(error)}`, {
        cause: error,
      });
    }
    const items = response.items as unknown as Array<
      Record<string, { status: number; _index: string; error?: { type: string; reason?: string } }>
    >;
    if (response.errors) {
      let retryable: string | undefined;
      for (const item of items) {
        const result = Object.values(item)[0];
        if (!result?.error || result.status === 409) continue;
        const message = `${result.error.type}: ${result.error.reason ?? ''}`.trim();
        if (result.status === 429 || result.status >= 500) retryable ??= message;
        else {
          throw new GapipeError(
            'SINK_FAILED',
            `Elasticsearch rejected a document in ${result._index}: ${message}`,
            {
              nextSteps:
                'Check the index templates (`gapipe lab up` installs them) and the Elasticsearch logs',
            },
          );
        }
      }
      if (retryable) throw new RetryableStoreError(`Elasticsearch could not take every write: ${retryable}`);
    }
    return items;
  }

  private unreachable(error: unknown, what: string): GapipeError {
    if (error instanceof GapipeError) return error;
    return new GapipeError(
      'ELASTICSEARCH_UNREACHABLE',
      `Cannot ${what} on Elasticsearch at ${this.options.url}: ${describe(error)}`,
      {
        cause: error,
        nextSteps:
          'Start the lab with `gapipe lab up`, or pass --es (or GAPIPE_ES_URL) with a reachable Elasticsearch',
      },
    );
  }
}

function describe(error: unknown): string {
  if (error instanceof errors.ResponseError) {
    const body = error.meta.body as { error?: { type?: string; reason?: string } } | undefined;
    return `HTTP ${error.statusCode}${body?.error ? ` ${body.error.type}: ${body.error.reason ?? ''}` : ''}`.trim();
  }
  if (error instanceof errors.ConnectionError) return `connection failed (${error.message})`;
  if (error instanceof errors.TimeoutError) return 'request timed out';
  return error instanceof Error ? error.message : String(error);
}

interface StoredDoc<T> {
  version: number;
  source: T;
}

/** An in-memory store with the same versioning rules, for tests and the embedded bench. */
export class MemoryStore implements AggregateStore {
  readonly description = 'memory';
  readonly documents = new Map<string, StoredDoc<AggregateDoc>>();
  readonly checkpoints = new Map<string, StoredDoc<PartitionCheckpoint>>();
  readonly raw = new Map<string, string>();
  /** Set to make the next writes fail as if Elasticsearch were away. */
  unavailable: string | undefined;
  writes = 0;

  async prepare(): Promise<void> {}

  async loadCheckpoint(topic: string, partition: number): Promise<PartitionCheckpoint | undefined> {
    if (this.unavailable) throw new RetryableStoreError(this.unavailable);
    const stored = this.checkpoints.get(`${topic}:${partition}`);
    return stored ? structuredClone(stored.source) : undefined;
  }

  async writeDocuments(batches: readonly FlushBatch[], raw: readonly RawEvent[]): Promise<WriteStats> {
    if (this.unavailable) throw new RetryableStoreError(this.unavailable);
    this.writes++;
    const stats: WriteStats = { written: 0, stale: 0, deleted: 0, raw: 0 };
    for (const batch of batches) {
      for (const { id, doc } of batch.upserts) {
        const stored = this.documents.get(id);
        if (stored && stored.version >= batch.version) stats.stale++;
        else {
          this.documents.set(id, { version: batch.version, source: { ...doc } });
          stats.written++;
        }
      }
      for (const id of batch.deletes) {
        const stored = this.documents.get(id);
        if (stored && stored.version >= batch.version) stats.stale++;
        else if (stored) {
          this.documents.delete(id);
          stats.deleted++;
        }
      }
    }
    for (const event of raw) {
      this.raw.set(event.id, event.json);
      stats.raw++;
    }
    return stats;
  }

  async writeCheckpoints(batches: readonly FlushBatch[]): Promise<void> {
    if (this.unavailable) throw new RetryableStoreError(this.unavailable);
    for (const batch of batches) {
      const key = `${batch.checkpoint.topic}:${batch.partition}`;
      const stored = this.checkpoints.get(key);
      if (!stored || stored.version < batch.version) {
        this.checkpoints.set(key, { version: batch.version, source: structuredClone(batch.checkpoint) });
      }
    }
  }

  async isVisible(id: string, version: number): Promise<boolean> {
    return (this.documents.get(id)?.version ?? -1) >= version;
  }

  async close(): Promise<void> {}
}
