/**
 * `gapipe engine setup spark`: the command run in-process with a fake machine behind setupSpark's
 * runner (so no Java, Python or network is needed), and once as a real process for an error a user
 * can meet.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import EngineSetup, { type EngineSetupResult } from '../../src/commands/engine/setup.js';
import type { CommandResult, CommandRunner } from '../../src/engines/spark/setup.js';
import { SPARK_VERSION } from '../../src/engines/spark/setup.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Step = 'java' | 'python' | 'venv' | 'pip' | 'sparkHome' | 'resolve';

/** Answers each set-up command as a machine with Java 17 and Python 3.11 would, and does its file work. */
function fakeMachine(root: string, overrides: Partial<Record<Step, CommandResult | 'ENOENT'>> = {}) {
  const calls: Step[] = [];
  const clock = new ManualClock(0);
  const sparkHome = join(root, 'site-packages', 'pyspark');
  const step = (args: readonly string[], command: string): Step => {
    if (args[0] === '-version') return 'java';
    if (args[0] === '--version') return 'python';
    if (args[1] === 'venv') return 'venv';
    if (args[1] === 'pip') return 'pip';
    if (args[0] === '-c') return 'sparkHome';
    if (command.endsWith('spark-submit')) return 'resolve';
    throw new Error(`unexpected command ${command} ${args.join(' ')}`);
  };
  const runner: CommandRunner = async (command, args) => {
    const current = step(args, command);
    calls.push(current);
    // Each command takes a while, so the reported time means something.
    clock.advance(current === 'java' ? 200 : 20_000);
    const override = overrides[current];
    if (override === 'ENOENT') {
      throw Object.assign(new Error(`spawn ${command} ENOENT`), { code: 'ENOENT' });
    }
    if (override) return override;
    switch (current) {
      case 'java':
        return { code: 0, output: 'openjdk version "17.0.15" 2025-04-15\n' };
      case 'python':
        return { code: 0, output: 'Python 3.11.7\n' };
      case 'venv': {
        mkdirSync(join(args[2] as string, 'bin'), { recursive: true });
        writeFileSync(join(args[2] as string, 'bin', 'python'), '');
        return { code: 0, output: '' };
      }
      case 'pip':
        return { code: 0, output: `Successfully installed pyspark-${SPARK_VERSION}\n` };
      case 'sparkHome':
        mkdirSync(join(sparkHome, 'bin'), { recursive: true });
        writeFileSync(join(sparkHome, 'bin', 'spark-submit'), '');
        return { code: 0, output: `${sparkHome}\n` };
      case 'resolve': {
        const ivy = (args.find((a) => a.startsWith('spark.jars.ivy=')) as string).slice(15);
        mkdirSync(join(ivy, 'jars'), { recursive: true });
        for (const name of [
          `org.apache.spark_spark-sql-kafka-0-10_2.12-${SPARK_VERSION}.jar`,
          'org.apache.kafka_kafka-clients-3.4.1.jar',
        ]) {
          writeFileSync(join(ivy, 'jars', name), '');
        }
        return { code: 0, output: '2 artifacts copied' };
      }
    }
  };
  return { calls, clock, runner, sparkHome };
}

let root: string;
let out: string;
let err: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'gapipe-engine-setup-'));
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  // oclif prints --json results with console.log.
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    out += `${format(...args)}\n`;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  // The base command sets the exit code of a failed command; it must not fail the test run.
  process.exitCode = undefined;
  rmSync(root, { recursive: true, force: true });
});

/** Runs the command in this process against `machine`; resolves to its exit code. */
async function engineSetup(argv: string[], machine: ReturnType<typeof fakeMachine>): Promise<number> {
  class Command extends EngineSetup {
    protected override runner = machine.runner;
    protected override clock = machine.clock;
  }
  process.exitCode = undefined;
  await Command.run(argv, ROOT);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return code;
}

