/**
 * `gapipe consume` options: exported defaults, one merge of the given values over them, one
 * validation pass whose messages name the flag and the form it accepts. Pure.
 */
import { invalidFlag } from '../errors.js';
import { AGGREGATES_INDEX, EVENTS_INDEX } from '../lab/provision/elasticsearch.js';
import { deadLetterTopic, lateTopic } from '../lab/provision/topics.js';
import { parseDurationMs, parseHttpUrl, parseBrokers as parseSharedBrokers } from '../options.js';
import { CONSUMER_DEFAULTS, type ConsumerOptions } from './consumer.js';
import { DEFAULT_KAFKA_CLIENT, KAFKA_CLIENTS, type KafkaClientName } from './transport.js';
import { WINDOWING_DEFAULTS, type WindowingOptions } from './windows.js';

export const CONSUME_DEFAULTS = {
  brokers: ['127.0.0.1:9092'],
  topic: 'game-events',
  group: 'gapipe-aggregator',
  esUrl: 'http://127.0.0.1:9200',
  index: AGGREGATES_INDEX,
  rawIndex: EVENTS_INDEX,
  sessionTimeoutMs: 30_000,
  kafkaClient: DEFAULT_KAFKA_CLIENT,
  ...CONSUMER_DEFAULTS,
};

export interface ConsumeOptions extends ConsumerOptions {
  kafkaTimeoutMs: number;
  stopTimeoutMs: number;
  brokers: string[];
  esUrl: string;
  index: string;
  rawIndex: string;
  sessionTimeoutMs: number;
  /** Where a group without committed offsets (and no checkpoint) starts. */
  fromBeginning: boolean;
  metricsPort: number | undefined;
  /** Stop once every owned partition has been caught up and silent this long. */
  exitIdleMs: number | undefined;
  /** The Kafka client the consumer runs on. */
  kafkaClient: KafkaClientName;
}

/** What flags give; undefined means "not given". */
export interface ConsumeInput {
  brokers?: string | undefined;
  topic?: string | undefined;
  group?: string | undefined;
  es?: string | undefined;
  index?: string | undefined;
  rawIndex?: string | undefined;
  window?: string | undefined;
  hop?: string | undefined;
  sessionGap?: string | undefined;
  allowedLateness?: string | undefined;
  lateRetention?: string | undefined;
  flushInterval?: string | undefined;
  idleTimeout?: string | undefined;
  indexRaw?: boolean | undefined;
  lateTopic?: string | undefined;
  deadLetterTopic?: string | undefined;
  metricsPort?: string | undefined;
  from?: string | undefined;
  exitIdle?: string | undefined;
  maxUnflushed?: string | undefined;
  sessionTimeout?: string | undefined;
  kafkaTimeout?: string | undefined;
  kafkaClient?: string | undefined;
}

function duration(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text);
  if (ms === undefined) {
    throw invalidFlag(`--${flag} must be a duration like 500ms, 30s, 1m or 1h30m, got '${text}'`);
  }
  if (ms < min) throw invalidFlag(`--${flag} must be at least ${min}ms, got '${text}'`);
  return ms;
}

function name(flag: string, text: string | undefined, fallback: string): string {
  if (text === undefined) return fallback;
  const trimmed = text.trim();
  if (trimmed === '' || /[\s,]/.test(trimmed)) {
    throw invalidFlag(`--${flag} must be one name without spaces or commas, got '${text}'`);
  }
  return trimmed;
}

/** An Elasticsearch URL from --es (or GAPIPE_ES_URL), without a trailing slash. */
export function parseEsUrl(text: string | undefined): string {
  return text === undefined ? CONSUME_DEFAULTS.esUrl : parseHttpUrl(text, '--es');
}

export function parseBrokers(text: string | undefined, fallback: string[]): string[] {
  return text === undefined ? fallback : parseSharedBrokers(text, '--brokers');
}

