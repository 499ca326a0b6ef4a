/**
 * One verdict, rendered many times: for runs that passed, were instrument-bound, pipeline-bound,
 * stopped or unverified, the terminal summary, result.json, junit.xml and report.html show the same
 * status, the same failure reasons and the same limit — and a real `gapipe bench` (embedded, child
 * process) exits with the code the verdict gives and writes files that agree with its stdout.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/bench/report/index.js';
import { serializeResult, toJUnitXml } from '../../src/bench/results.js';
import type { BenchResult } from '../../src/bench/types.js';
import { renderBenchSummary } from '../../src/ui/bench.js';
import { scenarioResult, seconds } from './verdict-scenarios.js';

const unescapeXml = (text: string) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

/** What each rendering says: status, failure reasons in order, and the limit line. */
interface Rendered {
  status: 'passed' | 'failed';
  failures: string[];
  limit: string | undefined;
}

function fromJUnit(xml: string): Rendered & { skipped: number; limitedBy: string | undefined } {
  const failures = [...xml.matchAll(/<failure message="([^"]*)"/g)].map((m) => unescapeXml(m[1] ?? ''));
  const suiteFailures = Number(/<testsuite [^>]*\bfailures="(\d+)"/.exec(xml)?.[1]);
  expect(suiteFailures).toBe(failures.length);
  const out = /<system-out>([\s\S]*?)<\/system-out>/.exec(xml)?.[1];
  const limitedBy = /<property name="limitedBy" value="([^"]*)"\/>/.exec(xml)?.[1];
  return {
    status: failures.length === 0 ? 'passed' : 'failed',
    failures,
    limit: limitedBy && out ? unescapeXml(out).split('\n')[0] : undefined,
    skipped: Number(/<testsuite [^>]*\bskipped="(\d+)"/.exec(xml)?.[1]),
    limitedBy,
  };
}

function fromSummary(text: string): Rendered {
  const lines = stripVTControlCharacters(text).split('\n');
  const head = lines.slice(0, lines.indexOf(''));
  const limit = head.find((line) => /^ {2}(instrument|pipeline)-bound: /.test(line));
  return {
    status: head[0]?.startsWith('✔ PASSED') ? 'passed' : 'failed',
    failures: head.filter((line) => line.startsWith('  - ')).map((line) => line.slice(4)),
    limit: limit?.trim(),
  };
}

