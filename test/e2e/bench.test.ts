/**
 * gapipe bench end to end: the embedded pipeline (no Docker involved), and two consumer processes
 * against a real lab whose latency histograms merge into one result that verifies; the result files
 * are complete and `bench compare` accepts a run against itself.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHistogram } from '../../src/bench/histograms.js';
import type { BenchResult } from '../../src/bench/types.js';
import { DockerodeFacade } from '../../src/lab/docker.js';
import { Lab } from '../../src/lab/lab.js';
import { freePort, infraEnv, parseJson, randomName, runCli } from './helpers.js';

const env = infraEnv();
process.env.DOCKER_HOST = env.DOCKER_HOST;
const labName = randomName('e2e-bench');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gapipe-e2e-bench-'));
});

afterAll(async () => {
  await new Lab({ docker: new DockerodeFacade() }).down(labName, { volumes: true }).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

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

describe('gapipe bench', () => {
  it('runs the embedded pipeline, says so, verifies and writes the same files', async () => {
    const out = join(dir, 'embedded');
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
    const [kafkaPort, esPort] = [await freePort(), await freePort()];
    const up = await runCli(
      [
        'lab',
        'up',
        '--name',
        labName,
        '--services',
        'kafka,elasticsearch',
        '--kafka-port',
        String(kafkaPort),
        '--es-port',
        String(esPort),
        '--json',
      ],
      env,
    );
    expect(up.code, up.stderr).toBe(0);
    const out = join(dir, 'lab');
    const run = await runCli(
      [
        'bench',
        '--lab',
        labName,
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
      env,
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
    const status = await runCli(['lab', 'status', '--name', labName, '--json'], env);
    expect(status.code, status.stderr).toBe(0);

    const compare = await runCli(
      ['bench', 'compare', join(out, 'result.json'), join(out, 'result.json'), '--json'],
      env,
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
        join(dir, 'gate'),
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
