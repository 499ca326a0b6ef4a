/**
 * Reading aggregate documents back for `gapipe verify`, behind a small interface: Elasticsearch is
 * the real implementation, an in-memory one serves unit tests.
 *
 * The Elasticsearch reader refreshes the index (the consumer may have just written), then pages
 * through the matching documents with `search` + `search_after`, sorted by window_start, region,
 * event_type and partition — unique per document for the tumbling windows of one topic. No scroll
 * and no point in time: verify reads a few thousand documents per hour of traffic, and each pass of
 * the `--wait` loop reads afresh anyway.
 */
import { Client, errors, type estypes } from '@elastic/elasticsearch';
import { GapipeError } from '../errors.js';
import type { AggregateDoc, WindowKind } from '../pipeline/types.js';

export interface AggregateFilter {
  index: string;
  topic: string;
  /** Only documents of this window kind; all kinds when undefined. */
  windowKind?: WindowKind | undefined;
  /** Stop after this many documents (to learn whether any exist). */
  limit?: number | undefined;
}

export interface AggregateReader {
  /** The documents of `filter.index` matching the filter, as written (`_source`). */
  read(filter: AggregateFilter): Promise<AggregateDoc[]>;
}

/** Documents per search request. */
export const PAGE_SIZE = 5000;

/**
 * What the comparison needs, and run_id to tell another run's documents; revenue_usd, last_offset and
 * updated_at are left on the server.
 */
export const SOURCE_FIELDS = [
  'window_start',
  'window_end',
  'window_kind',
  'region',
  'event_type',
  'partition',
  'topic',
  'player_id',
  'events',
  'unique_players',
  'revenue_cents',
  'late_events',
  'late_revenue_cents',
  'duplicates',
  'final',
  'run_id',
] as const;

// Not on _id: sorting by _id is disabled by default in Elasticsearch 8.
const SORT: estypes.Sort = [
  { window_start: { order: 'asc' } },
  { region: { order: 'asc' } },
  { event_type: { order: 'asc' } },
  { partition: { order: 'asc' } },
];

/** An in-memory reader for tests: filters like the Elasticsearch one, over the given documents. */
export class MemoryAggregateReader implements AggregateReader {
  /** Every filter read() was called with. */
  readonly reads: AggregateFilter[] = [];

  /** `docs` per index; a function is called on every read (to change the documents between reads). */
  constructor(
    private readonly docs: Record<string, AggregateDoc[]> | (() => Record<string, AggregateDoc[]>),
  ) {}

  async read(filter: AggregateFilter): Promise<AggregateDoc[]> {
    this.reads.push({ ...filter });
    const indices = typeof this.docs === 'function' ? this.docs() : this.docs;
    const docs = indices[filter.index];
    if (!docs) throw indexMissingError(filter.index, 'memory');
    const matching = docs.filter(
      (doc) =>
        doc.topic === filter.topic &&
        (filter.windowKind === undefined || doc.window_kind === filter.windowKind),
    );
    return filter.limit === undefined ? matching : matching.slice(0, filter.limit);
  }
}

export interface ElasticsearchReaderOptions {
  /** Per request; default 30s. */
  requestTimeoutMs?: number;
  pageSize?: number;
}

/** Reads aggregate documents from Elasticsearch at `url`. Call `close()` when done. */
export class ElasticsearchAggregateReader implements AggregateReader {
  private readonly client: Client;
  private readonly pageSize: number;

  constructor(
    private readonly url: string,
    options: ElasticsearchReaderOptions = {},
  ) {
    this.client = new Client({
      node: url,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      maxRetries: 1,
    });
    this.pageSize = options.pageSize ?? PAGE_SIZE;
  }

  async read(filter: AggregateFilter): Promise<AggregateDoc[]> {
    try {
      await this.client.indices.refresh({ index: filter.index });
      const docs: AggregateDoc[] = [];
      const terms: estypes.QueryDslQueryContainer[] = [{ term: { topic: filter.topic } }];
      if (filter.windowKind !== undefined) terms.push({ term: { window_kind: filter.windowKind } });
      let searchAfter: estypes.SortResults | undefined;
      for (;;) {
        const size =
          filter.limit === undefined ? this.pageSize : Math.min(this.pageSize, filter.limit - docs.length);
        if (size <= 0) break;
        const response = await this.client.search<AggregateDoc>({
          index: filter.index,
          size,
          _source: [...SOURCE_FIELDS],
          query: { bool: { filter: terms } },
          sort: SORT,
          track_total_hits: false,
          ...(searchAfter === undefined ? {} : { search_after: searchAfter }),
        });
        const hits = response.hits.hits;
        for (const hit of hits) if (hit._source) docs.push(hit._source);
        const last = hits[hits.length - 1];
        if (hits.length < size || !last?.sort) break;
        searchAfter = last.sort;
      }
      return docs;
    } catch (error) {
      throw this.explain(error, filter.index);
    }
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }

  private explain(error: unknown, index: string): GapipeError {
    if (error instanceof GapipeError) return error;
    if (error instanceof errors.ResponseError) {
      const type = (error.body as { error?: { type?: string } } | undefined)?.error?.type;
      if (error.statusCode === 404 && type === 'index_not_found_exception') {
        return indexMissingError(index, this.url, error);
      }
      return new GapipeError(
        'ELASTICSEARCH_UNREACHABLE',
        `Elasticsearch at ${this.url} refused to read index '${index}': HTTP ${error.statusCode}${type ? ` ${type}` : ''}`,
        {
          cause: error,
          nextSteps: 'Check Elasticsearch with `gapipe lab status` and `gapipe lab logs elasticsearch`',
        },
      );
    }
    // The cause (ECONNREFUSED, a timeout…) is shown under the message by the error renderer.
    return new GapipeError('ELASTICSEARCH_UNREACHABLE', `Elasticsearch is not reachable at ${this.url}`, {
      cause: error,
      nextSteps: 'Start the lab with `gapipe lab up`, or point --es (GAPIPE_ES_URL) at your cluster',
    });
  }
}

function indexMissingError(index: string, where: string, cause?: unknown): GapipeError {
  return new GapipeError(
    'INVALID_FLAG',
    `Index '${index}' does not exist on ${where}: no aggregates were written yet`,
    {
      cause,
      nextSteps:
        'Start the consumer with `gapipe consume` (after `gapipe lab up`), or pass --index with the index it writes to',
    },
  );
}
