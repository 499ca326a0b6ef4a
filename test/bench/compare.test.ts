/**
 * `gapipe bench compare`: the comparison service on fixture results, its rendering, and the command as
 * a child process (bin/dev.js, CI=true) on two result files in a temp directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Comparison,
  type ComparisonRow,
  compareResults,
  parseMaxRegression,
} from '../../src/bench/compare.js';
import { emptySummary, LatencyRecorder } from '../../src/bench/histograms.js';
import { serializeResult } from '../../src/bench/results.js';
import {
  type BenchConfig,
  type BenchResult,
  type BenchSummary,
  LATENCY_KINDS,
  type LatencyKind,
  RESULT_FORMAT,
} from '../../src/bench/types.js';
import { GapipeError } from '../../src/errors.js';
import { renderComparison } from '../../src/ui/bench-compare.js';
import { decided, instrumentSummary } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gapipe-bench-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Fixture {
  /** Latencies are recorded as 1..1000 × this, in ms, for each kind except `visible` (left empty). */
  latencyScale?: number;
  consumed?: number;
  produced?: number;
  written?: number;
  achievedRate?: number;
  maxLag?: number;
  correct?: boolean | null;
  config?: Partial<BenchConfig>;
  summary?: Partial<BenchSummary>;
  runId?: string;
}

/** A bench result whose latency summaries and histograms come from a real recorder. */
function benchResult(fixture: Fixture = {}): BenchResult {
  const scale = fixture.latencyScale ?? 1;
  const latency = {} as BenchSummary['latency'];
  const histograms = {} as Record<LatencyKind, string>;
  for (const kind of LATENCY_KINDS) {
    const recorder = new LatencyRecorder(kind, { measuring: true });
    if (kind !== 'visible') for (let i = 1; i <= 1000; i++) recorder.recordMs(i * scale);
    latency[kind] = kind === 'visible' ? emptySummary() : recorder.summary();
    histograms[kind] = recorder.encode();
  }
  const correct = fixture.correct === undefined ? true : fixture.correct;
  return {
    format: RESULT_FORMAT,
    runId: fixture.runId ?? 'base-run',
    startedAt: '2026-05-01T10:00:00.000Z',
    finishedAt: '2026-05-01T10:01:10.000Z',
    config: {
      target: 'embedded',
      players: 1000,
      rate: '20000/s',
      targetRate: 20_000,
      stages: null,
      scenario: null,
      durationMs: 60_000,
      warmupMs: 10_000,
      seed: 7,
      consumers: 2,
      topic: 'game-events',
      partitions: 6,
      index: 'gapipe-aggregates',
      brokers: null,
      esUrl: null,
      assertions: [],
      extra: {},
      ...fixture.config,
    },
    provenance: {
      gapipeVersion: '0.1.0',
      node: 'v20.19.0',
      libraries: {},
      images: {},
      host: { platform: 'linux', arch: 'x64', cpuModel: 'cpu', cpus: 4, memoryBytes: 8e9, hostname: 'h' },
      command: 'gapipe bench',
    },
    summary: decided(
      {
        status: correct === false ? 'failed' : 'passed',
        stopReason: 'completed',
        failures: [],
        durationMs: 70_000,
        measuredMs: 60_000,
        targetRate: 20_000,
        achievedRate: fixture.achievedRate ?? 19_800,
        keptUp: true,
        throughput: {
          produced: fixture.produced ?? 19_800,
          acknowledged: fixture.produced ?? 19_800,
          consumed: fixture.consumed ?? 19_500,
          written: fixture.written ?? 200,
        },
        totals: {
          produced: 1_188_000,
          acknowledged: 1_188_000,
          failed: 0,
          consumed: 1_170_000,
          written: 12_000,
          late: 0,
          deadLettered: 0,
          duplicates: 0,
        },
        maxLag: fixture.maxLag ?? 1000,
        latency,
        correct,
        verify:
          correct === null
            ? null
            : { ok: correct, cellsCompared: 100, cellsDiffering: correct ? 0 : 3, differences: [] },
        assertions: [],
        errors: [],
        instrument: instrumentSummary(),
        ...fixture.summary,
      },
      [],
      { durationMs: 60_000, warmupMs: 10_000, target: 'embedded' },
    ),
    series: [],
    histograms,
  };
}

