/**
 * Running the Spark job (templates/engines/spark/job.py) with spark-submit: the command line, the
 * process, and what a failed run means.
 *
 * - `local[N]` by default: driver and executor in one JVM on this machine, bound to 127.0.0.1. With
 *   `master` (spark://…, yarn, k8s://…) the same job goes to a real cluster in client mode: the driver
 *   runs here (it reads the schema and writes Elasticsearch), the executors use the cluster's own
 *   Python — the job's validation needs nothing but the standard library there.
 * - The connector jars resolved by setup are passed with --jars: no resolution and no network at
 *   submit time.
 * - spark-submit becomes the driver JVM, which starts the Python driver and workers as children. The
 *   job runs in its own process group, so `kill` reaches all of them at once, as a crash would.
 * - The driver's stdout (the job's progress lines) and stderr (Spark's warnings) go to a log file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { GapipeError, invalidFlag } from '../../errors.js';
import { SPARK_JOB_FILE, SPARK_LOG_CONFIG_FILE, type SparkRuntime, tail } from './setup.js';

export interface SparkJobOptions {
  brokers: string;
  topic: string;
  esUrl: string;
  index: string;
  /** Kept between runs: a restart with the same directory resumes where the job stopped. */
  checkpointDir: string;
  /** Where invalid records go; default `<topic>-dlq`; '' drops them. */
  deadLetterTopic?: string | undefined;
  /** Where a new checkpoint starts reading: earliest (default), latest, or Spark's per-partition JSON. */
  startingOffsets?: string | undefined;
  maxOffsetsPerTrigger?: number | undefined;
  /** Micro-batch interval; default as fast as possible (a new batch as soon as the last one ends). */
  triggerMs?: number | undefined;
  /** State partitions (spark.sql.shuffle.partitions); fixed by the checkpoint once it exists. */
  shufflePartitions?: number | undefined;
  /** A cluster's master URL (spark://host:7077, yarn, k8s://…); default local[localThreads]. */
  master?: string | undefined;
  /** N of local[N]; default 2. */
  localThreads?: number | undefined;
  driverMemory?: string | undefined;
  /** Seconds between the job's progress lines in the log. */
  progressEverySeconds?: number | undefined;
  /** More Spark properties (--conf), e.g. { 'spark.ui.enabled': 'true' }. */
  conf?: Readonly<Record<string, string>> | undefined;
  /** The driver's log (stdout and stderr), appended to. */
  logFile: string;
  /** The job file; default the one gapipe ships. */
  jobFile?: string | undefined;
}

export const SPARK_JOB_DEFAULTS = {
  localThreads: 2,
};

export interface SparkSubmitCommand {
  command: string;
  args: string[];
  /** Variables on top of the caller's environment. */
  env: Record<string, string>;
}

