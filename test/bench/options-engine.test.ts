import { describe, expect, it } from 'vitest';
import { BENCH_DEFAULTS, type BenchInput, resolveBenchOptions } from '../../src/bench/options.js';
import { GapipeError } from '../../src/errors.js';

const context = { nowMs: Date.UTC(2026, 4, 1), fallbackSeed: 1, command: 'gapipe bench' };

function resolve(flags: Partial<BenchInput>) {
  return resolveBenchOptions({ load: {}, scenario: {}, scenarioName: undefined, ...flags }, context);
}

/** The INVALID_FLAG error `flags` give (its message and next steps), failing the test if there is none. */
function rejection(flags: Partial<BenchInput>): GapipeError {
  try {
    resolve(flags);
  } catch (error) {
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('INVALID_FLAG');
    return error as GapipeError;
  }
  throw new Error(`expected ${JSON.stringify(flags)} to be rejected`);
}

describe('resolveBenchOptions: --engine', () => {
  it('benches gapipe’s own consumers by default, on the lab if one runs (target auto)', () => {
    const options = resolve({});
    expect(options.engine).toBe('gapipe');
    expect(options.target).toBe('auto');
    expect(options.consumers).toBe(1);
    expect(options.engineTimeoutMs).toBe(300_000);
    expect(options.sparkThreads).toBe(BENCH_DEFAULTS.sparkThreads);
    expect(options.sparkMaster).toBeUndefined();
  });

  it('keeps gapipe’s own targets and consumers', () => {
    expect(resolve({ engine: 'gapipe', target: 'embedded', consumers: '3' })).toMatchObject({
      engine: 'gapipe',
      target: 'embedded',
      consumers: 3,
    });
  });

  it('runs spark and external engines on the lab unless told otherwise', () => {
    expect(resolve({ engine: 'spark' })).toMatchObject({ engine: 'spark', target: 'lab' });
    expect(resolve({ engine: 'external' })).toMatchObject({ engine: 'external', target: 'lab' });
    expect(
      resolve({ engine: 'external', brokers: '10.0.0.5:9092', es: 'http://10.0.0.5:9200' }),
    ).toMatchObject({ target: 'lab', brokers: ['10.0.0.5:9092'], esUrl: 'http://10.0.0.5:9200' });
  });

  it('names the engines it knows when given another', () => {
    const error = rejection({ engine: 'nonsense' });
    expect(error.message).toBe("--engine must be gapipe, spark, external, got 'nonsense'");
    expect(rejection({ engine: 'Spark' }).message).toContain("got 'Spark'");
  });

  it('refuses the embedded target for an engine gapipe did not write', () => {
    for (const engine of ['spark', 'external']) {
      const error = rejection({ engine, target: 'embedded' });
      expect(error.message).toBe(
        `--engine ${engine} needs Kafka and Elasticsearch, not the embedded pipeline`,
      );
      expect(error.nextSteps).toContain('--target lab');
    }
  });

  it('refuses --consumers for an engine that runs its own, pointing Spark at --spark-threads', () => {
    const spark = rejection({ engine: 'spark', consumers: '2' });
    expect(spark.message).toContain('--consumers');
    expect(spark.message).toContain('--engine spark');
    expect(spark.nextSteps).toContain('--spark-threads');
    const external = rejection({ engine: 'external', consumers: '2' });
    expect(external.nextSteps).toBe('Leave out --consumers');
  });

  it('takes --spark-threads and --spark-master with --engine spark only', () => {
    for (const flags of [
      { sparkThreads: '4' },
      { engine: 'gapipe', sparkThreads: '4' },
      { engine: 'external', sparkMaster: 'spark://host:7077' },
    ]) {
      const error = rejection(flags);
      expect(error.message).toBe('--spark-master and --spark-threads are for --engine spark');
      expect(error.nextSteps).toContain('--engine spark');
    }
  });

  it('takes one of --spark-master and --spark-threads, not both', () => {
    const error = rejection({ engine: 'spark', sparkMaster: 'spark://host:7077', sparkThreads: '2' });
    expect(error.message).toContain('--spark-threads sets local[N]');
    expect(error.nextSteps).toBe('Give one of --spark-master and --spark-threads');
  });

  it('refuses an empty --spark-master instead of running on local[2] after all', () => {
    for (const sparkMaster of ['', '  ']) {
      const error = rejection({ engine: 'spark', sparkMaster });
      expect(error.message).toContain('--spark-master must be a master URL like spark://host:7077');
    }
  });

  it('checks --spark-threads is a whole number in range', () => {
    for (const sparkThreads of ['0', '257', '2.5', 'four']) {
      expect(rejection({ engine: 'spark', sparkThreads }).message).toBe(
        `--spark-threads must be a whole number from 1 to 256, got '${sparkThreads}'`,
      );
    }
  });

  it('checks --engine-timeout is a duration of at least a second', () => {
    expect(rejection({ engine: 'external', engineTimeout: '0s' }).message).toBe(
      "--engine-timeout must be at least 1s, got '0s'",
    );
    expect(rejection({ engine: 'external', engineTimeout: 'soon' }).message).toContain(
      "--engine-timeout must be a duration like 10s, 1m or 1h30m, got 'soon'",
    );
  });

  it('puts the engine’s values in the options', () => {
    expect(resolve({ engine: 'spark', sparkThreads: '4', engineTimeout: '90s' })).toMatchObject({
      engine: 'spark',
      target: 'lab',
      sparkThreads: 4,
      sparkMaster: undefined,
      engineTimeoutMs: 90_000,
    });
    expect(resolve({ engine: 'spark', sparkMaster: 'spark://host:7077' })).toMatchObject({
      sparkMaster: 'spark://host:7077',
      sparkThreads: BENCH_DEFAULTS.sparkThreads,
    });
    expect(resolve({ engine: 'external', engineTimeout: '10m' }).engineTimeoutMs).toBe(600_000);
  });
});
