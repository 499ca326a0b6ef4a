/**
 * `gapipe verify` as a service: load the ground-truth manifest (or the manifests of a sharded run's
 * shards, combined: ./manifests.ts), read the topic's 1-minute tumbling aggregates, compare them
 * (rules in ./compare.ts), and optionally keep re-reading once a second until they match or the
 * wait budget is spent (a consumer may still be catching up). Windows the caller names in
 * `ignoreWindowStarts` are left out of everything: documents, manifest cells and other-run evidence.
 */
import { readFile } from 'node:fs/promises';
import { type Clock, systemClock } from '../clock.js';
import { describeCause, GapipeError } from '../errors.js';
import type { AggregateDoc } from '../pipeline/types.js';
import {
  type GroundTruthManifest,
  MANIFEST_FORMAT,
  type ManifestWindow,
  type ProducerFailedTotals,
  WINDOW_MS,
} from '../simulators/manifest.js';
import {
  type AggregateComparison,
  compareAggregates,
  findOtherRuns,
  normaliseWindowStart,
  type OptionalDocField,
  type OtherRunDocs,
  type ProducerFailedCell,
  type VerifyCellCounts,
  type VerifyDifference,
  type VerifyTotals,
} from './compare.js';
import { combineShardManifests } from './manifests.js';
import type { AggregateReader } from './reader.js';

export interface VerifyOptions {
  /**
   * The ground-truth file written by `gapipe simulate --manifest`, or the files of every shard of a
   * `--shard I/N` run (combined into one).
   */
  manifestPath: string | readonly string[];
  index: string;
  /** The topic whose aggregates are compared; default the manifest's run.topic. */
  topic?: string | undefined;
  /** Keep re-reading for up to this long while there are differences; 0 reads once. */
  waitMs: number;
  /** Between two reads while waiting; default 1s. */
  intervalMs?: number | undefined;
  /**
   * Windows to leave out entirely, by window_start as documents carry it (ISO-8601; normalised like
   * documents, so any spelling of the instant works): their documents are neither compared nor counted
   * as unexpected, and manifest cells of them are not expected. For `gapipe bench`, whose readiness
   * probe writes records into a window of its own before the load; not a `gapipe verify` flag.
   */
  ignoreWindowStarts?: readonly string[] | undefined;
}

/** One read-and-compare, reported while waiting. */
export interface VerifyAttempt {
  attempt: number;
  elapsedMs: number;
  /** Wait budget left; 0 on the last attempt. */
  remainingMs: number;
  /** True for the attempt whose result is returned. */
  last: boolean;
  comparison: AggregateComparison;
}

export interface VerifyDependencies {
  reader: AggregateReader;
  clock?: Clock | undefined;
  onAttempt?: ((attempt: VerifyAttempt) => void) | undefined;
}

export interface VerifyResult {
  /** True when no cell differs. */
  ok: boolean;
  index: string;
  topic: string;
  /** Path of the manifest (the paths, comma separated, of a sharded run's manifests). */
  manifest: string;
  manifests?: string[];
  /** Documents compared. */
  docs: number;
  cells: VerifyCellCounts;
  totals: VerifyTotals;
  /** Documents not yet final (informational, never a difference). */
  notFinal: number;
  differences: VerifyDifference[];
  /**
   * Optional document fields (`duplicates`, `late_events`, `final`) that no compared document carries:
   * the engine does not report them, and verify compared without them (see `notes`).
   */
  omittedFields?: OptionalDocField[];
  /** One line per omitted field saying what verify did instead, e.g. "the engine does not report duplicates: not compared". */
  notes?: string[];
  /** Documents left out because their window is in `ignoreWindowStarts` (present when that option is given). */
  ignoredDocs?: number;
  /** Records the producer gave up on, by kind (from the manifest): the producer's failures, not the pipeline's. */
  producerFailed?: ProducerFailedTotals;
  /** The cells those records belonged to, with how many each. */
  producerFailures?: ProducerFailedCell[];
  /**
   * Documents of the topic that another run wrote (another run id, or windows outside the
   * manifest's): present when there are any, and then the likely reason for differences.
   */
  otherRuns?: OtherRunDocs;
  /** Reads made (1 without --wait). */
  attempts: number;
  /** From the first read to the start of the last one (0 without --wait). */
  waitedMs: number;
}

