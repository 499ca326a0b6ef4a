/**
 * `gapipe bench` options: the load (the simulator's own options and validation), the measurement
 * (warm-up, duration), the target, the consumers and the gates. Pure: time and seed are passed in.
 */
import { invalidFlag } from '../errors.js';
import { CONSUME_DEFAULTS, parseBrokers, resolveWindowing } from '../pipeline/options.js';
import { parseDurationMs, resolveSimulateOptions, type SimulateInput } from '../simulators/options.js';
import { parseAssertions } from './assertions.js';
import { ENGINE_NAMES, type EngineName } from './engines/types.js';
import type { BenchOptions, BenchTarget } from './run.js';

export const BENCH_DEFAULTS = {
  players: 1000,
  /** One event per player every 100ms: 10,000 events/s with 1,000 players. */
  rate: '100ms',
  durationMs: 60_000,
  consumers: 1,
  partitions: 6,
  target: 'auto' as BenchTarget,
  outRoot: 'bench-results',
  drainTimeoutMs: 120_000,
  engine: 'gapipe' as EngineName,
  sparkThreads: 2,
  /** Spark's first start on a cold machine (JVM, Python workers, the first micro-batch) takes a minute. */
  engineTimeoutMs: 300_000,
};

export interface BenchInput {
  load: SimulateInput;
  scenario: SimulateInput;
  scenarioName: string | undefined;
  duration?: string | undefined;
  warmup?: string | undefined;
  consumers?: string | undefined;
  target?: string | undefined;
  out?: string | undefined;
  assert?: string[] | undefined;
  keep?: boolean | undefined;
  ephemeral?: boolean | undefined;
  partitions?: string | undefined;
  lab?: string | undefined;
  brokers?: string | undefined;
  es?: string | undefined;
  flushInterval?: string | undefined;
  allowedLateness?: string | undefined;
  engine?: string | undefined;
  sparkMaster?: string | undefined;
  sparkThreads?: string | undefined;
  engineTimeout?: string | undefined;
}

function duration(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined)
    throw invalidFlag(`--${flag} must be a duration like 10s, 1m or 1h30m, got '${text}'`);
  if (ms < min) throw invalidFlag(`--${flag} must be at least ${min / 1000}s, got '${text}'`);
  return ms;
}

