import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import {
  DEFAULT_SAVED_OBJECTS_PATH,
  type KibanaSavedObject,
  loadSavedObjects,
  provisionKibana,
} from '../../src/lab/provision/kibana.js';
import { createRecordingLogger } from '../../src/log.js';

interface StoredObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references: unknown[];
}

interface ImportFailure {
  type: string;
  id: string;
  error: Record<string, unknown>;
}

/**
 * A stand-in for Kibana's Saved Objects API, strict where Kibana is strict: POSTs without kbn-xsrf
 * are refused, the import must be multipart/form-data with an .ndjson file in the `file` field, and
 * without overwrite=true existing objects conflict.
 */
class FakeKibana {
  readonly objects = new Map<string, StoredObject>();
  readonly requests: Array<{ method: string; path: string }> = [];
  /** Objects the next imports report as failed (and do not store). */
  failOnImport: ImportFailure[] = [];
  /** When set, requests are accepted but never answered. */
  hang = false;
  private readonly server: Server;

  constructor() {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        send(response, 500, { statusCode: 500, error: 'Internal Server Error', message: String(error) });
      });
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

  importRequests(): number {
    return this.requests.filter((request) => request.path.startsWith('/api/saved_objects/_import')).length;
  }

  get(type: string, id: string): StoredObject | undefined {
    return this.objects.get(`${type}/${id}`);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://kibana');
    this.requests.push({ method: request.method ?? '', path: `${url.pathname}${url.search}` });
    if (this.hang) return;
    const body = await readBody(request);

    if (request.method !== 'GET' && request.headers['kbn-xsrf'] === undefined) {
      return send(response, 400, {
        statusCode: 400,
        error: 'Bad Request',
        message: 'Request must contain a kbn-xsrf header.',
      });
    }

    if (request.method === 'POST' && url.pathname === '/api/saved_objects/_import') {
      return this.import(request, body, url.searchParams.get('overwrite') === 'true', response);
    }
    if (request.method === 'POST' && url.pathname === '/api/saved_objects/_bulk_get') {
      const wanted = JSON.parse(body.toString('utf8')) as Array<{ type: string; id: string }>;
      return send(response, 200, {
        saved_objects: wanted.map(({ type, id }) => {
          const stored = this.get(type, id);
          return (
            stored ?? {
              type,
              id,
              error: {
                statusCode: 404,
                error: 'Not Found',
                message: `Saved object [${type}/${id}] not found`,
              },
            }
          );
        }),
      });
    }
    const single = /^\/api\/saved_objects\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (request.method === 'GET' && single !== null) {
      const type = decodeURIComponent(single[1] ?? '');
      const id = decodeURIComponent(single[2] ?? '');
      const stored = this.get(type, id);
      if (stored === undefined) {
        return send(response, 404, {
          statusCode: 404,
          error: 'Not Found',
          message: `Saved object [${type}/${id}] not found`,
        });
      }
      return send(response, 200, stored);
    }
    send(response, 404, { statusCode: 404, error: 'Not Found', message: 'Not Found' });
  }

  private import(request: IncomingMessage, body: Buffer, overwrite: boolean, response: ServerResponse): void {
    const file = parseMultipart(request.headers['content-type'] ?? '', body).find(
      (part) => part.name === 'file',
    );
    if (file === undefined || !file.filename?.endsWith('.ndjson')) {
      send(response, 400, {
        statusCode: 400,
        error: 'Bad Request',
        message: 'Expected a multipart field "file" holding an .ndjson file',
      });
      return;
    }
    const lines = file.content
      .toString('utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');
    const successResults: Array<{ type: string; id: string }> = [];
    const errors: ImportFailure[] = [];
    for (const line of lines) {
      const object = JSON.parse(line) as StoredObject;
      const failure = this.failOnImport.find(({ type, id }) => type === object.type && id === object.id);
      if (failure !== undefined) {
        errors.push(failure);
      } else if (!overwrite && this.get(object.type, object.id) !== undefined) {
        errors.push({ type: object.type, id: object.id, error: { type: 'conflict' } });
      } else {
        this.objects.set(`${object.type}/${object.id}`, {
          type: object.type,
          id: object.id,
          attributes: object.attributes,
          references: object.references ?? [],
        });
        successResults.push({ type: object.type, id: object.id });
      }
    }
    send(response, 200, {
      success: errors.length === 0,
      successCount: successResults.length,
      successResults,
      ...(errors.length > 0 ? { errors } : {}),
    });
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Enough of RFC 7578 for what fetch's FormData sends. */
function parseMultipart(
  contentType: string,
  body: Buffer,
): Array<{ name: string | undefined; filename: string | undefined; content: Buffer }> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!contentType.startsWith('multipart/form-data') || boundary === null) return [];
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  return body
    .toString('latin1')
    .split(delimiter)
    .slice(1, -1)
    .map((raw) => {
      const part = raw.replace(/^\r\n/, '').replace(/\r\n$/, '');
      const split = part.indexOf('\r\n\r\n');
      const headers = part.slice(0, split);
      return {
        name: /name="([^"]*)"/i.exec(headers)?.[1],
        filename: /filename="([^"]*)"/i.exec(headers)?.[1],
        content: Buffer.from(part.slice(split + 4), 'latin1'),
      };
    });
}

