/**
 * Sharding: the same seed gives the same set of events whatever the split. Shards of the generator
 * (in this thread), generator threads (`workers`), `--shard I/N` in this process, and separate CLI
 * processes all add up to the single-threaded stream, with one merged manifest and summary.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { GapipeError } from '../../src/errors.js';
import { TrafficGenerator } from '../../src/simulators/generator.js';
import { GroundTruthRecorder, mergeManifests } from '../../src/simulators/manifest.js';
import { resolveSimulateOptions } from '../../src/simulators/options.js';
import { parseShard, playersInShard, workerShards } from '../../src/simulators/shard.js';
import { shardedRunId, simulate } from '../../src/simulators/simulate.js';
import type { SinkRecord } from '../../src/simulators/sinks/types.js';
import { simulateOptions, text } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gapipe-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DISORDER = {
  late: 0.02,
  lateByMs: { min: 120_000, max: 900_000 },
  duplicates: 0.01,
  malformed: 0.005,
  outOfOrder: 0.02,
};
const REGIONS = ['NA', 'EU', 'ASIA'] as const;

function shardRecords(options: ReturnType<typeof simulateOptions>, index: number, count: number) {
  const generator = new TrafficGenerator(options, { index, count });
  const recorder = new GroundTruthRecorder([...REGIONS]);
  generator.observe(recorder);
  const records: SinkRecord[] = [];
  while (!generator.done) generator.fill(records, Number.POSITIVE_INFINITY, 997);
  return { records, generator, manifest: recorder.toManifest({}) };
}

const sortedLines = (records: readonly SinkRecord[]) => records.map(text).sort();
const playerOf = (key: string) => Number(key.slice(2));

describe('shards of the generator', () => {
  const options = simulateOptions({ events: 30_000, players: 1500, disorder: DISORDER });
  const whole = shardRecords(options, 0, 1);

  it.each([2, 3, 7])('%i shards together produce exactly the records of the whole stream', (count) => {
    const shards = Array.from({ length: count }, (_, i) => shardRecords(options, i, count));
    const union = shards.flatMap((s) => s.records);
    expect(union).toHaveLength(whole.records.length);
    expect(sortedLines(union)).toEqual(sortedLines(whole.records));
    for (const [i, shard] of shards.entries()) {
      // Each shard holds only its own players, each player's records in the whole stream's order.
      for (const record of shard.records) expect(playerOf(record.key) % count).toBe(i);
      const mine = whole.records.filter((r) => playerOf(r.key) % count === i);
      expect(shard.records.map(text)).toEqual(mine.map(text));
    }
    // Counts, revenue and unique players add up to the whole run's ground truth, cell by cell.
    const merged = mergeManifests(
      shards.map((s) => s.manifest),
      { regions: [...REGIONS] },
    );
    expect(merged.windows).toEqual(whole.manifest.windows);
    expect(merged.totals).toEqual(whole.manifest.totals);
  });

  it('gives a shard its share of the arrivals, and a cost of walking the others', () => {
    const shard = shardRecords(options, 1, 4);
    expect(shard.generator.share).toBe(0.25);
    expect(shard.records.length / whole.records.length).toBeCloseTo(0.25, 1);
    // Every shard walks the whole stream to find its own arrivals.
    expect(shard.generator.walked).toBe(whole.generator.walked);
  });

  it('splits a machine shard over worker threads without changing it', () => {
    expect(workerShards({ index: 1, count: 2 }, 3)).toEqual([
      { index: 1, count: 6 },
      { index: 3, count: 6 },
      { index: 5, count: 6 },
    ]);
    const machine = shardRecords(options, 1, 2);
    const threads = workerShards({ index: 1, count: 2 }, 3).map((s) =>
      shardRecords(options, s.index, s.count),
    );
    expect(sortedLines(threads.flatMap((t) => t.records))).toEqual(sortedLines(machine.records));
    expect(playersInShard(10, { index: 3, count: 4 })).toBe(2);
    expect(playersInShard(10, { index: 0, count: 1 })).toBe(10);
    expect(playersInShard(2, { index: 3, count: 4 })).toBe(0);
  });
});

describe('--workers and --shard options', () => {
  const context = { nowMs: Date.parse('2026-11-21T20:00:00Z'), fallbackSeed: 7, cores: 4 };

  it('defaults to a thread per core for Kafka and null, one for stdout and file', () => {
    expect(resolveSimulateOptions({}, {}, context).workers).toBe(4);
    expect(resolveSimulateOptions({ sink: 'null' }, {}, { ...context, cores: 32 }).workers).toBe(8);
    expect(resolveSimulateOptions({ sink: 'stdout' }, {}, context).workers).toBe(1);
    expect(resolveSimulateOptions({ out: 'x.ndjson' }, {}, context).workers).toBe(1);
    expect(resolveSimulateOptions({ sink: 'stdout', workers: '3' }, {}, context).workers).toBe(3);
  });

  it('parses --shard I/N and names the flag and the form when it is wrong', () => {
    expect(parseShard('2/8', '--shard')).toEqual({ index: 2, count: 8 });
    const bad = (text: string) => {
      try {
        parseShard(text, '--shard');
      } catch (error) {
        return (error as GapipeError).message;
      }
      return 'no error';
    };
    expect(bad('3')).toMatch(/--shard must be I\/N/);
    expect(bad('4/4')).toMatch(/counted from 0 to 3/);
    expect(bad('0/0')).toMatch(/1 to 65536 shards/);
    expect(() => resolveSimulateOptions({ workers: '0' }, {}, context)).toThrow(
      /--workers must be a whole number from 1 to 64/,
    );
  });

  it('needs the same seed and start time on every shard', () => {
    expect(() => resolveSimulateOptions({ shard: '0/2' }, {}, context)).toThrow(/--shard needs --seed/);
    expect(() => resolveSimulateOptions({ shard: '0/2', seed: '1' }, {}, context)).toThrow(
      /--shard needs --start-time/,
    );
    const options = resolveSimulateOptions(
      { shard: '1/2', seed: '1', startTime: '2026-11-21T20:00:00Z' },
      {},
      context,
    );
    expect(options.shard).toEqual({ index: 1, count: 2 });
    // Every machine derives the same run id from the same flags; another stream gets another one.
    const other = resolveSimulateOptions(
      { shard: '0/2', seed: '1', startTime: '2026-11-21T20:00:00Z' },
      {},
      context,
    );
    expect(shardedRunId(options)).toBe(shardedRunId(other));
    expect(shardedRunId(options)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(shardedRunId({ ...options, seed: 2 })).not.toBe(shardedRunId(options));
  });
});

describe('simulate with generator threads', () => {
  const base = simulateOptions({ events: 12_000, players: 800, pace: false, disorder: DISORDER });
  const run = async (name: string, extra: Partial<typeof base>) => {
    const out = join(dir, `${name}.ndjson`);
    const manifestPath = join(dir, `${name}.json`);
    const summary = await simulate({ ...base, sink: 'file', out, manifestPath, ...extra });
    return {
      summary,
      // One record per line, each ending in a newline (malformed records may be empty lines).
      lines: readFileSync(out, 'latin1').split('\n').slice(0, -1),
      manifest: JSON.parse(readFileSync(manifestPath, 'utf8')),
    };
  };

  it('writes the same events with 1, 2 and 3 threads, and with --shard 0/2 + 1/2; one merged manifest and summary', async () => {
    const one = await run('one', { workers: 1 });
    const two = await run('two', { workers: 2 });
    const three = await run('three', { workers: 3 });
    const half0 = await run('half0', { workers: 2, shard: { index: 0, count: 2 } });
    const half1 = await run('half1', { workers: 1, shard: { index: 1, count: 2 } });

    expect(one.lines).toHaveLength(12_000);
    const sorted = [...one.lines].sort();
    expect([...two.lines].sort()).toEqual(sorted);
    expect([...three.lines].sort()).toEqual(sorted);
    expect([...half0.lines, ...half1.lines].sort()).toEqual(sorted);

    for (const threaded of [two, three]) {
      expect(threaded.manifest.windows).toEqual(one.manifest.windows);
      expect(threaded.manifest.totals).toEqual(one.manifest.totals);
      expect(threaded.summary.events).toEqual(one.summary.events);
      expect(threaded.summary).toMatchObject({ produced: 12_000, acknowledged: 12_000, failed: 0 });
    }
    expect(three.summary.workers).toBe(3);
    expect(three.manifest.run).toMatchObject({ workers: 3, seed: 42 });
    expect(half0.manifest.run).toMatchObject({ shard: { index: 0, count: 2 }, workers: 2 });
    expect(half0.manifest.run.runId).toBe(half1.manifest.run.runId);
    expect(half0.summary.produced + half1.summary.produced).toBe(12_000);
    const halves = mergeManifests([half0.manifest, half1.manifest], { regions: [...REGIONS] });
    expect(halves.windows).toEqual(one.manifest.windows);
  }, 180_000);

  it('merges the threads’ progress into one live view', async () => {
    const updates: Array<{ produced: number; fraction: number | undefined }> = [];
    const summary = await simulate(
      { ...base, sink: 'null', workers: 2, events: 40_000 },
      {
        progressIntervalMs: 20,
        reporter: {
          started() {},
          progress: (p) => updates.push({ produced: p.produced, fraction: p.fraction }),
        },
      },
    );
    expect(summary.produced).toBe(40_000);
    const last = updates.at(-1);
    expect(last).toEqual({ produced: 40_000, fraction: 1 });
  }, 120_000);

  it('writes stdout on the main thread and stops quietly when its reader goes away', async () => {
    let chunks = 0;
    const stdout = new Writable({
      write(_chunk, _encoding, callback) {
        // `| head`: the first writes land, then the pipe is closed.
        if (++chunks <= 2) return callback();
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const summary = await simulate(
      { ...base, sink: 'stdout', workers: 2, events: 200_000, maxInFlight: 4096 },
      { sinkEnvironment: { stdout } },
    );
    expect(summary.stopReason).toBe('sink-closed');
    expect(summary.produced).toBeLessThan(200_000);
  }, 120_000);

  it('stops every thread when interrupted', async () => {
    const controller = new AbortController();
    const summary = await simulate(
      {
        ...base,
        sink: 'null',
        workers: 2,
        events: undefined,
        durationMs: 600_000,
        pace: true,
        startRate: 1000,
      },
      {
        signal: controller.signal,
        reporter: { started: () => setTimeout(() => controller.abort(), 300), progress() {} },
      },
    );
    expect(summary.stopReason).toBe('interrupted');
    expect(summary.produced).toBeLessThan(10_000);
  }, 120_000);
});

describe('sharded runs as separate processes (bin/dev.js)', () => {
  const gapipe = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bin/dev.js', ...args],
        { cwd: ROOT, env: { ...process.env, CI: 'true' }, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const stream = [
    'simulate',
    '--sink',
    'stdout',
    '--events',
    '3000',
    '--seed',
    '9',
    '--start-time',
    '2026-11-21T20:00:00Z',
    '--duplicates',
    '0.01',
    '--out-of-order',
    '0.02',
    '--no-pace',
  ];

  it('--shard 0/2 and --shard 1/2 on two "machines" produce the one-machine stream', async () => {
    const [whole, first, second] = await Promise.all([
      gapipe(...stream),
      gapipe(...stream, '--shard', '0/2'),
      gapipe(...stream, '--shard', '1/2', '--workers', '2'),
    ]);
    for (const run of [whole, first, second]) expect(run.code, run.stderr).toBe(0);
    const lines = (out: string) => out.split('\n').filter((line) => line !== '');
    expect(lines(whole.stdout)).toHaveLength(3000);
    expect([...lines(first.stdout), ...lines(second.stdout)].sort()).toEqual(lines(whole.stdout).sort());
    expect(second.stderr).toMatch(/2 generator threads · shard 1\/2 of the stream/);
  }, 180_000);
});