function row(comparison: Comparison, name: string): ComparisonRow {
  const found = comparison.rows.find((r) => r.name === name);
  if (!found) throw new Error(`no row ${name}`);
  return found;
}

describe('compareResults', () => {
  it('has a row per figure, in order, skipping latency kinds without samples', () => {
    const comparison = compareResults(benchResult(), benchResult(), { maxRegressionPct: 10 });
    const latencyRows = ['produce-ack', 'delivery', 'sink'].flatMap((kind) =>
      ['p50', 'p90', 'p99', 'p99.9', 'max'].map((stat) => `${kind}.${stat}`),
    );
    expect(comparison.rows.map((r) => r.name)).toEqual([
      ...latencyRows,
      'throughput',
      'produced',
      'written',
      'achieved',
      'lag.max',
    ]);
    expect(comparison.rows.every((r) => r.verdict === 'same' && !r.regressed && r.deltaPct === 0)).toBe(true);
    expect(comparison).toMatchObject({
      ok: true,
      regressions: [],
      failures: [],
      warnings: [],
      maxRegressionPct: 10,
    });
    expect(row(comparison, 'delivery.p99')).toMatchObject({ unit: 'ms', better: 'lower' });
    expect(row(comparison, 'throughput')).toMatchObject({
      unit: '/s',
      better: 'up-to-target',
      base: 19_500,
      target: { base: 20_000, new: 20_000 },
    });
    expect(row(comparison, 'achieved')).toMatchObject({ unit: '%', better: 'target', base: 99 });
    expect(row(comparison, 'written')).toMatchObject({ unit: '/s', better: 'none' });
    expect(row(comparison, 'lag.max')).toMatchObject({ unit: 'records', better: 'lower' });
  });

  it('lower latency and throughput nearer its target are better; worse beyond the threshold is a regression', () => {
    const base = benchResult();
    const next = benchResult({
      runId: 'new-run',
      latencyScale: 1.2,
      consumed: 17_000,
      produced: 19_000,
      written: 210,
      maxLag: 900,
    });
    const comparison = compareResults(base, next, { maxRegressionPct: 10 });

    const p99 = row(comparison, 'delivery.p99');
    expect(p99.verdict).toBe('worse');
    expect(p99.deltaPct).toBeCloseTo(20, 0);
    expect(p99.regressed).toBe(true);

    expect(row(comparison, 'throughput')).toMatchObject({
      base: 19_500,
      new: 17_000,
      verdict: 'worse',
      regressed: true,
    });
    expect(row(comparison, 'throughput').deltaPct).toBeCloseTo(-12.82, 2);
    // Worse, but within 10%.
    expect(row(comparison, 'produced')).toMatchObject({ verdict: 'worse', regressed: false });
    // Documents written depend on windows and flushes: a change, neither better nor worse.
    expect(row(comparison, 'written')).toMatchObject({ verdict: 'changed', regressed: false, deltaPct: 5 });
    expect(row(comparison, 'lag.max')).toMatchObject({ verdict: 'better', regressed: false, deltaPct: -10 });

    expect(comparison.ok).toBe(false);
    expect(comparison.regressions).toContain('throughput -12.8%');
    expect(comparison.regressions).toContain('delivery.p99 +20.1%');
    expect(comparison.regressions).not.toContain('produced -4.0%');
    expect(comparison.failures).toEqual([]);
    expect(comparison.base.runId).toBe('base-run');
    expect(comparison.new.runId).toBe('new-run');

    // A looser threshold lets the same change through.
    const loose = compareResults(base, next, { maxRegressionPct: 25 });
    expect(loose.ok).toBe(true);
    expect(loose.rows.some((r) => r.regressed)).toBe(false);
    // Improvements never regress, however large.
    const improved = compareResults(next, base, { maxRegressionPct: 1 });
    expect(row(improved, 'delivery.p99').verdict).toBe('better');
    expect(row(improved, 'throughput').verdict).toBe('better');
    expect(improved.rows.filter((r) => r.regressed).map((r) => r.name)).toEqual(['lag.max']);
  });

  it('judges rates by their distance from the target: short is worse, over it is no improvement', () => {
    const at = (achievedRate: number, consumed = achievedRate) =>
      benchResult({ achievedRate, consumed, produced: achievedRate });
    const verdictOf = (a: number, b: number) => {
      const r = row(compareResults(at(a), at(b), { maxRegressionPct: 10 }), 'achieved');
      return { verdict: r.verdict, note: r.note, regressed: r.regressed };
    };
    // 86% → 110% of a 20,000/s target: over the target is not an improvement.
    expect(verdictOf(17_200, 22_000)).toEqual({
      verdict: 'changed',
      note: 'over the target: not an improvement',
      regressed: false,
    });
    expect(row(compareResults(at(17_200), at(22_000), { maxRegressionPct: 10 }), 'produced')).toMatchObject({
      verdict: 'changed',
    });
    // The pipeline consuming more than the target while measured is draining a backlog: on target.
    expect(row(compareResults(at(17_200), at(22_000), { maxRegressionPct: 10 }), 'throughput')).toMatchObject(
      {
        better: 'up-to-target',
        verdict: 'better',
        note: 'reached the target',
      },
    );
    expect(row(compareResults(at(20_000), at(23_000), { maxRegressionPct: 10 }), 'throughput')).toMatchObject(
      {
        verdict: 'same',
        note: 'on target',
      },
    );
    expect(verdictOf(20_000, 22_000)).toEqual({
      verdict: 'worse',
      note: 'over the target',
      regressed: false,
    });
    expect(verdictOf(20_000, 26_000)).toEqual({ verdict: 'worse', note: 'over the target', regressed: true });
    expect(verdictOf(22_000, 20_000)).toEqual({
      verdict: 'better',
      note: 'reached the target',
      regressed: false,
    });
    expect(verdictOf(17_200, 19_000)).toEqual({
      verdict: 'better',
      note: 'closer to the target',
      regressed: false,
    });
    expect(verdictOf(20_000, 17_200)).toEqual({
      verdict: 'worse',
      note: 'short of the target',
      regressed: true,
    });
    // Within 2% of the target both are on it.
    expect(verdictOf(19_800, 20_200)).toEqual({ verdict: 'same', note: 'on target', regressed: false });
  });

  it('from zero to something has no percentage and counts as a regression', () => {
    const comparison = compareResults(benchResult({ maxLag: 0 }), benchResult({ maxLag: 5 }), {
      maxRegressionPct: 10,
    });
    expect(row(comparison, 'lag.max')).toMatchObject({ base: 0, new: 5, deltaPct: null, regressed: true });
    expect(comparison.regressions).toEqual(['lag.max from 0']);
  });

  it('skips a latency kind that has no samples on either side, and achieved without a target rate', () => {
    const noDelivery = benchResult();
    noDelivery.summary.latency.delivery = emptySummary();
    const noTarget = benchResult({ summary: { targetRate: 0 } });
    const comparison = compareResults(benchResult(), noDelivery, { maxRegressionPct: 10 });
    expect(comparison.rows.some((r) => r.name.startsWith('delivery.'))).toBe(false);
    expect(comparison.rows.some((r) => r.name.startsWith('sink.'))).toBe(true);
    expect(
      compareResults(noTarget, benchResult(), { maxRegressionPct: 10 }).rows.some(
        (r) => r.name === 'achieved',
      ),
    ).toBe(false);
  });

  it('warns when the runs were set up differently, without failing', () => {
    const next = benchResult({
      config: {
        target: 'lab',
        rate: '10ms',
        targetRate: 100,
        players: 50,
        consumers: 1,
        durationMs: 120_000,
      },
    });
    const comparison = compareResults(benchResult(), next, { maxRegressionPct: 1000 });
    expect(comparison.warnings).toEqual([
      'target differs: embedded (base) vs lab (new)',
      'rate differs: 20000/s (base) vs 10ms (new)',
      'players differs: 1000 (base) vs 50 (new)',
      'consumers differs: 2 (base) vs 1 (new)',
      'duration differs: 60s (base) vs 120s (new)',
    ]);
    expect(comparison.ok).toBe(true);
  });

  it('fails when either run did not verify, and warns when one was not verified', () => {
    const wrong = compareResults(benchResult(), benchResult({ correct: false }), { maxRegressionPct: 10 });
    expect(wrong.ok).toBe(false);
    expect(wrong.failures).toEqual(["the new run's results did not verify (3 cells differ)"]);
    expect(wrong.regressions).toEqual([]);
    expect(wrong.new.correct).toBe(false);

    const baseWrong = compareResults(benchResult({ correct: false }), benchResult(), {
      maxRegressionPct: 10,
    });
    expect(baseWrong.failures).toEqual(["the base run's results did not verify (3 cells differ)"]);

    const unverified = compareResults(benchResult({ correct: null }), benchResult(), {
      maxRegressionPct: 10,
    });
    expect(unverified.ok).toBe(true);
    expect(unverified.warnings).toEqual(["the base run's results were not verified"]);
  });

  it('records where the runs came from when told', () => {
    const comparison = compareResults(benchResult(), benchResult(), {
      maxRegressionPct: 10,
      baseSource: 'a.json',
      newSource: 'b.json',
    });
    expect(comparison.base.source).toBe('a.json');
    expect(comparison.new.source).toBe('b.json');
  });
});

