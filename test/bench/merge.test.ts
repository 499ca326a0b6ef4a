/**
 * `gapipe bench merge`: results of runs that measured together become one result — histograms merged
 * as if one had recorded every sample, counts and series summed, the verdict decided again.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeHistograms, summarize } from '../../src/bench/histograms.js';
import { mergeResultFiles, mergeResults, mergeSeries } from '../../src/bench/merge.js';
import { writeResultFiles } from '../../src/bench/results.js';
import { LATENCY_KINDS } from '../../src/bench/types.js';
import { GapipeError } from '../../src/errors.js';
import { sampleBenchResult } from './fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gapipe-bench-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const a = sampleBenchResult({ runId: 'run-a' }, { seed: 1 });
const b = sampleBenchResult({ runId: 'run-b', provenance: { ...a.provenance } }, { seed: 2, seconds: 62 });

describe('mergeResults', () => {
  const merged = mergeResults([
    { source: 'a', result: a },
    { source: 'b', result: b },
  ]);

  it('merges histograms: the same as one histogram holding every sample', () => {
    for (const kind of LATENCY_KINDS) {
      const decoded = decodeFromCompressedBase64(merged.histograms[kind], 32, false);
      const parts = [a, b].map((r) => decodeFromCompressedBase64(r.histograms[kind], 32, false));
      expect(decoded.totalCount).toBe(parts.reduce((n, h) => n + h.totalCount, 0));
      expect(merged.summary.latency[kind]).toEqual(
        summarize(mergeHistograms([a.histograms[kind], b.histograms[kind]])),
      );
      expect(merged.summary.latency[kind].maxMs).toBe(
        Math.max(a.summary.latency[kind].maxMs, b.summary.latency[kind].maxMs),
      );
    }
  });

  it('sums counts and rates, and keeps where every part came from', () => {
    for (const key of Object.keys(a.summary.totals) as Array<keyof typeof a.summary.totals>) {
      expect(merged.summary.totals[key]).toBe(a.summary.totals[key] + b.summary.totals[key]);
    }
    expect(merged.summary.throughput.consumed).toBeCloseTo(
      a.summary.throughput.consumed + b.summary.throughput.consumed,
    );
    expect(merged.summary.targetRate).toBe(a.summary.targetRate + b.summary.targetRate);
    expect(merged.config.targetRate).toBe(a.config.targetRate + b.config.targetRate);
    expect(merged.config.consumers).toBe(4);
    expect(merged.config.extra.mergedFrom).toEqual([
      { source: 'a', runId: 'run-a', host: 'bench-runner-1', status: a.summary.status },
      { source: 'b', runId: 'run-b', host: 'bench-runner-1', status: b.summary.status },
    ]);
    expect(merged.runId).toMatch(/^[0-9a-f]{8}-/);
    expect(
      mergeResults([
        { source: 'b', result: b },
        { source: 'a', result: a },
      ]).runId,
    ).toBe(merged.runId);
    expect(merged.startedAt <= merged.finishedAt).toBe(true);
  });

  it('sums series per second, longest run included; lag and p99 are the largest of any run', () => {
    expect(merged.series).toHaveLength(62);
    for (const point of merged.series) {
      const pa = a.series.find((p) => p.t === point.t);
      const pb = b.series.find((p) => p.t === point.t);
      expect(point.produced).toBe((pa?.produced ?? 0) + (pb?.produced ?? 0));
      expect(point.consumed).toBe((pa?.consumed ?? 0) + (pb?.consumed ?? 0));
      expect(point.lag).toBe(Math.max(pa?.lag ?? 0, pb?.lag ?? 0));
      const p99 = [pa?.p99Ms.delivery, pb?.p99Ms.delivery].filter((v) => v !== undefined) as number[];
      if (p99.length > 0) expect(point.p99Ms.delivery).toBe(Math.max(...p99));
    }
    expect(mergeSeries([[], []])).toEqual([]);
  });

  it('decides the verdict again: passes only if every run verified and the merged figures hold the assertions', () => {
    expect(merged.summary.status).toBe('passed');
    expect(merged.summary.correct).toBe(true);
    expect(merged.summary.verify).toMatchObject({
      ok: true,
      cellsCompared: (a.summary.verify?.cellsCompared ?? 0) + (b.summary.verify?.cellsCompared ?? 0),
    });
    expect(merged.summary.assertions.map((x) => x.expression)).toEqual(a.config.assertions);
    const wrong = sampleBenchResult({
      runId: 'run-c',
      summary: {
        correct: false,
        verify: {
          ok: false,
          cellsCompared: 10,
          cellsDiffering: 1,
          differences: [
            {
              window_start: 'w',
              region: 'EU',
              event_type: 'level_up',
              field: 'events',
              expected: 2,
              actual: 1,
            },
          ],
        },
      },
    });
    const failed = mergeResults([
      { source: 'a', result: a },
      { source: 'c', result: wrong },
    ]);
    expect(failed.summary.correct).toBe(false);
    expect(failed.summary.status).toBe('failed');
    expect(failed.summary.verdict.exitCode).toBe(1);
    expect(failed.summary.verify?.differences).toHaveLength(1);
  });

  it('needs at least two results', () => {
    expect(() => mergeResults([{ source: 'a', result: a }])).toThrow(GapipeError);
  });
});

describe('merging result files', () => {
  it('reads results directories and writes the merged result files', async () => {
    await writeResultFiles(join(dir, 'a'), a);
    await writeResultFiles(join(dir, 'b'), b);
    const out = join(dir, 'merged');
    const { result, files } = await mergeResultFiles([join(dir, 'a'), join(dir, 'b', 'result.json')], out);
    expect(files.dir).toBe(out);
    const written = JSON.parse(readFileSync(files.json, 'utf8'));
    expect(written.summary.totals.produced).toBe(result.summary.totals.produced);
    for (const kind of LATENCY_KINDS) expect(existsSync(files.hgrm[kind])).toBe(true);
    expect(readFileSync(files.html as string, 'utf8')).toContain('<html');
  });

  it('gapipe bench merge DIR DIR --out DIR (child process)', async () => {
    const out = join(dir, 'merged-cli');
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bin/dev.js', 'bench', 'merge', join(dir, 'a'), join(dir, 'b'), '--out', out],
        { cwd: ROOT, env: { ...process.env, CI: 'true', FORCE_COLOR: '0' } },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(out);
    expect(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).config.extra.mergedFrom).toHaveLength(
      2,
    );
    const one = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bin/dev.js', 'bench', 'merge', join(dir, 'a')],
        { cwd: ROOT, env: { ...process.env, CI: 'true', FORCE_COLOR: '0' } },
        (error, _stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stderr }),
      );
    });
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('bench merge needs at least two results to merge, got 1');
  }, 120_000);
});
