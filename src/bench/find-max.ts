/**
 * `gapipe bench --find-max`: the highest rate at which delivery p99 stays under a bound and the
 * results verify — the sustainable throughput of this pipeline on this machine. Rates double from
 * the start rate until a run fails, then a binary search narrows the bracket to within 10%.
 */
import { join } from 'node:path';
import { invalidFlag } from '../errors.js';
import type { Logger } from '../log.js';
import { parseDurationMs } from '../simulators/options.js';
import { type BenchOptions, runBench } from './run.js';

export interface FindMaxTrial {
  rate: number;
  passed: boolean;
  deliveryP99Ms: number;
  achievedRate: number;
  correct: boolean | null;
  reason: string;
  dir: string;
}

export interface FindMaxResult {
  maxRate: number | undefined;
  maxP99Ms: number;
  trials: FindMaxTrial[];
  command: string;
  text: string;
}

export async function findMax(
  options: BenchOptions,
  deps: { maxP99?: string | undefined; signal?: AbortSignal; logger?: Logger },
): Promise<FindMaxResult> {
  const maxP99Ms = deps.maxP99 === undefined ? 500 : parseDurationMs(deps.maxP99);
  if (maxP99Ms === undefined || maxP99Ms <= 0) {
    throw invalidFlag(`--max-p99 must be a duration like 500ms, got '${deps.maxP99}'`);
  }
  const trials: FindMaxTrial[] = [];
  const trial = async (rate: number): Promise<boolean> => {
    const dir = join(options.outDir, `rate-${Math.round(rate)}`);
    const { result } = await runBench(
      {
        ...options,
        outDir: dir,
        simulate: {
          ...options.simulate,
          startRate: rate,
          stages: [],
          rateDescription: `${Math.round(rate)}/s`,
        },
      },
      deps.signal ? { signal: deps.signal } : {},
    );
    const s = result.summary;
    const p99 = s.latency.delivery.p99Ms;
    const reasons: string[] = [];
    if (s.latency.delivery.count === 0) reasons.push('no deliveries measured');
    if (p99 >= maxP99Ms) reasons.push(`delivery p99 ${p99}ms ≥ ${maxP99Ms}ms`);
    if (s.correct !== true) reasons.push('results do not verify');
    if (!s.keptUp) reasons.push('simulator could not keep up');
    if (s.stopReason !== 'completed') reasons.push('stopped');
    const passed = reasons.length === 0;
    trials.push({
      rate,
      passed,
      deliveryP99Ms: p99,
      achievedRate: s.achievedRate,
      correct: s.correct,
      reason: reasons.join('; '),
      dir,
    });
    deps.logger?.info(
      `  ${Math.round(rate).toLocaleString('en-US')}/s: ${passed ? 'ok' : `fails (${reasons.join('; ')})`}, delivery p99 ${p99}ms, achieved ${Math.round(s.achievedRate).toLocaleString('en-US')}/s`,
    );
    return passed;
  };
  let low: number | undefined;
  let high: number | undefined;
  let rate = options.simulate.startRate;
  while (!deps.signal?.aborted && rate <= 5_000_000) {
    if (await trial(rate)) {
      low = rate;
      rate *= 2;
    } else {
      high = rate;
      break;
    }
  }
  if (low !== undefined && high !== undefined) {
    while (!deps.signal?.aborted && high / low > 1.1) {
      const mid = Math.round((low + high) / 2);
      if (await trial(mid)) low = mid;
      else high = mid;
    }
  }
  const command = `${options.command}`;
  const text =
    low === undefined
      ? `No rate passed: even ${Math.round(options.simulate.startRate).toLocaleString('en-US')}/s failed (${trials[0]?.reason ?? 'stopped'}). Try a lower --rate.`
      : `Sustainable throughput: ${Math.round(low).toLocaleString('en-US')} events/s (delivery p99 < ${maxP99Ms}ms, results verified)${
          high ? `; ${Math.round(high).toLocaleString('en-US')}/s failed` : ''
        }. Trials in ${options.outDir}.`;
  return { maxRate: low, maxP99Ms, trials, command, text };
}