describe('parseMaxRegression', () => {
  it('takes 10% or 10', () => {
    expect(parseMaxRegression('10%')).toBe(10);
    expect(parseMaxRegression('10')).toBe(10);
    expect(parseMaxRegression('2.5 %')).toBe(2.5);
    expect(parseMaxRegression('0')).toBe(0);
  });

  it('rejects anything else, naming the form', () => {
    for (const text of ['ten', '-5%', '10%%', '', '0.1x']) {
      let error: unknown;
      try {
        parseMaxRegression(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GapipeError);
      expect((error as GapipeError).code).toBe('INVALID_FLAG');
      expect((error as GapipeError).message).toBe(
        `--max-regression must be a percentage like 10% or 10, got '${text}'`,
      );
    }
  });
});

describe('renderComparison', () => {
  it('shows both runs, a table row per figure, warnings, failures and the verdict', () => {
    const comparison = compareResults(
      benchResult(),
      benchResult({ runId: 'new-run', latencyScale: 1.2, config: { players: 2000 } }),
      { maxRegressionPct: 10, baseSource: 'base.json', newSource: 'new.json' },
    );
    const text = stripVTControlCharacters(renderComparison(comparison));
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'base: base.json — run base-run, 2026-05-01T10:00:00.000Z, embedded at 20000/s, passed (verified)',
    );
    expect(lines[1]).toMatch(/^new: {2}new\.json — run new-run/);
    expect(text).toMatch(/^figure\s+base\s+new\s+change\s+verdict$/m);
    expect(text).toMatch(/^delivery\.p99\s+990\.2ms\s+1,189ms\s+\+20\.1%\s+worse, regressed$/m);
    expect(text).toMatch(/^produce-ack\.p50\s+500\.2ms\s+600\.1ms\s+\+20\.0%\s+worse, regressed$/m);
    expect(text).toMatch(/^throughput\s+19,500\/s\s+19,500\/s\s+±0\.0%\s+same$/m);
    expect(text).toMatch(/^achieved\s+99%\s+99%\s+±0\.0%\s+same \(on target\)$/m);
    expect(text).toMatch(/^lag\.max\s+1,000\s+1,000\s+±0\.0%\s+same$/m);
    expect(text).toContain('⚠ players differs: 1000 (base) vs 2000 (new)');
    expect(lines.at(-2)).toBe(
      '✘ 15 figures regressed by more than 10%: produce-ack.p50 +20.0%, produce-ack.p90 +20.0%, produce-ack.p99 +20.1%, produce-ack.p99.9 +20.0%, produce-ack.max +20.0%, … 10 more',
    );
  });

  it('names a failed verification, and does not call a failed comparison clean', () => {
    const text = stripVTControlCharacters(
      renderComparison(
        compareResults(benchResult(), benchResult({ correct: false }), { maxRegressionPct: 10 }),
      ),
    );
    expect(text).toContain("✘ the new run's results did not verify (3 cells differ)");
    expect(text).toContain('did not verify)');
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      '✘ no figure regressed by more than 10%, but the comparison failed',
    );
  });

  it('ends with a tick when nothing regressed', () => {
    const text = stripVTControlCharacters(
      renderComparison(compareResults(benchResult(), benchResult(), { maxRegressionPct: 10 })),
    );
    expect(text.trimEnd().split('\n').at(-1)).toBe('✔ no figure regressed by more than 10%');
  });
});