export function resolveWindowing(input: ConsumeInput): WindowingOptions {
  if (input.hop !== undefined && input.sessionGap !== undefined) {
    throw invalidFlag(
      '--hop and --session-gap cannot be combined',
      'Choose hopping windows (--hop) or session windows (--session-gap)',
    );
  }
  const sizeMs = duration('window', input.window, WINDOWING_DEFAULTS.sizeMs, 1000);
  const allowedLatenessMs = duration(
    'allowed-lateness',
    input.allowedLateness,
    WINDOWING_DEFAULTS.allowedLatenessMs,
    0,
  );
  const lateRetentionMs = duration('late-retention', input.lateRetention, allowedLatenessMs, 0);
  if (input.sessionGap !== undefined) {
    if (input.window !== undefined) {
      throw invalidFlag(
        '--window does not apply to session windows',
        'Drop --window; --session-gap sets how sessions end',
      );
    }
    return {
      kind: 'session',
      sizeMs,
      hopMs: sizeMs,
      sessionGapMs: duration('session-gap', input.sessionGap, WINDOWING_DEFAULTS.sessionGapMs, 1000),
      allowedLatenessMs,
      lateRetentionMs,
    };
  }
  if (input.hop !== undefined) {
    const hopMs = duration('hop', input.hop, sizeMs, 1000);
    if (hopMs > sizeMs || sizeMs % hopMs !== 0) {
      throw invalidFlag(
        `--hop must divide --window (${sizeMs}ms) and be at most as long, got '${input.hop}'`,
        'For example --window 5m --hop 1m',
      );
    }
    if (sizeMs / hopMs > 60)
      throw invalidFlag(`--window / --hop must be at most 60 windows per event, got ${sizeMs / hopMs}`);
    return {
      kind: hopMs === sizeMs ? 'tumbling' : 'hopping',
      sizeMs,
      hopMs,
      sessionGapMs: WINDOWING_DEFAULTS.sessionGapMs,
      allowedLatenessMs,
      lateRetentionMs,
    };
  }
  return {
    kind: 'tumbling',
    sizeMs,
    hopMs: sizeMs,
    sessionGapMs: WINDOWING_DEFAULTS.sessionGapMs,
    allowedLatenessMs,
    lateRetentionMs,
  };
}

export function resolveConsumeOptions(input: ConsumeInput): ConsumeOptions {
  const topic = name('topic', input.topic, CONSUME_DEFAULTS.topic);
  let metricsPort: number | undefined;
  if (input.metricsPort !== undefined) {
    metricsPort = Number(input.metricsPort);
    if (!/^\d+$/.test(input.metricsPort.trim()) || metricsPort > 65_535) {
      throw invalidFlag(
        `--metrics-port must be a port number 0-65535 (0 picks a free one), got '${input.metricsPort}'`,
      );
    }
  }
  let fromBeginning = true;
  if (input.from !== undefined) {
    if (input.from !== 'earliest' && input.from !== 'latest') {
      throw invalidFlag(`--from must be earliest or latest, got '${input.from}'`);
    }
    fromBeginning = input.from === 'earliest';
  }
  let maxUnflushedRecords = CONSUME_DEFAULTS.maxUnflushedRecords;
  if (input.maxUnflushed !== undefined) {
    maxUnflushedRecords = Number(input.maxUnflushed);
    if (!/^\d+$/.test(input.maxUnflushed.trim()) || maxUnflushedRecords < 1000) {
      throw invalidFlag(
        `--max-unflushed must be a whole number of records, at least 1000, got '${input.maxUnflushed}'`,
      );
    }
  }
  let kafkaClient = CONSUME_DEFAULTS.kafkaClient;
  if (input.kafkaClient !== undefined) {
    const given = input.kafkaClient.trim();
    if (!(KAFKA_CLIENTS as readonly string[]).includes(given)) {
      throw invalidFlag(`--kafka-client must be ${KAFKA_CLIENTS.join(' or ')}, got '${input.kafkaClient}'`);
    }
    kafkaClient = given as KafkaClientName;
  }
  return {
    brokers: parseBrokers(input.brokers, CONSUME_DEFAULTS.brokers),
    topic,
    group: name('group', input.group, CONSUME_DEFAULTS.group),
    esUrl: parseEsUrl(input.es),
    index: name('index', input.index, CONSUME_DEFAULTS.index).toLowerCase(),
    rawIndex: name('raw-index', input.rawIndex, CONSUME_DEFAULTS.rawIndex).toLowerCase(),
    windowing: resolveWindowing(input),
    flushIntervalMs: duration('flush-interval', input.flushInterval, CONSUME_DEFAULTS.flushIntervalMs, 10),
    idleTimeoutMs: duration('idle-timeout', input.idleTimeout, CONSUME_DEFAULTS.idleTimeoutMs, 100),
    lateTopic: name('late-topic', input.lateTopic, lateTopic(topic)),
    deadLetterTopic: name('dlq-topic', input.deadLetterTopic, deadLetterTopic(topic)),
    indexRaw: input.indexRaw ?? false,
    maxUnflushedRecords,
    maxBackoffMs: CONSUME_DEFAULTS.maxBackoffMs,
    // Above the 5 s in which a healthy client is heard from at least once.
    kafkaTimeoutMs: duration('kafka-timeout', input.kafkaTimeout, CONSUME_DEFAULTS.kafkaTimeoutMs, 10_000),
    stopTimeoutMs: CONSUME_DEFAULTS.stopTimeoutMs,
    sessionTimeoutMs: duration(
      'session-timeout',
      input.sessionTimeout,
      CONSUME_DEFAULTS.sessionTimeoutMs,
      6000,
    ),
    fromBeginning,
    metricsPort,
    exitIdleMs: input.exitIdle === undefined ? undefined : duration('exit-idle', input.exitIdle, 0, 100),
    kafkaClient,
  };
}
