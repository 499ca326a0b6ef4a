/**
 * What the Spark engine needs on this machine, set up on first use and cached under
 * ~/.cache/gapipe/spark/<version>/ (GAPIPE_CACHE_DIR or XDG_CACHE_HOME move it):
 *
 *   venv/        a Python virtual environment with the pinned PySpark and Elasticsearch client
 *                (templates/engines/spark/requirements.txt); `gapipe-setup.json` in it records the
 *                requirements it was built from, so a changed pin rebuilds it
 *   ivy/         the Kafka connector and its dependencies from Maven Central, resolved once by Spark's
 *                own `spark.jars.packages` machinery (ivy/jars/ holds the files)
 *   jars.json    the resolved jar files, which every later submit passes with --jars (no resolution,
 *                no network)
 *
 * Each step reports one line before it starts (a reporter this module defines), and every failure a
 * user can fix — no Java, no python3 or no venv module, pip failing, Maven Central not reachable —
 * is a GapipeError that says how. Commands run through an injectable runner, so the steps and the
 * error mapping are tested with a fake.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Clock, systemClock } from '../../clock.js';
import { GapipeError } from '../../errors.js';
import { templatePath } from '../../paths.js';

export const SPARK_VERSION = '3.5.7';
export const SPARK_SCALA_VERSION = '2.12';
/** Maven coordinate of the Structured Streaming Kafka source and sink for this Spark. */
export const KAFKA_CONNECTOR = `org.apache.spark:spark-sql-kafka-0-10_${SPARK_SCALA_VERSION}:${SPARK_VERSION}`;
export const SPARK_TEMPLATE_DIR = templatePath('engines/spark/');
export const SPARK_JOB_FILE = `${SPARK_TEMPLATE_DIR}job.py`;
export const SPARK_REQUIREMENTS_FILE = `${SPARK_TEMPLATE_DIR}requirements.txt`;
export const SPARK_LOG_CONFIG_FILE = `${SPARK_TEMPLATE_DIR}log4j2.properties`;
/** The Java versions Spark 3.5 is built and tested for. */
export const SPARK_JAVA_VERSIONS = [8, 11, 17];
const MIN_PYTHON = { major: 3, minor: 8 };
/** How much of a failed command's output an error shows. */
const TAIL_LINES = 12;

export interface CommandResult {
  /** Exit code; −1 when killed by a signal. */
  code: number;
  /** stdout and stderr interleaved, the last 64 KiB. */
  output: string;
}

/**
 * Runs a command to its end. Rejects only when it cannot be started (an error with code ENOENT when
 * the command does not exist); a non-zero exit is a result.
 */
export type CommandRunner = (
  command: string,
  args: readonly string[],
  options?: { env?: NodeJS.ProcessEnv },
) => Promise<CommandResult>;

/** Told one line per step, before the step starts. */
export interface SparkSetupReporter {
  step(line: string): void;
}

export interface SparkSetupOptions {
  /** Default: defaultSparkCacheDir(). */
  cacheDir?: string | undefined;
  /** The Python that creates the venv; default python3 (GAPIPE_PYTHON). */
  python?: string | undefined;
  /** Java to use; default $JAVA_HOME, else `java` on PATH (what spark-submit does). */
  javaHome?: string | undefined;
  /**
   * Maven repositories to try besides Maven Central (a mirror), as spark-submit --repositories takes
   * them; default GAPIPE_MAVEN_REPOSITORIES (comma separated).
   */
  repositories?: readonly string[] | undefined;
  reporter?: SparkSetupReporter | undefined;
  runner?: CommandRunner | undefined;
  clock?: Clock | undefined;
  /** Environment the commands inherit; default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

/** Everything submit needs: where Spark is, and the environment spark-submit runs with. */
export interface SparkRuntime {
  version: string;
  cacheDir: string;
  venvDir: string;
  /** The venv's python: the driver's, and the workers' in local mode. */
  python: string;
  sparkHome: string;
  sparkSubmit: string;
  /** The Kafka connector and its dependencies, for --jars. */
  jars: string[];
  javaVersion: string;
  /** Variables spark-submit needs on top of the caller's environment. */
  env: Record<string, string>;
}

/**
 * What the Spark engine runs on, for a run's provenance: Spark, its Kafka connector, the Python
 * packages pinned in the template's requirements.txt, and the Java that ran it.
 */
export function sparkSoftware(runtime: SparkRuntime): Record<string, string> {
  const pinned: Record<string, string> = {};
  for (const line of readFileSync(SPARK_REQUIREMENTS_FILE, 'utf8').split('\n')) {
    const match = /^\s*([A-Za-z0-9_.-]+)==(\S+)/.exec(line);
    if (match?.[1] && match[2]) pinned[match[1]] = match[2];
  }
  return {
    Spark: runtime.version,
    'Kafka connector': KAFKA_CONNECTOR,
    ...pinned,
    Java: runtime.javaVersion,
  };
}

/** ~/.cache/gapipe/spark/<version>, or under GAPIPE_CACHE_DIR or XDG_CACHE_HOME when set. */
export function defaultSparkCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.GAPIPE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gapipe');
  return join(root, 'spark', SPARK_VERSION);
}

