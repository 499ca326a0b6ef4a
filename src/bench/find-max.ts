/**
 * `gapipe bench --find-max`: the highest rate at which delivery p99 stays under a bound and the
 * results verify — the sustainable throughput of this pipeline on this machine. Rates double from
 * the start rate until a run fails, then a binary search narrows the bracket to within 10%.
 *
 * Each trial is an ordinary bench run gated by `delivery.p99<bound` and `correct` (plus the user's
 * own --assert gates), judged by the run's one verdict; the verdict also says who limited a failed
 * trial. When the first failing rate was limited by gapipe's own load generator, the rate found is
 * gapipe's limit, and the result says so: the pipeline may well go faster.
 */
import { join } from 'node:path';
import { invalidFlag } from '../errors.js';
import type { Logger } from '../log.js';
import { parseDurationMs } from '../simulators/options.js';
import { type Assertion, parseAssertion } from './assertions.js';
import { type BenchOptions, runBench } from './run.js';
import type { BenchResult, LimitedBy } from './types.js';

export interface FindMaxTrial {
  rate: number;
  passed: boolean;
  deliveryP99Ms: number;
  achievedRate: number;
  correct: boolean | null;
  /** The verdict's failures, joined; empty when the trial passed. */
  reason: string;
  /** The verdict's failures, one each. */
  reasons: string[];
  /** The load generator's worst lag behind its schedule while measured, ms. */
  scheduleLagMs: number;
  /** Who limited a failed trial, when the verdict could tell. */
  limitedBy?: LimitedBy;
  /** The verdict's headline for it: "instrument-bound: the load generator used 98% of a core". */
  limit?: string;
  dir: string;
}

export interface FindMaxResult {
  maxRate: number | undefined;
  maxP99Ms: number;
  trials: FindMaxTrial[];
  /** Who limited the lowest failing rate: the pipeline, or gapipe's own load generator. */
  limitedBy?: LimitedBy;
  limit?: string;
  command: string;
  text: string;
}

/** Runs one trial at a rate; tests replace it with a fake. */
export type TrialRunner = (options: BenchOptions, signal: AbortSignal | undefined) => Promise<BenchResult>;

const runTrial: TrialRunner = async (options, signal) =>
  (await runBench(options, signal ? { signal } : {})).result;

/** The gates every trial is judged by: the user's, the delivery bound, and correct results. */
export function trialAssertions(options: BenchOptions, maxP99Ms: number): Assertion[] {
  const bound = parseAssertion(`delivery.p99<${maxP99Ms}ms`);
  const own = options.assertions;
  const extra: Assertion[] = [bound];
  if (!own.some((a) => a.type === 'correct')) extra.push(parseAssertion('correct'));
  return [...own, ...extra];
}

/** The lowest rate the downward search tries: below it the pipeline is broken, not slow. */
const MIN_RATE = 100;

export async function findMax(
  options: BenchOptions,
  deps: { maxP99?: string | undefined; signal?: AbortSignal; logger?: Logger; runTrial?: TrialRunner },
): Promise<FindMaxResult> {
  const maxP99Ms = deps.maxP99 === undefined ? 500 : parseDurationMs(deps.maxP99);
  if (maxP99Ms === undefined || maxP99Ms <= 0) {
    throw invalidFlag(`--max-p99 must be a duration like 500ms, got '${deps.maxP99}'`);
  }
  const run = deps.runTrial ?? runTrial;
  const assertions = trialAssertions(options, maxP99Ms);
  const trials: FindMaxTrial[] = [];
  const trial = async (rate: number): Promise<FindMaxTrial> => {
    const dir = join(options.outDir, `rate-${Math.round(rate)}`);
    const result = await run(
      {
        ...options,
        outDir: dir,
        assertions,
        assertionTexts: assertions.map((a) => a.expression),
        simulate: {
          ...options.simulate,
          startRate: rate,
          stages: [],
          rateDescription: `${Math.round(rate)}/s`,
        },
      },
      deps.signal,
    );
    const s = result.summary;
    const verdict = s.verdict;
    const outcome: FindMaxTrial = {
      rate,
      passed: verdict.status === 'passed',
      deliveryP99Ms: s.latency.delivery.p99Ms,
      achievedRate: s.achievedRate,
      correct: s.correct,
      reason: verdict.failures.join('; '),
      reasons: verdict.failures,
      scheduleLagMs: s.instrument.maxScheduleLagMs,
      ...(verdict.limitedBy ? { limitedBy: verdict.limitedBy } : {}),
      ...(verdict.limit ? { limit: verdict.limit } : {}),
      dir,
    };
    trials.push(outcome);
    deps.logger?.info(describeTrial(outcome));
    return outcome;
  };
  let low: number | undefined;
  let failed: FindMaxTrial | undefined;
  let rate = options.simulate.startRate;
  while (!deps.signal?.aborted && rate <= 5_000_000) {
    const outcome = await trial(rate);
    if (outcome.passed) {
      low = rate;
      rate *= 2;
    } else {
      failed = outcome;
      break;
    }
  }
  // A start rate above the limit: halve until a rate passes, so the search still brackets the
  // limit instead of leaving the user to guess a lower --rate.
  let lowest = options.simulate.startRate;
  while (low === undefined && failed !== undefined && !deps.signal?.aborted && lowest / 2 >= MIN_RATE) {
    lowest = Math.round(lowest / 2);
    const outcome = await trial(lowest);
    if (outcome.passed) low = lowest;
    else failed = outcome;
  }
  if (low !== undefined && failed !== undefined) {
    while (!deps.signal?.aborted && failed.rate / low > 1.1) {
      const outcome = await trial(Math.round((low + failed.rate) / 2));
      if (outcome.passed) low = outcome.rate;
      else failed = outcome;
    }
  }
  const text = describeFindMax({
    low,
    failed,
    maxP99Ms,
    startRate: lowest,
    outDir: options.outDir,
  });
  return {
    maxRate: low,
    maxP99Ms,
    trials,
    ...(failed?.limitedBy ? { limitedBy: failed.limitedBy } : {}),
    ...(failed?.limit ? { limit: failed.limit } : {}),
    command: options.command,
    text,
  };
}

