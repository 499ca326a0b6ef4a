import { describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import { CONSUME_DEFAULTS, resolveConsumeOptions } from '../../src/pipeline/options.js';

function error(input: Parameters<typeof resolveConsumeOptions>[0]): GapipeError {
  try {
    resolveConsumeOptions(input);
  } catch (e) {
    expect(e).toBeInstanceOf(GapipeError);
    return e as GapipeError;
  }
  throw new Error('expected an error');
}

describe('resolveConsumeOptions', () => {
  it('defaults to tumbling 1m windows, 10m allowed lateness, 1s flushes on the lab', () => {
    const options = resolveConsumeOptions({});
    expect(options).toMatchObject({
      brokers: ['127.0.0.1:9092'],
      topic: 'game-events',
      group: CONSUME_DEFAULTS.group,
      esUrl: 'http://127.0.0.1:9200',
      index: 'gapipe-aggregates',
      lateTopic: 'game-events-late',
      deadLetterTopic: 'game-events-dlq',
      flushIntervalMs: 1000,
      indexRaw: false,
      fromBeginning: true,
      windowing: { kind: 'tumbling', sizeMs: 60_000, allowedLatenessMs: 600_000, lateRetentionMs: 600_000 },
    });
  });

  it('waits 3 minutes for an unreachable Kafka unless --kafka-timeout says otherwise', () => {
    expect(resolveConsumeOptions({})).toMatchObject({ kafkaTimeoutMs: 180_000, stopTimeoutMs: 3000 });
    expect(resolveConsumeOptions({ kafkaTimeout: '30s' }).kafkaTimeoutMs).toBe(30_000);
  });

  it('reads --brokers as simulate does: IPv6 in brackets, several brokers', () => {
    expect(resolveConsumeOptions({ brokers: '[::1]:9092, kafka-2:19092' }).brokers).toEqual([
      '[::1]:9092',
      'kafka-2:19092',
    ]);
  });

  it('derives side topics from --topic and takes hopping and session windows', () => {
    expect(resolveConsumeOptions({ topic: 'matches' })).toMatchObject({
      lateTopic: 'matches-late',
      deadLetterTopic: 'matches-dlq',
    });
    expect(resolveConsumeOptions({ window: '5m', hop: '1m' }).windowing).toMatchObject({
      kind: 'hopping',
      sizeMs: 300_000,
      hopMs: 60_000,
    });
    expect(resolveConsumeOptions({ window: '1m', hop: '1m' }).windowing.kind).toBe('tumbling');
    expect(resolveConsumeOptions({ sessionGap: '5m' }).windowing).toMatchObject({
      kind: 'session',
      sessionGapMs: 300_000,
    });
    expect(resolveConsumeOptions({ allowedLateness: '30s', lateRetention: '2m' }).windowing).toMatchObject({
      allowedLatenessMs: 30_000,
      lateRetentionMs: 120_000,
    });
  });

  it.each([
    [{ window: '10' }, "--window must be a duration like 500ms, 30s, 1m or 1h30m, got '10'"],
    [{ window: '10ms' }, "--window must be at least 1000ms, got '10ms'"],
    [{ hop: '7m' }, "--hop must divide --window (60000ms) and be at most as long, got '7m'"],
    [{ window: '5m', hop: '2m' }, "--hop must divide --window (300000ms) and be at most as long, got '2m'"],
    [{ hop: '1m', sessionGap: '5m' }, '--hop and --session-gap cannot be combined'],
    [{ window: '2m', sessionGap: '5m' }, '--window does not apply to session windows'],
    [
      { allowedLateness: 'soon' },
      "--allowed-lateness must be a duration like 500ms, 30s, 1m or 1h30m, got 'soon'",
    ],
    [{ flushInterval: '1ms' }, "--flush-interval must be at least 10ms, got '1ms'"],
    [
      { es: 'localhost:9200' },
      "--es must be an http(s) URL like http://127.0.0.1:9200, got 'localhost:9200'",
    ],
    [
      { brokers: 'kafka' },
      "--brokers must be a comma-separated list of host:port like 127.0.0.1:9092 or [::1]:9092 (ports 1–65535), got 'kafka'",
    ],
    [
      { brokers: 'kafka:99999' },
      "--brokers must be a comma-separated list of host:port like 127.0.0.1:9092 or [::1]:9092 (ports 1–65535), got 'kafka:99999'",
    ],
    [
      { metricsPort: '99999' },
      "--metrics-port must be a port number 0-65535 (0 picks a free one), got '99999'",
    ],
    [{ from: 'start' }, "--from must be earliest or latest, got 'start'"],
    [{ topic: 'a b' }, "--topic must be one name without spaces or commas, got 'a b'"],
    [{ maxUnflushed: '10' }, "--max-unflushed must be a whole number of records, at least 1000, got '10'"],
    [{ sessionTimeout: '1s' }, "--session-timeout must be at least 6000ms, got '1s'"],
    [{ kafkaTimeout: '5s' }, "--kafka-timeout must be at least 10000ms, got '5s'"],
  ])('rejects %j clearly', (input, message) => {
    const e = error(input);
    expect(e.code).toBe('INVALID_FLAG');
    expect(e.message).toBe(message);
  });
});
