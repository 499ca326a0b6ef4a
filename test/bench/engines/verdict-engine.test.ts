import { describe, expect, it } from 'vitest';
import type { EngineName } from '../../../src/bench/engines/types.js';
import type { EngineSummary } from '../../../src/bench/types.js';
import { decideVerdict } from '../../../src/bench/verdict.js';
import { type Scenario, scenarioInput, seconds } from '../verdict-scenarios.js';

/** The engine falls 3,000 records further behind each second; the generator has room. */
const fallsBehind: Scenario = {
  seconds: seconds(20, () => ({ elu: 0.3, cpu: 0.28, lagMs: 2, consumed: 7000 })),
  latencyP99Ms: { delivery: 40 },
};

/** A steady second of load behind: an engine that keeps up. */
const keepsUp: Scenario = {
  seconds: seconds(20, () => ({ elu: 0.4, cpu: 0.38, lagMs: 3, consumerLag: 10_000 })),
};

const ENGINES: Record<EngineName, EngineSummary> = {
  gapipe: {
    name: 'gapipe',
    description: '1 consumer process',
    measuredBy: {
      consumed: "the consumers' own counts",
      lag: "the topic's end offsets minus the consumers' read positions",
    },
  },
  spark: {
    name: 'spark',
    description: 'the Spark job on local[2]',
    measuredBy: {
      consumed: "records the engine's documents count",
      lag: "records sent and not yet counted in the engine's documents",
    },
  },
  external: {
    name: 'external',
    description: 'your engine',
    measuredBy: {
      consumed: "records the engine's documents count",
      lag: "records sent and not yet counted in the engine's documents",
    },
  },
};

/** The verdict of a scenario run with `engine` (none: a result of an older version, gapipe's). */
function verdictOf(scenario: Scenario, engine: EngineName | undefined) {
  const input = scenarioInput(scenario);
  return decideVerdict({
    ...input,
    summary: { ...input.summary, ...(engine === undefined ? {} : { engine: ENGINES[engine] }) },
  });
}

describe('decideVerdict: an engine read from outside', () => {
  it.each(['spark', 'external'] as const)(
    '%s falling behind: its documents, not consumers, are behind',
    (engine) => {
      const verdict = verdictOf(fallsBehind, engine);
      expect(verdict.status).toBe('failed');
      expect(verdict.limitedBy).toBe('pipeline');
      expect(verdict.failures).toEqual([
        "the pipeline fell behind: records not yet counted in the engine's documents never fell below 33,000 in the last 10 measured seconds, up from 3,000 in the first 10 (allowed: 10,000 more)",
      ]);
      expect(verdict.limit).toBe(
        'pipeline-bound: the engine fell behind: records not yet counted in its documents reached 60,000 (its documents counted 7,000/s of 10,000/s produced)',
      );
      expect(verdict.evidence).toContain(
        'engine: at most 60,000 records not yet counted in its documents, its documents counted 7,000/s of 10,000/s produced',
      );
      const words = [...verdict.failures, verdict.limit, ...verdict.evidence].join('\n');
      expect(words).not.toMatch(/consumer|consumed/);
    },
  );

  it.each(['spark', 'external'] as const)(
    '%s keeping up: its lag is what its documents have not counted yet',
    (engine) => {
      const verdict = verdictOf(keepsUp, engine);
      expect(verdict.status).toBe('passed');
      expect(verdict.checks.find((c) => c.name === 'pipeline keeps up')).toMatchObject({
        outcome: 'passed',
        message:
          "records not yet counted in the engine's documents: at least 10,000 in the first 10 measured seconds, at least 10,000 in the last 10 — not growing",
      });
    },
  );

  it.each(['spark', 'external'] as const)(
    '%s in micro-batches: a sawtooth backlog that does not grow keeps up, one that grows does not',
    (engine) => {
      // 2,000 records/s written every 10 s: the backlog rises 2,000 a second and drops at each batch.
      const sawtooth = (extra: number): Scenario => ({
        seconds: seconds(30, (i) => ({
          elu: 0.3,
          cpu: 0.28,
          lagMs: 2,
          consumerLag: 4_000 + (i % 10) * 2_000 + i * extra,
        })),
        targetRate: 2_000,
      });
      const steady = verdictOf(sawtooth(0), engine);
      expect(steady.checks.find((c) => c.name === 'pipeline keeps up')?.outcome).toBe('passed');
      // 300 more each second (it counts 1,700/s of 2,000/s): the floor rises from 4,000 to 10,000.
      const behind = verdictOf(sawtooth(300), engine);
      expect(behind.checks.find((c) => c.name === 'pipeline keeps up')).toMatchObject({
        outcome: 'failed',
        message: expect.stringMatching(
          /never fell below 10,000 in the last 15 measured seconds, up from 4,000 in the first 15 \(allowed: 2,000 more\)$/,
        ),
      });
    },
  );

  it.each([
    ['gapipe', 'gapipe'],
    ['a result without an engine (older versions)', undefined],
  ] as const)('%s keeps the consumers’ words', (_, engine) => {
    const verdict = verdictOf(fallsBehind, engine);
    expect(verdict.failures).toEqual([
      'the pipeline fell behind: 60,000 records not yet consumed at the end of the measured window (6 s of load), up from 3,000 at 6 s; it consumed 7,000/s of 10,000/s produced',
    ]);
    expect(verdict.limit).toBe(
      'pipeline-bound: the consumers fell behind: lag reached 60,000 records (consumed 7,000/s of 10,000/s produced)',
    );
    expect(verdict.evidence).toContain(
      'consumers: max lag 60,000 records, consumed 7,000/s of 10,000/s produced',
    );
    expect(verdict.checks.find((c) => c.name === 'pipeline keeps up')?.message).not.toContain('documents');
    expect(verdictOf(keepsUp, engine).checks.find((c) => c.name === 'pipeline keeps up')?.message).toBe(
      'consumer lag 10,000 records at the end of the measured window (1 s of load), at most 10,000',
    );
  });
});
