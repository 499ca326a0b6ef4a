import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ConsumeStart } from '../../src/pipeline/consume.js';
import type { ConsumeSnapshot } from '../../src/pipeline/types.js';
import { WINDOWING_DEFAULTS } from '../../src/pipeline/windows.js';
import {
  createPlainConsumeReporter,
  formatConsumeLine,
  renderConsumeBanner,
  renderConsumeSummary,
} from '../../src/ui/consume.js';

const plain = (text: string) => stripVTControlCharacters(text);

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
  replayed: 0,
  consumedPerSec: 10_021,
  writtenPerSec: 270,
  watermarkMs: WATERMARK_MS,
  openWindows: 11,
  openCells: 345,
  assigned: [0, 1, 2],
  partitions: [
    {
      partition: 1,
      position: 60_345,
      highWatermark: 60_579,
      lag: 234,
      committed: 60_000,
      watermarkMs: undefined,
      idle: true,
    },
    {
      partition: 0,
      position: 60_000,
      highWatermark: 61_000,
      lag: 1000,
      committed: 59_500,
      watermarkMs: WATERMARK_MS,
      idle: false,
    },
  ],
  backpressure: false,
  sinkError: undefined,
  flushes: 12,
  failedFlushes: 0,
  rssBytes: 150 * 1024 ** 2,
};

const start: ConsumeStart = {
  brokers: ['localhost:9092', 'localhost:9093'],
  topic: 'game-events',
  group: 'gapipe-agg',
  esUrl: 'http://localhost:9200',
  index: 'gapipe-aggregates',
  windowing: { ...WINDOWING_DEFAULTS, allowedLatenessMs: 30_000 },
  flushIntervalMs: 1000,
  lateTopic: 'game-events-late',
  deadLetterTopic: 'game-events-dlq',
  indexRaw: true,
  metricsUrl: 'http://127.0.0.1:9464/metrics',
};

describe('renderConsumeBanner', () => {
  it('names the source, the sink, the window and where rejects go', () => {
    const lines = plain(renderConsumeBanner(start)).trimEnd().split('\n');
    expect(lines).toEqual([
      'Consuming game-events as group gapipe-agg from localhost:9092,localhost:9093',
      '  → Elasticsearch http://localhost:9200, index gapipe-aggregates',
      '  window tumbling 1m · allowed lateness 30s · flush every 1s',
      '  late events → game-events-late · dead letters → game-events-dlq · raw events indexed too (--index-raw)',
      '  Prometheus metrics at http://127.0.0.1:9464/metrics',
    ]);
  });

  it('leaves out the metrics line and raw indexing when off', () => {
    const text = plain(renderConsumeBanner({ ...start, indexRaw: false, metricsUrl: undefined }));
    expect(text).not.toContain('Prometheus');
    expect(text).not.toContain('--index-raw');
  });

  it('puts hopping and session windows in words', () => {
    const windowLine = (windowing: ConsumeStart['windowing']) =>
      plain(renderConsumeBanner({ ...start, windowing })).split('\n')[2];
    expect(windowLine({ ...start.windowing, kind: 'hopping', sizeMs: 300_000, hopMs: 60_000 })).toBe(
      '  window hopping 5m every 1m · allowed lateness 30s · flush every 1s',
    );
    expect(windowLine({ ...start.windowing, kind: 'session', sessionGapMs: 90_000 })).toBe(
      '  window session gap 1m30s · allowed lateness 30s · flush every 1s',
    );
  });
});

describe('formatConsumeLine', () => {
  it('prints the figures on one line', () => {
    expect(plain(formatConsumeLine(snapshot))).toBe(
      '12.3s consumed 120,345 (10,021/s) written 3,210 (270/s) lag 1,234 watermark 16:25:00 open 11 windows late 3 dlq 1',
    );
  });

  it('says when fetching is paused, and why', () => {
    expect(
      plain(formatConsumeLine({ ...snapshot, backpressure: true, sinkError: 'connect ECONNREFUSED' })),
    ).toMatch(/dlq 1 PAUSED \(Elasticsearch: connect ECONNREFUSED\)$/);
    expect(plain(formatConsumeLine({ ...snapshot, backpressure: true }))).toContain(
      'PAUSED (Elasticsearch: behind',
    );
  });

  it('shows a missing watermark as -', () => {
    expect(plain(formatConsumeLine({ ...snapshot, watermarkMs: undefined }))).toContain('watermark - open');
  });
});

describe('renderConsumeSummary', () => {
  it('sums up a clean run with a partition table', () => {
    const lines = plain(renderConsumeSummary({ ...snapshot, elapsedMs: 90_000 }))
      .trimEnd()
      .split('\n');
    expect(lines.slice(0, 4)).toEqual([
      '✓ Consumed 120,345 records from game-events as group gapipe-agg in 1m30s',
      '  accepted 119,000 · duplicates 40 · late 3 · dead-lettered 1',
      '  written 3,210 aggregate documents in 12 flushes',
      '  watermark 2026-11-21T16:25:00.000Z · lag 1,234 · 11 windows (345 cells) still open',
    ]);
    expect(lines.slice(4)).toEqual([
      '  partition  position  committed  lag    watermark',
      '  ---------  --------  ---------  -----  ---------',
      '  0          60000     59500      1,000  16:25:00',
      '  1          60345     60000      234    -',
      "  committed: the offset Kafka holds for group gapipe-agg, the consumer's replay point — the first record of the oldest window still open (windows stay open for the allowed lateness), which a restart reads again; lag counts from the position",
    ]);
  });

  it('flags failed flushes, a pause, raw events and replays', () => {
    const text = plain(
      renderConsumeSummary({
        ...snapshot,
        rawWritten: 120_000,
        replayed: 5000,
        failedFlushes: 2,
        backpressure: true,
        sinkError: 'cluster_block_exception',
      }),
    );
    expect(text).toMatch(/^! Consumed/);
    expect(text).toContain(
      'written 3,210 aggregate documents and 120,000 raw events in 12 flushes (2 failed and retried)',
    );
    expect(text).toContain('replayed 5,000 records to rebuild open windows');
    expect(text).toContain('PAUSED (Elasticsearch: cluster_block_exception)');
  });
});

describe('createPlainConsumeReporter', () => {
  function capture() {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    return { stream, lines: () => plain(chunks.join('')).trimEnd().split('\n') };
  }

  it('prints the banner, a line every 5 s of run time, and pauses as they start and end', () => {
    const { stream, lines } = capture();
    const reporter = createPlainConsumeReporter(stream);
    reporter.started(start);
    for (let s = 1; s <= 12; s++) {
      const paused = s === 7 || s === 8;
      reporter.update({
        ...snapshot,
        elapsedMs: s * 1000,
        backpressure: paused,
        sinkError: paused ? 'timeout' : undefined,
      });
    }
    reporter.done();
    const progress = lines().filter((line) => line.includes('consumed'));
    expect(lines()[0]).toContain('Consuming game-events as group gapipe-agg');
    expect(progress.map((line) => line.split(' ')[0])).toEqual(['5s', '7s', '9s']);
    expect(progress[1]).toContain('PAUSED (Elasticsearch: timeout)');
    expect(progress[2]).toMatch(/ RESUMED$/);
  });

  it('prints nothing when quiet', () => {
    const { stream, lines } = capture();
    const reporter = createPlainConsumeReporter(stream, { quiet: true });
    reporter.started(start);
    reporter.update({ ...snapshot, elapsedMs: 10_000, backpressure: true });
    reporter.done();
    expect(lines()).toEqual(['']);
  });
});
