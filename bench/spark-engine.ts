/**
 * The Spark engine on this machine, timed: setup (first use, or the cache), the job's start, a paced
 * simulator run while it runs, how long after the run's end the aggregates hold every event, and the
 * CPU and memory of the job's processes (the driver JVM and its Python processes) meanwhile. Ends with
 * `gapipe verify` on the result.
 *
 *   npm run build    # the simulator and verify run as the CLI
 *   gapipe lab up --services kafka,elasticsearch
 *   node --import tsx bench/spark-engine.ts --brokers 127.0.0.1:9092 --es http://127.0.0.1:9200 \
 *     [--rate 2000/s] [--duration 60s] [--players 1000] [--threads 2] [--partitions 6] [--seed 7] \
 *     [--duplicates 0.001] [--malformed 0.0001]
 *
 * A program, not a test: it prints what it measured and asserts nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { setupSpark } from '../src/engines/spark/setup.js';
import { readDriverLog, submitSparkJob } from '../src/engines/spark/submit.js';
import { type ProcessOutput, runProcess } from './lib/process.js';

const { values: flags } = parseArgs({
  options: {
    brokers: { type: 'string', default: '127.0.0.1:9092' },
    es: { type: 'string', default: 'http://127.0.0.1:9200' },
    rate: { type: 'string', default: '2000/s' },
    duration: { type: 'string', default: '60s' },
    players: { type: 'string', default: '1000' },
    threads: { type: 'string', default: '2' },
    partitions: { type: 'string', default: '6' },
    seed: { type: 'string', default: '7' },
    duplicates: { type: 'string', default: '0' },
    malformed: { type: 'string', default: '0' },
  },
});

const ROOT = new URL('../', import.meta.url).pathname;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

/** CPU time (ms) and resident memory (bytes) of every process in a process group, from /proc. */
function groupUsage(pgid: number): { cpuMs: number; rssBytes: number } {
  let cpuMs = 0;
  let rssBytes = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    cpuMs += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
    rssBytes += Number(fields[21]) * 4096;
  }
  return { cpuMs, rssBytes };
}

function runCli(args: string[]): Promise<ProcessOutput> {
  return runProcess(process.execPath, [`${ROOT}bin/run.js`, ...args], { ...process.env, CI: 'true' });
}

const topic = `spark-bench-${randomBytes(3).toString('hex')}`;
const index = `gapipe-aggregates-${topic}`;
const dir = mkdtempSync(join(tmpdir(), 'gapipe-spark-bench-'));

let started = Date.now();
const runtime = await setupSpark({ reporter: { step: (line) => say(`  setup: ${line}`) } });
const setupMs = Date.now() - started;

const admin = new Kafka({ brokers: [flags.brokers], logLevel: logLevel.NOTHING }).admin();
await admin.connect();
await admin.createTopics({
  waitForLeaders: true,
  topics: [topic, `${topic}-dlq`].map((name) => ({
    topic: name,
    numPartitions: Number(flags.partitions),
    replicationFactor: 1,
  })),
});
await admin.disconnect();

started = Date.now();
const job = await submitSparkJob(runtime, {
  brokers: flags.brokers,
  esUrl: flags.es,
  topic,
  index,
  checkpointDir: join(dir, 'checkpoint'),
  localThreads: Number(flags.threads),
  progressEverySeconds: 5,
  logFile: join(dir, 'driver.log'),
});
say(`  job: pid ${job.pid}, driver log ${job.logFile}`);
while (!readDriverLog(job.logFile).includes('gapipe-spark reading')) {
  if ((await Promise.race([job.wait(), sleep(200)])) !== undefined) {
    say(readDriverLog(job.logFile).slice(-3000));
    throw new Error('the Spark job ended before it started reading');
  }
}
const startMs = Date.now() - started;

const manifest = join(dir, 'truth.json');
let peakRss = 0;
const before = groupUsage(job.pid);
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, groupUsage(job.pid).rssBytes);
}, 1000);
started = Date.now();
const simulate = await runCli([
  'simulate',
  '--brokers',
  flags.brokers,
  '--topic',
  topic,
  '--players',
  flags.players,
  '--rate',
  flags.rate,
  '--duration',
  flags.duration,
  '--seed',
  flags.seed,
  '--duplicates',
  flags.duplicates,
  '--malformed',
  flags.malformed,
  '--manifest',
  manifest,
  '--json',
]);
if (simulate.code !== 0) throw new Error(`simulate failed: ${simulate.stderr}`);
const runMs = Date.now() - started;
const sent = JSON.parse(readFileSync(manifest, 'utf8')) as { totals: { distinctEvents: number } };

// Caught up: the documents hold every distinct event (the load has no late events).
const es = new Client({ node: flags.es });
started = Date.now();
let counted = 0;
while (counted < sent.totals.distinctEvents && Date.now() - started < 600_000) {
  await sleep(500);
  try {
    await es.indices.refresh({ index });
    const result = await es.search({ index, size: 0, aggs: { events: { sum: { field: 'events' } } } });
    counted = (result.aggregations?.events as { value: number } | undefined)?.value ?? 0;
  } catch {
    // not created yet
  }
}
const catchUpMs = Date.now() - started;
clearInterval(sampler);
const after = groupUsage(job.pid);
await es.close();

const verify = await runCli(['verify', '--manifest', manifest, '--es', flags.es, '--index', index, '--json']);
const verdict = JSON.parse(verify.stdout) as { ok: boolean; differences: Array<{ field: string }> };
job.kill('SIGTERM');
await job.wait();

const busyMs = runMs + catchUpMs;
const fields = new Set(verdict.differences.map((d) => d.field));
console.log(
  [
    `Spark ${runtime.version} engine, local[${flags.threads}], topic ${topic} (${flags.partitions} partitions)`,
    `  setup                 ${seconds(setupMs)}`,
    `  job start             ${seconds(startMs)} (spark-submit to reading)`,
    `  run                   ${seconds(runMs)} at ${flags.rate}, ${sent.totals.distinctEvents} events`,
    `  complete after run    ${seconds(catchUpMs)} (${counted} of ${sent.totals.distinctEvents} events counted)`,
    `  job CPU               ${((after.cpuMs - before.cpuMs) / busyMs).toFixed(2)} cores over run + catch-up`,
    `  job memory (peak RSS) ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    `  verify                ${verdict.ok ? 'ok' : `differs in ${[...fields].join(', ')}`}`,
  ].join('\n'),
);
