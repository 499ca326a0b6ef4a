import { describe, expect, it } from 'vitest';
import { findMax, type TrialRunner } from '../../src/bench/find-max.js';
import { resolveBenchOptions } from '../../src/bench/options.js';
import { type Second, scenarioResult, seconds } from './verdict-scenarios.js';

const options = resolveBenchOptions(
  {
    load: { rate: '5000/s' },
    scenario: {},
    scenarioName: undefined,
    target: 'embedded',
    out: 'out/find-max',
  },
  { nowMs: Date.UTC(2026, 4, 1), fallbackSeed: 1, command: 'gapipe bench --find-max' },
);

/** Up to `capacity` events/s everything is comfortable; above it, `overload` describes each second. */
function fakeTrials(capacity: number, overload: (rate: number) => Partial<Second> & { deliveryMs: number }) {
  const gates: string[][] = [];
  const run: TrialRunner = async (trialOptions) => {
    const rate = trialOptions.simulate.startRate;
    gates.push(trialOptions.assertionTexts);
    const over = rate > capacity ? overload(rate) : undefined;
    return scenarioResult({
      targetRate: rate,
      seconds: seconds(10, (i) =>
        over
          ? { elu: 0.4, cpu: 0.38, produced: rate, ...over, lagMs: (over.lagMs ?? 0) * (i + 1) }
          : { elu: (0.8 * rate) / capacity, cpu: (0.78 * rate) / capacity, lagMs: 3, produced: rate },
      ),
      latencyP99Ms: { delivery: over ? over.deliveryMs : 120 },
      assert: trialOptions.assertionTexts,
    });
  };
  return { run, gates };
}

describe('findMax', () => {
  it('says when the limit it found is gapipe’s own: trial by trial and in the final line', async () => {
    const logged: string[] = [];
    const { run, gates } = fakeTrials(24_000, (rate) => ({
      elu: 0.99,
      cpu: 0.98,
      produced: 0.9 * rate,
      lagMs: 400,
      deliveryMs: 3000,
    }));
    const result = await findMax(options, {
      runTrial: run,
      logger: { info: (line: string) => logged.push(line) } as never,
    });
    expect(result.trials.map((t) => [t.rate, t.passed, t.limitedBy])).toEqual([
      [5000, true, undefined],
      [10_000, true, undefined],
      [20_000, true, undefined],
      [40_000, false, 'instrument'],
      [30_000, false, 'instrument'],
      [25_000, false, 'instrument'],
      [22_500, true, undefined],
      [23_750, true, undefined],
    ]);
    expect(result.maxRate).toBe(23_750);
    expect(result.limitedBy).toBe('instrument');
    expect(result.text).toBe(
      "Sustainable throughput: at least 23,750 events/s (delivery p99 < 500ms, results verified); 25,000 events/s failed — instrument-bound: the load generator used 98% of a core. The limit found is gapipe's own, not the pipeline's: the pipeline may sustain more. Trials in out/find-max.",
    );
    expect(logged[0]).toBe(
      '  5,000 events/s: ok; delivery p99 120ms, 3ms behind the schedule at most, achieved 5,000 events/s',
    );
    expect(logged[3]?.split('\n')).toEqual([
      '  40,000 events/s: fails — instrument-bound: the load generator used 98% of a core; delivery p99 3,000ms, 4s behind the schedule at most, achieved 36,000 events/s',
      '      - fell 4 s behind the schedule at 15 s (backlog 160,000 events); the load generator used 98% of a core — try --rate 28000/s',
      '      - delivery.p99 was 3,000ms, not < 500ms',
    ]);
    // Every trial is judged by the same gates, through the run's verdict.
    for (const texts of gates) expect(texts).toEqual(['delivery.p99<500ms', 'correct']);
  });

  it('says when the limit is the pipeline’s', async () => {
    const { run } = fakeTrials(24_000, (rate) => ({
      consumed: 0.7 * rate,
      consumerElu: 0.99,
      deliveryMs: 5000,
    }));
    const result = await findMax(options, { runTrial: run });
    expect(result.maxRate).toBe(23_750);
    expect(result.limitedBy).toBe('pipeline');
    expect(result.trials.filter((t) => !t.passed).every((t) => t.limitedBy === 'pipeline')).toBe(true);
    expect(result.text).toMatch(
      /^Sustainable throughput: 23,750 events\/s \(delivery p99 < 500ms, results verified\); 25,000 events\/s failed — pipeline-bound: the consumers fell behind: lag reached 75,000 records \(consumed 17,500\/s of 25,000\/s produced\)\. The limit found is the pipeline's\. Trials in out\/find-max\.$/,
    );
  });

  it('when the first rate already fails, halves it until one passes, then narrows the bracket', async () => {
    const { run } = fakeTrials(1000, (rate) => ({
      elu: 1,
      cpu: 0.99,
      produced: 0.5 * rate,
      lagMs: 500,
      deliveryMs: 2000,
    }));
    const result = await findMax(options, { runTrial: run });
    expect(result.trials.map((t) => [t.rate, t.passed])).toEqual([
      [5000, false],
      [2500, false],
      [1250, false],
      [625, true],
      [938, true],
      [1094, false],
      [1016, false],
    ]);
    expect(result.maxRate).toBe(938);
    expect(result.limitedBy).toBe('instrument');
    expect(result.text).toMatch(/^Sustainable throughput: at least 938 events\/s .*gapipe's own/);
  });

  it('when no rate down to 100/s passes, says so with the lowest rate tried and who limited it', async () => {
    const { run } = fakeTrials(50, (rate) => ({
      elu: 1,
      cpu: 0.99,
      produced: 0.5 * rate,
      lagMs: 500,
      deliveryMs: 2000,
    }));
    const result = await findMax(options, { runTrial: run });
    expect(result.maxRate).toBeUndefined();
    expect(result.trials.map((t) => t.rate)).toEqual([5000, 2500, 1250, 625, 313, 157]);
    expect(result.text).toMatch(
      /^No rate passed: even 157 events\/s failed \(.*\) — instrument-bound: the load generator used 99% of a core\. That is gapipe's own limit on this machine, not the pipeline's: try a lower --rate\. Trials in out\/find-max\.$/,
    );
  });

  it('keeps the user’s own gates and adds the delivery bound and correctness', async () => {
    const gated = { ...options, assertions: [], assertionTexts: [] };
    const withCorrect = resolveBenchOptions(
      {
        load: { rate: '5000/s' },
        scenario: {},
        scenarioName: undefined,
        target: 'embedded',
        out: 'out/find-max',
        assert: ['throughput>=1000/s', 'correct'],
      },
      { nowMs: 0, fallbackSeed: 1, command: 'gapipe bench --find-max' },
    );
    for (const [given, expected] of [
      [gated, ['delivery.p99<200ms', 'correct']],
      [withCorrect, ['throughput>=1000/s', 'correct', 'delivery.p99<200ms']],
    ] as const) {
      const { run, gates } = fakeTrials(0, () => ({ deliveryMs: 9000 }));
      await findMax(given, { runTrial: run, maxP99: '200ms' });
      expect(gates[0]).toEqual(expected);
    }
  });
});
