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
/** A rate within this share of its target is on target (the arrival process itself varies this much). */
const ON_TARGET_WITHIN = 0.02;

/**
 * Which way a figure is better. Latency and lag: `lower`. The offered load (produced/s, achieved %):
 * closest to the run's `target` — the open-loop schedule asks for exactly that much, so falling short
 * is worse and overshooting is no improvement (a generator above its target is catching up on its own
 * backlog). The pipeline's throughput (consumed/s): higher `up-to-target` — short of it is worse, and
 * above it (draining a backlog) counts as on target. Written documents per second depend on windows
 * and flushes, not on how well the pipeline did: `none`.
 */
export type Direction = 'lower' | 'target' | 'up-to-target' | 'none';

export interface ComparisonRow {
  /** "delivery.p99", "throughput", "produced", "written", "achieved", "lag.max". */
  name: string;
  /** The unit of `base` and `new`: ms, /s, % (of the target rate) or records. */
  unit: 'ms' | '/s' | '%' | 'records';
  better: Direction;
  base: number;
  new: number;
  /** The target each value is judged against (`target`, `up-to-target`): the run's target rate, or 100%. */
  target?: { base: number; new: number };
  /** (new − base) / base in percent; null when base is 0 and new is not. */
  deltaPct: number | null;
  /**
   * better / worse / same; `changed` when it moved but that is neither better nor worse (a figure
   * without a direction, or a rate that went from short of its target to over it).
   */
  verdict: 'better' | 'worse' | 'same' | 'changed';
  /** Why, where the verdict needs a word: "over the target", "closer to the target". */
  note?: string;
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
  const add = (name: string, unit: ComparisonRow['unit'], a: number, b: number) =>
    rows.push(compareFigure(name, unit, 'lower', a, b, maxRegressionPct));
  const addTarget = (
    name: string,
    unit: ComparisonRow['unit'],
    a: number,
    b: number,
    target: { base: number; new: number },
    better: 'target' | 'up-to-target' = 'target',
  ) => rows.push(compareToTarget(name, unit, better, a, b, target, maxRegressionPct));

  for (const kind of LATENCY_KINDS) {
    const a = base.summary.latency[kind];
    const b = next.summary.latency[kind];
    if (!a || !b || a.count === 0 || b.count === 0) continue;
    for (const [stat, pick] of LATENCY_ROWS) add(`${kind}.${stat}`, 'ms', pick(a), pick(b));
  }
  const targets = { base: base.summary.targetRate, new: next.summary.targetRate };
  const rated = targets.base > 0 && targets.new > 0;
  const throughput = (name: string, a: number, b: number, better: 'target' | 'up-to-target') =>
    rated
      ? addTarget(name, '/s', a, b, targets, better)
      : rows.push(compareFigure(name, '/s', 'none', a, b, 0));
  throughput(
    'throughput',
    base.summary.throughput.consumed,
    next.summary.throughput.consumed,
    'up-to-target',
  );
  throughput('produced', base.summary.throughput.produced, next.summary.throughput.produced, 'target');
  rows.push(
    compareFigure(
      'written',
      '/s',
      'none',
      base.summary.throughput.written,
      next.summary.throughput.written,
      0,
    ),
  );
  const achievedBase = achievedPct(base);
  const achievedNew = achievedPct(next);
  if (achievedBase !== undefined && achievedNew !== undefined) {
    addTarget('achieved', '%', achievedBase, achievedNew, { base: 100, new: 100 });
  }
  add('lag.max', 'records', base.summary.maxLag, next.summary.maxLag);

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

function relativeDelta(base: number, next: number): number | null {
  return base === 0 ? (next === 0 ? 0 : null) : ((next - base) / Math.abs(base)) * 100;
}

/** A figure where lower is better (or, with 'none', no direction: it only changes or stays). */
function compareFigure(
  name: string,
  unit: ComparisonRow['unit'],
  better: 'lower' | 'none',
  base: number,
  next: number,
  maxRegressionPct: number,
): ComparisonRow {
  const deltaPct = relativeDelta(base, next);
  const same = deltaPct !== null && Math.abs(deltaPct) < SAME_WITHIN_PCT;
  let verdict: ComparisonRow['verdict'];
  if (same) verdict = 'same';
  else if (better === 'none') verdict = 'changed';
  else verdict = next < base ? 'better' : 'worse';
  // From nothing to something is an unbounded change: a regression whatever the threshold.
  const worseByPct = deltaPct === null ? Number.POSITIVE_INFINITY : Math.abs(deltaPct);
  const regressed = verdict === 'worse' && worseByPct > maxRegressionPct;
  return { name, unit, better, base, new: next, deltaPct, verdict, regressed };
}

/**
 * A rate judged by its distance from its target: closer is better, further is worse, and a regression
 * when it moved further by more than the allowed share of the target. With `target`, going over the
 * target is never an improvement; with `up-to-target`, anything at or over it is on target.
 */
function compareToTarget(
  name: string,
  unit: ComparisonRow['unit'],
  better: 'target' | 'up-to-target',
  base: number,
  next: number,
  target: { base: number; new: number },
  maxRegressionPct: number,
): ComparisonRow {
  const deltaPct = relativeDelta(base, next);
  const offBase = base / target.base - 1;
  const offNew = next / target.new - 1;
  const distance = (off: number) =>
    Math.abs(off) <= ON_TARGET_WITHIN || (better === 'up-to-target' && off > 0) ? 0 : Math.abs(off);
  const further = distance(offNew) - distance(offBase);
  const row = { name, unit, better, base, new: next, target, deltaPct };
  const onTarget = distance(offNew) === 0;
  if (
    (deltaPct !== null && Math.abs(deltaPct) < SAME_WITHIN_PCT) ||
    Math.abs(further) < SAME_WITHIN_PCT / 100
  )
    return { ...row, verdict: 'same', ...(onTarget ? { note: 'on target' } : {}), regressed: false };
  if (further > 0) {
    return {
      ...row,
      verdict: 'worse',
      note: offNew > 0 ? 'over the target' : 'short of the target',
      // In points of the target, rounded so 100% → 110% is exactly 10 points.
      regressed: Math.round(further * 1e6) / 1e4 > maxRegressionPct,
    };
  }
  if (better === 'target' && offNew > ON_TARGET_WITHIN)
    return { ...row, verdict: 'changed', note: 'over the target: not an improvement', regressed: false };
  return {
    ...row,
    verdict: 'better',
    note: onTarget ? 'reached the target' : 'closer to the target',
    regressed: false,
  };
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
