/**
 * The files a bench run leaves behind, and reading them back:
 *
 * - `result.json`: the whole `BenchResult`, keys in the order of the type, so two results diff well;
 * - `<kind>.hgrm`: each latency kind's percentile distribution (HdrHistogram's text format, in ms);
 * - `junit.xml`: one test case per check of the run's verdict (the bench's own checks and each
 *   assertion), for CI; it renders the verdict and decides nothing itself;
 * - `report.html`: only when the caller passes the HTML (the report is built elsewhere).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GapipeError } from '../errors.js';
import { decodeHistogram, toHgrm } from './histograms.js';
import {
  type BenchResult,
  LATENCY_KINDS,
  type LatencyKind,
  RESULT_FORMAT,
  type VerdictCheck,
} from './types.js';

export const RESULT_FILE = 'result.json';
export const JUNIT_FILE = 'junit.xml';
export const HTML_FILE = 'report.html';

export interface ResultFiles {
  dir: string;
  json: string;
  hgrm: Record<LatencyKind, string>;
  junit: string;
  html?: string;
}

/** Writes the result files into `dir` (created if needed) and returns their paths. */
export async function writeResultFiles(
  dir: string,
  result: BenchResult,
  options: { html?: string } = {},
): Promise<ResultFiles> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, RESULT_FILE);
  await writeFile(json, serializeResult(result));

  const hgrm = {} as Record<LatencyKind, string>;
  for (const kind of LATENCY_KINDS) {
    const path = join(dir, `${kind}.hgrm`);
    let histogram: ReturnType<typeof decodeHistogram>;
    try {
      histogram = decodeHistogram(result.histograms[kind] ?? '');
    } catch (error) {
      throw new GapipeError('INTERNAL', `The ${kind} histogram of run ${result.runId} cannot be decoded`, {
        cause: error,
      });
    }
    await writeFile(path, toHgrm(histogram, kind));
    hgrm[kind] = path;
  }

  const junit = join(dir, JUNIT_FILE);
  await writeFile(junit, toJUnitXml(result));

  const files: ResultFiles = { dir, json, hgrm, junit };
  if (options.html !== undefined) {
    files.html = join(dir, HTML_FILE);
    await writeFile(files.html, options.html);
  }
  return files;
}

// --- result.json --------------------------------------------------------------------------------------

/**
 * The result as pretty JSON with keys in the order of the `BenchResult` type (whatever order the
 * objects were built in); keys the type does not list follow the known ones, so nothing is lost.
 */
export function serializeResult(result: BenchResult): string {
  return `${JSON.stringify(orderResult(result), null, 2)}\n`;
}

const SUMMARY_KEYS = [
  'status',
  'stopReason',
  'failures',
  'durationMs',
  'measuredMs',
  'targetRate',
  'achievedRate',
  'keptUp',
  'throughput',
  'totals',
  'maxLag',
  'latency',
  'correct',
  'verify',
  'assertions',
  'errors',
  'instrument',
  'verdict',
];
const VERDICT_KEYS = [
  'status',
  'exitCode',
  'limitedBy',
  'limit',
  'failures',
  'evidence',
  'warnings',
  'checks',
];
const INSTRUMENT_KEYS = [
  'sharedWithPipeline',
  'generatorThreads',
  'cpus',
  'measuredSeconds',
  'eluMean',
  'eluMax',
  'cpuCoresMean',
  'cpuCoresMax',
  'processCpuCoresMean',
  'maxScheduleLagMs',
  'maxScheduleLagAtS',
  'maxBacklog',
  'secondsBehind',
  'secondsSaturated',
  'pipelineEluMax',
];
const INSTRUMENT_POINT_KEYS = [
  'elu',
  'cpuCores',
  'processCpuCores',
  'scheduleLagMs',
  'backlog',
  'inFlight',
  'atInFlightLimit',
  'threads',
];
const LATENCY_SUMMARY_KEYS = ['count', 'minMs', 'meanMs', 'p50Ms', 'p90Ms', 'p99Ms', 'p999Ms', 'maxMs'];
const RATE_KEYS = ['produced', 'acknowledged', 'consumed', 'written'];
const TOTALS_KEYS = [
  'produced',
  'acknowledged',
  'failed',
  'consumed',
  'written',
  'late',
  'deadLettered',
  'duplicates',
];
const SERIES_KEYS = [
  't',
  'warmup',
  'targetRate',
  'produced',
  'acknowledged',
  'consumed',
  'written',
  'lag',
  'watermarkMs',
  'p99Ms',
  'errors',
  'instrument',
  'pipeline',
];