/**
 * A trial in a few lines: the rate, pass or who limited it, its figures, then each failure reason
 * (with its own figure) on a line of its own.
 */
export function describeTrial(t: FindMaxTrial): string {
  const figures = `delivery p99 ${formatMs(t.deliveryP99Ms)}, ${formatLag(t.scheduleLagMs)} behind the schedule at most, achieved ${formatRate(t.achievedRate)}`;
  if (t.passed) return `  ${formatRate(t.rate)}: ok; ${figures}`;
  const limit = t.limit ?? 'who limited it is not clear from the figures';
  return [
    `  ${formatRate(t.rate)}: fails — ${limit}; ${figures}`,
    ...t.reasons.map((r) => `      - ${r}`),
  ].join('\n');
}

/** The final line: the rate found, and whether the limit above it was the pipeline's or gapipe's own. */
export function describeFindMax(input: {
  low: number | undefined;
  failed: FindMaxTrial | undefined;
  maxP99Ms: number;
  startRate: number;
  outDir: string;
}): string {
  const { low, failed, maxP99Ms } = input;
  const where = ` Trials in ${input.outDir}.`;
  if (low === undefined) {
    const why = failed ? ` (${failed.reason})` : ' (stopped)';
    if (failed?.limitedBy === 'instrument')
      return `No rate passed: even ${formatRate(input.startRate)} failed${why} — ${failed.limit}. That is gapipe's own limit on this machine, not the pipeline's: try a lower --rate.${where}`;
    const limit = failed?.limit ? ` — ${failed.limit}` : '';
    return `No rate passed: even ${formatRate(input.startRate)} failed${why}${limit}. Try a lower --rate.${where}`;
  }
  const gates = `delivery p99 < ${maxP99Ms}ms, results verified`;
  if (!failed) return `Sustainable throughput: ${formatRate(low)} (${gates}); no tested rate failed.${where}`;
  if (failed.limitedBy === 'instrument')
    return `Sustainable throughput: at least ${formatRate(low)} (${gates}); ${formatRate(failed.rate)} failed — ${failed.limit}. The limit found is gapipe's own, not the pipeline's: the pipeline may sustain more.${where}`;
  if (failed.limitedBy === 'pipeline')
    return `Sustainable throughput: ${formatRate(low)} (${gates}); ${formatRate(failed.rate)} failed — ${failed.limit}. The limit found is the pipeline's.${where}`;
  return `Sustainable throughput: ${formatRate(low)} (${gates}); ${formatRate(failed.rate)} failed (${failed.reason}); whether the pipeline or gapipe's own load generator set that limit is not clear from the figures.${where}`;
}

function formatMs(ms: number): string {
  return `${Number(ms.toFixed(ms < 10 ? 2 : 0)).toLocaleString('en-US')}ms`;
}

function formatLag(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}

function formatRate(rate: number): string {
  return `${Math.round(rate).toLocaleString('en-US')} events/s`;
}
