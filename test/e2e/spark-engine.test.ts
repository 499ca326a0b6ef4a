/**
 * The Spark engine (templates/engines/spark/job.py) against the real lab, run as `gapipe bench
 * --engine spark` will run it: the environment from setupSpark (a cached venv and connector jars;
 * scripts/test.sh prepares them first with `gapipe engine setup spark`, else the first run of this
 * file creates them, which takes a minute or two), spark-submit on local[N] through submitSparkJob.
 *
 * - `gapipe engine setup spark` finds that environment prepared and says what it holds.
 * - A paced simulator run with duplicates, malformed and out-of-order records (no late ones) while
 *   the job runs: its aggregates match the ground truth exactly — events, revenue, unique players —
 *   and `gapipe verify` passes: the engine does not report duplicates (it drops them within the
 *   watermark and cannot count what it dropped), and verify says so instead of comparing them; every
 *   malformed record is on the dead-letter topic with gapipe's kind and reason.
 * - The same records, the driver killed with SIGKILL in the middle and restarted from its checkpoint:
 *   the documents are identical to the uninterrupted run's (write times aside).
 * - A run with late events (Spark drops those behind its watermark without counting them, and counts
 *   those its watermark still admits as ordinary events): `gapipe verify` passes, a cell short by at
 *   most its late events reported as bounded. (Which late events a run drops depends on when Spark's
 *   micro-batches move its watermark; verify's bounds themselves are unit-tested.)
 */
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SparkRuntime, setupSpark } from '../../src/engines/spark/setup.js';
import {
  readDriverLog,
  type SparkJobHandle,
  type SparkJobOptions,
  sparkJobFailure,
  submitSparkJob,
} from '../../src/engines/spark/submit.js';
import { decodeEventFull } from '../../src/pipeline/decode.js';
import type { GroundTruthManifest } from '../../src/simulators/manifest.js';
import type { VerifyResult } from '../../src/verify/verify.js';
import { labForFile, parseJson, randomName, runCli, sleep } from './helpers.js';

const lab = labForFile('e2e-spark');
let es: Client;
let runtime: SparkRuntime;
const jobs: SparkJobHandle[] = [];

/** How long a step may take on a loaded 2-core machine before the test gives up. */
const CATCH_UP_MS = 300_000;
/** A test waits for up to two such steps, besides starting the job and the simulator. */
const TEST_TIMEOUT_MS = 900_000;
/** Setting Spark up from nothing: pip builds PySpark's wheel, the connector comes from Maven Central. */
const SETUP_TIMEOUT_MS = 900_000;