export const DEFAULT_VERIFY_INTERVAL_MS = 1000;

const writeOne = (path: string) => `Write one with \`gapipe simulate --sink kafka --manifest ${path}\``;

/** Reads and checks a ground-truth manifest; every problem is an INVALID_FLAG naming the file. */
export async function loadManifest(path: string): Promise<GroundTruthManifest> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${describeCause(error)})`;
    throw new GapipeError('INVALID_FLAG', `--manifest ${path} ${what}`, {
      cause: error,
      nextSteps: writeOne(path),
    });
  }
  return parseManifest(text, path);
}

/** Parses manifest text; `path` names the file in error messages. */
export function parseManifest(text: string, path: string): GroundTruthManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GapipeError('INVALID_FLAG', `--manifest ${path} is not JSON (${describeCause(error)})`, {
      cause: error,
      nextSteps: writeOne(path),
    });
  }
  const invalid = (problem: string) =>
    new GapipeError('INVALID_FLAG', `--manifest ${path} is not a ${MANIFEST_FORMAT} manifest: ${problem}`, {
      nextSteps: writeOne(path),
    });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('not a JSON object');
  const manifest = value as Partial<GroundTruthManifest>;
  if (manifest.format !== MANIFEST_FORMAT) {
    throw invalid(`format is ${JSON.stringify(manifest.format ?? null)}, expected "${MANIFEST_FORMAT}"`);
  }
  if (manifest.windowMs !== WINDOW_MS) {
    throw invalid(`windowMs is ${String(manifest.windowMs)}; verify only supports 1-minute (60000) windows`);
  }
  if (!Array.isArray(manifest.windows)) throw invalid('"windows" is not a list');
  manifest.windows.forEach((window, i) => {
    const problem = windowProblem(window);
    if (problem) throw invalid(`windows[${i}] ${problem}`);
  });
  if (typeof manifest.run !== 'object' || manifest.run === null) throw invalid('"run" is not an object');
  return manifest as GroundTruthManifest;
}

const WINDOW_COUNTS = ['events', 'unique_players', 'revenue_cents', 'late_events', 'duplicates'] as const;
/** Counts a window may leave out (older manifests, or none to report). */
const OPTIONAL_WINDOW_COUNTS = ['producer_failed'] as const;

function windowProblem(window: unknown): string | undefined {
  if (typeof window !== 'object' || window === null) return 'is not an object';
  const w = window as Partial<Record<keyof ManifestWindow, unknown>>;
  if (typeof w.window_start !== 'string' || Number.isNaN(Date.parse(w.window_start))) {
    return `has no ISO-8601 window_start (got ${JSON.stringify(w.window_start ?? null)})`;
  }
  for (const field of ['region', 'event_type'] as const) {
    if (typeof w[field] !== 'string' || w[field] === '') return `has no ${field}`;
  }
  for (const field of [...WINDOW_COUNTS, ...OPTIONAL_WINDOW_COUNTS]) {
    const n = w[field];
    if (n === undefined && (OPTIONAL_WINDOW_COUNTS as readonly string[]).includes(field)) continue;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      return `${field} must be a whole number ≥ 0 (got ${JSON.stringify(n ?? null)})`;
    }
  }
  return undefined;
}

/** The topic to verify: the flag, else the manifest's run.topic. */
export function resolveTopic(manifest: GroundTruthManifest, path: string, topic?: string): string {
  if (topic !== undefined && topic !== '') return topic;
  const fromRun = manifest.run.topic;
  if (typeof fromRun === 'string' && fromRun !== '') return fromRun;
  throw new GapipeError(
    'INVALID_FLAG',
    `--manifest ${path} names no Kafka topic (the run did not use --sink kafka), so the aggregates to compare are unknown`,
    { nextSteps: 'Pass --topic with the topic the consumer read, e.g. --topic game-events' },
  );
}

/** Loads the manifests of `paths` and, when there are several, combines the shards into one. */
export async function loadManifests(paths: readonly string[]): Promise<GroundTruthManifest> {
  const manifests = await Promise.all(paths.map((path) => loadManifest(path)));
  return combineShardManifests(manifests, paths);
}

/** Loads the manifest(s), then reads and compares until it matches or `waitMs` is spent. */
export async function verify(options: VerifyOptions, deps: VerifyDependencies): Promise<VerifyResult> {
  const paths = typeof options.manifestPath === 'string' ? [options.manifestPath] : [...options.manifestPath];
  const manifest = await loadManifests(paths);
  const manifestLabel = paths.join(', ');
  const topic = resolveTopic(manifest, manifestLabel, options.topic);
  const clock = deps.clock ?? systemClock;
  const intervalMs = options.intervalMs ?? DEFAULT_VERIFY_INTERVAL_MS;
  const ignored = new Set((options.ignoreWindowStarts ?? []).map(normaliseWindowStart));
  const isIgnored = (windowStart: string) => ignored.has(normaliseWindowStart(windowStart));
  const windows = manifest.windows.filter((window) => !isIgnored(window.window_start));
  const started = clock.now();
  const deadline = started + options.waitMs;
  for (let attempt = 1; ; attempt++) {
    const readAt = clock.now();
    const read = await readMinuteWindows(deps.reader, options.index, topic);
    const docs = read.filter((doc) => !isIgnored(doc.window_start));
    const comparison = compareAggregates(windows, docs);
    const now = clock.now();
    const remainingMs = Math.max(0, deadline - now);
    const last = comparison.ok || remainingMs === 0;
    deps.onAttempt?.({
      attempt,
      elapsedMs: now - started,
      remainingMs: last ? 0 : remainingMs,
      last,
      comparison,
    });
    if (last) {
      const runId = typeof manifest.run.runId === 'string' ? manifest.run.runId : undefined;
      const otherRuns = findOtherRuns(runId, windows, docs);
      return {
        ok: comparison.ok,
        index: options.index,
        topic,
        manifest: manifestLabel,
        manifests: paths,
        docs: comparison.docs,
        cells: comparison.cells,
        totals: comparison.totals,
        notFinal: comparison.notFinal,
        differences: comparison.differences,
        omittedFields: comparison.omittedFields,
        notes: comparison.notes,
        ...(options.ignoreWindowStarts ? { ignoredDocs: read.length - docs.length } : {}),
        producerFailed: {
          records: 0,
          events: 0,
          duplicates: 0,
          malformed: 0,
          ...manifest.totals?.producerFailed,
        },
        producerFailures: comparison.producerFailures ?? [],
        ...(otherRuns ? { otherRuns } : {}),
        attempts: attempt,
        waitedMs: readAt - started,
      };
    }
    await clock.sleep(Math.min(intervalMs, remainingMs));
  }
}

/**
 * The topic's tumbling documents of the manifest's window size. When there are none but the index
 * holds other windows for the topic, comparing would only report every cell missing: say why instead.
 */
async function readMinuteWindows(
  reader: AggregateReader,
  index: string,
  topic: string,
): Promise<AggregateDoc[]> {
  const tumbling = await reader.read({ index, topic, windowKind: 'tumbling' });
  const minute = tumbling.filter((doc) => windowLengthMs(doc) === WINDOW_MS);
  if (minute.length > 0) return minute;
  const other = tumbling[0] ?? (await reader.read({ index, topic, limit: 1 }))[0];
  if (!other) return [];
  const length = windowLengthMs(other);
  const kind =
    other.window_kind === 'tumbling' && length !== undefined
      ? `tumbling windows of ${length / 1000}s`
      : `${other.window_kind} windows`;
  throw new GapipeError(
    'INVALID_FLAG',
    `Index '${index}' holds only ${kind} for topic '${topic}'; verify only supports 1-minute tumbling windows`,
    {
      nextSteps:
        'Verify an index written by a consumer with 1-minute tumbling windows (the default of `gapipe consume`), naming it with --index',
    },
  );
}

function windowLengthMs(doc: AggregateDoc): number | undefined {
  // An end the consumer did not write does not disqualify the document.
  if (doc.window_end === undefined) return WINDOW_MS;
  const length = new Date(doc.window_end).getTime() - new Date(doc.window_start).getTime();
  return Number.isNaN(length) ? undefined : length;
}