/** The spark-submit command line for `job`; validates the options (INVALID_FLAG naming the option). */
export function buildSparkSubmit(
  runtime: Pick<SparkRuntime, 'sparkSubmit' | 'jars' | 'env'>,
  job: SparkJobOptions,
): SparkSubmitCommand {
  const localThreads = job.localThreads ?? SPARK_JOB_DEFAULTS.localThreads;
  if (!Number.isInteger(localThreads) || localThreads < 1) {
    throw invalidFlag(`--spark-threads must be a whole number ≥ 1, got ${localThreads}`);
  }
  if (job.master !== undefined && job.master.trim() === '') {
    throw invalidFlag('--spark-master must be a master URL like spark://host:7077, got an empty value');
  }
  for (const [name, value] of [
    ['--max-offsets-per-trigger', job.maxOffsetsPerTrigger],
    ['--shuffle-partitions', job.shufflePartitions],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw invalidFlag(`${name} must be a whole number ≥ 1, got ${value}`);
    }
  }
  if (job.triggerMs !== undefined && !(Number.isInteger(job.triggerMs) && job.triggerMs >= 0)) {
    throw invalidFlag(`--trigger must be a duration ≥ 0, got ${job.triggerMs}ms`);
  }
  const master = job.master ?? `local[${localThreads}]`;
  const local = master.startsWith('local');

  const conf: Record<string, string> = { 'spark.ui.enabled': 'false' };
  if (local) {
    // The driver would otherwise advertise the host's first address; nothing outside needs to reach it.
    conf['spark.driver.host'] = '127.0.0.1';
    conf['spark.driver.bindAddress'] = '127.0.0.1';
  }
  Object.assign(conf, job.conf);

  const args = [
    '--master',
    master,
    '--name',
    `gapipe-spark ${job.topic}`,
    '--driver-java-options',
    `-Dlog4j2.configurationFile=file:${SPARK_LOG_CONFIG_FILE}`,
  ];
  if (runtime.jars.length > 0) args.push('--jars', runtime.jars.join(','));
  if (job.driverMemory !== undefined) args.push('--driver-memory', job.driverMemory);
  for (const key of Object.keys(conf).sort()) args.push('--conf', `${key}=${conf[key]}`);

  args.push(
    job.jobFile ?? SPARK_JOB_FILE,
    '--brokers',
    job.brokers,
    '--topic',
    job.topic,
    '--es',
    job.esUrl,
    '--index',
    job.index,
    '--checkpoint',
    job.checkpointDir,
  );
  if (job.deadLetterTopic !== undefined) args.push('--dead-letter-topic', job.deadLetterTopic);
  if (job.startingOffsets !== undefined) args.push('--starting-offsets', job.startingOffsets);
  if (job.maxOffsetsPerTrigger !== undefined) {
    args.push('--max-offsets-per-trigger', String(job.maxOffsetsPerTrigger));
  }
  if (job.triggerMs !== undefined) args.push('--trigger', `${job.triggerMs} milliseconds`);
  if (job.shufflePartitions !== undefined) args.push('--shuffle-partitions', String(job.shufflePartitions));
  if (job.progressEverySeconds !== undefined) args.push('--progress-every', String(job.progressEverySeconds));

  const env = { ...runtime.env };
  // On a cluster the executors run their own Python; this machine's venv path means nothing there.
  if (!local) delete env.PYSPARK_PYTHON;
  return { command: runtime.sparkSubmit, args, env };
}

export interface SparkJobExit {
  /** Exit code, or null when ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SparkJobHandle {
  /** spark-submit's pid, which is the driver JVM's, and the id of the job's process group. */
  readonly pid: number;
  readonly logFile: string;
  readonly command: SparkSubmitCommand;
  /** Resolves when the driver has exited (never rejects). */
  wait(): Promise<SparkJobExit>;
  /** Sends `signal` (default SIGTERM) to the driver's process group: the JVM and its Python processes. */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts processes; child_process.spawn by default (tests pass a fake). */
export type SpawnProcess = (
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; stdio: ['ignore', number, number]; detached: boolean },
) => ChildProcess;

/** Sends a signal to a process group; process.kill(-pid) by default. */
export type SignalGroup = (pid: number, signal: NodeJS.Signals) => void;

export interface SubmitDependencies {
  spawn?: SpawnProcess | undefined;
  signalGroup?: SignalGroup | undefined;
  /** The environment the job inherits before the runtime's variables; default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
  /** For the log's header line. */
  now?: (() => Date) | undefined;
}

/** Starts the job; resolves once the process runs (a missing spark-submit is an ENGINE_FAILED error). */
export async function submitSparkJob(
  runtime: Pick<SparkRuntime, 'sparkSubmit' | 'jars' | 'env'>,
  job: SparkJobOptions,
  deps: SubmitDependencies = {},
): Promise<SparkJobHandle> {
  const command = buildSparkSubmit(runtime, job);
  mkdirSync(dirname(job.logFile), { recursive: true });
  const log = openSync(job.logFile, 'a');
  const now = deps.now ?? (() => new Date());
  writeSync(log, `# ${now().toISOString()} gapipe: ${shellLine([command.command, ...command.args])}\n`);
  let child: ChildProcess;
  try {
    child = (deps.spawn ?? spawn)(command.command, command.args, {
      env: { ...(deps.env ?? process.env), ...command.env },
      stdio: ['ignore', log, log],
      detached: true,
    });
  } finally {
    // The child has its own copy of the descriptor.
    closeSync(log);
  }
  const exited = new Promise<SparkJobExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(startFailure(command.command, error)));
  });
  const pid = child.pid as number;
  const signalGroup = deps.signalGroup ?? ((id, signal) => process.kill(-id, signal));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    pid,
    logFile: job.logFile,
    command,
    wait: () => exited,
    kill(signal = 'SIGTERM') {
      if (done) return;
      try {
        signalGroup(pid, signal);
      } catch (error) {
        // Gone already (ESRCH): the exit event is on its way.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    },
  };
}

