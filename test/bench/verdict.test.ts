import { describe, expect, it } from 'vitest';
import { decideVerdict } from '../../src/bench/verdict.js';
import { type Scenario, scenarioInput, seconds } from './verdict-scenarios.js';

const verdictOf = (scenario: Scenario) => decideVerdict(scenarioInput(scenario));

/** The generator saturated from 12 s on, falling 100 ms further behind each second. */
const saturatedGenerator: Scenario = {
  seconds: seconds(20, (i) => {
    const t = i + 6;
    return t >= 12
      ? { elu: 0.99, cpu: 0.98, produced: 9400, lagMs: (t - 11) * 100 }
      : { elu: 0.5, cpu: 0.49, lagMs: 2 };
  }),
  workers: { current: 1, max: 2 },
};

/** The consumers fall 3,000 records further behind each second; the generator has room. */
const slowConsumers: Scenario = {
  seconds: seconds(20, () => ({ elu: 0.3, cpu: 0.28, lagMs: 2, consumed: 7000, consumerElu: 0.98 })),
  latencyP99Ms: { delivery: 9000 },
  assert: ['delivery.p99<500ms'],
};

describe('decideVerdict: who limited a run', () => {
  it('a generator saturated while it fell behind ⇒ instrument-bound, with the figure and what to try', () => {
    const verdict = verdictOf(saturatedGenerator);
    expect(verdict.status).toBe('failed');
    expect(verdict.exitCode).toBe(1);
    expect(verdict.limitedBy).toBe('instrument');
    expect(verdict.limit).toBe('instrument-bound: the load generator used 98% of a core');
    expect(verdict.failures).toEqual([
      'fell 1.4 s behind the schedule at 25 s (backlog 14,000 events); the load generator used 98% of a core — try --rate 7500/s or --workers 2',
    ]);
    expect(verdict.evidence.join('\n')).toContain('4 of 20 measured seconds more than 1 s behind');
    expect(verdict.evidence.join('\n')).toContain('saturated in 14 of 20 measured seconds');
  });

  it('does not suggest --workers where there are none to add', () => {
    const verdict = verdictOf({ ...saturatedGenerator, workers: undefined });
    expect(verdict.failures[0]).toMatch(/— try --rate 7500\/s$/);
  });

  it('consumers falling behind while the generator has room ⇒ pipeline-bound', () => {
    const verdict = verdictOf(slowConsumers);
    expect(verdict.limitedBy).toBe('pipeline');
    expect(verdict.limit).toBe(
      'pipeline-bound: the consumers fell behind: lag reached 60,000 records (consumed 7,000/s of 10,000/s produced)',
    );
    expect(verdict.failures).toEqual([
      'the pipeline fell behind: 60,000 records not yet consumed at the end of the measured window (6 s of load), up from 3,000 at 6 s; it consumed 7,000/s of 10,000/s produced',
      'delivery.p99 was 9,000ms, not < 500ms',
    ]);
    expect(verdict.checks.find((c) => c.name === 'load keeps the schedule')).toMatchObject({
      outcome: 'passed',
      message:
        "at most 2 ms behind the schedule; the load generator's busiest second: the load generator used 28% of a core",
    });
  });

  it('a pipeline that falls behind fails the run without any --assert, and says by how much', () => {
    const verdict = verdictOf({ ...slowConsumers, assert: [] });
    expect(verdict.status).toBe('failed');
    expect(verdict.limitedBy).toBe('pipeline');
    expect(verdict.checks.find((c) => c.name === 'pipeline keeps up')?.outcome).toBe('failed');
    // A steady lag of a second of load is a pipeline that keeps up.
    const steady = verdictOf({
      seconds: seconds(20, () => ({ elu: 0.4, cpu: 0.38, lagMs: 3, consumerLag: 10_000 })),
      assert: [],
    });
    expect(steady.checks.find((c) => c.name === 'pipeline keeps up')).toMatchObject({
      outcome: 'passed',
      message: 'consumer lag 10,000 records at the end of the measured window (1 s of load), at most 10,000',
    });
  });

  it('produce→ack latency that grew while the consumers were idle ⇒ instrument-bound', () => {
    const verdict = verdictOf({
      seconds: seconds(20, () => ({ elu: 0.4, cpu: 0.38, lagMs: 3, consumerElu: 0.1, consumerLag: 120 })),
      latencyP99Ms: { 'produce-ack': 900, delivery: 950 },
      assert: ['delivery.p99<500ms'],
    });
    expect(verdict.limitedBy).toBe('instrument');
    expect(verdict.limit).toBe(
      "instrument-bound: records waited 900 ms (produce→ack p99) for Kafka's acknowledgement at gapipe's producer while the consumers were idle",
    );
  });

  it('the same slow acknowledgements with busy, lagging consumers ⇒ pipeline-bound', () => {
    const verdict = verdictOf({
      seconds: seconds(20, () => ({ elu: 0.4, cpu: 0.38, lagMs: 3, consumed: 8000, consumerElu: 0.95 })),
      latencyP99Ms: { 'produce-ack': 900, delivery: 4000 },
      assert: ['delivery.p99<500ms'],
    });
    expect(verdict.limitedBy).toBe('pipeline');
  });

  it('an embedded run whose shared thread was saturated ⇒ instrument-bound, even though the consumers lagged', () => {
    const verdict = verdictOf({
      shared: true,
      seconds: seconds(20, () => ({ elu: 0.97, cpu: 0.96, lagMs: 40, consumed: 8000 })),
      latencyP99Ms: { delivery: 4000 },
      assert: ['delivery.p99<500ms'],
    });
    expect(verdict.limitedBy).toBe('instrument');
    expect(verdict.limit).toBe(
      'instrument-bound: the load generator shares one thread with the embedded pipeline, and it was 97% busy',
    );
  });

  it('a busy thread that did not get the CPU says the machine was shared', () => {
    const verdict = verdictOf({
      seconds: seconds(20, (i) => ({ elu: 0.97, cpu: 0.55, lagMs: i * 100, produced: 9000 })),
    });
    expect(verdict.limitedBy).toBe('instrument');
    expect(verdict.limit).toBe(
      "instrument-bound: the load generator's thread was 97% busy but got only 55% of a core — other processes held the machine's 2 cores",
    );
  });

  it('counts the garbage collector’s helper threads as the generator’s CPU, not as other processes', () => {
    const verdict = verdictOf({
      seconds: seconds(20, (i) => ({ elu: 1, cpu: 0.78, processCpu: 0.95, lagMs: i * 100, produced: 9000 })),
    });
    expect(verdict.limit).toBe('instrument-bound: the load generator used 95% of a core');
  });

  it('wrong results are the pipeline’s whatever the load', () => {
    const verdict = verdictOf({ ...saturatedGenerator, correct: false });
    expect(verdict.limitedBy).toBe('pipeline');
    expect(verdict.limit).toBe('pipeline-bound: results do not verify: 2 of 100 cells differ');
    expect(verdict.failures).toContain('results do not verify: 2 of 100 cells differ');
  });

  it('falling behind with room to spare and busy consumers: no limit named, and the evidence says so', () => {
    const verdict = verdictOf({
      seconds: seconds(20, (i) => ({
        elu: 0.5,
        cpu: 0.48,
        lagMs: i * 100,
        consumerElu: 0.9,
        consumed: 9000,
      })),
    });
    expect(verdict.status).toBe('failed');
    expect(verdict.limitedBy).toBeUndefined();
    expect(verdict.limit).toBeUndefined();
    expect(verdict.evidence.at(-1)).toMatch(/these figures do not show why$/);
  });

  it('a stopped run and lost records fail with their figures and name no limit', () => {
    const verdict = verdictOf({
      seconds: seconds(12, () => ({ elu: 0.3, cpu: 0.3 })),
      plannedSeconds: 60,
      stopped: true,
      correct: null,
      failedRecords: 258,
    });
    expect(verdict.failures).toEqual([
      'stopped early: 12 s of the planned 1 min measured',
      '258 of 170,000 records failed to send',
    ]);
    expect(verdict.checks.find((c) => c.name === 'results verify')).toMatchObject({
      outcome: 'skipped',
      message: 'not verified: the run was stopped early',
    });
    expect(verdict.limitedBy).toBeUndefined();
  });

  it('a passing run names no limit but warns when the generator was near its own', () => {
    const verdict = verdictOf({
      seconds: seconds(20, (i) => (i >= 10 && i < 13 ? { elu: 0.93, cpu: 0.91 } : { elu: 0.5, cpu: 0.49 })),
    });
    expect(verdict).toMatchObject({ status: 'passed', exitCode: 0, failures: [], evidence: [] });
    expect(verdict.limitedBy).toBeUndefined();
    expect(verdict.warnings).toEqual([
      'the load generator was near its limit in 3 of 20 measured seconds (at 16 s: the load generator used 91% of a core) — at a higher rate the figures would describe gapipe, not the pipeline',
    ]);
  });

  it('judges the schedule on the measured seconds: falling behind in the warm-up and catching up passes', () => {
    const input = scenarioInput({ seconds: seconds(10, () => ({ elu: 0.4, cpu: 0.4, lagMs: 5 })) });
    input.series[1] = {
      ...input.series[1],
      instrument: {
        ...(input.series[1]?.instrument as NonNullable<(typeof input.series)[1]['instrument']>),
        elu: 1,
        scheduleLagMs: 4000,
      },
    } as (typeof input.series)[number];
    expect(input.series[1]?.warmup).toBe(true);
    expect(decideVerdict(input).status).toBe('passed');
  });

  it('a limit gapipe sets is never reported as the pipeline’s: every saturated-and-behind run with right results', () => {
    for (const elu of [0.9, 0.95, 1])
      for (const cpu of [undefined, 0.5, 0.9, 1])
        for (const consumerElu of [undefined, 0.1, 0.99]) {
          const verdict = verdictOf({
            seconds: seconds(15, (i) => ({
              elu,
              ...(cpu === undefined ? {} : { cpu }),
              lagMs: 500 + i * 200,
              produced: 9000,
              consumed: 8000,
              ...(consumerElu === undefined ? {} : { consumerElu }),
            })),
            latencyP99Ms: { delivery: 5000 },
            assert: ['delivery.p99<500ms'],
          });
          expect(verdict.limitedBy, `elu ${elu} cpu ${cpu} consumers ${consumerElu}`).toBe('instrument');
        }
  });
});