function whole(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) {
    throw invalidFlag(`--${flag} must be a whole number from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

/** A warm-up of a sixth of the run (at most 10s) unless given. */
export function defaultWarmupMs(durationMs: number): number {
  return Math.min(10_000, Math.round(durationMs / 6 / 1000) * 1000);
}

export function resolveBenchOptions(
  input: BenchInput,
  context: { nowMs: number; fallbackSeed: number; command: string },
): BenchOptions {
  const durationMs = duration('duration', input.duration, BENCH_DEFAULTS.durationMs, 1000);
  const warmupMs = duration('warmup', input.warmup, defaultWarmupMs(durationMs), 0);
  const engine = (input.engine ?? BENCH_DEFAULTS.engine) as EngineName;
  if (!ENGINE_NAMES.includes(engine)) {
    throw invalidFlag(`--engine must be ${ENGINE_NAMES.join(', ')}, got '${input.engine}'`);
  }
  // An engine gapipe did not write reads a real Kafka and writes a real Elasticsearch.
  // An engine gapipe did not write has no embedded form: `auto` means the lab for it.
  const given = input.target ?? BENCH_DEFAULTS.target;
  const targetText = engine !== 'gapipe' && given === 'auto' ? 'lab' : given;
  if (!['auto', 'lab', 'embedded'].includes(targetText)) {
    throw invalidFlag(`--target must be lab, embedded or auto, got '${targetText}'`);
  }
  if (engine !== 'gapipe' && targetText === 'embedded') {
    throw invalidFlag(
      `--engine ${engine} needs Kafka and Elasticsearch, not the embedded pipeline`,
      'Use --target lab (the default for this engine), or --brokers with --es',
    );
  }
  if (engine !== 'gapipe' && input.consumers !== undefined) {
    throw invalidFlag(
      `--consumers sets gapipe's own consumer processes; --engine ${engine} runs its own`,
      engine === 'spark' ? "Set the Spark job's parallelism with --spark-threads" : 'Leave out --consumers',
    );
  }
  if (engine !== 'spark' && (input.sparkMaster !== undefined || input.sparkThreads !== undefined)) {
    throw invalidFlag(
      '--spark-master and --spark-threads are for --engine spark',
      'Add --engine spark, or leave them out',
    );
  }
  // An empty master would describe the run as "the Spark job on " and submit it to local[2] after all.
  if (input.sparkMaster !== undefined && input.sparkMaster.trim() === '') {
    throw invalidFlag(
      `--spark-master must be a master URL like spark://host:7077, yarn or k8s://https://host:6443, got '${input.sparkMaster}'`,
      'Leave out --spark-master to run the job on local[N] here',
    );
  }
  if (input.sparkMaster !== undefined && input.sparkThreads !== undefined) {
    throw invalidFlag(
      '--spark-threads sets local[N]; with --spark-master the cluster decides',
      'Give one of --spark-master and --spark-threads',
    );
  }
  if ((input.brokers === undefined) !== (input.es === undefined)) {
    throw invalidFlag(
      '--brokers and --es go together',
      'Give both to bench a pipeline outside the lab, or neither',
    );
  }
  const simulate = resolveSimulateOptions(
    {
      players: BENCH_DEFAULTS.players,
      rate: BENCH_DEFAULTS.rate,
      ...Object.fromEntries(Object.entries(input.load).filter(([, v]) => v !== undefined)),
      duration: `${durationMs + warmupMs}ms`,
      sink: 'kafka',
    },
    input.scenario,
    { nowMs: context.nowMs, fallbackSeed: context.fallbackSeed, scenarioName: input.scenarioName },
  );
  const assertionTexts = input.assert ?? [];
  const windowing = resolveWindowing({ allowedLateness: input.allowedLateness });
  const flushIntervalMs = duration(
    'flush-interval',
    input.flushInterval,
    CONSUME_DEFAULTS.flushIntervalMs,
    10,
  );
  const stamp = new Date(context.nowMs).toISOString().replace(/[:.]/g, '-');
  return {
    simulate,
    warmupMs,
    durationMs,
    consumers: whole('consumers', input.consumers, BENCH_DEFAULTS.consumers, 1, 64),
    target: targetText as BenchTarget,
    outDir: input.out ?? `${BENCH_DEFAULTS.outRoot}/${stamp}`,
    assertions: parseAssertions(assertionTexts),
    assertionTexts,
    keep: input.keep ?? false,
    ephemeral: input.ephemeral ?? false,
    partitions: whole('partitions', input.partitions, BENCH_DEFAULTS.partitions, 1, 1000),
    labName: input.lab ?? process.env.GAPIPE_LAB ?? 'lab',
    brokers: input.brokers === undefined ? undefined : parseBrokers(input.brokers, []),
    esUrl: input.es,
    consume: {
      windowing,
      flushIntervalMs,
      idleTimeoutMs: CONSUME_DEFAULTS.idleTimeoutMs,
      maxUnflushedRecords: CONSUME_DEFAULTS.maxUnflushedRecords,
      maxBackoffMs: CONSUME_DEFAULTS.maxBackoffMs,
    },
    drainTimeoutMs: BENCH_DEFAULTS.drainTimeoutMs,
    command: context.command,
    engine,
    sparkMaster: input.sparkMaster,
    sparkThreads: whole('spark-threads', input.sparkThreads, BENCH_DEFAULTS.sparkThreads, 1, 256),
    engineTimeoutMs: duration('engine-timeout', input.engineTimeout, BENCH_DEFAULTS.engineTimeoutMs, 1000),
  };
}