/** A command line as a shell would need it typed (for the log: a user can copy and run it). */
export function shellLine(words: readonly string[]): string {
  return words
    .map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`))
    .join(' ');
}

function startFailure(command: string, error: Error): GapipeError {
  const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
  return new GapipeError(
    'ENGINE_FAILED',
    missing ? `spark-submit is missing at ${command}` : `Could not start ${command}`,
    {
      cause: error,
      nextSteps: missing
        ? 'The cached Spark environment is incomplete: remove ~/.cache/gapipe/spark (or GAPIPE_CACHE_DIR) and run again to set it up anew'
        : 'Check the permissions of the cached Spark environment (~/.cache/gapipe/spark)',
    },
  );
}

/** Known causes in a driver log, most specific first. */
const FAILURES: Array<{ pattern: RegExp; message: (m: RegExpExecArray) => string; nextSteps: string }> = [
  {
    pattern: /Failed to find data source: kafka/,
    message: () => 'The Spark job has no Kafka connector on its classpath',
    nextSteps:
      'Remove jars.json from the Spark cache (~/.cache/gapipe/spark/<version>) and run again to resolve the connector anew',
  },
  {
    pattern: /Cannot ([a-z ]+) on Elasticsearch at (\S+)/,
    message: (m) => `The Spark job could not ${m[1]} on Elasticsearch at ${m[2]}`,
    nextSteps: 'Start the lab with `gapipe lab up`, or pass --es with a reachable Elasticsearch',
  },
  {
    pattern: /Topic (\S+) not present in metadata|UnknownTopicOrPartitionException/,
    message: (m) =>
      m[1] ? `The Kafka topic ${m[1]} does not exist` : 'A Kafka topic of the Spark job does not exist',
    nextSteps:
      'Create the topic and its -dlq topic first (`gapipe lab up` creates game-events and its side topics)',
  },
  {
    pattern:
      /Timed out waiting for a node assignment|Failed to construct kafka consumer|Connection to node -1 .* could not be established/,
    message: () => 'The Spark job could not reach Kafka',
    nextSteps: 'Start the lab with `gapipe lab up`, or pass --brokers with a reachable Kafka',
  },
  {
    pattern: /(java\.lang\.OutOfMemoryError[^\n]*)/,
    message: (m) => `The Spark driver ran out of memory (${m[1]})`,
    nextSteps: 'Give the driver more memory (spark-submit --driver-memory), or lower the load',
  },
];

/**
 * What a job's exit means for the user: undefined for a clean exit (0, or the signal it was stopped
 * with), else an ENGINE_FAILED error with a known cause when the log names one, and the log's last lines.
 */
export function sparkJobFailure(
  exit: SparkJobExit,
  logText: string,
  logFile: string,
  stoppedWith?: NodeJS.Signals,
): GapipeError | undefined {
  if (exit.code === 0 || (exit.signal !== null && exit.signal === stoppedWith)) return undefined;
  const details = tail(logText, 15);
  const how = exit.signal ? `was ended by ${exit.signal}` : `exited with code ${exit.code}`;
  for (const failure of FAILURES) {
    const match = failure.pattern.exec(logText);
    if (match) {
      return new GapipeError('ENGINE_FAILED', `${failure.message(match)}; the job ${how}`, {
        details,
        nextSteps: `${failure.nextSteps}. The driver log is ${logFile}`,
      });
    }
  }
  return new GapipeError('ENGINE_FAILED', `The Spark job ${how}`, {
    details,
    nextSteps: `The driver log is ${logFile}; the lines above are its end`,
  });
}

/** The driver log's text (its last `maxBytes`), for sparkJobFailure. */
export function readDriverLog(logFile: string, maxBytes = 256 * 1024): string {
  try {
    const text = readFileSync(logFile, 'utf8');
    return text.length > maxBytes ? text.slice(-maxBytes) : text;
  } catch {
    return '';
  }
}
