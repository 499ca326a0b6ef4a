/**
 * Provisions gapipe's Kibana data views, Lens visualizations and dashboard through the Saved Objects
 * API. Idempotent: the dashboard carries a short hash of the saved-objects file, so a second
 * `gapipe lab up` with the same file and all objects still present makes no import at all.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describeCause, GapipeError } from '../../errors.js';
import { type Logger, silentLogger } from '../../log.js';

/** The same relative path works from src/lab/provision/ and from dist/lab/provision/. */
export const DEFAULT_SAVED_OBJECTS_PATH = fileURLToPath(
  new URL('../../../templates/kibana/saved-objects.ndjson', import.meta.url),
);
export const DEFAULT_KIBANA_TIMEOUT_MS = 30_000;
/** Characters of the file's sha256 kept in the dashboard's marker; 48 bits are plenty to notice a change. */
export const HASH_MARKER_LENGTH = 12;

const IMPORT_FILENAME = 'gapipe.ndjson';
const MARKER_PATTERN = /\s*\[gapipe:[0-9a-f]+\]\s*$/;

export interface KibanaProvisionOptions {
  /** Kibana's base URL, e.g. http://localhost:5601. */
  kibanaUrl: string;
  /** NDJSON export to import; defaults to the templates/kibana/saved-objects.ndjson shipped with gapipe. */
  savedObjectsPath?: string;
  logger?: Logger;
  fetchImpl?: typeof fetch;
  /** Budget for each single HTTP request (headers and body). */
  timeoutMs?: number;
}

export interface KibanaProvisionResult {
  status: 'imported' | 'unchanged';
  objects: Array<{ type: string; id: string }>;
}

export interface SavedObjectReference {
  name: string;
  type: string;
  id: string;
}

/** One line of a Saved Objects export. Fields other than these are passed through untouched. */
export interface KibanaSavedObject {
  type: string;
  id: string;
  attributes: Record<string, unknown>;
  references?: SavedObjectReference[];
  [key: string]: unknown;
}

/** Parses the saved-objects NDJSON file (default: the one shipped in templates/kibana/). */
export async function loadSavedObjects(
  path: string = DEFAULT_SAVED_OBJECTS_PATH,
): Promise<KibanaSavedObject[]> {
  return (await readSavedObjectsFile(path)).objects;
}

/** The marker the dashboard's description ends with once gapipe has imported a file with this hash. */
export function hashMarker(fileSha256: string): string {
  return `[gapipe:${fileSha256.slice(0, HASH_MARKER_LENGTH)}]`;
}

/** Makes sure Kibana holds the saved objects of the file, importing them only when something differs. */
export async function provisionKibana(options: KibanaProvisionOptions): Promise<KibanaProvisionResult> {
  const logger = options.logger ?? silentLogger;
  const path = options.savedObjectsPath ?? DEFAULT_SAVED_OBJECTS_PATH;
  const client = new KibanaClient(
    normalizeBaseUrl(options.kibanaUrl),
    options.fetchImpl ?? fetch,
    options.timeoutMs ?? DEFAULT_KIBANA_TIMEOUT_MS,
  );

  const file = await readSavedObjectsFile(path);
  const dashboard = file.objects.find((object) => object.type === 'dashboard');
  if (dashboard === undefined) {
    throw new GapipeError('PROVISIONING_FAILED', `${path} contains no dashboard saved object`, {
      nextSteps:
        'Restore templates/kibana/saved-objects.ndjson from the gapipe package, or pass a file with a dashboard.',
    });
  }
  const marker = hashMarker(file.sha256);
  const objects = file.objects.map(({ type, id }) => ({ type, id }));

  if (await isUpToDate(client, dashboard, marker, file.objects, logger)) {
    logger.info(`Kibana saved objects are up to date at ${client.baseUrl} (${marker})`);
    return { status: 'unchanged', objects };
  }

  const ndjson = file.objects
    .map((object) => JSON.stringify(object === dashboard ? withMarker(object, marker) : object))
    .join('\n');
  logger.info(`Importing ${objects.length} Kibana saved objects into ${client.baseUrl} ${marker}`);
  await importSavedObjects(client, ndjson, objects.length);
  return { status: 'imported', objects };
}

