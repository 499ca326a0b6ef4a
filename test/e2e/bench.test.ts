/**
 * gapipe bench end to end: the embedded pipeline (no Docker involved), and two consumer processes
 * against a real lab whose latency histograms merge into one result that verifies; the result files
 * are complete and `bench compare` accepts a run against itself. Every figure shown is the measured
 * one: a pipeline made to fall behind shows its lag in the live view, the plain lines, the summary,
 * result.json and the report, and produced/s follows the target second by second. A wrong --brokers
 * fails in seconds, naming the broker, and leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeHistogram } from '../../src/bench/histograms.js';
import type { BenchProgress, BenchResult, SeriesPoint } from '../../src/bench/types.js';
import { formatBenchLine, renderBenchSummary } from '../../src/ui/bench.js';
import { BenchView } from '../../src/ui/bench-progress.js';
import { EMBEDDED_RATE, type EmbeddedRun, embeddedRuns } from '../bench/helpers/embedded-runs.js';
import { labForFile, parseJson, runCli } from './helpers.js';

// The embedded runs need no Docker: the lab comes up only in the test that benches against it.
const lab = labForFile('e2e-bench', { upBeforeAll: false });

function expectFiles(out: string): void {
  for (const file of [
    'result.json',
    'report.html',
    'junit.xml',
    'manifest.json',
    'produce-ack.hgrm',
    'delivery.hgrm',
    'sink.hgrm',
    'visible.hgrm',
  ]) {
    expect(existsSync(join(out, file)), file).toBe(true);
  }
}

describe('every figure gapipe bench shows is the measured one', () => {
  let keptUp: EmbeddedRun;
  let behind: EmbeddedRun;

  beforeAll(async () => {
    ({ keptUp, behind } = await embeddedRuns(join(lab.dir, 'figures')));
  });

  const count = (n: number) => n.toLocaleString('en-US');
  const plain = (text: string) => stripVTControlCharacters(text);
  const measured = (run: EmbeddedRun) => {
    const lastSecond = Math.ceil((run.result.config.warmupMs + run.result.config.durationMs) / 1000);
    return run.result.series.filter((p) => !p.warmup && p.t <= lastSecond);
  };

  it('a pipeline that falls behind shows its lag in the live view, the plain lines, the summary, result.json and the report', async () => {
    const { result, files, heard } = behind;
    // The consumer was held back: lag built up while the load ran.
    const loadUpdates = heard.updates.filter((u) => u.phase === 'load');
    const worst = loadUpdates.reduce<BenchProgress | undefined>(
      (top, u) => (top === undefined || u.lag > top.lag ? u : top),
      undefined,
    );
    expect(worst?.lag ?? 0).toBeGreaterThan(EMBEDDED_RATE);
    const lag = worst?.lag ?? 0;

    // Live view and plain line of that second.
    const { lastFrame, unmount } = render(
      createElement(BenchView, { progress: worst, allowedLatenessMs: 600_000, nowMs: Date.now() }),
    );
    const view = plain(lastFrame() ?? '');
    unmount();
    expect(view).toMatch(new RegExp(`^lag\\s+${count(lag)} [▁▂▃▄▅▆▇█]+$`, 'm'));
    expect(plain(formatBenchLine(worst as BenchProgress))).toContain(` lag ${count(lag)} `);

    // The summary, from the one result; result.json on disk says the same.
    expect(result.summary.maxLag).toBeGreaterThan(EMBEDDED_RATE);
    expect(plain(renderBenchSummary(result))).toContain(
      `max consumer lag ${count(result.summary.maxLag)} records`,
    );
    const written = JSON.parse(await readFile(files.json, 'utf8')) as BenchResult;
    expect(written.summary.maxLag).toBe(result.summary.maxLag);
    expect(Math.max(...written.series.map((p) => p.lag))).toBeGreaterThanOrEqual(result.summary.maxLag);

    // The report draws it: the lag line climbs off the floor.
    const html = await readFile(files.html ?? '', 'utf8');
    const lagPlot = /<svg[^>]*data-plot="lag"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    const ys = [
      ...(/data-series="lag"[^>]*\sd="([^"]+)"/.exec(lagPlot)?.[1] ?? '').matchAll(/,([\d.]+)/g),
    ].map((m) => Number(m[1]));
    expect(new Set(ys).size).toBeGreaterThan(3);
    expect(html).toContain(`Maximum consumer lag while measured: ${count(result.summary.maxLag)} records.`);

    // It drained afterwards, and the drain was shown as such.
    const draining = heard.updates.filter((u) => u.phase === 'draining');
    expect(draining.length).toBeGreaterThan(1);
    expect(draining.at(-1)?.lag).toBe(0);
    expect(result.summary.correct).toBe(true);
  });

  /**
   * The measured seconds in which the generator kept its schedule (within 100 ms, this second and the
   * one before): what it produced in such a second is what the schedule asked for in it. On a machine
   * busy with other work some seconds are not; the runs are first in this file, before any lab.
   */
  const steadySeconds = (run: EmbeddedRun) => {
    const series = measured(run);
    return series.filter((p) => {
      const before: SeriesPoint | undefined = run.result.series.find((q) => q.t === p.t - 1);
      return (p.instrument?.scheduleLagMs ?? 1e9) < 100 && (before?.instrument?.scheduleLagMs ?? 1e9) < 100;
    });
  };

  it('a pipeline that keeps up shows little lag, and consumes what is produced each second', () => {
    expect(keptUp.result.summary.maxLag).toBeLessThan(EMBEDDED_RATE / 2);
    const steady = steadySeconds(keptUp);
    expect(steady.length).toBeGreaterThanOrEqual(2);
    for (const p of steady)
      expect(Math.abs(p.consumed - p.produced), `t=${p.t}`).toBeLessThan(EMBEDDED_RATE * 0.1);
  });

  it('per second, produced follows the target by the clock — not by batches of 2,048', () => {
    const steady = [...steadySeconds(keptUp), ...steadySeconds(behind)];
    expect(steady.length).toBeGreaterThanOrEqual(4);
    for (const p of steady) {
      expect(p.produced, `t=${p.t}`).toBeGreaterThan(EMBEDDED_RATE * 0.9);
      expect(p.produced, `t=${p.t}`).toBeLessThan(EMBEDDED_RATE * 1.1);
    }
    for (const run of [keptUp, behind]) {
      // The summary's rate is the counters over the measured window.
      const { achievedRate, keptUp: kept } = run.result.summary;
      if (kept) expect(Math.abs(achievedRate - EMBEDDED_RATE)).toBeLessThan(EMBEDDED_RATE * 0.1);
    }
  });

  it('tells its phases as they come, the first at once', () => {
    for (const run of [keptUp, behind]) {
      const names = run.heard.phases.map((p) => p.name);
      expect(names).toEqual([
        'preparing',
        'starting',
        'load',
        'draining',
        'verifying',
        'stopping',
        'writing',
      ]);
      expect((run.heard.phases[0]?.startedAtMs ?? Number.POSITIVE_INFINITY) - run.calledAtMs).toBeLessThan(
        1000,
      );
      expect(run.heard.start?.allowedLatenessMs).toBe(600_000);
    }
  });
});