// --- the command, as a user runs it ------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gapipe(...args: string[]): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GAPIPE_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bin/dev.js', ...args],
      { cwd: ROOT, env: { ...env, CI: 'true', FORCE_COLOR: '0' }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr: stripVTControlCharacters(stderr) });
      },
    );
  });
}

async function writeResult(name: string, result: BenchResult): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, serializeResult(result));
  return path;
}

describe('gapipe bench compare (child process, CI=true)', { timeout: 120_000 }, () => {
  it('same figures: the table on stdout, exit 0', async () => {
    const base = await writeResult('same-base.json', benchResult());
    const next = await writeResult('same-new.json', benchResult({ runId: 'new-run' }));
    const { code, stdout, stderr } = await gapipe('bench', 'compare', base, next);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`base: ${base} — run base-run`);
    expect(stdout).toMatch(/^delivery\.p99\s+/m);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('✔ no figure regressed by more than 10%');
  });

  it('a regression beyond the threshold exits 1 with the output still printed; a looser one passes', async () => {
    const base = await writeResult('reg-base.json', benchResult());
    const next = await writeResult('reg-new.json', benchResult({ runId: 'slower', latencyScale: 1.2 }));
    const strict = await gapipe('bench', 'compare', base, next);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^delivery\.p99 .* worse, regressed$/m);
    expect(strict.stdout).toMatch(/^✘ 15 figures regressed by more than 10%: produce-ack.p50 \+20\.0%/m);

    const loose = await gapipe('bench', 'compare', base, next, '--max-regression', '25%');
    expect(loose.code).toBe(0);
    expect(loose.stdout.trimEnd().split('\n').at(-1)).toBe('✔ no figure regressed by more than 25%');
  });

  it('--json prints the comparison, and still exits 1 on a regression', async () => {
    const base = await writeResult('json-base.json', benchResult());
    const next = await writeResult('json-new.json', benchResult({ consumed: 10_000 }));
    const { code, stdout } = await gapipe('bench', 'compare', base, next, '--json', '--max-regression', '10');
    expect(code).toBe(1);
    const comparison = JSON.parse(stdout) as Comparison;
    expect(comparison.ok).toBe(false);
    expect(comparison.maxRegressionPct).toBe(10);
    expect(comparison.base.source).toBe(base);
    expect(comparison.rows.find((r) => r.name === 'throughput')).toMatchObject({
      base: 19_500,
      new: 10_000,
      regressed: true,
    });
  });

  it('a run that did not verify fails the comparison', async () => {
    const base = await writeResult('wrong-base.json', benchResult());
    const next = await writeResult('wrong-new.json', benchResult({ correct: false }));
    const { code, stdout } = await gapipe('bench', 'compare', base, next);
    expect(code).toBe(1);
    expect(stdout).toContain("✘ the new run's results did not verify (3 cells differ)");
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(
      '✘ no figure regressed by more than 10%, but the comparison failed',
    );
  });

  it('a bad --max-regression or a missing file exits 2 naming the problem', async () => {
    const base = await writeResult('flag-base.json', benchResult());
    const bad = await gapipe('bench', 'compare', base, base, '--max-regression', 'lots');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain("--max-regression must be a percentage like 10% or 10, got 'lots'");

    const missing = join(dir, 'missing.json');
    const gone = await gapipe('bench', 'compare', base, missing);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`Cannot read ${missing}: no such file`);
  });
});