interface SavedObjectsFile {
  objects: KibanaSavedObject[];
  sha256: string;
}

async function readSavedObjectsFile(path: string): Promise<SavedObjectsFile> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (error) {
    throw new GapipeError('PROVISIONING_FAILED', `Cannot read the Kibana saved objects file ${path}`, {
      cause: error,
      nextSteps: 'Check that the file exists and is readable (the default ships in templates/kibana/).',
    });
  }
  return {
    objects: parseSavedObjects(content.toString('utf8'), path),
    sha256: createHash('sha256').update(content).digest('hex'),
  };
}

function parseSavedObjects(text: string, path: string): KibanaSavedObject[] {
  const objects: KibanaSavedObject[] = [];
  const lines = text.split('\n');
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (line === '') continue;
    const where = `${path}:${index + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new GapipeError('PROVISIONING_FAILED', `${where} is not valid JSON`, {
        cause: error,
        nextSteps: 'Fix that line: the file must hold one saved object as JSON per line (NDJSON).',
      });
    }
    if (!isSavedObject(parsed)) {
      throw new GapipeError(
        'PROVISIONING_FAILED',
        `${where} is not a saved object (needs type, id and attributes)`,
        {
          nextSteps: 'Fix that line: every line must be a saved object as written by the Kibana export API.',
        },
      );
    }
    objects.push(parsed);
  }
  if (objects.length === 0) {
    throw new GapipeError('PROVISIONING_FAILED', `${path} contains no saved objects`, {
      nextSteps: 'Restore templates/kibana/saved-objects.ndjson from the gapipe package.',
    });
  }
  return objects;
}

function isSavedObject(value: unknown): value is KibanaSavedObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.type === 'string' &&
    candidate.type !== '' &&
    typeof candidate.id === 'string' &&
    candidate.id !== '' &&
    typeof candidate.attributes === 'object' &&
    candidate.attributes !== null &&
    (candidate.references === undefined || Array.isArray(candidate.references))
  );
}

/** The marker goes at the end of the description: visible to a curious user, harmless to Kibana. */
function withMarker(dashboard: KibanaSavedObject, marker: string): KibanaSavedObject {
  const description =
    typeof dashboard.attributes.description === 'string' ? dashboard.attributes.description : '';
  const base = description.replace(MARKER_PATTERN, '');
  return {
    ...dashboard,
    attributes: { ...dashboard.attributes, description: base === '' ? marker : `${base} ${marker}` },
  };
}

async function isUpToDate(
  client: KibanaClient,
  dashboard: KibanaSavedObject,
  marker: string,
  objects: KibanaSavedObject[],
  logger: Logger,
): Promise<boolean> {
  const current = await client.send('GET', savedObjectPath(dashboard));
  if (current.status === 404) {
    logger.debug(`Kibana has no ${dashboard.type}/${dashboard.id} yet`);
    return false;
  }
  if (current.status !== 200) {
    // Not conclusive; the import that follows reports the real problem if there is one.
    logger.debug(`GET ${dashboard.type}/${dashboard.id} answered HTTP ${current.status}; importing`);
    return false;
  }
  const description = readDescription(current.body);
  if (description === undefined || !description.endsWith(marker)) {
    logger.debug(`${dashboard.type}/${dashboard.id} does not carry ${marker}; importing`);
    return false;
  }

  const others = objects.filter((object) => object !== dashboard).map(({ type, id }) => ({ type, id }));
  if (others.length === 0) return true;
  const bulk = await client.send('POST', '/api/saved_objects/_bulk_get', {
    body: JSON.stringify(others),
    contentType: 'application/json',
  });
  if (bulk.status !== 200) {
    logger.debug(`_bulk_get answered HTTP ${bulk.status}; importing`);
    return false;
  }
  const missing = missingObjects(bulk.body, others);
  if (missing.length > 0) {
    logger.debug(`Missing in Kibana: ${missing.join(', ')}; importing`);
    return false;
  }
  return true;
}

function savedObjectPath(object: { type: string; id: string }): string {
  return `/api/saved_objects/${encodeURIComponent(object.type)}/${encodeURIComponent(object.id)}`;
}

function readDescription(body: string): string | undefined {
  const parsed = parseJson(body);
  if (!isRecord(parsed) || !isRecord(parsed.attributes)) return undefined;
  const description = parsed.attributes.description;
  return typeof description === 'string' ? description : undefined;
}

/** type/id of every wanted object that _bulk_get did not return intact. */
function missingObjects(body: string, wanted: Array<{ type: string; id: string }>): string[] {
  const parsed = parseJson(body);
  const found = new Set<string>();
  if (isRecord(parsed) && Array.isArray(parsed.saved_objects)) {
    for (const entry of parsed.saved_objects) {
      if (!isRecord(entry) || entry.error !== undefined) continue;
      if (typeof entry.type === 'string' && typeof entry.id === 'string')
        found.add(`${entry.type}/${entry.id}`);
    }
  }
  return wanted.map(({ type, id }) => `${type}/${id}`).filter((key) => !found.has(key));
}

async function importSavedObjects(client: KibanaClient, ndjson: string, expected: number): Promise<void> {
  const form = new FormData();
  form.append('file', new Blob([ndjson], { type: 'application/ndjson' }), IMPORT_FILENAME);
  const response = await client.send('POST', '/api/saved_objects/_import?overwrite=true', { body: form });

  if (response.status !== 200) {
    throw new GapipeError(
      'PROVISIONING_FAILED',
      `Kibana at ${client.baseUrl} refused the saved objects import: HTTP ${response.status}`,
      { details: bodyExcerpt(response.body), nextSteps: nextStepsForStatus(response.status) },
    );
  }
  const parsed = parseJson(response.body);
  if (!isRecord(parsed) || typeof parsed.success !== 'boolean') {
    throw new GapipeError(
      'PROVISIONING_FAILED',
      `Kibana at ${client.baseUrl} answered the saved objects import with something that is not an import result`,
      {
        details: bodyExcerpt(response.body),
        nextSteps: 'Check that the URL points at Kibana 8.x (not Elasticsearch or a proxy page).',
      },
    );
  }
  const errors = Array.isArray(parsed.errors) ? parsed.errors : [];
  if (!parsed.success || errors.length > 0) {
    const failures = errors.map(describeImportFailure);
    const names = failures.map((failure) => failure.name).join(', ');
    throw new GapipeError(
      'PROVISIONING_FAILED',
      `Kibana rejected ${failures.length} of ${expected} saved objects${names === '' ? '' : `: ${names}`}`,
      {
        details:
          failures.length > 0
            ? failures.map((failure) => `${failure.name}: ${failure.reason}`)
            : bodyExcerpt(response.body),
        nextSteps:
          'Check the listed objects in templates/kibana/saved-objects.ndjson against your Kibana version (gapipe targets 8.19).',
      },
    );
  }
}

/** Which object failed (`type/id`) and why, for one entry of the import API's `errors` array. */
function describeImportFailure(entry: unknown): { name: string; reason: string } {
  if (!isRecord(entry)) return { name: 'unknown object', reason: JSON.stringify(entry) };
  const name = `${String(entry.type ?? '?')}/${String(entry.id ?? '?')}`;
  return { name, reason: importFailureReason(entry) };
}

function importFailureReason(entry: Record<string, unknown>): string {
  const error = isRecord(entry.error) ? entry.error : {};
  const kind = typeof error.type === 'string' ? error.type : 'unknown';
  switch (kind) {
    case 'missing_references': {
      const references = Array.isArray(error.references) ? error.references : [];
      const list = references
        .filter(isRecord)
        .map((reference) => `${String(reference.type)}/${String(reference.id)}`)
        .join(', ');
      return `missing references ${list === '' ? '(none listed)' : list}`;
    }
    case 'conflict':
    case 'ambiguous_conflict':
      return `${kind.replace('_', ' ')} with an existing object`;
    case 'unsupported_type':
      return `type ${String(entry.type)} is not supported by this Kibana`;
    default: {
      const message = typeof error.message === 'string' ? error.message : JSON.stringify(error);
      const status = typeof error.statusCode === 'number' ? ` (HTTP ${error.statusCode})` : '';
      return `${message}${status}`;
    }
  }
}

function nextStepsForStatus(status: number): string {
  if (status === 401 || status === 403) {
    return 'Kibana requires credentials or denied the import; point gapipe at the lab Kibana, which runs without security.';
  }
  if (status === 503)
    return 'Kibana is still starting; wait until `gapipe lab status` shows it ready, then retry.';
  if (status === 413)
    return 'Raise Kibana savedObjects.maxImportPayloadBytes or shrink the saved objects file.';
  return 'Check the Kibana logs (`gapipe lab logs kibana`) and retry `gapipe lab up`.';
}

function bodyExcerpt(body: string): string[] {
  const trimmed = body.trim();
  if (trimmed === '') return [];
  return [trimmed.length > 500 ? `${trimmed.slice(0, 500)}…` : trimmed];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function normalizeBaseUrl(kibanaUrl: string): string {
  let url: URL;
  try {
    url = new URL(kibanaUrl);
  } catch (error) {
    throw new GapipeError('PROVISIONING_FAILED', `'${kibanaUrl}' is not a valid Kibana URL`, {
      cause: error,
      nextSteps: 'Use a URL like http://localhost:5601.',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GapipeError('PROVISIONING_FAILED', `'${kibanaUrl}' is not an http(s) URL`, {
      nextSteps: 'Use a URL like http://localhost:5601.',
    });
  }
  return url.toString().replace(/\/+$/, '');
}

interface KibanaResponse {
  status: number;
  body: string;
}

/** Every request carries kbn-xsrf and its own timeout; network failures become KIBANA_UNREACHABLE. */
class KibanaClient {
  constructor(
    readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch,
    private readonly timeoutMs: number,
  ) {}

  async send(
    method: 'GET' | 'POST',
    path: string,
    options: { body?: string | FormData; contentType?: string } = {},
  ): Promise<KibanaResponse> {
    const headers: Record<string, string> = { 'kbn-xsrf': 'true', accept: 'application/json' };
    // FormData bodies get their multipart content type (with boundary) from fetch itself.
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    const url = `${this.baseUrl}${path}`;
    try {
      const response = await this.fetchImpl(url, {
        method,
        headers,
        body: options.body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      const what = `${method} ${path.split('?')[0]}`;
      const message = timedOut
        ? `Kibana at ${this.baseUrl} did not answer ${what} within ${this.timeoutMs} ms`
        : `Kibana is not reachable at ${this.baseUrl} (${what}: ${describeCause(rootCause(error))})`;
      throw new GapipeError('KIBANA_UNREACHABLE', message, {
        cause: error,
        nextSteps: `Check that Kibana is running and ready at ${this.baseUrl} (\`gapipe lab status\`), or start the lab with \`gapipe lab up\`.`,
      });
    }
  }
}

/** undici wraps the interesting error (ECONNREFUSED, ENOTFOUND…) in a generic "fetch failed". */
function rootCause(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && current.cause !== undefined && current.message === 'fetch failed') {
    current = current.cause;
  }
  return current;
}