describe('gapipe engine setup spark', () => {
  it('prepares the cache folder under --cache-dir, reports each step and ends with what it prepared', async () => {
    const machine = fakeMachine(root);
    const cacheDir = join(root, 'cache', 'spark', SPARK_VERSION);
    expect(await engineSetup(['spark', '--cache-dir', join(root, 'cache')], machine)).toBe(0);

    expect(machine.calls).toEqual(['java', 'python', 'venv', 'pip', 'sparkHome', 'resolve']);
    expect(existsSync(join(cacheDir, 'jars.json'))).toBe(true);
    const progress = err.split('\n').filter((line) => line.startsWith('• '));
    expect(progress[0]).toBe(`• Spark ${SPARK_VERSION}: checking Java`);
    expect(progress).toContain('• Java 17.0.15');
    expect(progress.some((line) => line.startsWith('• installing PySpark'))).toBe(true);
    expect(progress.some((line) => line.startsWith('• downloading org.apache.spark:spark-sql-kafka'))).toBe(
      true,
    );
    expect(out).toBe(
      [
        `Spark ${SPARK_VERSION} is prepared (100.2s).`,
        '  java         17.0.15',
        `  python env   ${join(cacheDir, 'venv')}`,
        `  spark home   ${machine.sparkHome}`,
        `  jars         2 (the Kafka connector and its dependencies) in ${join(cacheDir, 'ivy', 'jars')}`,
        `  cache        ${cacheDir}`,
        '',
      ].join('\n'),
    );
  });

  it('says "already prepared" on a warm cache, after running only the Java check', async () => {
    const cache = join(root, 'cache');
    expect(await engineSetup(['spark', '--cache-dir', cache], fakeMachine(root))).toBe(0);
    out = '';
    const warm = fakeMachine(root);
    expect(await engineSetup(['spark', '--cache-dir', cache], warm)).toBe(0);
    expect(warm.calls).toEqual(['java']);
    expect(out.split('\n')[0]).toBe(`Spark ${SPARK_VERSION} was already prepared; nothing to do (0.2s).`);
  });

  it('takes the cache folder from GAPIPE_CACHE_DIR, and --json prints the result alone on stdout', async () => {
    const cache = join(root, 'from-env');
    vi.stubEnv('GAPIPE_CACHE_DIR', cache);
    try {
      expect(await engineSetup(['spark', '--json'], fakeMachine(root))).toBe(0);
    } finally {
      vi.unstubAllEnvs();
    }
    const result = JSON.parse(out) as EngineSetupResult;
    const cacheDir = join(cache, 'spark', SPARK_VERSION);
    expect(result).toMatchObject({
      engine: 'spark',
      alreadyPrepared: false,
      sparkVersion: SPARK_VERSION,
      javaVersion: '17.0.15',
      cacheDir,
      venvDir: join(cacheDir, 'venv'),
      seconds: 100.2,
    });
    expect(result.jars).toHaveLength(2);
    expect(err).toBe('');
  });

  it('--quiet prints the result without the progress lines', async () => {
    expect(await engineSetup(['spark', '--cache-dir', root, '--quiet'], fakeMachine(root))).toBe(0);
    expect(err).toBe('');
    expect(out).toContain(`Spark ${SPARK_VERSION} is prepared`);
  });

  it('notes a Java that Spark is not tested on, even with --quiet', async () => {
    const machine = fakeMachine(root, { java: { code: 0, output: 'openjdk version "21.0.5" 2024-10-15\n' } });
    expect(await engineSetup(['spark', '--cache-dir', root, '--quiet'], machine)).toBe(0);
    expect(out).toContain('  java         21.0.5 (not one Spark is tested on: 8, 11, 17)');
  });

  it('without Java: exit 9 (ENGINE_SETUP_FAILED) with the fix, and nothing on stdout', async () => {
    const machine = fakeMachine(root, { java: 'ENOENT' });
    expect(await engineSetup(['spark', '--cache-dir', root], machine)).toBe(9);
    expect(out).toBe('');
    expect(err).toContain('Java is not installed (no `java` on PATH)');
    expect(err).toMatch(/^→ .*apt-get install openjdk-17-jre-headless/m);
  });

  it('without the venv module: the error as JSON with --json', async () => {
    const machine = fakeMachine(root, {
      venv: {
        code: 1,
        output: 'The virtual environment was not created successfully because ensurepip is not available.',
      },
    });
    expect(await engineSetup(['spark', '--cache-dir', root, '--json'], machine)).toBe(9);
    const { error } = JSON.parse(out) as { error: Record<string, string> };
    expect(error).toMatchObject({
      code: 'ENGINE_SETUP_FAILED',
      message: 'Python 3.11 at `python3` has no venv module',
    });
    expect(error.nextSteps).toContain('python3-venv');
  });

  it('an unknown engine exits 2 and names the ones there are', async () => {
    const machine = fakeMachine(root);
    expect(await engineSetup(['flink'], machine)).toBe(2);
    expect(machine.calls).toEqual([]);
    expect(err).toContain("Unknown engine 'flink'");
    expect(err).toMatch(/^→ Choose one of spark/m);
  });
});

describe('gapipe engine setup spark as a process', () => {
  it('with GAPIPE_PYTHON pointing nowhere: exit 9, ENGINE_SETUP_FAILED, naming the Python and the fix', async () => {
    const require = createRequire(join(ROOT, 'package.json'));
    const tsx = pathToFileURL(require.resolve('tsx')).href;
    const oclif = pathToFileURL(require.resolve('@oclif/core')).href;
    // What bin/run.js does, with the commands taken from src/ (no build needed).
    const launcher = `
      import { readFileSync } from 'node:fs';
      const { execute } = await import(${JSON.stringify(oclif)});
      const root = ${JSON.stringify(ROOT)};
      const pjson = JSON.parse(readFileSync(root + 'package.json', 'utf8'));
      pjson.oclif.commands = './src/commands';
      await execute({ args: process.argv.slice(1), loadOptions: { root, pjson } });`;
    // A Java that only answers -version, so the run gets to the Python check on any machine.
    const javaHome = join(root, 'java');
    mkdirSync(join(javaHome, 'bin'), { recursive: true });
    writeFileSync(
      join(javaHome, 'bin', 'java'),
      '#!/bin/sh\necho \'openjdk version "17.0.15" 2025-04-15\' >&2\n',
      {
        mode: 0o755,
      },
    );
    const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', tsx, '--input-type=module', '-e', launcher, '--', 'engine', 'setup', 'spark', '--json'],
        {
          cwd: root,
          // An empty cache, so the Python is needed.
          env: {
            ...process.env,
            CI: 'true',
            JAVA_HOME: javaHome,
            GAPIPE_CACHE_DIR: join(root, 'cache'),
            GAPIPE_PYTHON: '/nonexistent/python3',
          },
          timeout: 60_000,
        },
        (error, stdout) => resolve({ code: error ? Number(error.code ?? -1) : 0, stdout }),
      );
    });
    expect(result.code).toBe(9);
    const { error } = JSON.parse(result.stdout) as { error: Record<string, string> };
    expect(error.code).toBe('ENGINE_SETUP_FAILED');
    expect(error.message).toBe('No Python at /nonexistent/python3');
    expect(error.nextSteps).toMatch(/python3-venv.*GAPIPE_PYTHON/);
  });
});
