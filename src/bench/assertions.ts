/**
 * `gapipe bench --assert`: pass/fail gates on a run's summary, such as `delivery.p99<500ms`,
 * `throughput>=20k/s`, `achieved>=95%` or `correct`. All expressions are parsed before the run starts
 * (a typo should not cost a ten-minute run) and evaluated against what the finished run measured.
 *
 * Grammar: `correct` | `<metric> <op> <number><unit?>`, op one of `< <= > >= ==`, spaces optional.
 */
import { invalidFlag } from '../errors.js';
import { type AssertionOutcome, LATENCY_KINDS, type LatencyKind, type MeasuredSummary } from './types.js';

export const COMPARISON_OPS = ['<', '<=', '>', '>=', '=='] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

/** Latency statistics as written in an assertion (`p999` is accepted for `p99.9`). */
export const LATENCY_STATS = ['p50', 'p90', 'p99', 'p99.9', 'max', 'mean', 'min'] as const;
export type LatencyStat = (typeof LATENCY_STATS)[number];

export const RATE_METRICS = ['throughput', 'produced', 'acknowledged', 'consumed', 'written'] as const;
export type RateMetric = (typeof RATE_METRICS)[number];

export const COUNT_METRICS = ['lag.max', 'errors', 'late', 'dead-lettered'] as const;
export type CountMetric = (typeof COUNT_METRICS)[number];

/** What an assertion measures. Canonical names: `produce-ack.p99`, `throughput`, `achieved`, `lag.max`. */
export type AssertionMetric =
  | { type: 'latency'; name: string; kind: LatencyKind; stat: LatencyStat }
  | { type: 'rate'; name: RateMetric }
  | { type: 'achieved'; name: 'achieved' }
  | { type: 'count'; name: CountMetric };

export interface CorrectAssertion {
  type: 'correct';
  /** As the user wrote it (trimmed). */
  expression: string;
}

export interface ThresholdAssertion {
  type: 'threshold';
  /** As the user wrote it (trimmed). */
  expression: string;
  metric: AssertionMetric;
  op: ComparisonOp;
  /** The number as written, in `unit`. */
  threshold: number;
  /** The unit the comparison is made in: the one written, or the metric's default. */
  unit: string;
}

export type Assertion = CorrectAssertion | ThresholdAssertion;

/** Units per metric type, with how many base units (ms, records per second, percent, records) each is. */
const UNITS: Record<
  AssertionMetric['type'],
  { units: Record<string, number>; default: string; names: string }
> = {
  latency: { units: { us: 0.001, µs: 0.001, ms: 1, s: 1000 }, default: 'ms', names: 'us, ms or s' },
  rate: { units: { '/s': 1, 'k/s': 1000 }, default: '/s', names: '/s or k/s' },
  achieved: { units: { '%': 1 }, default: '%', names: '%' },
  count: { units: {}, default: '', names: 'none' },
};

/** The metrics an assertion can name, for help texts and error messages. */
export const ASSERTION_METRICS_HELP = `correct, <kind>.<stat> with kind ${orList(LATENCY_KINDS)} and stat ${orList(
  ['p50', 'p90', 'p99', 'p99.9', 'max', 'mean', 'min'],
)} (us, ms or s; default ms), throughput, produced, acknowledged, consumed or written (/s or k/s), achieved (% of the target rate), lag.max, errors, late or dead-lettered`;