interface VenvRecord {
  requirements: string;
  sparkHome: string;
}

interface JarsRecord {
  connector: string;
  jars: string[];
}

/** Creates or reuses the cached environment, reporting each step. */
export async function setupSpark(options: SparkSetupOptions = {}): Promise<SparkRuntime> {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? defaultSparkCacheDir(env);
  const run = options.runner ?? runCommand;
  const report = options.reporter ?? { step() {} };
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const javaHome = options.javaHome ?? (env.JAVA_HOME || undefined);
  mkdirSync(cacheDir, { recursive: true });

  report.step(`Spark ${SPARK_VERSION}: checking Java`);
  const javaVersion = await checkJava(run, javaHome, env);
  const supported = SPARK_JAVA_VERSIONS.includes(javaMajor(javaVersion));
  report.step(
    supported
      ? `Java ${javaVersion}`
      : `Java ${javaVersion}: Spark ${SPARK_VERSION} is tested on Java ${SPARK_JAVA_VERSIONS.join(', ')} only; trying anyway`,
  );

  const venvDir = join(cacheDir, 'venv');
  const python = join(venvDir, 'bin', 'python');
  const requirements = readFileSync(SPARK_REQUIREMENTS_FILE, 'utf8');
  const requirementsHash = createHash('sha256').update(requirements).digest('hex').slice(0, 16);
  let venv = readJson<VenvRecord>(join(venvDir, 'gapipe-setup.json'));
  if (venv?.requirements === requirementsHash && existsSync(python) && existsSync(venv.sparkHome)) {
    report.step(`Python environment: ${venvDir} (cached)`);
  } else {
    venv = await createVenv(run, {
      basePython: options.python ?? (env.GAPIPE_PYTHON || 'python3'),
      venvDir,
      python,
      requirementsHash,
      report,
      env,
    });
  }

  const runtimeEnv: Record<string, string> = {
    SPARK_HOME: venv.sparkHome,
    PYSPARK_PYTHON: python,
    PYSPARK_DRIVER_PYTHON: python,
    // Spark prints a Python warning otherwise, and the job's string hashing must not vary per worker.
    PYTHONHASHSEED: '0',
  };
  if (javaHome) runtimeEnv.JAVA_HOME = javaHome;
  const sparkSubmit = join(venv.sparkHome, 'bin', 'spark-submit');

  const jarsFile = join(cacheDir, 'jars.json');
  let jars = readJson<JarsRecord>(jarsFile);
  if (jars?.connector === KAFKA_CONNECTOR && jars.jars.length > 0 && jars.jars.every((f) => existsSync(f))) {
    report.step(`Kafka connector: ${jars.jars.length} jars in ${join(cacheDir, 'ivy', 'jars')} (cached)`);
  } else {
    const files = await resolveJars(run, {
      cacheDir,
      sparkSubmit,
      repositories: options.repositories ?? splitList(env.GAPIPE_MAVEN_REPOSITORIES),
      env: { ...env, ...runtimeEnv },
      report,
    });
    jars = { connector: KAFKA_CONNECTOR, jars: files };
    writeFileSync(jarsFile, `${JSON.stringify(jars, null, 2)}\n`);
  }

  report.step(`Spark ${SPARK_VERSION} ready (${formatSeconds(clock.now() - started)})`);
  return {
    version: SPARK_VERSION,
    cacheDir,
    venvDir,
    python,
    sparkHome: venv.sparkHome,
    sparkSubmit,
    jars: jars.jars,
    javaVersion,
    env: runtimeEnv,
  };
}

// ——— the steps ———

