import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SPARK_JOB_FILE, SPARK_LOG_CONFIG_FILE } from '../../src/engines/spark/setup.js';
import {
  buildSparkSubmit,
  readDriverLog,
  type SparkJobOptions,
  type SpawnProcess,
  shellLine,
  sparkJobFailure,
  submitSparkJob,
} from '../../src/engines/spark/submit.js';
import { GapipeError } from '../../src/errors.js';

const runtime = {
  sparkSubmit: '/cache/venv/pyspark/bin/spark-submit',
  jars: ['/cache/ivy/jars/a.jar', '/cache/ivy/jars/b.jar'],
  env: {
    SPARK_HOME: '/cache/venv/pyspark',
    PYSPARK_PYTHON: '/cache/venv/bin/python',
    PYSPARK_DRIVER_PYTHON: '/cache/venv/bin/python',
  },
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gapipe-spark-submit-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function job(overrides: Partial<SparkJobOptions> = {}): SparkJobOptions {
  return {
    brokers: '127.0.0.1:9092',
    topic: 'game-events',
    esUrl: 'http://127.0.0.1:9200',
    index: 'gapipe-aggregates-spark',
    checkpointDir: '/tmp/ck',
    logFile: join(dir, 'logs', 'driver.log'),
    ...overrides,
  };
}

describe('buildSparkSubmit', () => {
  it('runs the shipped job on local[2] with the cached jars, bound to loopback, quiet logging', () => {
    const command = buildSparkSubmit(runtime, job());
    expect(command.command).toBe('/cache/venv/pyspark/bin/spark-submit');
    expect(command.args).toEqual([
      '--master',
      'local[2]',
      '--name',
      'gapipe-spark game-events',
      '--driver-java-options',
      `-Dlog4j2.configurationFile=file:${SPARK_LOG_CONFIG_FILE}`,
      '--jars',
      '/cache/ivy/jars/a.jar,/cache/ivy/jars/b.jar',
      '--conf',
      'spark.driver.bindAddress=127.0.0.1',
      '--conf',
      'spark.driver.host=127.0.0.1',
      '--conf',
      'spark.ui.enabled=false',
      SPARK_JOB_FILE,
      '--brokers',
      '127.0.0.1:9092',
      '--topic',
      'game-events',
      '--es',
      'http://127.0.0.1:9200',
      '--index',
      'gapipe-aggregates-spark',
      '--checkpoint',
      '/tmp/ck',
    ]);
    expect(command.env).toEqual(runtime.env);
  });

  it('passes every job option on, in the job’s own flags', () => {
    const command = buildSparkSubmit(
      runtime,
      job({
        localThreads: 1,
        deadLetterTopic: '',
        startingOffsets: 'latest',
        maxOffsetsPerTrigger: 20_000,
        triggerMs: 500,
        shufflePartitions: 3,
        progressEverySeconds: 2,
        driverMemory: '2g',
        conf: { 'spark.ui.enabled': 'true', 'spark.sql.streaming.stateStore.providerClass': 'rocksdb' },
        jobFile: '/home/me/my-job.py',
      }),
    );
    const args = command.args;
    expect(args.slice(0, 2)).toEqual(['--master', 'local[1]']);
    expect(args.slice(args.indexOf('--driver-memory'), args.indexOf('--driver-memory') + 2)).toEqual([
      '--driver-memory',
      '2g',
    ]);
    expect(args.filter((_, i) => args[i - 1] === '--conf')).toEqual([
      'spark.driver.bindAddress=127.0.0.1',
      'spark.driver.host=127.0.0.1',
      'spark.sql.streaming.stateStore.providerClass=rocksdb',
      'spark.ui.enabled=true',
    ]);
    expect(args.slice(args.indexOf('/home/me/my-job.py') + 11)).toEqual([
      '--dead-letter-topic',
      '',
      '--starting-offsets',
      'latest',
      '--max-offsets-per-trigger',
      '20000',
      '--trigger',
      '500 milliseconds',
      '--shuffle-partitions',
      '3',
      '--progress-every',
      '2',
    ]);
  });

  it('submits to a cluster with --spark-master: no loopback binding, the executors’ own Python', () => {
    const command = buildSparkSubmit(runtime, job({ master: 'spark://spark-master:7077' }));
    expect(command.args.slice(0, 2)).toEqual(['--master', 'spark://spark-master:7077']);
    expect(command.args.filter((a) => a.startsWith('spark.driver.'))).toEqual([]);
    expect(command.env).toEqual({
      SPARK_HOME: '/cache/venv/pyspark',
      PYSPARK_DRIVER_PYTHON: '/cache/venv/bin/python',
    });
  });

  it.each([
    [{ localThreads: 0 }, '--spark-threads must be a whole number ≥ 1, got 0'],
    [{ localThreads: 1.5 }, '--spark-threads must be a whole number ≥ 1, got 1.5'],
    [{ master: ' ' }, '--spark-master must be a master URL like spark://host:7077, got an empty value'],
    [{ maxOffsetsPerTrigger: 0 }, '--max-offsets-per-trigger must be a whole number ≥ 1, got 0'],
    [{ shufflePartitions: -2 }, '--shuffle-partitions must be a whole number ≥ 1, got -2'],
    [{ triggerMs: -1 }, '--trigger must be a duration ≥ 0, got -1ms'],
  ] as Array<[Partial<SparkJobOptions>, string]>)('refuses %j', (overrides, message) => {
    let error: unknown;
    try {
      buildSparkSubmit(runtime, job(overrides));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('INVALID_FLAG');
    expect((error as GapipeError).message).toBe(message);
  });
});

/** A child process that exists only as events. */
class FakeChild extends EventEmitter {
  pid: number | undefined = 4242;
}

describe('submitSparkJob with a fake spawn', () => {
  function fakeSpawn(behaviour: (child: FakeChild) => void) {
    const calls: Array<{ command: string; args: readonly string[]; options: Parameters<SpawnProcess>[2] }> =
      [];
    const spawn: SpawnProcess = (command, args, options) => {
      calls.push({ command, args, options });
      const child = new FakeChild();
      queueMicrotask(() => behaviour(child));
      return child as unknown as ChildProcess;
    };
    return { spawn, calls };
  }

  it('starts spark-submit in its own process group, logging to the file, and signals the group', async () => {
    const { spawn, calls } = fakeSpawn((child) => child.emit('spawn'));
    const signals: Array<[number, NodeJS.Signals]> = [];
    const handle = await submitSparkJob(runtime, job(), {
      spawn,
      signalGroup: (pid, signal) => signals.push([pid, signal]),
      env: { PATH: '/usr/bin', SPARK_HOME: '/elsewhere' },
      now: () => new Date('2026-11-21T20:00:00Z'),
    });
    expect(handle.pid).toBe(4242);
    const call = calls[0] as (typeof calls)[number];
    expect(call.command).toBe(runtime.sparkSubmit);
    expect(call.args).toEqual(buildSparkSubmit(runtime, job()).args);
    expect(call.options.detached).toBe(true);
    expect(call.options.stdio[0]).toBe('ignore');
    expect(call.options.stdio[1]).toBe(call.options.stdio[2]);
    // The runtime's variables win over the caller's.
    expect(call.options.env).toEqual({ PATH: '/usr/bin', ...runtime.env });
    expect(readFileSync(handle.logFile, 'utf8')).toBe(
      `# 2026-11-21T20:00:00.000Z gapipe: ${shellLine([runtime.sparkSubmit, ...call.args])}\n`,
    );

    handle.kill('SIGKILL');
    handle.kill();
    expect(signals).toEqual([
      [4242, 'SIGKILL'],
      [4242, 'SIGTERM'],
    ]);
  });

  it('resolves wait() with the exit, after which kill does nothing', async () => {
    let emitExit = (_code: number | null, _signal: string | null) => {};
    const { spawn } = fakeSpawn((child) => {
      child.emit('spawn');
      emitExit = (code, signal) => child.emit('exit', code, signal);
    });
    const signals: NodeJS.Signals[] = [];
    const handle = await submitSparkJob(runtime, job(), { spawn, signalGroup: (_, s) => signals.push(s) });
    emitExit(null, 'SIGKILL');
    expect(await handle.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    handle.kill();
    expect(signals).toEqual([]);
  });

  it('ignores a group that is already gone', async () => {
    const { spawn } = fakeSpawn((child) => child.emit('spawn'));
    const handle = await submitSparkJob(runtime, job(), {
      spawn,
      signalGroup: () => {
        throw Object.assign(new Error('kill ESRCH'), { code: 'ESRCH' });
      },
    });
    expect(() => handle.kill()).not.toThrow();
  });

  it('turns a missing spark-submit into an ENGINE_FAILED error that says how to fix it', async () => {
    const { spawn } = fakeSpawn((child) =>
      child.emit('error', Object.assign(new Error('spawn x ENOENT'), { code: 'ENOENT' })),
    );
    const error = await submitSparkJob(runtime, job(), { spawn }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GapipeError);
    expect(error).toMatchObject({
      code: 'ENGINE_FAILED',
      message: `spark-submit is missing at ${runtime.sparkSubmit}`,
    });
    expect((error as GapipeError).nextSteps).toMatch(/remove ~\/\.cache\/gapipe\/spark/);
  });
});

describe('submitSparkJob with a real process', () => {
  it('kills the whole process group: the driver and the processes it started', async () => {
    // A stand-in for spark-submit: starts a child (as the JVM starts the Python driver), then waits.
    const script = join(dir, 'spark-submit');
    writeFileSync(script, '#!/bin/sh\necho "args: $*"\nsleep 60 &\necho "child $!"\nwait\n');
    chmodSync(script, 0o755);
    const handle = await submitSparkJob({ ...runtime, sparkSubmit: script }, job());
    let childPid: number | undefined;
    for (let i = 0; i < 100 && childPid === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      childPid = Number(/child (\d+)/.exec(readDriverLog(handle.logFile))?.[1]) || undefined;
    }
    expect(childPid).toBeDefined();
    expect(readDriverLog(handle.logFile)).toContain(
      `args: --master local[2] --name gapipe-spark game-events`,
    );
    handle.kill('SIGKILL');
    expect(await handle.wait()).toEqual({ code: null, signal: 'SIGKILL' });
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      try {
        process.kill(childPid as number, 0);
        await new Promise((resolve) => setTimeout(resolve, 20));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });
});

describe('shellLine', () => {
  it('quotes what a shell would read differently, so the logged command can be pasted', () => {
    expect(
      shellLine(['spark-submit', '--master', 'local[2]', '--name', 'gapipe-spark t', '--x', '', "it's"]),
    ).toBe("spark-submit --master 'local[2]' --name 'gapipe-spark t' --x '' 'it'\\''s'");
    expect(shellLine(['--conf', 'spark.ui.enabled=false', 'http://127.0.0.1:9200', '/a/b.jar,/c.jar'])).toBe(
      '--conf spark.ui.enabled=false http://127.0.0.1:9200 /a/b.jar,/c.jar',
    );
  });
});

describe('sparkJobFailure', () => {
  const logFile = '/tmp/driver.log';

  it('is nothing for a clean exit, or for the signal the job was stopped with', () => {
    expect(sparkJobFailure({ code: 0, signal: null }, '', logFile)).toBeUndefined();
    expect(sparkJobFailure({ code: null, signal: 'SIGTERM' }, '', logFile, 'SIGTERM')).toBeUndefined();
    expect(sparkJobFailure({ code: null, signal: 'SIGKILL' }, '', logFile, 'SIGTERM')?.message).toBe(
      'The Spark job was ended by SIGKILL',
    );
  });

  it.each([
    [
      'pyspark.errors.exceptions.captured.AnalysisException: Failed to find data source: kafka. Please deploy the application as per the deployment section',
      'The Spark job has no Kafka connector on its classpath; the job exited with code 1',
      /jars\.json/,
    ],
    [
      'RuntimeError: Cannot write aggregates on Elasticsearch at http://127.0.0.1:9200 for 300s: ConnectionError(...)',
      'The Spark job could not write aggregates on Elasticsearch at http://127.0.0.1:9200; the job exited with code 1',
      /--es/,
    ],
    [
      'org.apache.kafka.common.errors.TimeoutException: Topic game-events-dlq not present in metadata after 60000 ms.',
      'The Kafka topic game-events-dlq does not exist; the job exited with code 1',
      /-dlq topic/,
    ],
    [
      'java.lang.OutOfMemoryError: Java heap space',
      'The Spark driver ran out of memory (java.lang.OutOfMemoryError: Java heap space); the job exited with code 1',
      /--driver-memory/,
    ],
  ])('names a known cause: %s', (line, message, nextSteps) => {
    const error = sparkJobFailure({ code: 1, signal: null }, `some line\n${line}\nlast line\n`, logFile);
    expect(error?.code).toBe('ENGINE_FAILED');
    expect(error?.message).toBe(message);
    expect(error?.nextSteps).toMatch(nextSteps);
    expect(error?.nextSteps).toContain(logFile);
    expect(error?.details).toEqual(['some line', line, 'last line']);
  });

  it('shows the end of the log when the cause is unknown', () => {
    const log = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n');
    const error = sparkJobFailure({ code: 3, signal: null }, log, logFile);
    expect(error?.message).toBe('The Spark job exited with code 3');
    expect(error?.details).toHaveLength(15);
    expect(error?.details.at(-1)).toBe('line 39');
  });
});