/** Parses one `--assert` expression; throws an INVALID_FLAG error saying what is wrong. */
export function parseAssertion(text: string): Assertion {
  const expression = text.trim();
  const fail = (problem: string) =>
    invalidFlag(
      `--assert '${text}': ${problem}`,
      `Write \`correct\` or <metric><op><value>, e.g. --assert 'delivery.p99<500ms' --assert 'throughput>=20k/s' --assert 'achieved>=95%'. Metrics: ${ASSERTION_METRICS_HELP}`,
    );

  if (expression === '') throw fail('empty expression');
  if (expression.toLowerCase() === 'correct') return { type: 'correct', expression };

  const match = /^([^<>=!\s]+)\s*(<=|>=|==|!=|=<|=>|<|>|=)\s*(.*)$/.exec(expression);
  if (!match) {
    if (/^[^<>=!\s]+$/.test(expression)) {
      // A metric without a comparison, or a word that is no metric at all: say which.
      parseMetric(expression.toLowerCase(), fail);
      throw fail(
        `a metric needs a comparison and a value, e.g. ${expression}<… or ${expression}>=… (use <, <=, >, >= or ==)`,
      );
    }
    throw fail('expected `correct` or <metric> <op> <value>, like delivery.p99<500ms');
  }
  const [, metricText = '', opText = '', valueText = ''] = match;
  if (!(COMPARISON_OPS as readonly string[]).includes(opText)) {
    throw fail(`unknown operator ${opText} (use <, <=, >, >= or ==)`);
  }
  const op = opText as ComparisonOp;
  const metric = parseMetric(metricText.toLowerCase(), fail);

  const value = /^(\d[\d_]*(?:\.\d+)?|\.\d+)\s*(.*)$/.exec(valueText);
  if (!value) {
    throw fail(`expected a number after ${op}, got '${valueText}'`);
  }
  const threshold = Number((value[1] ?? '').replaceAll('_', ''));
  const unitText = (value[2] ?? '').trim();
  const units = UNITS[metric.type];
  const unit = unitText === '' ? units.default : unitText;
  if (!(unit in units.units) && !(metric.type === 'count' && unit === '')) {
    const allowed = metric.type === 'count' ? 'it is a count and takes no unit' : `use ${units.names}`;
    throw fail(`unknown unit ${unitText} for ${metric.name} (${allowed})`);
  }
  if (!Number.isFinite(threshold)) throw fail(`expected a number after ${op}, got '${valueText}'`);
  if (metric.type === 'achieved' && unitText === '' && threshold > 0 && threshold <= 1) {
    // 0.95 is almost certainly meant as 95%, and as 0.95% the gate could never fail.
    throw fail(
      `achieved is a percentage of the target rate: write ${formatNumber(threshold * 100)}%, not ${threshold}`,
    );
  }
  return { type: 'threshold', expression, metric, op, threshold, unit: unit === 'µs' ? 'us' : unit };
}

/** Parses every `--assert` up front, before anything runs; throws on the first bad one. */
export function parseAssertions(texts: readonly string[]): Assertion[] {
  return texts.map(parseAssertion);
}

function parseMetric(name: string, fail: (problem: string) => Error): AssertionMetric {
  if ((RATE_METRICS as readonly string[]).includes(name)) return { type: 'rate', name: name as RateMetric };
  if (name === 'achieved') return { type: 'achieved', name };
  const count = name === 'dead_lettered' ? 'dead-lettered' : name;
  if ((COUNT_METRICS as readonly string[]).includes(count))
    return { type: 'count', name: count as CountMetric };
  if (name === 'lag') throw fail('unknown metric lag (did you mean lag.max?)');

  const dot = name.indexOf('.');
  if (dot < 0) {
    throw fail(`unknown metric ${name} (use ${ASSERTION_METRICS_HELP})`);
  }
  const kindText = name.slice(0, dot).replaceAll('_', '-');
  const statText = name.slice(dot + 1);
  if (!(LATENCY_KINDS as readonly string[]).includes(kindText)) {
    if (kindText === 'lag') throw fail(`unknown statistic ${statText} for lag (use lag.max)`);
    throw fail(`unknown latency kind ${name.slice(0, dot)} (use ${orList(LATENCY_KINDS)})`);
  }
  const stat = statText === 'p999' ? 'p99.9' : statText;
  if (!(LATENCY_STATS as readonly string[]).includes(stat)) {
    throw fail(`unknown statistic ${statText} (use ${orList(LATENCY_STATS)})`);
  }
  const kind = kindText as LatencyKind;
  return { type: 'latency', name: `${kind}.${stat}`, kind, stat: stat as LatencyStat };
}