async function checkJava(
  run: CommandRunner,
  javaHome: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const java = javaHome ? join(javaHome, 'bin', 'java') : 'java';
  const install = `Install a Java ${SPARK_JAVA_VERSIONS.at(-1)} runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) and put it on PATH, or set JAVA_HOME`;
  let result: CommandResult;
  try {
    result = await run(java, ['-version'], { env });
  } catch (error) {
    if (!isNotFound(error)) throw unexpected(`run ${java} -version`, error);
    throw new GapipeError(
      'ENGINE_SETUP_FAILED',
      javaHome ? `No Java at ${java} (JAVA_HOME=${javaHome})` : 'Java is not installed (no `java` on PATH)',
      { cause: error, nextSteps: `The Spark engine runs on the JVM. ${install}` },
    );
  }
  // `java -version` prints e.g. openjdk version "17.0.15" 2025-04-15, or java version "1.8.0_392".
  const version = /version "([^"]+)"/.exec(result.output)?.[1];
  if (result.code !== 0 || version === undefined) {
    throw new GapipeError('ENGINE_SETUP_FAILED', `\`${java} -version\` failed (exit ${result.code})`, {
      details: tail(result.output),
      nextSteps: install,
    });
  }
  return version;
}

/** 17 for "17.0.15", 8 for "1.8.0_392". */
export function javaMajor(version: string): number {
  const [first, second] = version.split(/[.+_-]/).map(Number);
  return first === 1 && second !== undefined ? second : (first ?? 0);
}

