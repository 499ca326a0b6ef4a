/**
 * `gapipe bench compare`: two bench results side by side, figure by figure, with a verdict per figure
 * and a regression gate. Runs that were set up differently are still compared but with warnings; a run
 * whose results did not verify fails the comparison (its figures mean nothing).
 */
import { invalidFlag } from '../errors.js';
import { type BenchResult, LATENCY_KINDS, type LatencySummary } from './types.js';

export const DEFAULT_MAX_REGRESSION_PCT = 10;

/** Below this relative change a figure counts as the same (rounding noise). */
const SAME_WITHIN_PCT = 0.05;

export interface ComparisonRow {
  /** "delivery.p99", "throughput", "produced", "written", "achieved", "lag.max". */
  name: string;
  /** The unit of `base` and `new`: ms, /s, % (of the target rate) or records. */
  unit: 'ms' | '/s' | '%' | 'records';
  better: 'lower' | 'higher';
  base: number;
  new: number;
  /** (new − base) / base in percent; null when base is 0 and new is not. */
  deltaPct: number | null;
  verdict: 'better' | 'worse' | 'same';
  /** Worse by more than the allowed regression. */
  regressed: boolean;
}

export interface ComparedRun {
  /** Where it was read from, when known. */
  source?: string;
  runId: string;
  startedAt: string;
  target: string;
  rate: string;
  status: 'passed' | 'failed';
  correct: boolean | null;
}

export interface Comparison {
  base: ComparedRun;
  new: ComparedRun;
  maxRegressionPct: number;
  rows: ComparisonRow[];
  /** The runs differ in setup, so differences may not mean much. Not failures. */
  warnings: string[];
  /** One line per figure that got worse by more than the threshold: "delivery.p99 +23.4%". */
  regressions: string[];
  /** Other reasons the comparison fails: a run whose results did not verify. */
  failures: string[];
  /** No figure regressed beyond the threshold and no run failed verification. */
  ok: boolean;
}

export interface CompareOptions {
  maxRegressionPct: number;
  baseSource?: string;
  newSource?: string;
}

const LATENCY_ROWS: Array<[stat: string, pick: (s: LatencySummary) => number]> = [
  ['p50', (s) => s.p50Ms],
  ['p90', (s) => s.p90Ms],
  ['p99', (s) => s.p99Ms],
  ['p99.9', (s) => s.p999Ms],
  ['max', (s) => s.maxMs],
];

/** Compares `next` with `base`, one row per figure. */
export function compareResults(base: BenchResult, next: BenchResult, options: CompareOptions): Comparison {
  const { maxRegressionPct } = options;
  const rows: ComparisonRow[] = [];
  const add = (
    name: string,
    unit: ComparisonRow['unit'],
    better: ComparisonRow['better'],
    a: number,
    b: number,
  ) => rows.push(compareFigure(name, unit, better, a, b, maxRegressionPct));

  for (const kind of LATENCY_KINDS) {
    const a = base.summary.latency[kind];
    const b = next.summary.latency[kind];
    if (!a || !b || a.count === 0 || b.count === 0) continue;
    for (const [stat, pick] of LATENCY_ROWS) add(`${kind}.${stat}`, 'ms', 'lower', pick(a), pick(b));
  }
  add('throughput', '/s', 'higher', base.summary.throughput.consumed, next.summary.throughput.consumed);
  add('produced', '/s', 'higher', base.summary.throughput.produced, next.summary.throughput.produced);
  add('written', '/s', 'higher', base.summary.throughput.written, next.summary.throughput.written);
  const achievedBase = achievedPct(base);
  const achievedNew = achievedPct(next);
  if (achievedBase !== undefined && achievedNew !== undefined) {
    add('achieved', '%', 'higher', achievedBase, achievedNew);
  }
  add('lag.max', 'records', 'lower', base.summary.maxLag, next.summary.maxLag);

  const regressions = rows.filter((row) => row.regressed).map((row) => `${row.name} ${describeDelta(row)}`);
  const failures: string[] = [];
  for (const [label, run] of [
    ['base', base],
    ['new', next],
  ] as const) {
    if (run.summary.correct === false) {
      const cells = run.summary.verify?.cellsDiffering;
      const detail =
        cells === undefined ? '' : ` (${cells} ${cells === 1 ? 'cell differs' : 'cells differ'})`;
      failures.push(`the ${label} run's results did not verify${detail}`);
    }
  }

  return {
    base: describeRun(base, options.baseSource),
    new: describeRun(next, options.newSource),
    maxRegressionPct,
    rows,
    warnings: comparabilityWarnings(base, next),
    regressions,
    failures,
    ok: regressions.length === 0 && failures.length === 0,
  };
}

