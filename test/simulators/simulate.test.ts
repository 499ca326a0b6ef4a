import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { build } from 'hdr-histogram-js';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { GapipeError } from '../../src/errors.js';
import { MANIFEST_FORMAT } from '../../src/simulators/manifest.js';
import { type SimulateReporter, type SimulationStart, simulate } from '../../src/simulators/simulate.js';
import { MemorySink } from '../../src/simulators/sinks/memory.js';
import { isValidRecord } from './event-schema.js';
import { NO_DISORDER, simulateOptions, ThrottledSink } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'gapipe-simulate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_800_000_000_000;
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function recordingReporter(): SimulateReporter & { starts: SimulationStart[]; updates: number } {
  const reporter = {
    starts: [] as SimulationStart[],
    updates: 0,
    started(start: SimulationStart) {
      reporter.starts.push(start);
    },
    progress() {
      reporter.updates++;
    },
  };
  return reporter;
}

describe('simulate (the service)', () => {
  it('runs on schedule into a sink and summarises: target vs achieved, counts, event mix', async () => {
    const clock = new ManualClock(T0);
    const sink = new MemorySink({ now: () => clock.now() });
    const reporter = recordingReporter();
    const summary = await simulate(
      simulateOptions({ events: undefined, durationMs: 10_000, startRate: 2000, players: 1000 }),
      { clock, sink, reporter, runId: 'run-1' },
    );
    expect(reporter.starts[0]).toMatchObject({
      runId: 'run-1',
      targetRate: 2000,
      players: 1000,
      sink: 'memory',
    });
    expect(reporter.updates).toBeGreaterThanOrEqual(10);
    expect(summary).toMatchObject({
      runId: 'run-1',
      stopReason: 'completed',
      paced: true,
      targetRate: 2000,
      keptUp: true,
      maxLagMs: 0,
      failed: 0,
    });
    expect(summary.produced).toBe(sink.records.length);
    expect(summary.acknowledged).toBe(summary.produced);
    expect(Math.abs(summary.achievedRate - 2000)).toBeLessThan((5 * Math.sqrt(20_000)) / 10);
    expect(summary.events.records).toBe(summary.produced);
    expect(summary.produceAck).toBeUndefined();
    for (const record of sink.records.slice(0, 500)) {
      expect(record.headers['gapipe-run-id']).toBe('run-1');
      expect(isValidRecord(record.value)).toBe(true);
    }
  });

  it('reports the shortfall when the sink cannot keep up, instead of slowing down quietly', async () => {
    const clock = new ManualClock(T0);
    const sink = new ThrottledSink(clock, 0.5); // 500 acks/s against 2,000/s
    const summary = await simulate(
      simulateOptions({ events: undefined, durationMs: 2000, startRate: 2000, maxInFlight: 100 }),
      { clock, sink, runId: 'slow' },
    );
    expect(summary.keptUp).toBe(false);
    expect(summary.targetRate).toBe(2000);
    expect(summary.achievedRate).toBeLessThan(700);
    expect(summary.maxLagMs).toBeGreaterThan(4000);
    expect(summary.maxBacklog).toBeGreaterThan(1000);
    expect(summary.inFlightWaitMs).toBeGreaterThan(4000);
    expect(summary.acknowledged).toBe(summary.produced);
  });

  it('writes identical bytes to stdout and to a file, run after run', async () => {
    const options = simulateOptions({
      events: 3000,
      pace: false,
      disorder: {
        late: 0.01,
        lateByMs: { min: 120_000, max: 900_000 },
        duplicates: 0.01,
        malformed: 0.01,
        outOfOrder: 0.01,
      },
    });
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
    await simulate({ ...options, sink: 'stdout' }, { sinkEnvironment: { stdout } });
    const first = join(dir, 'first.ndjson');
    const second = join(dir, 'second.ndjson');
    await simulate({ ...options, sink: 'file', out: first });
    await simulate({ ...options, sink: 'file', out: second });
    const fromStdout = Buffer.concat(chunks);
    expect(fromStdout.toString('latin1').split('\n')).toHaveLength(3001);
    expect(sha256(readFileSync(first))).toBe(sha256(fromStdout));
    expect(sha256(readFileSync(second))).toBe(sha256(fromStdout));
  });

  it('writes the ground-truth manifest', async () => {
    const path = join(dir, 'truth.json');
    const summary = await simulate(simulateOptions({ events: 5000, pace: false, manifestPath: path }), {
      sink: new MemorySink(),
      runId: 'run-m',
    });
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    expect(manifest.format).toBe(MANIFEST_FORMAT);
    expect(manifest.run).toMatchObject({ runId: 'run-m', seed: 42, startTime: '2026-11-21T20:00:00.000Z' });
    expect(manifest.totals.records).toBe(5000);
    expect(summary.manifest).toBe(path);
  });

  it('takes the records a sink finally gave up on out of the manifest (a sink made with the run hooks)', async () => {
    const path = join(dir, 'failed-truth.json');
    let failedRecords = 0;
    const summary = await simulate(
      simulateOptions({
        events: 5000,
        pace: false,
        manifestPath: path,
        disorder: { ...NO_DISORDER, duplicates: 0.02, malformed: 0.01 },
      }),
      {
        sink: (hooks) => {
          const sink = new MemorySink({ manualAcks: true });
          const send = sink.send.bind(sink);
          sink.send = (records) => {
            send(records);
            const failed = records.filter((_, i) => i % 10 === 3);
            failedRecords += failed.length;
            sink.fail(failed.length);
            sink.ack(records.length - failed.length);
            hooks.onFailed?.(failed);
          };
          return sink;
        },
      },
    );
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    expect(summary).toMatchObject({
      produced: 5000,
      failed: failedRecords,
      acknowledged: 5000 - failedRecords,
    });
    expect(manifest.totals.records).toBe(5000);
    expect(manifest.totals.producerFailed.records).toBe(failedRecords);
    const inCells = manifest.windows.reduce(
      (n: number, w: { producer_failed?: number }) => n + (w.producer_failed ?? 0),
      0,
    );
    expect(inCells + manifest.totals.producerFailed.malformed).toBe(failedRecords);
    expect(manifest.totals.validRecords + manifest.totals.malformed).toBe(5000 - failedRecords);
  });

  it('fills in produce→ack percentiles from a sink that measures them', async () => {
    const histogram = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (let us = 1000; us <= 100_000; us += 1000) histogram.recordValue(us);
    const sink = new MemorySink();
    const stats = sink.stats.bind(sink);
    sink.stats = () => ({ ...stats(), produceAckLatencyUs: histogram });
    const summary = await simulate(simulateOptions({ events: 100, pace: false }), { sink });
    expect(summary.produceAck).toMatchObject({ unit: 'ms', count: 100, max: 100 });
    expect(summary.produceAck?.p50).toBeCloseTo(50, 0);
    expect(summary.produceAck?.p99).toBeCloseTo(99, 0);
    expect(summary.produceAck?.histogram.length).toBeGreaterThan(10);
  });

  it('fails with SINK_FAILED and the counts when the sink gives up', async () => {
    const sink = new MemorySink();
    sink.fatalError = () => (sink.records.length > 0 ? new Error('broker gone') : undefined);
    const error = await simulate(simulateOptions({ events: 10_000, pace: false }), { sink }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('SINK_FAILED');
    expect((error as GapipeError).message).toMatch(/memory failed after \d+ records \(\d+ acknowledged\)/);
  });
});
