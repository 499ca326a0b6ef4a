/**
 * `gapipe verify`: the service with an in-memory reader and a manual clock, the Elasticsearch reader
 * against a stand-in HTTP server that answers like Elasticsearch (refresh, search with sort and
 * search_after), and the command as a child process (bin/dev.js, CI=true) against that stand-in.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { GapipeError } from '../../src/errors.js';
import type { AggregateDoc } from '../../src/pipeline/types.js';
import type { ManifestWindow } from '../../src/simulators/manifest.js';
import { ElasticsearchAggregateReader, MemoryAggregateReader } from '../../src/verify/reader.js';
import { loadManifest, type VerifyAttempt, verify } from '../../src/verify/verify.js';
import { INDEX, manifestFolder, manifestOf, TOPIC } from './helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const manifests = manifestFolder('gapipe-verify-');
const writeManifest = manifests.write;

const T0 = Date.parse('2026-11-21T20:00:00.000Z');

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function win(minute: number, overrides: Partial<ManifestWindow> = {}): ManifestWindow {
  return {
    window_start: iso(T0 + minute * 60_000),
    window_end: iso(T0 + (minute + 1) * 60_000),
    region: 'EU',
    event_type: 'match_end',
    events: 4,
    unique_players: 3,
    revenue_usd: 0,
    revenue_cents: 0,
    late_events: 0,
    duplicates: 0,
    ...overrides,
  };
}

/** The documents a correct consumer writes for `window`: split over two partitions. */
function docsFor(window: ManifestWindow, overrides: Partial<AggregateDoc> = {}): AggregateDoc[] {
  const base = {
    window_start: window.window_start,
    window_end: window.window_end,
    window_kind: 'tumbling' as const,
    region: window.region,
    event_type: window.event_type,
    topic: TOPIC,
    revenue_usd: 0,
    revenue_cents: 0,
    late_events: 0,
    late_revenue_cents: 0,
    duplicates: 0,
    final: true,
    last_offset: 1,
    updated_at: iso(T0),
  };
  const secondCents = Math.min(99, window.revenue_cents);
  const first = {
    partition: 0,
    events: window.events - 1,
    unique_players: window.unique_players - 1,
    revenue_cents: window.revenue_cents - secondCents,
    revenue_usd: (window.revenue_cents - secondCents) / 100,
  };
  const second = {
    partition: 1,
    events: 1,
    unique_players: 1,
    revenue_cents: secondCents,
    revenue_usd: secondCents / 100,
  };
  return [
    { ...base, ...first, ...overrides },
    { ...base, ...second, ...overrides },
  ];
}

const WINDOWS = [
  win(0),
  win(0, { region: 'NA' }),
  win(1, { event_type: 'item_purchase', revenue_cents: 999 }),
];
const CORRECT_DOCS = WINDOWS.flatMap((w) => docsFor(w));