function compareFigure(
  name: string,
  unit: ComparisonRow['unit'],
  better: ComparisonRow['better'],
  base: number,
  next: number,
  maxRegressionPct: number,
): ComparisonRow {
  const deltaPct = base === 0 ? (next === 0 ? 0 : null) : ((next - base) / Math.abs(base)) * 100;
  let verdict: ComparisonRow['verdict'];
  if (deltaPct !== null && Math.abs(deltaPct) < SAME_WITHIN_PCT) verdict = 'same';
  else verdict = next < base === (better === 'lower') ? 'better' : 'worse';
  // From nothing to something is an unbounded change: a regression whatever the threshold.
  const worseByPct = deltaPct === null ? Number.POSITIVE_INFINITY : Math.abs(deltaPct);
  const regressed = verdict === 'worse' && worseByPct > maxRegressionPct;
  return { name, unit, better, base, new: next, deltaPct, verdict, regressed };
}

function achievedPct(result: BenchResult): number | undefined {
  const { achievedRate, targetRate } = result.summary;
  return targetRate > 0 ? (achievedRate / targetRate) * 100 : undefined;
}

/** "+23.4%", "-12.0%", or "from 0" when the base was zero. */
export function describeDelta(row: Pick<ComparisonRow, 'deltaPct'>): string {
  if (row.deltaPct === null) return 'from 0';
  const sign = row.deltaPct > 0 ? '+' : row.deltaPct < 0 ? '-' : '±';
  return `${sign}${Math.abs(row.deltaPct).toFixed(1)}%`;
}

function describeRun(result: BenchResult, source: string | undefined): ComparedRun {
  const run: ComparedRun = {
    runId: result.runId,
    startedAt: result.startedAt,
    target: result.config.target,
    rate: result.config.rate,
    status: result.summary.status,
    correct: result.summary.correct,
  };
  if (source !== undefined) run.source = source;
  return run;
}

function comparabilityWarnings(base: BenchResult, next: BenchResult): string[] {
  const a = base.config;
  const b = next.config;
  const warnings: string[] = [];
  const differ = (what: string, x: unknown, y: unknown) => {
    if (x !== y) warnings.push(`${what} differs: ${String(x)} (base) vs ${String(y)} (new)`);
  };
  differ('target', a.target, b.target);
  if (a.rate !== b.rate || a.targetRate !== b.targetRate) {
    warnings.push(`rate differs: ${a.rate} (base) vs ${b.rate} (new)`);
  }
  differ('players', a.players, b.players);
  differ('consumers', a.consumers, b.consumers);
  if (a.durationMs !== b.durationMs) {
    warnings.push(`duration differs: ${a.durationMs / 1000}s (base) vs ${b.durationMs / 1000}s (new)`);
  }
  for (const [label, run] of [
    ['base', base],
    ['new', next],
  ] as const) {
    if (run.summary.correct === null) warnings.push(`the ${label} run's results were not verified`);
  }
  return warnings;
}

/** `--max-regression`: "10%" or "10" → 10. Throws an INVALID_FLAG error naming the form otherwise. */
export function parseMaxRegression(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*%?\s*$/.exec(text);
  const value = match ? Number(match[1]) : Number.NaN;
  if (!Number.isFinite(value)) {
    throw invalidFlag(
      `--max-regression must be a percentage like 10% or 10, got '${text}'`,
      'Give how much worse a figure may get before the comparison fails, e.g. --max-regression 5%',
    );
  }
  return value;
}