describe('gapipe bench', () => {
  it('runs the embedded pipeline, says so, verifies and writes the same files', async () => {
    const out = join(lab.dir, 'embedded');
    const run = await runCli(
      [
        'bench',
        '--target',
        'embedded',
        '--duration',
        '6s',
        '--warmup',
        '2s',
        '--rate',
        '2000/s',
        '--out',
        out,
        '--assert',
        'correct',
        '--json',
      ],
      // No Docker reachable: the embedded pipeline is the only way.
      { DOCKER_HOST: 'unix:///nonexistent.sock' },
    );
    expect(run.code, run.stderr).toBe(0);
    const result = parseJson<BenchResult>(run);
    expect(result.config.target).toBe('embedded');
    expect(result.summary).toMatchObject({ status: 'passed', correct: true });
    expect(result.summary.latency.delivery.count).toBeGreaterThan(5000);
    expectFiles(out);
    const junit = await readFile(join(out, 'junit.xml'), 'utf8');
    expect(junit).toContain('<testcase');
    expect(junit).not.toContain('<failure');
    expect(await readFile(join(out, 'report.html'), 'utf8')).toMatch(
      /No Kafka and no Elasticsearch were involved/,
    );
  });

  it('runs two consumer processes against the lab, merges their histograms, verifies, and cleans up', async () => {
    await lab.up();
    const out = join(lab.dir, 'lab');
    const run = await runCli(
      [
        'bench',
        '--lab',
        lab.name,
        '--target',
        'lab',
        '--duration',
        '15s',
        '--warmup',
        '3s',
        '--rate',
        '2000/s',
        '--consumers',
        '2',
        '--seed',
        '5',
        '--out',
        out,
        '--assert',
        'correct',
        '--assert',
        'delivery.p99<60s',
        '--json',
      ],
      lab.env,
    );
    const result = parseJson<BenchResult>(run);
    expect(result.summary.correct, JSON.stringify(result.summary.failures)).toBe(true);
    expect(result.config).toMatchObject({ target: 'lab', consumers: 2 });
    expect(result.provenance.images.kafka?.id).toMatch(/^sha256:/);
    // Both processes' delivery latencies are in the one merged histogram: one sample per record measured.
    const produced = decodeHistogram(result.histograms['produce-ack']).totalCount;
    const delivered = decodeHistogram(result.histograms.delivery).totalCount;
    expect(produced).toBeGreaterThan(20_000);
    expect(delivered).toBeGreaterThan(produced * 0.99);
    expect(result.summary.latency.visible.count).toBeGreaterThan(0);
    expect(result.series.filter((p) => !p.warmup && p.consumed > 0).length).toBeGreaterThan(5);
    expectFiles(out);
    // The run's topic is gone afterwards (not kept).
    const status = await runCli(['lab', 'status', '--name', lab.name, '--json'], lab.env);
    expect(status.code, status.stderr).toBe(0);

    const compare = await runCli(
      ['bench', 'compare', join(out, 'result.json'), join(out, 'result.json'), '--json'],
      lab.env,
    );
    expect(compare.code, compare.stdout).toBe(0);

    const gate = await runCli(
      [
        'bench',
        '--target',
        'embedded',
        '--duration',
        '3s',
        '--warmup',
        '1s',
        '--rate',
        '1000/s',
        '--out',
        join(lab.dir, 'gate'),
        '--assert',
        'delivery.p99<1us',
        '--assert',
        'throughput>=1000000/s',
      ],
      {},
    );
    expect(gate.code).toBe(1);
    expect(gate.stdout).toMatch(/delivery\.p99 was .*, not < /);
    expect(gate.stdout).toMatch(/throughput was .*, not >= /);
  });
});

