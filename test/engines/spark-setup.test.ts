import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import {
  type CommandResult,
  type CommandRunner,
  defaultSparkCacheDir,
  javaMajor,
  KAFKA_CONNECTOR,
  SPARK_REQUIREMENTS_FILE,
  SPARK_VERSION,
  type SparkSetupOptions,
  setupSpark,
} from '../../src/engines/spark/setup.js';
import { GapipeError } from '../../src/errors.js';

interface Call {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv | undefined;
}

type Answer = CommandResult | 'ENOENT' | ((call: Call) => CommandResult);

/**
 * A machine in miniature: answers per command, by the first word that identifies the step, and does
 * to the file system what the real command would (a venv's python, PySpark's spark-submit, the jars).
 */
class FakeMachine {
  readonly calls: Call[] = [];
  readonly answers: Record<'java' | 'python' | 'venv' | 'pip' | 'sparkHome' | 'resolve', Answer>;

  constructor(readonly root: string) {
    const sparkHome = join(root, 'site-packages', 'pyspark');
    this.answers = {
      java: ok('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment'),
      python: ok('Python 3.11.7'),
      venv: (call) => {
        const dir = call.args[2] as string;
        mkdirSync(join(dir, 'bin'), { recursive: true });
        writeFileSync(join(dir, 'bin', 'python'), '');
        return ok('');
      },
      pip: ok('Successfully installed pyspark-3.5.7 elasticsearch-8.19.3'),
      sparkHome: () => {
        mkdirSync(join(sparkHome, 'bin'), { recursive: true });
        writeFileSync(join(sparkHome, 'bin', 'spark-submit'), '');
        return ok(`${sparkHome}\n`);
      },
      resolve: (call) => {
        const ivy = (call.args.find((a) => a.startsWith('spark.jars.ivy=')) as string).slice(15);
        mkdirSync(join(ivy, 'jars'), { recursive: true });
        for (const name of [
          `org.apache.spark_spark-sql-kafka-0-10_2.12-${SPARK_VERSION}.jar`,
          'org.apache.kafka_kafka-clients-3.4.1.jar',
          'org.apache.commons_commons-pool2-2.11.1.jar',
        ]) {
          writeFileSync(join(ivy, 'jars', name), '');
        }
        return ok(':: resolution report ::\n3 artifacts copied');
      },
    };
  }

  readonly runner: CommandRunner = async (command, args, options) => {
    const call = { command, args, env: options?.env };
    this.calls.push(call);
    const answer = this.answers[this.step(call)];
    if (answer === 'ENOENT') {
      throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' });
    }
    return typeof answer === 'function' ? answer(call) : answer;
  };

  step(call: Call): keyof FakeMachine['answers'] {
    if (call.args[0] === '-version') return 'java';
    if (call.args[0] === '--version') return 'python';
    if (call.args[1] === 'venv') return 'venv';
    if (call.args[1] === 'pip') return 'pip';
    if (call.args[0] === '-c') return 'sparkHome';
    if (call.command.endsWith('spark-submit')) return 'resolve';
    throw new Error(`unexpected command ${call.command} ${call.args.join(' ')}`);
  }

  steps(): string[] {
    return this.calls.map((call) => this.step(call));
  }
}

function ok(output: string, code = 0): CommandResult {
  return { code, output };
}

let root: string;
let cacheDir: string;
let machine: FakeMachine;
let lines: string[];

function setup(options: Partial<SparkSetupOptions> = {}) {
  return setupSpark({
    cacheDir,
    runner: machine.runner,
    reporter: { step: (line) => lines.push(line) },
    env: { PATH: '/usr/bin' },
    clock: new ManualClock(0),
    ...options,
  });
}