/** Checks each assertion against a finished run's summary, in order. */
export function evaluateAssertions(
  assertions: readonly Assertion[],
  summary: MeasuredSummary,
): AssertionOutcome[] {
  return assertions.map((assertion) =>
    assertion.type === 'correct'
      ? evaluateCorrect(assertion, summary)
      : evaluateThreshold(assertion, summary),
  );
}

function evaluateCorrect(assertion: CorrectAssertion, summary: MeasuredSummary): AssertionOutcome {
  const { expression } = assertion;
  if (summary.correct === true) {
    const cells = summary.verify ? ` (${formatNumber(summary.verify.cellsCompared)} cells match)` : '';
    return { expression, passed: true, actual: 'verified', message: `results verify${cells}` };
  }
  if (summary.correct === false) {
    const differing = summary.verify?.cellsDiffering;
    const detail =
      differing === undefined
        ? ''
        : ` (${formatNumber(differing)} ${differing === 1 ? 'cell differs' : 'cells differ'})`;
    return { expression, passed: false, actual: 'differ', message: `results did not verify${detail}` };
  }
  return { expression, passed: false, message: `results were not verified (${whyNotVerified(summary)})` };
}

function whyNotVerified(summary: MeasuredSummary): string {
  const noData = summary.totals.consumed === 0 && summary.totals.written === 0;
  if (summary.stopReason === 'stopped') return noData ? 'run stopped before any data' : 'run was stopped';
  if (summary.stopReason === 'failed') return noData ? 'run failed before any data' : 'run failed';
  return 'verification could not run';
}

function evaluateThreshold(assertion: ThresholdAssertion, summary: MeasuredSummary): AssertionOutcome {
  const { expression, metric, op, threshold, unit } = assertion;
  const measured = measure(metric, summary);
  if (typeof measured === 'string') {
    return { expression, passed: false, message: `${metric.name} ${measured}` };
  }
  const factor = UNITS[metric.type].units[unit] ?? 1;
  const value = measured / factor;
  const passed = compare(value, op, threshold);
  const actual = withUnit(value, unit);
  const wanted = `${op} ${withUnit(threshold, unit)}`;
  return {
    expression,
    passed,
    actual,
    message: passed
      ? `${metric.name} was ${actual} (${wanted})`
      : `${metric.name} was ${actual}, not ${wanted}`,
  };
}

/** The measured value in the metric's base unit, or why there is none. */
function measure(metric: AssertionMetric, summary: MeasuredSummary): number | string {
  switch (metric.type) {
    case 'latency': {
      const latency = summary.latency[metric.kind];
      if (!latency || latency.count === 0) return 'has no samples (nothing was measured)';
      return LATENCY_FIELD[metric.stat](latency);
    }
    case 'rate':
      return metric.name === 'throughput' ? summary.throughput.consumed : summary.throughput[metric.name];
    case 'achieved':
      if (!(summary.targetRate > 0)) return 'is unknown (the run had no target rate)';
      return (summary.achievedRate / summary.targetRate) * 100;
    case 'count':
      switch (metric.name) {
        case 'lag.max':
          return summary.maxLag;
        case 'errors':
          return summary.errors.length;
        case 'late':
          return summary.totals.late;
        case 'dead-lettered':
          return summary.totals.deadLettered;
      }
  }
}

const LATENCY_FIELD: Record<LatencyStat, (s: MeasuredSummary['latency'][LatencyKind]) => number> = {
  p50: (s) => s.p50Ms,
  p90: (s) => s.p90Ms,
  p99: (s) => s.p99Ms,
  'p99.9': (s) => s.p999Ms,
  max: (s) => s.maxMs,
  mean: (s) => s.meanMs,
  min: (s) => s.minMs,
};

function compare(value: number, op: ComparisonOp, threshold: number): boolean {
  switch (op) {
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '==':
      return value === threshold;
  }
}

/** 612.3, 18,234, 0.512: precision that shrinks as numbers grow, with thousands separators. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

function withUnit(value: number, unit: string): string {
  return `${formatNumber(value)}${unit}`;
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