describe('gapipe bench against endpoints that do not answer', () => {
  it('fails in seconds naming the broker, says nothing of a lab, warns of nothing, and writes no folder', async () => {
    const out = join(lab.dir, 'never-started');
    const started = Date.now();
    const run = await runCli(
      ['bench', '--brokers', 'nohost:1', '--es', 'http://127.0.0.1:1', '--duration', '5s', '--out', out],
      { DOCKER_HOST: 'unix:///nonexistent.sock' },
    );
    const seconds = (Date.now() - started) / 1000;
    // The CLI's own start-up on this machine, to tell it apart from the time spent on Kafka.
    const startupStarted = Date.now();
    await runCli(['--version'], {});
    const startupSeconds = (Date.now() - startupStarted) / 1000;
    expect(run.code, run.stderr).toBe(5);
    const stderr = stripVTControlCharacters(run.stderr);
    expect(stderr).toContain('Bench against Kafka nohost:1, Elasticsearch http://127.0.0.1:1');
    expect(stderr).toMatch(/Kafka is not reachable: no answer from nohost:1/);
    expect(stderr).toContain('Check --brokers');
    expect(stderr).not.toMatch(/\blab\b/);
    expect(stderr).not.toMatch(/warn|could not delete/i);
    expect(existsSync(out)).toBe(false);
    // Seconds, not the half minute of the Kafka client's default retries.
    expect(seconds - startupSeconds).toBeLessThan(10);
  });
});