async function setupError(options: Partial<SparkSetupOptions> = {}): Promise<GapipeError> {
  const error = await setup(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GapipeError);
  expect((error as GapipeError).code).toBe('ENGINE_SETUP_FAILED');
  expect((error as GapipeError).nextSteps).toBeTruthy();
  return error as GapipeError;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gapipe-spark-setup-'));
  cacheDir = join(root, 'cache', 'spark', SPARK_VERSION);
  machine = new FakeMachine(root);
  lines = [];
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('setupSpark on first use', () => {
  it('checks Java, builds the venv with the pinned requirements, resolves the connector, one line per step', async () => {
    const runtime = await setup();
    expect(machine.steps()).toEqual(['java', 'python', 'venv', 'pip', 'sparkHome', 'resolve']);
    const venv = join(cacheDir, 'venv');
    expect(machine.calls[2]).toMatchObject({ command: 'python3', args: ['-m', 'venv', venv] });
    expect(machine.calls[3]).toMatchObject({
      command: join(venv, 'bin', 'python'),
      args: [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-input',
        '-r',
        SPARK_REQUIREMENTS_FILE,
      ],
    });
    const sparkHome = join(root, 'site-packages', 'pyspark');
    const resolve = machine.calls[5] as Call;
    expect(resolve.command).toBe(join(sparkHome, 'bin', 'spark-submit'));
    expect(resolve.args).toEqual([
      '--master',
      'local[1]',
      '--conf',
      `spark.jars.ivy=${join(cacheDir, 'ivy')}`,
      '--conf',
      'spark.ui.enabled=false',
      '--packages',
      KAFKA_CONNECTOR,
      join(cacheDir, 'resolve-only.py'),
    ]);
    expect(resolve.env).toMatchObject({ SPARK_HOME: sparkHome, PYSPARK_PYTHON: join(venv, 'bin', 'python') });

    expect(runtime).toMatchObject({
      version: SPARK_VERSION,
      cacheDir,
      venvDir: venv,
      python: join(venv, 'bin', 'python'),
      sparkHome,
      sparkSubmit: join(sparkHome, 'bin', 'spark-submit'),
      javaVersion: '17.0.15',
      env: {
        SPARK_HOME: sparkHome,
        PYSPARK_PYTHON: join(venv, 'bin', 'python'),
        PYSPARK_DRIVER_PYTHON: join(venv, 'bin', 'python'),
        PYTHONHASHSEED: '0',
      },
    });
    expect(runtime.jars.map((file) => file.slice(join(cacheDir, 'ivy', 'jars').length + 1))).toEqual([
      'org.apache.commons_commons-pool2-2.11.1.jar',
      'org.apache.kafka_kafka-clients-3.4.1.jar',
      `org.apache.spark_spark-sql-kafka-0-10_2.12-${SPARK_VERSION}.jar`,
    ]);
    expect(lines).toEqual([
      `Spark ${SPARK_VERSION}: checking Java`,
      'Java 17.0.15',
      `creating the Python environment in ${venv} (first use only: about a minute)`,
      `installing PySpark ${SPARK_VERSION} and the Elasticsearch client with pip`,
      `downloading ${KAFKA_CONNECTOR} and its dependencies from Maven Central into ${join(cacheDir, 'ivy')}`,
      `Spark ${SPARK_VERSION} ready (0.0s)`,
    ]);
  });

  it('reuses the cache the next time: only Java is checked', async () => {
    const first = await setup();
    machine.calls.length = 0;
    lines = [];
    const second = await setup();
    expect(second).toEqual(first);
    expect(machine.steps()).toEqual(['java']);
    expect(lines).toEqual([
      `Spark ${SPARK_VERSION}: checking Java`,
      'Java 17.0.15',
      `Python environment: ${join(cacheDir, 'venv')} (cached)`,
      `Kafka connector: 3 jars in ${join(cacheDir, 'ivy', 'jars')} (cached)`,
      `Spark ${SPARK_VERSION} ready (0.0s)`,
    ]);
  });

  it('rebuilds the venv when the requirements changed, and re-resolves jars that went missing', async () => {
    await setup();
    const record = join(cacheDir, 'venv', 'gapipe-setup.json');
    writeFileSync(
      record,
      JSON.stringify({ ...JSON.parse(readFileSync(record, 'utf8')), requirements: 'old' }),
    );
    const runtime = await setup();
    rmSync(runtime.jars[0] as string);
    machine.calls.length = 0;
    await setup();
    expect(machine.steps()).toEqual(['java', 'resolve']);
  });

  it('redoes a venv whose setup was interrupted (no record of its completion)', async () => {
    machine.answers.pip = ok('Killed', -1);
    await setupError();
    expect(existsSync(join(cacheDir, 'venv'))).toBe(false);
    machine.answers.pip = ok('');
    await setup();
    expect(existsSync(join(cacheDir, 'venv', 'gapipe-setup.json'))).toBe(true);
  });

  it('uses JAVA_HOME as spark-submit would, and passes it on', async () => {
    const runtime = await setup({ env: { JAVA_HOME: '/opt/jdk17' } });
    expect(machine.calls[0]?.command).toBe('/opt/jdk17/bin/java');
    expect(runtime.env.JAVA_HOME).toBe('/opt/jdk17');
  });

  it('goes on with a Java that Spark is not tested on, saying so', async () => {
    machine.answers.java = ok('openjdk version "21.0.2" 2024-01-16');
    const runtime = await setup();
    expect(runtime.javaVersion).toBe('21.0.2');
    expect(lines[1]).toBe(
      `Java 21.0.2: Spark ${SPARK_VERSION} is tested on Java 8, 11, 17 only; trying anyway`,
    );
  });

  it('passes mirrors from GAPIPE_MAVEN_REPOSITORIES to the resolution', async () => {
    await setup({
      env: { GAPIPE_MAVEN_REPOSITORIES: 'https://mirror.example/maven2, https://other.example/m2' },
    });
    const args = machine.calls.at(-1)?.args ?? [];
    expect(args.slice(-3)).toEqual([
      '--repositories',
      'https://mirror.example/maven2,https://other.example/m2',
      join(cacheDir, 'resolve-only.py'),
    ]);
  });
});

describe('setupSpark errors the user can fix', () => {
  it('no java on PATH', async () => {
    machine.answers.java = 'ENOENT';
    const error = await setupError();
    expect(error.message).toBe('Java is not installed (no `java` on PATH)');
    expect(error.nextSteps).toMatch(/openjdk-17-jre-headless.*JAVA_HOME/);
  });

  it('JAVA_HOME pointing nowhere', async () => {
    machine.answers.java = 'ENOENT';
    const error = await setupError({ javaHome: '/opt/nothing' });
    expect(error.message).toBe('No Java at /opt/nothing/bin/java (JAVA_HOME=/opt/nothing)');
  });

  it('a java that does not run', async () => {
    machine.answers.java = ok('Error: could not find libjava.so', 1);
    const error = await setupError();
    expect(error.message).toBe('`java -version` failed (exit 1)');
    expect(error.details).toEqual(['Error: could not find libjava.so']);
  });

  it('no python3', async () => {
    machine.answers.python = 'ENOENT';
    const error = await setupError();
    expect(error.message).toBe('Python is not installed (no `python3` on PATH)');
    expect(error.nextSteps).toMatch(/python3-venv.*GAPIPE_PYTHON/);
  });

  it('a Python too old for PySpark', async () => {
    machine.answers.python = ok('Python 3.7.3');
    const error = await setupError();
    expect(error.message).toBe(
      `PySpark ${SPARK_VERSION} needs Python 3.8 or newer; \`python3 --version\` says "Python 3.7.3"`,
    );
  });

  it('takes the Python to use from GAPIPE_PYTHON', async () => {
    await setup({ env: { GAPIPE_PYTHON: '/usr/local/bin/python3.12' } });
    expect(machine.calls[1]?.command).toBe('/usr/local/bin/python3.12');
    expect(machine.calls[2]?.command).toBe('/usr/local/bin/python3.12');
  });

  it('a Python without its venv module (Debian without python3-venv)', async () => {
    machine.answers.venv = ok(
      'The virtual environment was not created successfully because ensurepip is not\navailable.  On Debian/Ubuntu systems, you need to install the python3-venv\npackage using the following command.',
      1,
    );
    const error = await setupError();
    expect(error.message).toBe('Python 3.11 at `python3` has no venv module');
    expect(error.nextSteps).toContain('apt-get install python3 python3-venv');
    expect(error.details.at(-1)).toBe('package using the following command.');
  });

  it('pip failing (PyPI not reachable): the venv is removed, pip’s last lines shown', async () => {
    machine.answers.pip = ok(
      'WARNING: Retrying (Retry(total=4...)) after connection broken\nERROR: Could not find a version that satisfies the requirement pyspark==3.5.7\nERROR: No matching distribution found for pyspark==3.5.7',
      1,
    );
    const error = await setupError();
    expect(error.message).toBe("pip could not install the Spark engine's packages");
    expect(error.details.at(-1)).toBe('ERROR: No matching distribution found for pyspark==3.5.7');
    expect(error.nextSteps).toMatch(/PyPI.*PIP_INDEX_URL/);
    expect(existsSync(join(cacheDir, 'venv'))).toBe(false);
  });

  it('Maven Central not reachable for the connector', async () => {
    machine.answers.resolve = ok(
      [
        'Server access error at url https://maven.example/org/apache/spark/spark-sql-kafka-0-10_2.12/3.5.7/x.pom (java.net.UnknownHostException: maven.example)',
        '::::::::::::::::::::::::::::::::::::::::::::::',
        '::          UNRESOLVED DEPENDENCIES         ::',
        `Exception in thread "main" java.lang.RuntimeException: [unresolved dependency: ${KAFKA_CONNECTOR}: not found]`,
      ].join('\n'),
      1,
    );
    const error = await setupError();
    expect(error.message).toBe(
      `The Kafka connector for Spark (${KAFKA_CONNECTOR}) could not be downloaded from Maven Central`,
    );
    expect(error.nextSteps).toMatch(/Maven Central is reachable.*GAPIPE_MAVEN_REPOSITORIES/);
    expect(existsSync(join(cacheDir, 'jars.json'))).toBe(false);
  });

  it('spark-submit failing otherwise while resolving', async () => {
    machine.answers.resolve = ok('Error: A JNI error has occurred, please check your installation', 1);
    const error = await setupError();
    expect(error.message).toBe('spark-submit failed while resolving the Kafka connector (exit 1)');
    expect(error.details).toEqual(['Error: A JNI error has occurred, please check your installation']);
  });
});

describe('javaMajor', () => {
  it.each([
    ['17.0.15', 17],
    ['1.8.0_392', 8],
    ['11.0.2', 11],
    ['21', 21],
    ['22-ea', 22],
  ])('%s is Java %i', (version, major) => {
    expect(javaMajor(version)).toBe(major);
  });
});

describe('defaultSparkCacheDir', () => {
  it('is ~/.cache/gapipe/spark/<version>, moved by XDG_CACHE_HOME or GAPIPE_CACHE_DIR', () => {
    expect(defaultSparkCacheDir({ HOME: '/home/u' })).toMatch(
      new RegExp(`/\\.cache/gapipe/spark/${SPARK_VERSION}$`),
    );
    expect(defaultSparkCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(`/x/gapipe/spark/${SPARK_VERSION}`);
    expect(defaultSparkCacheDir({ XDG_CACHE_HOME: '/x', GAPIPE_CACHE_DIR: '/ci/cache' })).toBe(
      `/ci/cache/spark/${SPARK_VERSION}`,
    );
  });

  it('names the version the requirements pin', () => {
    expect(readFileSync(SPARK_REQUIREMENTS_FILE, 'utf8')).toContain(`pyspark==${SPARK_VERSION}\n`);
  });
});