describe('verify (service)', () => {
  it('reads the tumbling documents of the manifest topic and finds them all matching', async () => {
    const reader = new MemoryAggregateReader({ [INDEX]: CORRECT_DOCS });
    const path = writeManifest(manifestOf(WINDOWS));
    const result = await verify({ manifestPath: path, index: INDEX, waitMs: 0 }, { reader });
    expect(result).toMatchObject({
      ok: true,
      index: INDEX,
      topic: TOPIC,
      manifest: path,
      docs: 6,
      cells: {
        compared: 3,
        matching: 3,
        differing: 0,
        bounded: 0,
        missing: 0,
        unexpected: 0,
        producerFailed: 0,
      },
      notFinal: 0,
      differences: [],
      attempts: 1,
      waitedMs: 0,
    });
    expect(result.totals.expected).toEqual({
      events: 12,
      revenueCents: 999,
      duplicates: 0,
      lateEvents: 0,
      producerFailed: 0,
    });
    expect(reader.reads).toEqual([{ index: INDEX, topic: TOPIC, windowKind: 'tumbling' }]);
  });

  it('compares only the given topic and only tumbling 1-minute windows', async () => {
    const noise: AggregateDoc[] = [
      ...CORRECT_DOCS.map((d) => ({ ...d, topic: 'other-topic', events: 1000 })),
      ...CORRECT_DOCS.map((d) => ({ ...d, window_kind: 'hopping' as const, events: 1000 })),
      // A 5-minute tumbling window (another consumer setting) is not a 1-minute cell.
      ...CORRECT_DOCS.map((d) => ({
        ...d,
        window_end: iso(Date.parse(d.window_start) + 300_000),
        events: 7,
      })),
    ];
    const reader = new MemoryAggregateReader({ [INDEX]: [...CORRECT_DOCS, ...noise] });
    const result = await verify(
      { manifestPath: writeManifest(manifestOf(WINDOWS)), index: INDEX, waitMs: 0 },
      { reader },
    );
    expect(result.ok).toBe(true);
    expect(result.docs).toBe(6);
  });

  it('--topic overrides the manifest, and is required when the manifest names none', async () => {
    const reader = new MemoryAggregateReader({
      [INDEX]: CORRECT_DOCS.map((d) => ({ ...d, topic: 'replay' })),
    });
    const withTopic = writeManifest(manifestOf(WINDOWS));
    const result = await verify(
      { manifestPath: withTopic, index: INDEX, topic: 'replay', waitMs: 0 },
      { reader },
    );
    expect(result).toMatchObject({ ok: true, topic: 'replay' });

    const noTopic = writeManifest(manifestOf(WINDOWS, { runId: 'r1', sink: 'file', topic: null }));
    const error = await verify({ manifestPath: noTopic, index: INDEX, waitMs: 0 }, { reader }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toContain('names no Kafka topic');
    expect(error.nextSteps).toContain('--topic');
  });

  it('reports every cell missing when nothing was written for the topic yet', async () => {
    const reader = new MemoryAggregateReader({ [INDEX]: [] });
    const result = await verify(
      { manifestPath: writeManifest(manifestOf(WINDOWS)), index: INDEX, waitMs: 0 },
      { reader },
    );
    expect(result.ok).toBe(false);
    expect(result.docs).toBe(0);
    expect(result.cells).toMatchObject({ compared: 3, differing: 3, missing: 3 });
  });

  it('says verify only supports 1-minute tumbling windows when the topic has only other windows', async () => {
    const path = writeManifest(manifestOf(WINDOWS));
    const hopping = new MemoryAggregateReader({
      [INDEX]: CORRECT_DOCS.map((d) => ({ ...d, window_kind: 'hopping' as const })),
    });
    await expect(
      verify({ manifestPath: path, index: INDEX, waitMs: 0 }, { reader: hopping }),
    ).rejects.toThrow(
      "Index 'gapipe-aggregates' holds only hopping windows for topic 'game-events'; verify only supports 1-minute tumbling windows",
    );
    const fiveMinutes = new MemoryAggregateReader({
      [INDEX]: CORRECT_DOCS.map((d) => ({ ...d, window_end: iso(Date.parse(d.window_start) + 300_000) })),
    });
    await expect(
      verify({ manifestPath: path, index: INDEX, waitMs: 0 }, { reader: fiveMinutes }),
    ).rejects.toThrow('holds only tumbling windows of 300s');
  });

  it('a missing index is a clear error: no aggregates were written yet', async () => {
    const reader = new MemoryAggregateReader({});
    const error = await verify(
      { manifestPath: writeManifest(manifestOf(WINDOWS)), index: 'nope', waitMs: 0 },
      { reader },
    ).catch((e) => e);
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toContain("Index 'nope' does not exist");
    expect(error.message).toContain('no aggregates were written yet');
    expect(error.nextSteps).toContain('gapipe consume');
  });

  describe('--wait', () => {
    it('re-reads once a second and succeeds on the third read, without real sleeps', async () => {
      const path = writeManifest(manifestOf(WINDOWS));
      const catchingUp = [CORRECT_DOCS.slice(0, 2), CORRECT_DOCS.slice(0, 4), CORRECT_DOCS];
      let reads = 0;
      const reader = new MemoryAggregateReader(() => ({ [INDEX]: catchingUp[Math.min(reads++, 2)] ?? [] }));
      const clock = new ManualClock(T0);
      const attempts: VerifyAttempt[] = [];
      const result = await verify(
        { manifestPath: path, index: INDEX, waitMs: 60_000 },
        { reader, clock, onAttempt: (a) => attempts.push(a) },
      );
      expect(result).toMatchObject({ ok: true, attempts: 3, waitedMs: 2000 });
      expect(attempts.map((a) => [a.attempt, a.comparison.cells.differing, a.remainingMs, a.last])).toEqual([
        [1, 2, 60_000, false],
        [2, 1, 59_000, false],
        [3, 0, 0, true],
      ]);
    });

    it('gives up when the time is up and returns the last differences', async () => {
      const reader = new MemoryAggregateReader({ [INDEX]: CORRECT_DOCS.slice(0, 2) });
      const clock = new ManualClock(T0);
      const result = await verify(
        { manifestPath: writeManifest(manifestOf(WINDOWS)), index: INDEX, waitMs: 2500 },
        { reader, clock },
      );
      // Reads at 0s, 1s, 2s and, after a last half-second sleep, 2.5s.
      expect(result).toMatchObject({ ok: false, attempts: 4, waitedMs: 2500 });
      expect(result.cells.missing).toBe(2);
    });

    it('without --wait reads once', async () => {
      const reader = new MemoryAggregateReader({ [INDEX]: [] });
      const result = await verify(
        { manifestPath: writeManifest(manifestOf(WINDOWS)), index: INDEX, waitMs: 0 },
        { reader, clock: new ManualClock() },
      );
      expect(result.attempts).toBe(1);
      // No tumbling documents: one more read (of at most one document) to tell "nothing yet" from "other windows".
      expect(reader.reads).toEqual([
        { index: INDEX, topic: TOPIC, windowKind: 'tumbling' },
        { index: INDEX, topic: TOPIC, limit: 1 },
      ]);
    });
  });
});

describe('loadManifest', () => {
  const cases: Array<[string, string, string]> = [
    ['a missing file', '', 'does not exist'],
    ['a file that is not JSON', '{"format": ', 'is not JSON'],
    [
      'another format',
      JSON.stringify({ format: 'gapipe-ground-truth/0', windows: [] }),
      'format is "gapipe-ground-truth/0"',
    ],
    [
      'another window size',
      JSON.stringify({ ...manifestOf([]), windowMs: 300_000 }),
      'verify only supports 1-minute (60000) windows',
    ],
    [
      'a window without events',
      JSON.stringify({ ...manifestOf([]), windows: [{ ...win(0), events: 'many' }] }),
      'windows[0] events must be a whole number ≥ 0 (got "many")',
    ],
  ];

  it.each(cases)(
    '%s is an INVALID_FLAG naming the file and how to write one',
    async (_, content, message) => {
      const path = content === '' ? join(manifests.dir, 'nonexistent.json') : writeManifest(content);
      const error = await loadManifest(path).catch((e) => e);
      expect(error).toBeInstanceOf(GapipeError);
      expect(error.code).toBe('INVALID_FLAG');
      expect(error.message).toContain(`--manifest ${path}`);
      expect(error.message).toContain(message);
      expect(error.nextSteps).toBe(`Write one with \`gapipe simulate --sink kafka --manifest ${path}\``);
    },
  );

  it('reads what serializeManifest wrote', async () => {
    const manifest = manifestOf(WINDOWS);
    expect(await loadManifest(writeManifest(manifest))).toEqual(manifest);
  });
});

// --- a stand-in for Elasticsearch ------------------------------------------------------------------

interface SearchBody {
  size: number;
  _source: string[];
  sort: Array<Record<string, { order: string }>>;
  search_after?: unknown[];
  track_total_hits?: boolean;
  query: { bool: { filter: Array<{ term: Record<string, string> }> } };
}

/**
 * Answers `POST /{index}/_refresh` and `POST /{index}/_search` (term filters, sort on the given
 * fields, search_after, size, _source), with the product header the client insists on.
 */
class FakeElasticsearch {
  readonly requests: Array<{ method: string; path: string; body: unknown }> = [];
  private readonly server: Server;

  constructor(readonly indices: Record<string, AggregateDoc[]>) {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => send(response, 500, { error: String(error) }));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get searches(): SearchBody[] {
    return this.requests.filter((r) => r.path.endsWith('/_search')).map((r) => r.body as SearchBody);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const path = (request.url ?? '').split('?')[0] ?? '';
    const body = text ? JSON.parse(text) : undefined;
    this.requests.push({ method: request.method ?? '', path, body });
    const [, index, action] = path.split('/');
    const docs = index === undefined ? undefined : this.indices[decodeURIComponent(index)];
    if (!docs) {
      send(response, 404, {
        error: { type: 'index_not_found_exception', reason: `no such index [${index}]` },
        status: 404,
      });
      return;
    }
    if (action === '_refresh') {
      send(response, 200, { _shards: { total: 1, successful: 1, failed: 0 } });
      return;
    }
    if (action !== '_search') {
      send(response, 400, { error: { type: 'illegal_argument_exception' }, status: 400 });
      return;
    }
    const search = body as SearchBody;
    const fields = search.sort.map((s) => Object.keys(s)[0] as string);
    const sortValues = (doc: AggregateDoc) =>
      fields.map(
        (f) => (f === 'window_start' ? Date.parse(doc.window_start) : (doc as never)[f]) as string | number,
      );
    const compare = (a: Array<string | number>, b: unknown[]) => {
      for (let i = 0; i < a.length; i++) {
        const x = a[i] as string | number;
        const y = b[i] as string | number;
        if (x < y) return -1;
        if (x > y) return 1;
      }
      return 0;
    };
    const hits = docs
      .filter((doc) =>
        search.query.bool.filter.every(({ term }) =>
          Object.entries(term).every(([field, value]) => (doc as never)[field] === value),
        ),
      )
      .map((doc) => ({ doc, sort: sortValues(doc) }))
      .sort((a, b) => compare(a.sort, b.sort))
      .filter((hit) => search.search_after === undefined || compare(hit.sort, search.search_after) > 0)
      .slice(0, search.size)
      .map(({ doc, sort }, i) => ({
        _index: index,
        _id: String(i),
        _score: null,
        _source: Object.fromEntries(
          search._source.filter((f) => f in doc).map((f) => [f, (doc as never)[f]]),
        ),
        sort,
      }));
    send(response, 200, {
      took: 1,
      timed_out: false,
      _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
      hits: { max_score: null, hits },
    });
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' });
  response.end(JSON.stringify(body));
}

/** `count` correct documents: 1-minute cells of the manifest below, one document each. */
function manyCells(count: number): { windows: ManifestWindow[]; docs: AggregateDoc[] } {
  const windows: ManifestWindow[] = [];
  const docs: AggregateDoc[] = [];
  for (let i = 0; i < count; i++) {
    const w = win(i, { events: 1, unique_players: 1 });
    windows.push(w);
    docs.push({ ...(docsFor(w)[1] as AggregateDoc), partition: i % 3 });
  }
  return { windows, docs };
}

describe('ElasticsearchAggregateReader', () => {
  let es: FakeElasticsearch;
  let url: string;
  let reader: ElasticsearchAggregateReader;

  beforeEach(async () => {
    es = new FakeElasticsearch({});
    url = await es.start();
    reader = new ElasticsearchAggregateReader(url);
  });

  afterEach(async () => {
    await reader.close();
    await es.stop();
  });

  it('refreshes, then pages through every matching document with search_after, 5000 at a time', async () => {
    const { docs } = manyCells(10_001);
    es.indices[INDEX] = [...docs, { ...(docs[0] as AggregateDoc), topic: 'other' }];
    const read = await reader.read({ index: INDEX, topic: TOPIC, windowKind: 'tumbling' });
    expect(read).toHaveLength(10_001);
    expect(new Set(read.map((d) => d.window_start)).size).toBe(10_001);
    expect(es.requests.map((r) => r.path)).toEqual([
      `/${INDEX}/_refresh`,
      `/${INDEX}/_search`,
      `/${INDEX}/_search`,
      `/${INDEX}/_search`,
    ]);
    const [first, second] = es.searches;
    expect(first).toMatchObject({
      size: 5000,
      track_total_hits: false,
      sort: [
        { window_start: { order: 'asc' } },
        { region: { order: 'asc' } },
        { event_type: { order: 'asc' } },
        { partition: { order: 'asc' } },
      ],
      query: { bool: { filter: [{ term: { topic: TOPIC } }, { term: { window_kind: 'tumbling' } }] } },
    });
    expect(first?.search_after).toBeUndefined();
    expect(first?._source).not.toContain('updated_at');
    expect(first?._source).toEqual(
      expect.arrayContaining(['window_start', 'events', 'late_revenue_cents', 'final']),
    );
    const last = read[4999] as AggregateDoc;
    expect(second?.search_after).toEqual([
      Date.parse(last.window_start),
      last.region,
      last.event_type,
      last.partition,
    ]);
  });

  it('stops at the limit', async () => {
    es.indices[INDEX] = manyCells(10).docs;
    expect(await reader.read({ index: INDEX, topic: TOPIC, limit: 1 })).toHaveLength(1);
    expect(es.searches[0]?.size).toBe(1);
    expect(es.searches[0]?.query.bool.filter).toEqual([{ term: { topic: TOPIC } }]);
  });

  it('a missing index says no aggregates were written yet', async () => {
    const error = await reader.read({ index: 'gapipe-aggregates-x', topic: TOPIC }).catch((e) => e);
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(
      `Index 'gapipe-aggregates-x' does not exist on ${url}: no aggregates were written yet`,
    );
    expect(error.nextSteps).toContain('gapipe consume');
  });

  it('an unreachable Elasticsearch is ELASTICSEARCH_UNREACHABLE, pointing at the lab and --es', async () => {
    const nowhere = new ElasticsearchAggregateReader('http://127.0.0.1:1', { requestTimeoutMs: 2000 });
    try {
      const error = await nowhere.read({ index: INDEX, topic: TOPIC }).catch((e) => e);
      expect(error.code).toBe('ELASTICSEARCH_UNREACHABLE');
      expect(error.message).toBe('Elasticsearch is not reachable at http://127.0.0.1:1');
      expect(error.nextSteps).toContain('gapipe lab up');
      expect(error.nextSteps).toContain('--es');
    } finally {
      await nowhere.close();
    }
  });

  it('verify over the reader matches a manifest of 10,001 cells', async () => {
    const { windows, docs } = manyCells(10_001);
    es.indices[INDEX] = docs;
    const result = await verify(
      { manifestPath: writeManifest(manifestOf(windows)), index: INDEX, waitMs: 0 },
      { reader },
    );
    expect(result.ok).toBe(true);
    expect(result.cells.matching).toBe(10_001);
  });
});

// --- the command, as a user runs it ------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gapipe(...args: string[]): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GAPIPE_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bin/dev.js', ...args],
      { cwd: ROOT, env: { ...env, CI: 'true', FORCE_COLOR: '0' }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr: stripVTControlCharacters(stderr) });
      },
    );
  });
}