async function createVenv(
  run: CommandRunner,
  options: {
    basePython: string;
    venvDir: string;
    python: string;
    requirementsHash: string;
    report: SparkSetupReporter;
    env: NodeJS.ProcessEnv;
  },
): Promise<VenvRecord> {
  const { basePython, venvDir, python, report, env } = options;
  const installPython =
    'Install Python 3.8 or newer with its venv module (Debian/Ubuntu: apt-get install python3 python3-venv), or point GAPIPE_PYTHON at one';
  let version: CommandResult;
  try {
    version = await run(basePython, ['--version'], { env });
  } catch (error) {
    if (!isNotFound(error)) throw unexpected(`run ${basePython} --version`, error);
    // GAPIPE_PYTHON may name a path rather than a command to look up on PATH.
    const missing = basePython.includes('/')
      ? `No Python at ${basePython}`
      : `Python is not installed (no \`${basePython}\` on PATH)`;
    throw new GapipeError('ENGINE_SETUP_FAILED', missing, {
      cause: error,
      nextSteps: `The Spark engine runs PySpark. ${installPython}`,
    });
  }
  const match = /Python (\d+)\.(\d+)/.exec(version.output);
  const major = Number(match?.[1]);
  const minor = Number(match?.[2]);
  if (
    version.code !== 0 ||
    !match ||
    major < MIN_PYTHON.major ||
    (major === MIN_PYTHON.major && minor < MIN_PYTHON.minor)
  ) {
    throw new GapipeError(
      'ENGINE_SETUP_FAILED',
      `PySpark ${SPARK_VERSION} needs Python ${MIN_PYTHON.major}.${MIN_PYTHON.minor} or newer; \`${basePython} --version\` says ${JSON.stringify(version.output.trim())}`,
      { nextSteps: installPython },
    );
  }

  // A venv cannot be moved once made (its scripts name their own path): build it in place, and
  // mark it complete only at the end, so an interrupted setup is redone rather than trusted.
  rmSync(venvDir, { recursive: true, force: true });
  report.step(`creating the Python environment in ${venvDir} (first use only: about a minute)`);
  const created = await run(basePython, ['-m', 'venv', venvDir], { env });
  if (created.code !== 0) {
    rmSync(venvDir, { recursive: true, force: true });
    const noVenv = /ensurepip|No module named venv/.test(created.output);
    throw new GapipeError(
      'ENGINE_SETUP_FAILED',
      noVenv
        ? `Python ${major}.${minor} at \`${basePython}\` has no venv module`
        : `\`${basePython} -m venv\` failed (exit ${created.code})`,
      { details: tail(created.output), nextSteps: installPython },
    );
  }

  report.step(`installing PySpark ${SPARK_VERSION} and the Elasticsearch client with pip`);
  const pip = await run(
    python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', SPARK_REQUIREMENTS_FILE],
    { env },
  );
  if (pip.code !== 0) {
    rmSync(venvDir, { recursive: true, force: true });
    throw new GapipeError('ENGINE_SETUP_FAILED', `pip could not install the Spark engine's packages`, {
      details: tail(pip.output),
      nextSteps:
        'Check that PyPI is reachable from this machine (or set PIP_INDEX_URL to a mirror), then run again; pip caches what it already downloaded',
    });
  }

  const home = await run(python, ['-c', 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'], {
    env,
  });
  const sparkHome = home.output.trim().split('\n').at(-1) ?? '';
  if (home.code !== 0 || !existsSync(join(sparkHome, 'bin', 'spark-submit'))) {
    throw new GapipeError('ENGINE_SETUP_FAILED', 'PySpark was installed but cannot be imported', {
      details: tail(home.output),
      nextSteps: `Remove ${venvDir} and run again`,
    });
  }
  const record: VenvRecord = { requirements: options.requirementsHash, sparkHome };
  writeFileSync(join(venvDir, 'gapipe-setup.json'), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** Patterns in spark-submit's output that mean the repository could not be reached or had nothing. */
const UNREACHABLE =
  /unresolved dependency|Server access error|UnknownHostException|Connection (refused|timed out)|SSLHandshakeException/i;

async function resolveJars(
  run: CommandRunner,
  options: {
    cacheDir: string;
    sparkSubmit: string;
    repositories: readonly string[];
    env: NodeJS.ProcessEnv;
    report: SparkSetupReporter;
  },
): Promise<string[]> {
  const ivyDir = join(options.cacheDir, 'ivy');
  const noop = join(options.cacheDir, 'resolve-only.py');
  // spark-submit resolves --packages before it runs the application; this one does nothing.
  writeFileSync(noop, '# Run by gapipe only to make spark-submit resolve the Kafka connector.\n');
  options.report.step(
    `downloading ${KAFKA_CONNECTOR} and its dependencies from Maven Central into ${ivyDir}`,
  );
  const args = [
    '--master',
    'local[1]',
    '--conf',
    `spark.jars.ivy=${ivyDir}`,
    '--conf',
    'spark.ui.enabled=false',
    '--packages',
    KAFKA_CONNECTOR,
  ];
  if (options.repositories.length > 0) args.push('--repositories', options.repositories.join(','));
  args.push(noop);
  let result: CommandResult;
  try {
    result = await run(options.sparkSubmit, args, { env: options.env });
  } catch (error) {
    throw unexpected(`run ${options.sparkSubmit}`, error);
  }
  const jarsDir = join(ivyDir, 'jars');
  const files = existsSync(jarsDir)
    ? readdirSync(jarsDir)
        .filter((name) => name.endsWith('.jar'))
        .sort()
        .map((name) => join(jarsDir, name))
    : [];
  const connectorJar = `spark-sql-kafka-0-10_${SPARK_SCALA_VERSION}-${SPARK_VERSION}.jar`;
  if (result.code === 0 && files.some((file) => file.endsWith(connectorJar))) return files;
  if (UNREACHABLE.test(result.output)) {
    throw new GapipeError(
      'ENGINE_SETUP_FAILED',
      `The Kafka connector for Spark (${KAFKA_CONNECTOR}) could not be downloaded from Maven Central`,
      {
        details: tail(result.output),
        nextSteps:
          'Check that Maven Central is reachable from this machine (a proxy goes in JAVA_TOOL_OPTIONS as -Dhttps.proxyHost=… -Dhttps.proxyPort=…), or name a mirror with GAPIPE_MAVEN_REPOSITORIES, then run again',
      },
    );
  }
  throw new GapipeError(
    'ENGINE_SETUP_FAILED',
    `spark-submit failed while resolving the Kafka connector (exit ${result.code})`,
    {
      details: tail(result.output),
      nextSteps: `Remove ${options.cacheDir} and run again; if it fails the same way, the lines above say why`,
    },
  );
}

// ——— helpers ———

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function unexpected(what: string, error: unknown): GapipeError {
  return new GapipeError('ENGINE_SETUP_FAILED', `Could not ${what}`, {
    cause: error,
    nextSteps: 'Check the permissions of the cache directory and the command, then run again',
  });
}

/** The last lines of a command's output, for an error's details. */
export function tail(output: string, lines = TAIL_LINES): string[] {
  return output
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line !== '')
    .slice(-lines);
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

const MAX_OUTPUT = 64 * 1024;

/** The real CommandRunner: child_process.spawn, output kept to its last 64 KiB. */
export const runCommand: CommandRunner = (command, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.length > 2 * MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output: output.slice(-MAX_OUTPUT) }));
  });