async function provisioningError(promise: Promise<unknown>): Promise<GapipeError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(GapipeError);
  return error as GapipeError;
}

describe('provisionKibana', () => {
  let kibana: FakeKibana;
  let kibanaUrl: string;
  let workDir: string;
  let savedObjectsPath: string;

  beforeEach(async () => {
    kibana = new FakeKibana();
    kibanaUrl = await kibana.start();
    workDir = await mkdtemp(join(tmpdir(), 'gapipe-kibana-'));
    savedObjectsPath = join(workDir, 'saved-objects.ndjson');
    await copyFile(DEFAULT_SAVED_OBJECTS_PATH, savedObjectsPath);
  });

  afterEach(async () => {
    await kibana.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('imports every object of the shipped file on first provisioning', async () => {
    const expected = (await loadSavedObjects()).map(({ type, id }) => ({ type, id }));

    const result = await provisionKibana({ kibanaUrl, logger: createRecordingLogger() });

    expect(result.status).toBe('imported');
    expect(result.objects).toEqual(expected);
    expect(kibana.importRequests()).toBe(1);
    expect([...kibana.objects.keys()].sort()).toEqual(expected.map(({ type, id }) => `${type}/${id}`).sort());
    expect(kibana.get('index-pattern', 'gapipe-aggregates')?.attributes.title).toBe('gapipe-aggregates*');
    expect(kibana.get('index-pattern', 'gapipe-events')?.attributes.timeFieldName).toBe('ts');
    expect(kibana.get('dashboard', 'gapipe-overview')?.attributes.description).toMatch(
      / \[gapipe:[0-9a-f]{12}\]$/,
    );
  });

  it('returns unchanged on a second run and sends no import', async () => {
    await provisionKibana({ kibanaUrl, savedObjectsPath });
    const logger = createRecordingLogger();

    const result = await provisionKibana({ kibanaUrl, savedObjectsPath, logger });

    expect(result.status).toBe('unchanged');
    expect(result.objects).toHaveLength(kibana.objects.size);
    expect(kibana.importRequests()).toBe(1);
    expect(kibana.requests.slice(-2).map(({ method, path }) => `${method} ${path}`)).toEqual([
      'GET /api/saved_objects/dashboard/gapipe-overview',
      'POST /api/saved_objects/_bulk_get',
    ]);
    expect(logger.lines.join('\n')).toContain('up to date');
  });

  it('re-imports when the file changed', async () => {
    await provisionKibana({ kibanaUrl, savedObjectsPath });
    const firstDescription = kibana.get('dashboard', 'gapipe-overview')?.attributes.description;
    const objects = await loadSavedObjects(savedObjectsPath);
    const changed = objects.map((object) =>
      object.id === 'gapipe-lens-live-event-count'
        ? { ...object, attributes: { ...object.attributes, title: 'Events right now' } }
        : object,
    );
    await writeFile(savedObjectsPath, `${changed.map((object) => JSON.stringify(object)).join('\n')}\n`);

    const result = await provisionKibana({ kibanaUrl, savedObjectsPath });

    expect(result.status).toBe('imported');
    expect(kibana.importRequests()).toBe(2);
    expect(kibana.get('lens', 'gapipe-lens-live-event-count')?.attributes.title).toBe('Events right now');
    const secondDescription = kibana.get('dashboard', 'gapipe-overview')?.attributes.description;
    expect(secondDescription).toMatch(/ \[gapipe:[0-9a-f]{12}\]$/);
    expect(secondDescription).not.toBe(firstDescription);
  });

  it('re-imports when an object was deleted in Kibana even though the dashboard is current', async () => {
    await provisionKibana({ kibanaUrl, savedObjectsPath });
    kibana.objects.delete('index-pattern/gapipe-events');

    const result = await provisionKibana({ kibanaUrl, savedObjectsPath });

    expect(result.status).toBe('imported');
    expect(kibana.importRequests()).toBe(2);
    expect(kibana.get('index-pattern', 'gapipe-events')).toBeDefined();
  });

  it('throws PROVISIONING_FAILED naming each object the import rejected', async () => {
    kibana.failOnImport = [
      {
        type: 'lens',
        id: 'gapipe-lens-revenue-per-region',
        error: { type: 'unknown', message: 'Unable to migrate lens state', statusCode: 500 },
      },
      {
        type: 'dashboard',
        id: 'gapipe-overview',
        error: {
          type: 'missing_references',
          references: [{ type: 'lens', id: 'gapipe-lens-revenue-per-region' }],
        },
      },
    ];

    const error = await provisioningError(provisionKibana({ kibanaUrl, savedObjectsPath }));

    expect(error.code).toBe('PROVISIONING_FAILED');
    expect(error.message).toContain('lens/gapipe-lens-revenue-per-region');
    expect(error.message).toContain('dashboard/gapipe-overview');
    expect(error.details).toEqual([
      'lens/gapipe-lens-revenue-per-region: Unable to migrate lens state (HTTP 500)',
      'dashboard/gapipe-overview: missing references lens/gapipe-lens-revenue-per-region',
    ]);
    expect(error.nextSteps).toBeTruthy();
  });

  it('throws PROVISIONING_FAILED when Kibana refuses the import request itself', async () => {
    const fetchWithoutXsrf: typeof fetch = (input, init) => {
      const headers = { ...(init?.headers as Record<string, string>) };
      delete headers['kbn-xsrf'];
      return fetch(input, { ...init, headers });
    };

    const error = await provisioningError(
      provisionKibana({ kibanaUrl, savedObjectsPath, fetchImpl: fetchWithoutXsrf }),
    );

    expect(error.code).toBe('PROVISIONING_FAILED');
    expect(error.message).toContain('HTTP 400');
    expect(error.details.join('\n')).toContain('kbn-xsrf');
  });

  it('throws KIBANA_UNREACHABLE naming the URL when nothing listens there', async () => {
    const closed = new FakeKibana();
    const closedUrl = await closed.start();
    await closed.stop();

    const error = await provisioningError(provisionKibana({ kibanaUrl: closedUrl, savedObjectsPath }));

    expect(error.code).toBe('KIBANA_UNREACHABLE');
    expect(error.message).toContain(closedUrl);
    expect(error.nextSteps).toContain(closedUrl);
  });

  it('throws KIBANA_UNREACHABLE when Kibana does not answer within the timeout', async () => {
    kibana.hang = true;

    const error = await provisioningError(provisionKibana({ kibanaUrl, savedObjectsPath, timeoutMs: 200 }));

    expect(error.code).toBe('KIBANA_UNREACHABLE');
    expect(error.message).toContain('within 200 ms');
  });
});

describe('loadSavedObjects', () => {
  it('parses the shipped file into typed objects', async () => {
    const objects: KibanaSavedObject[] = await loadSavedObjects();

    expect(objects.map(({ type, id }) => `${type}/${id}`)).toEqual(
      expect.arrayContaining([
        'index-pattern/gapipe-aggregates',
        'index-pattern/gapipe-events',
        'dashboard/gapipe-overview',
      ]),
    );
    expect(objects.filter(({ type }) => type === 'lens').length).toBeGreaterThanOrEqual(3);
  });

  it('names the file and line of a malformed object', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gapipe-kibana-'));
    try {
      const path = join(dir, 'broken.ndjson');
      const good = (await readFile(DEFAULT_SAVED_OBJECTS_PATH, 'utf8')).split('\n')[0];
      await writeFile(path, `${good}\n{"type":"lens"\n`);

      const error = await provisioningError(loadSavedObjects(path));

      expect(error.code).toBe('PROVISIONING_FAILED');
      expect(error.message).toContain(`${path}:2`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