function fromReport(html: string): Rendered {
  const list = /<ul class="failures">([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  const limit = /<p class="limit [^"]*"[^>]*>([^<]*) </.exec(html)?.[1];
  return {
    status: html.includes('<span class="badge">Passed</span>') ? 'passed' : 'failed',
    failures: [...list.matchAll(/<li>([^<]*)<\/li>/g)].map((m) => unescapeXml(m[1] ?? '')),
    limit: limit === undefined ? undefined : unescapeXml(limit),
  };
}

function fromJson(text: string): Rendered & { limitedBy: string | undefined; exitCode: number } {
  const { summary } = JSON.parse(text) as BenchResult;
  expect(summary.status).toBe(summary.verdict.status);
  expect(summary.failures).toEqual(summary.verdict.failures);
  return {
    status: summary.verdict.status,
    failures: summary.verdict.failures,
    limit: summary.verdict.limit,
    limitedBy: summary.verdict.limitedBy,
    exitCode: summary.verdict.exitCode,
  };
}

const RUNS: Record<string, BenchResult> = {
  passed: scenarioResult({ seconds: seconds(20, () => ({ elu: 0.4, cpu: 0.4 })), assert: ['correct'] }),
  'instrument-bound': scenarioResult({
    seconds: seconds(20, (i) => ({ elu: 0.99, cpu: 0.98, lagMs: i * 100, produced: 9000 })),
    latencyP99Ms: { delivery: 2500 },
    assert: ['delivery.p99<500ms', 'correct'],
  }),
  'pipeline-bound': scenarioResult({
    seconds: seconds(20, () => ({ elu: 0.3, cpu: 0.3, consumed: 6000, consumerElu: 0.99 })),
    latencyP99Ms: { delivery: 9000 },
    assert: ['delivery.p99<500ms'],
  }),
  'stopped, unverified': scenarioResult({
    seconds: seconds(5, () => ({ elu: 0.3, cpu: 0.3 })),
    plannedSeconds: 60,
    stopped: true,
    correct: null,
  }),
  'verification failed to run': scenarioResult({ seconds: seconds(10, () => ({ elu: 0.3 })), correct: null }),
};

describe('one verdict: summary, result.json, junit.xml and report.html agree', () => {
  for (const [name, result] of Object.entries(RUNS)) {
    it(name, () => {
      const verdict = result.summary.verdict;
      const expected: Rendered = { status: verdict.status, failures: verdict.failures, limit: verdict.limit };
      const junit = fromJUnit(toJUnitXml(result));
      const json = fromJson(serializeResult(result));
      expect({ status: json.status, failures: json.failures, limit: json.limit }).toEqual(expected);
      expect({ status: junit.status, failures: junit.failures, limit: junit.limit }).toEqual(expected);
      expect(fromSummary(renderBenchSummary(result))).toEqual(expected);
      expect(fromReport(renderReport(result))).toEqual(expected);
      expect(junit.limitedBy).toBe(verdict.limitedBy);
      expect(json.limitedBy).toBe(verdict.limitedBy);
      expect(junit.skipped).toBe(verdict.checks.filter((c) => c.outcome === 'skipped').length);
      expect(json.exitCode).toBe(verdict.status === 'passed' ? 0 : 1);
    });
  }

  it('covers every kind of outcome it claims to', () => {
    expect(RUNS.passed?.summary.verdict.status).toBe('passed');
    expect(RUNS['instrument-bound']?.summary.verdict.limitedBy).toBe('instrument');
    expect(RUNS['pipeline-bound']?.summary.verdict.limitedBy).toBe('pipeline');
    expect(RUNS['stopped, unverified']?.summary.verdict.checks.map((c) => c.outcome)).toContain('skipped');
    expect(RUNS['verification failed to run']?.summary.verdict.failures).toEqual([
      'results could not be verified',
    ]);
  });
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gapipe-one-verdict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function gapipe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GAPIPE_')));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bin/dev.js', ...args],
      { cwd: ROOT, env: { ...env, CI: 'true', FORCE_COLOR: '0' }, timeout: 150_000 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr: stripVTControlCharacters(stderr) });
      },
    );
  });
}

describe('gapipe bench (embedded, child process): the exit code and every file render one verdict', () => {
  it('fails a gate it cannot meet: exit 1, and stdout, result.json, junit.xml and report.html agree', async () => {
    const out = join(dir, 'gated');
    const run = await gapipe([
      'bench',
      '--target',
      'embedded',
      '--players',
      '100',
      '--rate',
      '500/s',
      '--duration',
      '3s',
      '--warmup',
      '1s',
      '--flush-interval',
      '200ms',
      '--assert',
      'delivery.p99<0.001ms',
      '--out',
      out,
    ]);
    const json = fromJson(await readFile(join(out, 'result.json'), 'utf8'));
    expect(run.code, run.stderr).toBe(json.exitCode);
    expect(run.code).toBe(1);
    expect(json.failures).toHaveLength(1);
    expect(json.failures[0]).toMatch(/^delivery\.p99 was [\d.,]+ms, not < 0\.001ms$/);
    const expected = { status: json.status, failures: json.failures, limit: json.limit };
    expect(fromSummary(run.stdout)).toEqual(expected);
    const junit = fromJUnit(await readFile(join(out, 'junit.xml'), 'utf8'));
    expect({ status: junit.status, failures: junit.failures, limit: junit.limit }).toEqual(expected);
    expect(fromReport(await readFile(join(out, 'report.html'), 'utf8'))).toEqual(expected);

    // The instrument measured itself, second by second, and the summary says how busy it was.
    const result = JSON.parse(await readFile(join(out, 'result.json'), 'utf8')) as BenchResult;
    const measured = result.series.filter((p) => !p.warmup && p.t <= 4);
    expect(measured.length).toBeGreaterThanOrEqual(2);
    for (const p of measured) {
      expect(p.instrument?.elu).toBeGreaterThanOrEqual(0);
      expect(p.instrument?.elu).toBeLessThanOrEqual(1);
      expect(p.instrument?.scheduleLagMs).toBeGreaterThanOrEqual(0);
    }
    expect(result.summary.instrument).toMatchObject({ sharedWithPipeline: true, generatorThreads: 1 });
    expect(stripVTControlCharacters(run.stdout)).toContain(
      'Instrument: the load generator (sharing its thread with the embedded pipeline)',
    );
  });
});
