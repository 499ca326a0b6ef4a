import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { GapipeError } from '../../src/errors.js';
import { type MetricsServer, startMetricsServer } from '../../src/pipeline/metrics.js';
import type { ConsumeSnapshot } from '../../src/pipeline/types.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (comments skipped). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1] ?? '', type[2] ?? '');
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`Unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] ?? ''] = label[2] ?? '';
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return { samples, types };
}

const WATERMARK_MS = Date.UTC(2026, 10, 21, 16, 25, 0);

const snapshot: ConsumeSnapshot = {
  atMs: WATERMARK_MS + 30_000,
  elapsedMs: 12_300,
  group: 'gapipe-agg',
  topic: 'game-events',
  consumed: 120_345,
  accepted: 119_000,
  duplicates: 40,
  late: 3,
  deadLettered: 1,
  written: 3210,
  rawWritten: 0,
  replayed: 17,
  consumedPerSec: 10_021,
  writtenPerSec: 270,
  watermarkMs: WATERMARK_MS,
  openWindows: 11,
  openCells: 345,
  assigned: [0, 1, 2],
  partitions: [
    {
      partition: 0,
      position: 60_000,
      highWatermark: 61_000,
      lag: 1000,
      committed: 59_500,
      watermarkMs: WATERMARK_MS,
      idle: false,
    },
    {
      partition: 1,
      position: 60_345,
      highWatermark: 60_579,
      lag: 234,
      committed: 60_000,
      watermarkMs: undefined,
      idle: true,
    },
  ],
  backpressure: true,
  sinkError: 'connect ECONNREFUSED',
  flushes: 12,
  failedFlushes: 2,
  rssBytes: 150 * 1024 ** 2,
};

const servers: MetricsServer[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(blockers.splice(0).map((b) => new Promise<void>((resolve) => b.close(() => resolve()))));
});

async function start(current: () => ConsumeSnapshot | undefined, clock = new ManualClock(snapshot.atMs)) {
  const server = await startMetricsServer({ port: 0, snapshot: current, clock });
  servers.push(server);
  return server;
}

async function scrape(server: MetricsServer) {
  const response = await fetch(server.url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return parseExposition(await response.text());
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([key, v]) => s.labels[key] === v),
  )?.value;
}

async function occupiedPort(): Promise<number> {
  const blocker = createServer();
  blockers.push(blocker);
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const address = blocker.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('startMetricsServer', () => {
  it('reports the port it bound and a scrape URL on 127.0.0.1', async () => {
    const server = await start(() => snapshot);
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
  });

  it('serves the snapshot figures with topic and group labels', async () => {
    const server = await start(() => snapshot);
    const { samples, types } = await scrape(server);
    const labels = { topic: 'game-events', group: 'gapipe-agg' };
    const expected: Record<string, number> = {
      gapipe_consumer_records_consumed_total: 120_345,
      gapipe_consumer_records_accepted_total: 119_000,
      gapipe_consumer_duplicates_total: 40,
      gapipe_consumer_late_events_total: 3,
      gapipe_consumer_dead_letter_total: 1,
      gapipe_consumer_documents_written_total: 3210,
      gapipe_consumer_raw_events_written_total: 0,
      gapipe_consumer_records_replayed_total: 17,
      gapipe_consumer_consumed_per_second: 10_021,
      gapipe_consumer_written_per_second: 270,
      gapipe_consumer_watermark_seconds: WATERMARK_MS / 1000,
      gapipe_consumer_watermark_delay_seconds: 30,
      gapipe_consumer_open_windows: 11,
      gapipe_consumer_open_cells: 345,
      gapipe_consumer_backpressure: 1,
      gapipe_consumer_flushes_total: 12,
      gapipe_consumer_failed_flushes_total: 2,
    };
    for (const [name, v] of Object.entries(expected)) {
      expect(
        samples.filter((s) => s.name === name),
        name,
      ).toEqual([{ name, labels, value: v }]);
    }
    expect(types.get('gapipe_consumer_records_consumed_total')).toBe('counter');
    expect(types.get('gapipe_consumer_open_windows')).toBe('gauge');
    // Default process metrics, with their own prefix.
    expect(value(samples, 'gapipe_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('serves one series per partition', async () => {
    const server = await start(() => snapshot);
    const { samples } = await scrape(server);
    const p0 = { topic: 'game-events', group: 'gapipe-agg', partition: '0' };
    const p1 = { ...p0, partition: '1' };
    expect(value(samples, 'gapipe_consumer_partition_lag', p0)).toBe(1000);
    expect(value(samples, 'gapipe_consumer_partition_lag', p1)).toBe(234);
    expect(value(samples, 'gapipe_consumer_partition_position', p1)).toBe(60_345);
    expect(value(samples, 'gapipe_consumer_partition_committed_offset', p0)).toBe(59_500);
    expect(value(samples, 'gapipe_consumer_partition_watermark_seconds', p0)).toBe(WATERMARK_MS / 1000);
    // No watermark yet on partition 1: the series is absent, not 0.
    expect(value(samples, 'gapipe_consumer_partition_watermark_seconds', p1)).toBeUndefined();
    expect(value(samples, 'gapipe_consumer_partition_idle', p0)).toBe(0);
    expect(value(samples, 'gapipe_consumer_partition_idle', p1)).toBe(1);
  });

  it('reads the latest snapshot at each scrape and drops revoked partitions', async () => {
    let current = snapshot;
    const server = await start(() => current);
    expect(
      (await scrape(server)).samples.filter((s) => s.name === 'gapipe_consumer_partition_lag'),
    ).toHaveLength(2);

    const [first] = snapshot.partitions;
    if (!first) throw new Error('fixture has partitions');
    current = { ...snapshot, consumed: 130_000, backpressure: false, partitions: [{ ...first, lag: 5 }] };
    const { samples } = await scrape(server);
    const lags = samples.filter((s) => s.name === 'gapipe_consumer_partition_lag');
    expect(lags.map((s) => [s.labels.partition, s.value])).toEqual([['0', 5]]);
    expect(samples.some((s) => s.labels.partition === '1')).toBe(false);
    expect(value(samples, 'gapipe_consumer_records_consumed_total')).toBe(130_000);
    expect(value(samples, 'gapipe_consumer_backpressure')).toBe(0);
  });

  it('leaves the watermark out while there is none, and consumer figures out before any snapshot', async () => {
    let current: ConsumeSnapshot | undefined;
    const server = await start(() => current);
    let { samples } = await scrape(server);
    expect(samples.filter((s) => s.name.startsWith('gapipe_consumer_'))).toEqual([]);
    expect(value(samples, 'gapipe_process_resident_memory_bytes')).toBeGreaterThan(0);

    current = { ...snapshot, watermarkMs: undefined };
    ({ samples } = await scrape(server));
    expect(value(samples, 'gapipe_consumer_watermark_seconds')).toBeUndefined();
    expect(value(samples, 'gapipe_consumer_watermark_delay_seconds')).toBeUndefined();
    expect(value(samples, 'gapipe_consumer_records_consumed_total')).toBe(120_345);
  });

  it('measures the watermark delay against the clock at scrape time', async () => {
    const clock = new ManualClock(snapshot.atMs);
    const server = await start(() => snapshot, clock);
    clock.advance(90_000);
    const { samples } = await scrape(server);
    expect(value(samples, 'gapipe_consumer_watermark_delay_seconds')).toBe(120);
  });

  it('answers 404 elsewhere', async () => {
    const server = await start(() => snapshot);
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metricsx`)).status).toBe(404);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${server.url}?name[]=x`)).status).toBe(200);
  });

  it('fails with PORT_IN_USE naming the port and --metrics-port', async () => {
    const port = await occupiedPort();
    const error = await startMetricsServer({ port, snapshot: () => snapshot }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GapipeError);
    const gapipeError = error as GapipeError;
    expect(gapipeError.code).toBe('PORT_IN_USE');
    expect(gapipeError.message).toContain(String(port));
    expect(gapipeError.nextSteps).toContain('--metrics-port');
  });

  it('releases the port on close, even with a keep-alive scraper connected', async () => {
    const server = await startMetricsServer({ port: 0, snapshot: () => snapshot });
    await (await fetch(server.url)).text();
    await server.close();
    await server.close();
    const again = await startMetricsServer({ port: server.port, snapshot: () => snapshot });
    servers.push(again);
    expect(again.port).toBe(server.port);
    await expect(fetch(again.url)).resolves.toHaveProperty('status', 200);
  });
});
