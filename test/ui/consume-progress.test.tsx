import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsumeStart } from '../../src/pipeline/consume.js';
import type { ConsumeSnapshot, PartitionSnapshot } from '../../src/pipeline/types.js';
import { WINDOWING_DEFAULTS } from '../../src/pipeline/windows.js';
import { ConsumeProgress, createConsumeReporter } from '../../src/ui/consume-progress.js';

afterEach(() => cleanup());

const WATERMARK_MS = Date.UTC(2026, 10, 21, 16, 25, 0);

function partition(n: number, overrides: Partial<PartitionSnapshot> = {}): PartitionSnapshot {
  return {
    partition: n,
    position: 60_000 + n,
    highWatermark: 60_100 + n,
    lag: 100,
    committed: 59_000 + n,
    watermarkMs: WATERMARK_MS,
    idle: false,
    ...overrides,
  };
}

const snapshot: ConsumeSnapshot = {
  atMs: WATERMARK_MS + 90_000,
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
  replayed: 0,
  consumedPerSec: 10_021,
  writtenPerSec: 270,
  watermarkMs: WATERMARK_MS,
  openWindows: 11,
  openCells: 345,
  assigned: [0, 1, 2],
  partitions: [
    partition(1, { lag: 1134, watermarkMs: undefined, idle: true }),
    partition(0, { position: 120_345, committed: 119_000 }),
  ],
  backpressure: false,
  sinkError: undefined,
  flushes: 12,
  failedFlushes: 0,
  rssBytes: 150 * 1024 ** 2,
};

const start: ConsumeStart = {
  brokers: ['localhost:9092'],
  topic: 'game-events',
  group: 'gapipe-agg',
  esUrl: 'http://localhost:9200',
  index: 'gapipe-aggregates',
  windowing: { ...WINDOWING_DEFAULTS, allowedLatenessMs: 30_000 },
  flushIntervalMs: 1000,
  lateTopic: 'game-events-late',
  deadLetterTopic: 'game-events-dlq',
  indexRaw: false,
};

function frame(s: ConsumeSnapshot | undefined, withBanner = false): string {
  const { lastFrame } = render(<ConsumeProgress start={withBanner ? start : undefined} snapshot={s} />);
  return stripVTControlCharacters(lastFrame() ?? '');
}

describe('ConsumeProgress', () => {
  it('shows the banner and waits for partitions before the first snapshot', () => {
    const text = frame(undefined, true);
    expect(text).toContain('Consuming game-events as group gapipe-agg from localhost:9092');
    expect(text).toContain('waiting for partition assignment');
  });

  it('shows rates, watermark, open windows, rejects and the partition table', () => {
    const text = frame(snapshot);
    const lines = text.split('\n');
    expect(lines[0]).toBe('12.3s · consumed 120,345 (10,021/s) · written 3,210 (270/s)');
    expect(lines[1]).toBe('lag 1,234 · watermark 16:25:00 UTC (1m30s behind now)');
    expect(lines[2]).toBe('open 11 windows, 345 cells · RSS 150.0 MiB');
    expect(lines[3]).toBe('late 3 · dead-lettered 1 · duplicates 40');
    expect(lines[4]).toBe('flowing · 12 flushes');
    expect(lines.slice(5)).toEqual([
      'partition  position    lag  committed  watermark  idle',
      '        0    120345    100     119000  16:25:00',
      '        1     60001  1,134      59001  -          idle',
    ]);
  });

  it('shows the paused state with the sink error', () => {
    const text = frame({ ...snapshot, backpressure: true, sinkError: 'connect ECONNREFUSED 127.0.0.1:9200' });
    expect(text).toContain('PAUSED (Elasticsearch: connect ECONNREFUSED 127.0.0.1:9200)');
    expect(text).not.toContain('flowing');
  });

  it('shows a sink error being retried while not paused', () => {
    const text = frame({ ...snapshot, sinkError: 'es_rejected_execution_exception' });
    expect(text).toContain('retrying Elasticsearch: es_rejected_execution_exception');
  });

  it('shows at most 12 partitions and fits 20 lines and 80 columns', () => {
    const partitions = Array.from({ length: 16 }, (_, i) => partition(15 - i, { lag: 1_000_000 }));
    const text = frame({
      ...snapshot,
      consumed: 123_456_789,
      consumedPerSec: 100_000,
      written: 12_345_678,
      writtenPerSec: 12_345,
      elapsedMs: 3_723_000,
      partitions,
      backpressure: true,
      sinkError: `circuit_breaking_exception ${'x'.repeat(200)}`,
    });
    const lines = text.split('\n');
    expect(lines).toContain('+4 more partitions (lag 4,000,000)');
    expect(
      lines.filter((line) => /^\s+\d+\s+\d+/.test(line)).map((line) => line.trim().split(/\s+/)[0]),
    ).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    expect(lines.length).toBeLessThanOrEqual(20);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
  });
});

describe('createConsumeReporter', () => {
  function capture() {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    return {
      stream: stream as unknown as NodeJS.WriteStream,
      text: () => stripVTControlCharacters(chunks.join('')),
    };
  }

  it('prints plain lines (banner, then throttled progress) when output is plain', () => {
    const { stream, text } = capture();
    const reporter = createConsumeReporter({ plain: true, quiet: false, stream });
    reporter.started(start);
    for (let s = 1; s <= 10; s++) reporter.update({ ...snapshot, elapsedMs: s * 1000 });
    reporter.done();
    const lines = text().trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'Consuming game-events as group gapipe-agg from localhost:9092',
      '  → Elasticsearch http://localhost:9200, index gapipe-aggregates',
    ]);
    const progress = lines.filter((line) => line.includes('consumed'));
    expect(progress).toHaveLength(2); // every 5 s of run time
    expect(progress[0]).toBe(
      '5s consumed 120,345 (10,021/s) written 3,210 (270/s) lag 1,234 watermark 16:25:00 open 11 windows late 3 dlq 1',
    );
  });

  it('prints nothing when quiet', () => {
    const { stream, text } = capture();
    const reporter = createConsumeReporter({ plain: false, quiet: true, stream });
    reporter.started(start);
    reporter.update({ ...snapshot, elapsedMs: 10_000 });
    reporter.done();
    expect(text()).toBe('');
  });
});