describe('gapipe verify (child process, CI=true)', { timeout: 120_000 }, () => {
  // One stand-in for the whole block: its tests run concurrently and only read.
  // The second index as the Spark job writes it: no duplicates, late counts or final on any document.
  const SPARK_INDEX = 'spark-aggregates';
  const sparkDocs = CORRECT_DOCS.map((doc) => {
    const { duplicates: _d, late_events: _l, late_revenue_cents: _r, final: _f, ...rest } = doc;
    return rest as AggregateDoc;
  });
  const es = new FakeElasticsearch({ [INDEX]: CORRECT_DOCS, [SPARK_INDEX]: sparkDocs });
  let url: string;

  beforeAll(async () => {
    url = await es.start();
    return () => es.stop();
  });

  it('without --manifest exits 2 with a flag error saying how to get one', async () => {
    const { code, stdout, stderr } = await gapipe('verify');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('Invalid flag: --manifest is required');
    expect(stderr).toContain('gapipe simulate --sink kafka --manifest');
  });

  it('combines several --manifest flags as the shards of one run, and refuses ones that are not', async () => {
    const shard = (index: number) =>
      writeManifest(
        manifestOf(index === 0 ? WINDOWS.slice(0, 2) : WINDOWS.slice(2), {
          runId: 'r1',
          topic: TOPIC,
          shard: { index, count: 2 },
        }),
      );
    const [first, second] = [shard(0), shard(1)];
    const ok = await gapipe('verify', '--manifest', first, '--manifest', second, '--es', url, '--json');
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, manifests: [first, second] });
    const twice = await gapipe('verify', '--manifest', first, '--manifest', first, '--es', url);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain(`not the shards of one run: ${first} and ${first} are both shard 0/2`);
  });

  it('a bad --wait exits 2 naming the flag, the form and the value', async () => {
    const { code, stderr } = await gapipe('verify', '--manifest', 'x.json', '--wait', 'soon');
    expect(code).toBe(2);
    expect(stderr).toContain("--wait must be a duration from 0s to 24h like 30s or 2m, got 'soon'");
  });

  it('matching aggregates: the summary on stdout, exit 0', async () => {
    const path = writeManifest(manifestOf(WINDOWS));
    const { code, stdout, stderr } = await gapipe('verify', '--manifest', path, '--es', url);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`Compared 6 documents of topic ${TOPIC} in ${INDEX} with ${path}`);
    expect(stdout.trimEnd().split('\n').pop()).toBe('✔ 3 cells match the manifest');
  });

  it('differences: the table, the verdict and exit 1; with --json the result is still printed', async () => {
    const path = writeManifest(manifestOf([...WINDOWS, win(5)]));
    const text = await gapipe('verify', '--manifest', path, '--es', url);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^window\s+region\s+type\s+field\s+expected\s+actual\s+kind$/m);
    expect(text.stdout).toContain('✘ 1 of 4 cells differs (1 missing)');

    const json = await gapipe('verify', '--manifest', path, '--es', url, '--json');
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({
      ok: false,
      topic: TOPIC,
      index: INDEX,
      cells: { missing: 1, compared: 4 },
    });
    expect(result.differences[0]).toMatchObject({ field: 'events', kind: 'missing', expected: 4, actual: 0 });
  });

  it('an engine without the optional fields: duplicates not compared, said once, exit 0', async () => {
    const path = writeManifest(manifestOf(WINDOWS.map((w) => ({ ...w, duplicates: 3 }))));
    const text = await gapipe('verify', '--manifest', path, '--es', url, '--index', SPARK_INDEX);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('✔ 3 cells match the manifest');
    expect(text.stdout.split('the engine does not report duplicates: not compared')).toHaveLength(2);
    expect(text.stdout).toContain('the engine does not mark documents final');
    expect(text.stdout).not.toMatch(/✘|differs|differences/);

    const json = await gapipe('verify', '--manifest', path, '--es', url, '--index', SPARK_INDEX, '--json');
    expect(json.code).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ ok: true, differences: [], notFinal: 6 });
    expect(result.omittedFields).toEqual(['duplicates', 'late_events', 'final']);
    expect(result.notes).toContain('the engine does not report duplicates: not compared');

    // The same manifest against documents that do report duplicates: a difference per cell.
    const full = await gapipe('verify', '--manifest', path, '--es', url);
    expect(full.code).toBe(1);
    expect(full.stdout).not.toContain('note:');
  });

  it('an unreachable Elasticsearch exits 5 and says to start the lab or pass --es', async () => {
    const path = writeManifest(manifestOf(WINDOWS));
    const { code, stderr } = await gapipe('verify', '--manifest', path, '--es', 'http://127.0.0.1:1');
    expect(code).toBe(5);
    expect(stderr).toContain('Elasticsearch is not reachable at http://127.0.0.1:1');
    expect(stderr).toMatch(/^→ .*gapipe lab up.*--es/m);
  });
});