async function createTopics(topics: string[], partitions: number): Promise<void> {
  const admin = new Kafka({
    clientId: 'e2e-admin',
    brokers: [lab.brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

async function startJob(options: Omit<SparkJobOptions, 'brokers' | 'esUrl' | 'logFile'>, log: string) {
  const handle = await submitSparkJob(
    runtime,
    {
      brokers: lab.brokers,
      esUrl: lab.esUrl,
      localThreads: 2,
      progressEverySeconds: 2,
      logFile: join(lab.dir, log),
      ...options,
    },
    { env: jobEnv() },
  );
  jobs.push(handle);
  return handle;
}

/**
 * Spark's scratch folders (spark-*, blockmgr-*) and Python's temporary files go under the test's own
 * folder: a job killed with SIGKILL cannot remove its own, and the folder is removed at the end.
 */
function jobEnv(): NodeJS.ProcessEnv {
  const scratch = join(lab.dir, 'tmp');
  mkdirSync(scratch, { recursive: true });
  const javaOptions = [process.env.JAVA_TOOL_OPTIONS, `-Djava.io.tmpdir=${scratch}`].filter(Boolean);
  return { ...process.env, TMPDIR: scratch, JAVA_TOOL_OPTIONS: javaOptions.join(' ') };
}

/** Stops a job that must still be running, as a user would (SIGTERM), and fails on any other exit. */
async function stopJob(handle: SparkJobHandle): Promise<void> {
  const exitedEarly = await Promise.race([handle.wait(), sleep(0).then(() => undefined)]);
  if (exitedEarly) {
    throw (
      sparkJobFailure(exitedEarly, readDriverLog(handle.logFile), handle.logFile) ?? new Error('job ended')
    );
  }
  handle.kill('SIGTERM');
  await handle.wait();
}

function simulate(topic: string, manifest: string, flags: string[]) {
  return runCli(
    [
      'simulate',
      '--brokers',
      lab.brokers,
      '--topic',
      topic,
      '--players',
      '300',
      '--rate',
      '250/s',
      '--workers',
      '1',
      '--manifest',
      manifest,
      '--json',
      ...flags,
    ],
    lab.env,
  );
}

async function loadManifest(path: string): Promise<GroundTruthManifest> {
  return JSON.parse(await readFile(path, 'utf8')) as GroundTruthManifest;
}

/** The documents of an index, by id, without the write time. */
async function documents(index: string): Promise<Record<string, Record<string, unknown>>> {
  await es.indices.refresh({ index });
  const result = await es.search<Record<string, unknown>>({ index, size: 10_000, query: { match_all: {} } });
  const out: Array<[string, Record<string, unknown>]> = [];
  for (const hit of result.hits.hits) {
    const { updated_at: _writeTime, ...source } = hit._source as Record<string, unknown>;
    out.push([hit._id as string, source]);
  }
  return Object.fromEntries(out.sort(([a], [b]) => a.localeCompare(b)));
}

/** Events summed over an index's documents (0 while it does not exist). */
async function eventsIn(index: string): Promise<number> {
  try {
    await es.indices.refresh({ index });
    const result = await es.search({ index, size: 0, aggs: { events: { sum: { field: 'events' } } } });
    return (result.aggregations?.events as { value: number } | undefined)?.value ?? 0;
  } catch {
    return 0;
  }
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  budgetMs = CATCH_UP_MS,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${budgetMs / 1000}s`);
    await sleep(intervalMs);
  }
}

async function verifyOnce(manifest: string, index: string, wait = '0s'): Promise<VerifyResult> {
  const result = await runCli(
    ['verify', '--manifest', manifest, '--es', lab.esUrl, '--index', index, '--wait', wait, '--json'],
    lab.env,
  );
  if (result.code !== 0 && result.code !== 1) {
    throw new Error(`verify failed (exit ${result.code}): ${result.stderr}`);
  }
  return parseJson<VerifyResult>(result);
}

/** The records of a topic with their headers as text. */
async function readTopic(topic: string, expected: number) {
  const kafka = new Kafka({ clientId: 'e2e-read', brokers: [lab.brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: randomName('e2e-read') });
  const records: Array<{ value: Buffer | null; headers: Record<string, string> }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
        records.push({ value: message.value, headers });
      },
    });
    await until(
      `${expected} records on ${topic}`,
      async () => (records.length >= expected ? true : undefined),
      60_000,
    );
    await sleep(2000); // anything beyond the expected would show up now
  } finally {
    await consumer.disconnect();
  }
  return records;
}

beforeAll(async () => {
  const started = Date.now();
  runtime = await setupSpark({
    reporter: { step: (line) => process.stderr.write(`[spark setup] ${line}\n`) },
  });
  process.stderr.write(`[spark setup] took ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  es = new Client({ node: lab.esUrl });
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  // Jobs a failed test left running; the others have exited and ignore the signal.
  for (const job of jobs) job.kill('SIGKILL');
  await Promise.all(jobs.map((job) => job.wait()));
  await es?.close();
});

describe('gapipe engine setup spark', () => {
  it('finds the environment prepared, runs nothing but the Java check, and says what it holds', async () => {
    const result = await runCli(['engine', 'setup', 'spark', '--json'], lab.env);
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson<Record<string, unknown>>(result)).toEqual({
      engine: 'spark',
      alreadyPrepared: true,
      sparkVersion: runtime.version,
      javaVersion: runtime.javaVersion,
      cacheDir: runtime.cacheDir,
      venvDir: runtime.venvDir,
      sparkHome: runtime.sparkHome,
      jars: runtime.jars,
      seconds: expect.any(Number),
    });
  });
});

describe('the Spark engine', { timeout: TEST_TIMEOUT_MS }, () => {
  const topic = randomName('e2e-spark');
  const manifestPath = () => join(lab.dir, 'disorder.json');
  const reference = `gapipe-aggregates-${topic}-ref`;

  it('aggregates a live run exactly, and dead-letters every malformed record as gapipe does', async () => {
    await createTopics([topic, `${topic}-dlq`, `${topic}-dlq-restarted`], 3);
    const started = Date.now();
    const job = await startJob(
      { topic, index: reference, checkpointDir: join(lab.dir, 'ck-ref'), deadLetterTopic: `${topic}-dlq` },
      'ref.log',
    );
    const run = await simulate(topic, manifestPath(), [
      '--seed',
      '11',
      '--duration',
      '40s',
      '--duplicates',
      '0.01',
      '--malformed',
      '0.005',
      '--out-of-order',
      '0.02',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const simulated = Date.now();
    const manifest = await loadManifest(manifestPath());
    expect(manifest.totals.duplicates).toBeGreaterThan(20);

    // Events, revenue and unique players exact in every cell; duplicates are not reported, and verify
    // says so instead of calling them differences.
    const result = await until(
      'aggregates matching the ground truth',
      async () => {
        const verified = await verifyOnce(manifestPath(), reference);
        return verified.ok ? verified : undefined;
      },
      CATCH_UP_MS,
      3000,
    );
    process.stderr.write(
      `[spark] live run: job started ${((simulated - started) / 1000).toFixed(0)}s before the simulator ended, caught up ${((Date.now() - simulated) / 1000).toFixed(1)}s after it\n`,
    );
    expect(result.totals.actual.events).toBe(manifest.totals.distinctEvents);
    expect(result.totals.actual.revenueCents).toBe(result.totals.expected.revenueCents);
    expect(result.cells.missing + result.cells.unexpected).toBe(0);
    expect(result.differences).toEqual([]);
    expect(result.omittedFields).toContain('duplicates');

    // Dead letters: each malformed record once, with gapipe's headers, kind and reason.
    const malformed = manifest.totals.malformed;
    expect(malformed).toBeGreaterThan(20);
    const deadLetters = await readTopic(`${topic}-dlq`, malformed);
    expect(deadLetters).toHaveLength(malformed);
    const sources = new Set(
      deadLetters.map((r) => `${r.headers['gapipe-source-partition']}:${r.headers['gapipe-source-offset']}`),
    );
    expect(sources.size).toBe(malformed);
    for (const record of deadLetters) {
      const decoded = decodeEventFull(record.value);
      expect(decoded.ok).toBe(false);
      if (decoded.ok) continue;
      expect(record.headers).toMatchObject({
        'gapipe-source-topic': topic,
        'gapipe-dlq-kind': decoded.failure.kind,
        'gapipe-run-id': manifest.run.runId,
      });
      if (decoded.failure.kind !== 'invalid_json') {
        expect(record.headers['gapipe-dlq-reason']).toBe(decoded.failure.reason);
      }
    }
    await stopJob(job);
  });

  it('gives the same documents when the driver is killed with SIGKILL mid-run and restarted', async () => {
    const index = `gapipe-aggregates-${topic}-restarted`;
    const expected = await documents(reference);
    const total = Object.values(expected).reduce((sum, doc) => sum + (doc.events as number), 0);
    // Small micro-batches, so that the kill lands with part of the records written.
    const options = {
      topic,
      index,
      checkpointDir: join(lab.dir, 'ck-restarted'),
      deadLetterTopic: `${topic}-dlq-restarted`,
      maxOffsetsPerTrigger: 3000,
    };
    const first = await startJob(options, 'restarted.log');
    const partial = await until(
      'part of the records written',
      async () => {
        const events = await eventsIn(index);
        return events > 0 ? events : undefined;
      },
      CATCH_UP_MS,
    );
    first.kill('SIGKILL');
    expect(await first.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(partial).toBeLessThan(total);

    const second = await startJob(options, 'restarted.log');
    const final = await until('the restarted job to catch up', async () => {
      const docs = await documents(index);
      return JSON.stringify(docs) === JSON.stringify(expected) ? docs : undefined;
    });
    expect(final).toEqual(expected);
    await stopJob(second);
  });

  it('passes `gapipe verify` with late events in the load, which the engine does not count apart', async () => {
    const clean = randomName('e2e-spark-clean');
    await createTopics([clean, `${clean}-dlq`], 3);
    const index = `gapipe-aggregates-${clean}`;
    const job = await startJob(
      { topic: clean, index, checkpointDir: join(lab.dir, 'ck-clean') },
      'clean.log',
    );
    const manifest = join(lab.dir, 'clean.json');
    const run = await simulate(clean, manifest, [
      '--seed',
      '12',
      '--duration',
      '20s',
      '--out-of-order',
      '0.02',
      '--late',
      '0.02',
      // Behind Spark's 10-minute watermark once a micro-batch has moved it: those are dropped; the ones
      // in the batch that first moves it are still counted.
      '--late-by',
      '20m..30m',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const result = await verifyOnce(manifest, index, `${CATCH_UP_MS / 1000}s`);
    expect(result.ok, JSON.stringify(result.differences.slice(0, 5))).toBe(true);
    expect(result.totals.actual.events).toBeGreaterThan(3000);
    // Late events went into the load and the engine counts none of them apart: each cell is exact, or
    // short by at most its late events and bounded — never a difference.
    expect(result.totals.expected.lateEvents).toBeGreaterThan(20);
    expect(result.omittedFields).toContain('late_events');
    expect(result.totals.actual.lateEvents).toBe(0);
    expect(result.totals.actual.events).toBeGreaterThanOrEqual(
      result.totals.expected.events - result.totals.expected.lateEvents,
    );
    expect(result.cells.differing).toBe(0);
    await stopJob(job);
  });
});