function orderResult(result: BenchResult): unknown {
  return ordered(result, {
    format: null,
    runId: null,
    startedAt: null,
    finishedAt: null,
    config: (config) =>
      ordered(config, {
        target: null,
        players: null,
        rate: null,
        targetRate: null,
        stages: null,
        scenario: null,
        durationMs: null,
        warmupMs: null,
        seed: null,
        consumers: null,
        topic: null,
        partitions: null,
        index: null,
        brokers: null,
        esUrl: null,
        assertions: null,
        extra: null,
      }),
    provenance: (provenance) =>
      ordered(provenance, {
        gapipeVersion: null,
        node: null,
        libraries: null,
        images: null,
        host: (host) =>
          ordered(host, keys(['platform', 'arch', 'cpuModel', 'cpus', 'memoryBytes', 'hostname'])),
        command: null,
      }),
    summary: (summary) =>
      ordered(summary, {
        ...keys(SUMMARY_KEYS),
        throughput: (t) => ordered(t, keys(RATE_KEYS)),
        totals: (t) => ordered(t, keys(TOTALS_KEYS)),
        latency: (latency) =>
          ordered(
            latency,
            Object.fromEntries(
              LATENCY_KINDS.map((kind) => [kind, (s: unknown) => ordered(s, keys(LATENCY_SUMMARY_KEYS))]),
            ),
          ),
        verify: (verify) =>
          ordered(verify, {
            ok: null,
            cellsCompared: null,
            cellsDiffering: null,
            differences: (list) =>
              mapArray(list, (d) =>
                ordered(d, keys(['window_start', 'region', 'event_type', 'field', 'expected', 'actual'])),
              ),
          }),
        assertions: (list) =>
          mapArray(list, (a) => ordered(a, keys(['expression', 'passed', 'actual', 'message']))),
        instrument: (i) => ordered(i, keys(INSTRUMENT_KEYS)),
        verdict: (v) =>
          ordered(v, {
            ...keys(VERDICT_KEYS),
            checks: (list) =>
              mapArray(list, (c) => ordered(c, keys(['name', 'group', 'outcome', 'message', 'detail']))),
          }),
      }),
    series: (list) =>
      mapArray(list, (point) =>
        ordered(point, {
          ...keys(SERIES_KEYS),
          p99Ms: (p) => ordered(p, keys([...LATENCY_KINDS])),
          instrument: (i) => ordered(i, keys(INSTRUMENT_POINT_KEYS)),
          pipeline: (p) => ordered(p, keys(['elu', 'cpuCores', 'processes'])),
        }),
      ),
    histograms: (h) => ordered(h, keys([...LATENCY_KINDS])),
  });
}

type Orderer = ((value: unknown) => unknown) | null;

function keys(names: readonly string[]): Record<string, Orderer> {
  return Object.fromEntries(names.map((name) => [name, null]));
}

/** A copy of `value` with `shape`'s keys first, in that order (ordering nested values), then the rest. */
function ordered(value: unknown, shape: Record<string, Orderer>): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, order] of Object.entries(shape)) {
    if (!(key in source)) continue;
    const child = source[key];
    out[key] = order && child !== null && child !== undefined ? order(child) : child;
  }
  for (const [key, child] of Object.entries(source)) if (!(key in out)) out[key] = child;
  return out;
}

function mapArray(value: unknown, order: (item: unknown) => unknown): unknown {
  return Array.isArray(value) ? value.map(order) : value;
}

// --- junit.xml --------------------------------------------------------------------------------------

/**
 * JUnit XML for CI: one suite "gapipe bench" with one test case per check of the run's verdict — the
 * bench's own checks (run completes, load keeps the schedule, records are acknowledged, results verify)
 * and one per assertion — so the failures here are exactly the verdict's. The suite's time is the
 * run's length in seconds; the test cases take no time of their own (they are checks of the finished
 * run). Who limited a failed run (instrument or pipeline) is a property, with its evidence in
 * system-out.
 */
