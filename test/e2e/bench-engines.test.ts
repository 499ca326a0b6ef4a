/**
 * `gapipe bench --engine spark` and `--engine external` against a real lab: the bench starts (or waits
 * for) an engine it did not write, measures it from outside — produce-ack, delivery by its tap
 * consumer, visible by polling Elasticsearch — and verifies its documents against the ground truth.
 *
 * - spark: the bench sets up and submits gapipe's Spark job itself; 60 s measured, results verify.
 * - external: the bench prints where the job must read and write (and writes engine.json); the test
 *   then starts the Spark job itself, as a user would, and the run verifies.
 *
 * Whether Spark keeps up with the load on a loaded 2-core machine is what the bench measures, not what
 * this test asserts: a run may fail the "pipeline keeps up" check, never "results verify".
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExternalEngineSpec } from '../../src/bench/engines/external.js';
import type { BenchResult } from '../../src/bench/types.js';
import { setupSpark } from '../../src/engines/spark/setup.js';
import { type SparkJobHandle, submitSparkJob } from '../../src/engines/spark/submit.js';
import { labForFile, runCli, sleep, startCli } from './helpers.js';

const lab = labForFile('e2e-engines');
const jobs: SparkJobHandle[] = [];

/** Spark's first start (JVM, Python workers) on a loaded machine, plus the run and its drain. */
const RUN_TIMEOUT_MS = 900_000;
/** A load the Spark job keeps up with on a loaded 2-core machine. */
const LOAD = ['--rate', '500/s', '--players', '500'];

afterAll(async () => {
  for (const job of jobs) job.kill('SIGKILL');
  await Promise.all(jobs.map((job) => job.wait()));
});

/** `gapipe bench --engine <engine>` against this file's lab, with the run's own flags, into `out`. */
function benchEngine(engine: 'spark' | 'external', out: string, flags: string[]): string[] {
  return ['bench', '--engine', engine, '--brokers', lab.brokers, '--es', lab.esUrl, ...flags, '--out', out];
}

async function readResult(out: string): Promise<BenchResult> {
  return JSON.parse(await readFile(join(out, 'result.json'), 'utf8')) as BenchResult;
}

/** What every engine's run must show, whether or not it kept up with the load. */
function expectMeasuredFromOutside(result: BenchResult, engine: string, code: number, stderr: string): void {
  const s = result.summary;
  expect([0, 1], stderr).toContain(code);
  expect(result.config.engine).toBe(engine);
  expect(s.engine?.name).toBe(engine);
  expect(s.correct, JSON.stringify(s.verify?.differences.slice(0, 5))).toBe(true);
  expect(s.verdict.checks.find((c) => c.name === 'results verify')?.outcome).toBe('passed');
  // A failed run may only fail on speed: every failure names the pipeline's pace, not its results.
  for (const failure of s.verdict.failures) expect(failure).toMatch(/fell behind|p99|achieved|throughput/);
  expect(s.errors).toEqual([]);
  expect(s.latency['produce-ack'].count).toBeGreaterThan(0);
  // Delivery by the tap, visible by polling: (nearly) every measured record is in both — the tap and
  // the producer are separate parties, so a record at the edge of the window may fall on one side.
  expect(s.latency.delivery.count).toBeGreaterThan(0.999 * s.latency['produce-ack'].count);
  expect(s.latency.delivery.count).toBeLessThan(1.001 * s.latency['produce-ack'].count);
  expect(s.latency.visible.count).toBeGreaterThan(0.99 * s.latency['produce-ack'].count);
  expect(s.latency.sink.count).toBe(0);
  expect(s.totals.consumed).toBeGreaterThan(0);
  expect(s.engine?.measuredBy.delivery).toMatch(/tap consumer/);
}

describe('gapipe bench --engine spark', () => {
  it(
    "sets up and submits gapipe's Spark job, measures it from outside for 60 s, and its results verify",
    async () => {
      const out = join(lab.dir, 'spark');
      const run = await runCli(
        benchEngine('spark', out, [...LOAD, '--duration', '60s', '--warmup', '10s', '--seed', '21']),
        lab.env,
        RUN_TIMEOUT_MS,
      );
      const result = await readResult(out);
      expectMeasuredFromOutside(result, 'spark', run.code, run.stderr);
      expect(result.summary.engine?.description).toBe('the Spark job on local[2]');
      // Its processes were this machine's: their CPU and memory are in the result.
      expect(result.summary.engine?.resources?.cpuCoresMean).toBeGreaterThan(0);
      expect(result.summary.engine?.resources?.rssMaxBytes).toBeGreaterThan(100 * 2 ** 20);
      expect(run.stdout).toMatch(/Engine: spark \(the Spark job on local\[2\]\)/);
      expect(await readFile(join(out, 'engine', 'spark-driver.log'), 'utf8')).toMatch(/gapipe-spark reading/);
    },
    RUN_TIMEOUT_MS,
  );
});

describe('gapipe bench --engine external', () => {
  it(
    'says where the job must read and write, waits for it, and verifies what the job wrote',
    async () => {
      const out = join(lab.dir, 'external');
      const bench = startCli(
        benchEngine('external', out, [
          ...LOAD,
          '--duration',
          '30s',
          '--warmup',
          '5s',
          '--seed',
          '22',
          '--engine-timeout',
          '10m',
        ]),
        lab.env,
      );
      await bench.waitForStderr(/start your engine: read topic/, 120_000);
      const spec = JSON.parse(await readFile(join(out, 'engine.json'), 'utf8')) as ExternalEngineSpec;
      expect(spec).toMatchObject({
        brokers: lab.brokers,
        esUrl: lab.esUrl,
        partitions: 6,
        contract: 'docs/engines.md',
      });
      expect(bench.stderr()).toContain(spec.topic);
      expect(bench.stderr()).toContain(spec.index);
      // Nothing is produced until the engine is there: only the probes are on the topic.
      await sleep(3000);
      expect(bench.stderr()).not.toMatch(/produced [1-9]/);

      // The user's job, started by hand.
      const runtime = await setupSpark();
      const job = await submitSparkJob(runtime, {
        brokers: spec.brokers,
        topic: spec.topic,
        esUrl: spec.esUrl,
        index: spec.index,
        checkpointDir: join(lab.dir, 'external-checkpoint'),
        deadLetterTopic: spec.deadLetterTopic,
        logFile: join(lab.dir, 'external-driver.log'),
      });
      jobs.push(job);
      const run = await bench.exited;
      job.kill('SIGTERM');
      await job.wait();
      const result = await readResult(out);
      expectMeasuredFromOutside(result, 'external', run.code, run.stderr);
      expect(result.summary.engine?.resources).toBeUndefined();
      expect(run.stdout).toMatch(/CPU and memory: not measured/);
    },
    RUN_TIMEOUT_MS,
  );

  it('fails with the fix when no engine comes within --engine-timeout', async () => {
    const out = join(lab.dir, 'nobody');
    const run = await runCli(
      benchEngine('external', out, ['--duration', '5s', '--engine-timeout', '5s']),
      lab.env,
      120_000,
    );
    expect(run.code, run.stderr).toBe(10);
    expect(run.stderr).toMatch(/did not write the run's probe events within 5s: 0 of 6 counted/);
    expect(run.stderr).toMatch(/reads topic gapipe-bench-\w+ from the earliest offset/);
  }, 180_000);
});