export function toJUnitXml(result: BenchResult): string {
  const { summary, config } = result;
  const verdict = summary.verdict;
  const cases = verdict.checks;
  const failures = cases.filter((c) => c.outcome === 'failed').length;
  const skipped = cases.filter((c) => c.outcome === 'skipped').length;
  const seconds = formatSeconds(summary.durationMs);
  const suiteAttributes = attributes({
    name: 'gapipe bench',
    tests: cases.length,
    failures,
    errors: 0,
    skipped,
    time: seconds,
    timestamp: result.startedAt,
    hostname: result.provenance?.host?.hostname,
  });

  const properties: Array<[string, unknown]> = [
    ['runId', result.runId],
    ['target', config.target],
    ['seed', config.seed],
    ['rate', config.rate],
    ['targetRate', config.targetRate],
    ['players', config.players],
    ['consumers', config.consumers],
    ['durationMs', config.durationMs],
    ['warmupMs', config.warmupMs],
    ['status', verdict.status],
    ['stopReason', summary.stopReason],
    ['limitedBy', verdict.limitedBy],
    ['gapipeVersion', result.provenance?.gapipeVersion],
  ];

  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites ${attributes({ name: 'gapipe bench', tests: cases.length, failures, errors: 0, skipped, time: seconds })}>`,
    `  <testsuite ${suiteAttributes}>`,
    '    <properties>',
    ...properties
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([name, value]) => `      <property ${attributes({ name, value })}/>`),
    '    </properties>',
  ];
  for (const c of cases) {
    const open = `    <testcase ${attributes({ name: c.name, classname: classnameOf(c), time: '0' })}`;
    if (c.outcome === 'failed') {
      lines.push(`${open}>`);
      const detail = c.detail === undefined ? '' : escapeXml(c.detail);
      lines.push(
        `      <failure ${attributes({ message: c.message, type: 'AssertionError' })}>${detail}</failure>`,
      );
      lines.push('    </testcase>');
    } else if (c.outcome === 'skipped') {
      lines.push(`${open}>`);
      lines.push(`      <skipped ${attributes({ message: c.message })}/>`);
      lines.push('    </testcase>');
    } else {
      lines.push(`${open}/>`);
    }
  }
  const notes = [...(verdict.limit ? [verdict.limit, ...verdict.evidence] : []), ...verdict.warnings];
  if (notes.length > 0) lines.push(`    <system-out>${escapeXml(notes.join('\n'))}</system-out>`);
  if (summary.errors.length > 0) {
    lines.push(`    <system-err>${escapeXml(summary.errors.join('\n'))}</system-err>`);
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
}

function classnameOf(check: VerdictCheck): string {
  return check.group === 'assertion' ? 'gapipe.bench.assertions' : 'gapipe.bench';
}

function formatSeconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

function attributes(values: Record<string, unknown>): string {
  return Object.entries(values)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([name, value]) => `${name}="${escapeXml(String(value))}"`)
    .join(' ');
}

/**
 * Text safe inside XML attributes and elements: the five special characters escaped, characters XML
 * 1.0 cannot carry at all (most control characters, lone surrogates) dropped.
 */
export function escapeXml(text: string): string {
  return withoutForbiddenXmlCharacters(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function withoutForbiddenXmlCharacters(text: string): string {
  let out = '';
  // Iterating by code point: a lone surrogate comes out on its own, a valid pair as one character.
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const allowed =
      code === 0x9 ||
      code === 0xa ||
      code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      code >= 0x10000;
    if (allowed) out += char;
  }
  return out;
}

// --- reading a result back ------------------------------------------------------------------------------

/**
 * Reads a result.json (or the result.json inside a results directory) and checks it is a gapipe bench
 * result; an unreadable, non-JSON or foreign file is an INVALID_FLAG error naming the file.
 */
export async function readResult(path: string): Promise<BenchResult> {
  const nextSteps = 'Pass the result.json that `gapipe bench` wrote (or its results directory)';
  let text: string;
  let file = path;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') {
      file = join(path, RESULT_FILE);
      try {
        text = await readFile(file, 'utf8');
      } catch (inner) {
        throw new GapipeError('INVALID_FLAG', `Cannot read ${file}: ${describeReadError(inner)}`, {
          nextSteps,
          cause: inner,
        });
      }
    } else {
      throw new GapipeError('INVALID_FLAG', `Cannot read ${path}: ${describeReadError(error)}`, {
        nextSteps,
        cause: error,
      });
    }
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GapipeError(
      'INVALID_FLAG',
      `${file} is not a gapipe bench result: not JSON (${(error as Error).message})`,
      {
        nextSteps,
        cause: error,
      },
    );
  }
  const problem = describeShapeProblem(parsed);
  if (problem) {
    throw new GapipeError('INVALID_FLAG', `${file} is not a gapipe bench result: ${problem}`, { nextSteps });
  }
  return parsed as BenchResult;
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

/** Enough of a check that the rest of gapipe can rely on the shape; undefined when it looks right. */
function describeShapeProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (value.format !== RESULT_FORMAT) {
    return value.format === undefined
      ? `it has no "format" (expected "${RESULT_FORMAT}")`
      : `format is ${JSON.stringify(value.format)}, expected "${RESULT_FORMAT}"`;
  }
  for (const key of ['config', 'summary', 'histograms'] as const) {
    if (!isObject(value[key])) return `"${key}" is missing`;
  }
  const summary = value.summary as Record<string, unknown>;
  for (const key of ['throughput', 'totals', 'latency'] as const) {
    if (!isObject(summary[key])) return `"summary.${key}" is missing`;
  }
  const latency = summary.latency as Record<string, unknown>;
  for (const kind of LATENCY_KINDS) {
    if (!isObject(latency[kind])) return `"summary.latency.${kind}" is missing`;
  }
  if (!Array.isArray(value.series)) return '"series" is missing';
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
