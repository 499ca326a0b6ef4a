/**
 * `gapipe simulate` options: exported defaults, one merge (flags > scenario file > defaults) and one
 * validation pass whose messages name the flag (or the scenario key) and the form it accepts.
 * Everything here is pure: the current time and the fallback seed are passed in.
 */
import { invalidFlag } from '../errors.js';
import { parseDurationMs, parseBrokers as parseSharedBrokers } from '../options.js';
import { REGION_CODES, REGION_PROFILES, type RegionCode } from './regions.js';
import type { RampStage } from './schedule.js';
import { parseShard, type ShardSpec } from './shard.js';

export const SINK_KINDS = ['kafka', 'stdout', 'file', 'null'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];
export const ACKS_VALUES = ['all', '1', '0'] as const;
export type AcksValue = (typeof ACKS_VALUES)[number];
export const COMPRESSION_VALUES = ['none', 'gzip'] as const;
export type CompressionValue = (typeof COMPRESSION_VALUES)[number];

/** Producer settings of the Kafka sink. */
export interface KafkaProducerOptions {
  acks: AcksValue;
  compression: CompressionValue;
  /** Broker-side dedupe of retried batches; on by default with acks=all, like Kafka's Java producer. */
  idempotent: boolean;
  /** Most records in one partition's batch. */
  batchSize: number;
  /** How long a partly filled batch waits for more records. */
  lingerMs: number;
  /** How long a record is retried (broker outage, leader change) before it counts as failed. */
  deliveryTimeoutMs: number;
}

export const MAX_PLAYERS = 10_000_000;
export const MAX_RATE = 10_000_000;
export const MAX_SEED = 4_294_967_295;
/** Most generator threads one process runs (--workers). */
export const MAX_WORKERS = 64;
/** Default --workers: one per core the process may use, at most this many. */
export const DEFAULT_MAX_WORKERS = 8;
const MAX_DURATION_MS = 30 * 24 * 3_600_000;
const MAX_EVENTS = Number.MAX_SAFE_INTEGER;

export const SIMULATE_DEFAULTS = {
  players: 1000,
  /** One event per player per second: 1000 players → 1000 events/s. */
  rate: '1s',
  /** When neither --duration, --events nor --stages bounds the run. */
  durationMs: 60_000,
  regions: ['NA', 'EU', 'ASIA'] as RegionCode[],
  sink: 'kafka' as SinkKind,
  brokers: ['127.0.0.1:9092'],
  topic: 'game-events',
  late: 0,
  lateByMs: { min: 120_000, max: 900_000 },
  duplicates: 0,
  malformed: 0,
  outOfOrder: 0,
  pace: true,
  /** Records handed to the sink and not yet acknowledged; beyond it generation waits (memory bound). */
  maxInFlight: 100_000,
  kafka: {
    acks: 'all',
    compression: 'none',
    idempotent: true,
    batchSize: 4000,
    lingerMs: 5,
    deliveryTimeoutMs: 120_000,
  } as KafkaProducerOptions,
} as const;

export interface DisorderOptions {
  /** Fraction of events whose event time is set back by a lateness drawn from `lateByMs`. */
  late: number;
  /** Lateness range (uniform). */
  lateByMs: { min: number; max: number };
  /** Fraction of records that re-send an earlier event with the same event_id and identical bytes. */
  duplicates: number;
  /** Fraction of records that are not a valid event. */
  malformed: number;
  /** Fraction of events sent after a few of the events that followed them. */
  outOfOrder: number;
}

export interface SimulateOptions {
  players: number;
  /** Total target rate at the start, events/s. */
  startRate: number;
  stages: RampStage[];
  /** What the user wrote for the rate, for the banner ("10ms per player" or "5000/s"). */
  rateDescription: string;
  /**
   * The rate was given as a total (--rate 5000/s): the description then only restates the target
   * figure, and the banner leaves it out.
   */
  rateGivenAsTotal?: boolean;
  /** The run ends at this offset (event count permitting); undefined when only `events` bounds it. */
  durationMs: number | undefined;
  /** The run ends after this many records. */
  events: number | undefined;
  regions: RegionCode[];
  seed: number;
  /** False when the seed was drawn at random (the banner then prints it, so the run can be repeated). */
  seedGiven: boolean;
  sink: SinkKind;
  out: string | undefined;
  brokers: string[];
  topic: string;
  /** Simulated event time of the first event, epoch ms. */
  startTimeMs: number;
  disorder: DisorderOptions;
  manifestPath: string | undefined;
  /** False with --no-pace: send as fast as the sink accepts (intended times still follow the schedule). */
  pace: boolean;
  maxInFlight: number;
  kafka: KafkaProducerOptions;
  /** Name of the scenario the values came from, if any. */
  scenario: string | undefined;
  /** Generator threads (--workers); 1 or absent: generate on the main thread. */
  workers?: number | undefined;
  /** --shard I/N: produce only shard I of N of the stream (absent: all of it). */
  shard?: ShardSpec | undefined;
}

/** What flags or a scenario file may give; undefined means "not given here". */
export interface SimulateInput {
  workers?: string | number | undefined;
  shard?: string | undefined;
  players?: string | number | undefined;
  rate?: string | undefined;
  duration?: string | undefined;
  events?: string | number | undefined;
  regions?: string | string[] | undefined;
  seed?: string | number | undefined;
  sink?: string | undefined;
  out?: string | undefined;
  brokers?: string | undefined;
  topic?: string | undefined;
  stages?: string | string[] | undefined;
  startTime?: string | undefined;
  late?: string | number | undefined;
  lateBy?: string | undefined;
  duplicates?: string | number | undefined;
  malformed?: string | number | undefined;
  outOfOrder?: string | number | undefined;
  manifest?: string | undefined;
  pace?: boolean | undefined;
  maxInFlight?: string | number | undefined;
  acks?: string | undefined;
  compression?: string | undefined;
  idempotent?: boolean | undefined;
  batchSize?: string | number | undefined;
  linger?: string | undefined;
  deliveryTimeout?: string | undefined;
}

/** The flag each input key comes from; scenario files use the same names (without the dashes). */
export const FLAG_NAMES: Record<keyof SimulateInput, string> = {
  workers: 'workers',
  shard: 'shard',
  players: 'players',
  rate: 'rate',
  duration: 'duration',
  events: 'events',
  regions: 'regions',
  seed: 'seed',
  sink: 'sink',
  out: 'out',
  brokers: 'brokers',
  topic: 'topic',
  stages: 'stages',
  startTime: 'start-time',
  late: 'late',
  lateBy: 'late-by',
  duplicates: 'duplicates',
  malformed: 'malformed',
  outOfOrder: 'out-of-order',
  manifest: 'manifest',
  pace: 'pace',
  maxInFlight: 'max-in-flight',
  acks: 'acks',
  compression: 'compression',
  idempotent: 'idempotent',
  batchSize: 'batch-size',
  linger: 'linger',
  deliveryTimeout: 'delivery-timeout',
};

// --- single values ---------------------------------------------------------------------------------

// Durations are parsed in one place for every command (src/options.ts).
export { parseDurationMs } from '../options.js';

const RATE_PATTERN = /^(\d+(?:\.\d+)?)(k)?\/(s|m|min|h)$/;
const PER_SECOND: Record<string, number> = { s: 1, m: 1 / 60, min: 1 / 60, h: 1 / 3600 };

export type RateSpec = { kind: 'total'; perSecond: number } | { kind: 'per-player-gap'; gapMs: number };

/** "5000/s" (total), "2k/s", "300/m", or a duration "10ms" (mean gap between two events of one player). */
export function parseRateSpec(text: string): RateSpec | undefined {
  const trimmed = text.trim();
  const match = RATE_PATTERN.exec(trimmed);
  if (match) {
    const scale = match[2] ? 1000 : 1;
    return {
      kind: 'total',
      perSecond: Number(match[1]) * scale * (PER_SECOND[match[3] as string] as number),
    };
  }
  const gapMs = parseDurationMs(trimmed);
  return gapMs === undefined ? undefined : { kind: 'per-player-gap', gapMs };
}

/** Total events/s for a rate spec. */
export function totalRate(spec: RateSpec, players: number): number {
  return spec.kind === 'total' ? spec.perSecond : (players * 1000) / spec.gapMs;
}

// --- the merge ---------------------------------------------------------------------------------------

export interface ResolveContext {
  /** Wall-clock now, epoch ms: the default event-time start and the anchor for "20:00@EU". */
  nowMs: number;
  /** Used when no seed is given (the caller draws it at random and the banner prints it). */
  fallbackSeed: number;
  /** Name of the scenario file, to label its values in error messages. */
  scenarioName?: string | undefined;
  /** Cores this process may use (os.availableParallelism()): the default --workers. */
  cores?: number | undefined;
}

type Source = 'flag' | 'scenario';

/**
 * Merges flags over a scenario over the defaults, then validates. Error messages name the flag
 * ("--rate must be …") or, for a value from the scenario, the key and the scenario.
 */
export function resolveSimulateOptions(
  flags: SimulateInput,
  scenario: SimulateInput,
  context: ResolveContext,
): SimulateOptions {
  const pick = <K extends keyof SimulateInput>(
    key: K,
  ): { value: SimulateInput[K]; label: string; source: Source } | undefined => {
    if (flags[key] !== undefined) return { value: flags[key], label: `--${FLAG_NAMES[key]}`, source: 'flag' };
    if (scenario[key] !== undefined) {
      return {
        value: scenario[key],
        label: `"${FLAG_NAMES[key]}" in scenario ${context.scenarioName ?? ''}`.trimEnd(),
        source: 'scenario',
      };
    }
    return undefined;
  };

  const playersInput = pick('players');
  const players = playersInput
    ? parseWholeNumber(playersInput.value, playersInput.label, 1, MAX_PLAYERS)
    : SIMULATE_DEFAULTS.players;

  const regionsInput = pick('regions');
  const regions = regionsInput
    ? parseRegions(regionsInput.value as string | string[], regionsInput.label)
    : [...SIMULATE_DEFAULTS.regions];
  if (players < regions.length) {
    throw invalidFlag(
      `--players must be at least the number of regions (${regions.length}: ${regions.join(', ')}), got '${players}'`,
    );
  }

  const stagesInput = pick('stages');
  const stages = stagesInput
    ? parseStages(stagesInput.value as string | string[], stagesInput.label, players)
    : [];

  const rateInput = pick('rate');
  let startRate: number;
  let rateDescription: string;
  let rateGivenAsTotal = false;
  if (rateInput) {
    const text = String(rateInput.value);
    const spec = parseRateSpec(text);
    if (!spec) throw invalidFlag(rateFormMessage(rateInput.label, text));
    if (!((spec.kind === 'total' ? spec.perSecond : spec.gapMs) > 0)) {
      throw invalidFlag(`${rateInput.label} must be above zero, got '${text}'`);
    }
    startRate = totalRate(spec, players);
    if (startRate > MAX_RATE) {
      throw invalidFlag(
        `${rateInput.label} must give at most ${MAX_RATE}/s in total, got '${text}' (${startRate}/s)`,
      );
    }
    rateDescription =
      spec.kind === 'total' ? `${text.trim()} in total` : `one event every ${text.trim()} per player`;
    rateGivenAsTotal = spec.kind === 'total';
  } else if (stages.length > 0) {
    startRate = 0;
    rateDescription = 'stages from 0/s';
  } else {
    const spec = parseRateSpec(SIMULATE_DEFAULTS.rate) as RateSpec;
    startRate = totalRate(spec, players);
    rateDescription = `one event every ${SIMULATE_DEFAULTS.rate} per player, the default --rate`;
  }

  // --duration and --events bound the run; flags replace a scenario's bound as a pair.
  const limitSource = flags.duration !== undefined || flags.events !== undefined ? flags : scenario;
  const limitLabel = (key: 'duration' | 'events') =>
    limitSource === flags ? `--${key}` : `"${key}" in scenario ${context.scenarioName ?? ''}`.trimEnd();
  if (limitSource.duration !== undefined && limitSource.events !== undefined) {
    throw invalidFlag(
      `${limitLabel('duration')} and ${limitLabel('events')} cannot be combined; give one of them`,
      'Use --duration 60s to bound the run by time, or --events 100000 to bound it by count',
    );
  }
  let durationMs: number | undefined;
  let events: number | undefined;
  if (limitSource.duration !== undefined) {
    durationMs = parsePositiveDuration(limitSource.duration, limitLabel('duration'), 'like 60s, 2m or 1h30m');
  } else if (limitSource.events !== undefined) {
    events = parseWholeNumber(limitSource.events, limitLabel('events'), 1, MAX_EVENTS);
  } else if (stages.length > 0) {
    durationMs = stages.reduce((sum, s) => sum + s.durationMs, 0);
  } else {
    durationMs = SIMULATE_DEFAULTS.durationMs;
  }

  const seedInput = pick('seed');
  const seed = seedInput
    ? parseWholeNumber(seedInput.value, seedInput.label, 0, MAX_SEED)
    : context.fallbackSeed;

  const outInput = pick('out');
  const out = outInput ? String(outInput.value) : undefined;
  const sinkInput = pick('sink');
  let sink: SinkKind;
  if (sinkInput) {
    const text = String(sinkInput.value).trim();
    if (!(SINK_KINDS as readonly string[]).includes(text)) {
      throw invalidFlag(`${sinkInput.label} must be one of ${SINK_KINDS.join(', ')}, got '${text}'`);
    }
    sink = text as SinkKind;
  } else {
    // --out alone means "write to this file".
    sink = out !== undefined ? 'file' : SIMULATE_DEFAULTS.sink;
  }
  if (sink === 'file' && (out === undefined || out.trim() === '')) {
    throw invalidFlag(
      '--sink file needs --out FILE, the file to write the events to',
      'Add --out events.ndjson',
    );
  }
  if (sink !== 'file' && out !== undefined) {
    throw invalidFlag(
      `--out applies only to --sink file, but --sink is ${sink}`,
      'Drop --out, or use --sink file',
    );
  }

  const brokersInput = pick('brokers');
  const brokers = brokersInput
    ? parseBrokers(String(brokersInput.value), brokersInput.label)
    : [...SIMULATE_DEFAULTS.brokers];
  const topicInput = pick('topic');
  const topic = topicInput ? String(topicInput.value) : SIMULATE_DEFAULTS.topic;
  if (!/^[a-zA-Z0-9._-]{1,200}$/.test(topic)) {
    throw invalidFlag(`${topicInput?.label ?? '--topic'} must be 1-200 of a-z A-Z 0-9 . _ -, got '${topic}'`);
  }

  const startInput = pick('startTime');
  const startTimeMs = startInput
    ? parseStartTime(String(startInput.value), startInput.label, context.nowMs)
    : context.nowMs;

  const fraction = (key: 'late' | 'duplicates' | 'malformed' | 'outOfOrder'): number => {
    const input = pick(key);
    return input ? parseFraction(input.value, input.label) : SIMULATE_DEFAULTS[key];
  };
  const lateByInput = pick('lateBy');
  const disorder: DisorderOptions = {
    late: fraction('late'),
    lateByMs: lateByInput
      ? parseLateBy(String(lateByInput.value), lateByInput.label)
      : { ...SIMULATE_DEFAULTS.lateByMs },
    duplicates: fraction('duplicates'),
    malformed: fraction('malformed'),
    outOfOrder: fraction('outOfOrder'),
  };
  const perRecord = disorder.duplicates + disorder.malformed + disorder.outOfOrder;
  if (perRecord > 1) {
    throw invalidFlag(
      `--duplicates, --malformed and --out-of-order add up to ${round6(perRecord)}; together they must be at most 1`,
    );
  }

  const maxInFlightInput = pick('maxInFlight');
  const maxInFlight = maxInFlightInput
    ? parseWholeNumber(maxInFlightInput.value, maxInFlightInput.label, 1, MAX_PLAYERS)
    : SIMULATE_DEFAULTS.maxInFlight;

  const choice = <T extends string>(key: 'acks' | 'compression', allowed: readonly T[], fallback: T): T => {
    const input = pick(key);
    if (!input) return fallback;
    const text = String(input.value).trim();
    if (!(allowed as readonly string[]).includes(text)) {
      throw invalidFlag(`${input.label} must be one of ${allowed.join(', ')}, got '${text}'`);
    }
    return text as T;
  };
  const defaults = SIMULATE_DEFAULTS.kafka;
  const batchSizeInput = pick('batchSize');
  const lingerInput = pick('linger');
  const deliveryTimeoutInput = pick('deliveryTimeout');
  const acks = choice('acks', ACKS_VALUES, defaults.acks);
  const idempotentInput = pick('idempotent');
  const kafka: KafkaProducerOptions = {
    acks,
    compression: choice('compression', COMPRESSION_VALUES, defaults.compression),
    // Like Kafka's Java producer: idempotent unless turned off, or unless acks is not "all".
    idempotent: idempotentInput ? Boolean(idempotentInput.value) : defaults.idempotent && acks === 'all',
    batchSize: batchSizeInput
      ? parseWholeNumber(batchSizeInput.value, batchSizeInput.label, 1, 100_000)
      : defaults.batchSize,
    lingerMs: lingerInput ? parseLinger(String(lingerInput.value), lingerInput.label) : defaults.lingerMs,
    deliveryTimeoutMs: deliveryTimeoutInput
      ? parseDeliveryTimeout(String(deliveryTimeoutInput.value), deliveryTimeoutInput.label)
      : defaults.deliveryTimeoutMs,
  };
  if (kafka.deliveryTimeoutMs <= kafka.lingerMs) {
    throw invalidFlag(
      `${deliveryTimeoutInput?.label ?? '--delivery-timeout'} (${kafka.deliveryTimeoutMs}ms) must be longer than --linger (${kafka.lingerMs}ms)`,
      'Give records more time, e.g. --delivery-timeout 120s, or a shorter --linger',
    );
  }
  if (kafka.idempotent && kafka.acks !== 'all') {
    throw invalidFlag(
      `--idempotent needs --acks all, got --acks ${kafka.acks}`,
      'Drop --idempotent, or use --acks all',
    );
  }

  const { workers, shard } = resolveSharding(
    flags,
    sink,
    seedInput !== undefined,
    startInput !== undefined,
    context,
  );

  return {
    players,
    startRate,
    stages,
    rateDescription,
    rateGivenAsTotal,
    durationMs,
    events,
    regions,
    seed,
    seedGiven: seedInput !== undefined,
    sink,
    out,
    brokers,
    topic,
    startTimeMs,
    disorder,
    manifestPath: flags.manifest,
    pace: flags.pace ?? SIMULATE_DEFAULTS.pace,
    maxInFlight,
    kafka,
    scenario: context.scenarioName,
    workers,
    shard,
  };
}

/**
 * --workers and --shard (flags only: they describe the machine, not the traffic). The default is a
 * thread per core (at most DEFAULT_MAX_WORKERS), except for stdout and file sinks, which default to
 * one thread so the output keeps its byte-for-byte order; more threads write the same lines, in an
 * order that depends on timing. A shard is only a part of the stream if every shard draws the same
 * stream: the seed and the event-time start must be given, not picked per machine.
 */
function resolveSharding(
  flags: SimulateInput,
  sink: SinkKind,
  seedGiven: boolean,
  startTimeGiven: boolean,
  context: ResolveContext,
): { workers: number; shard: ShardSpec | undefined } {
  let workers: number;
  if (flags.workers !== undefined) {
    workers = parseWholeNumber(flags.workers, '--workers', 1, MAX_WORKERS);
  } else if (sink === 'stdout' || sink === 'file') {
    workers = 1;
  } else {
    workers = Math.max(1, Math.min(DEFAULT_MAX_WORKERS, Math.floor(context.cores ?? 1)));
  }
  if (flags.shard === undefined) return { workers, shard: undefined };
  const shard = parseShard(String(flags.shard), '--shard');
  if (!seedGiven) {
    throw invalidFlag(
      '--shard needs --seed: every shard must draw from the same seed to be a part of one stream',
      `Add the same --seed to every shard, e.g. --seed 42 --shard ${shard.index}/${shard.count}`,
    );
  }
  if (!startTimeGiven) {
    throw invalidFlag(
      '--shard needs --start-time: every shard must start at the same event time (the default, now, differs between machines)',
      'Add the same --start-time to every shard, e.g. --start-time 2026-11-21T20:00:00Z',
    );
  }
  return { workers, shard };
}

// --- parsers, each with its message ------------------------------------------------------------------

function parseLinger(text: string, label: string): number {
  const ms = parseDurationMs(text.trim());
  if (ms === undefined || ms > 10_000) {
    throw invalidFlag(`${label} must be a duration from 0ms to 10s like 5ms, got '${text}'`);
  }
  return ms;
}

const MAX_DELIVERY_TIMEOUT_MS = 24 * 3_600_000;

function parseDeliveryTimeout(text: string, label: string): number {
  const ms = parseDurationMs(text.trim());
  if (ms === undefined || ms < 1000 || ms > MAX_DELIVERY_TIMEOUT_MS) {
    throw invalidFlag(
      `${label} must be a duration from 1s to 24h like 120s or 2m, got '${text}'`,
      "Use the default 120s (as Kafka's producer does), or a duration such as 30s or 5m",
    );
  }
  return ms;
}

function rateFormMessage(label: string, text: string): string {
  return `${label} must be a duration like 10ms or a rate like 5000/s, got '${text}'`;
}

export function parseWholeNumber(value: unknown, label: string, min: number, max: number): number {
  const text = String(value).trim();
  const number = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    const range = max === MAX_EVENTS ? `${min} or more` : `from ${min} to ${max}`;
    throw invalidFlag(`${label} must be a whole number ${range}, got '${text}'`);
  }
  return number;
}

export function parseFraction(value: unknown, label: string): number {
  const text = String(value).trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  const number = percent
    ? Number(percent[1]) / 100
    : /^(\d+(?:\.\d*)?|\.\d+)(e-?\d+)?$/i.test(text)
      ? Number(text)
      : Number.NaN;
  if (!(number >= 0 && number <= 1)) {
    throw invalidFlag(
      `${label} must be a fraction from 0 to 1 like 0.01 (or a percentage like 1%), got '${text}'`,
    );
  }
  return number;
}

export function parsePositiveDuration(value: unknown, label: string, example: string): number {
  const text = String(value).trim();
  const ms = parseDurationMs(text);
  if (ms === undefined) throw invalidFlag(`${label} must be a duration ${example}, got '${text}'`);
  if (!(ms > 0) || ms > MAX_DURATION_MS) {
    throw invalidFlag(`${label} must be above zero and at most 30 days, got '${text}'`);
  }
  return ms;
}

export function parseRegions(value: string | string[], label: string): RegionCode[] {
  const parts = (Array.isArray(value) ? value : String(value).split(',')).map((r) => r.trim().toUpperCase());
  const form = `a comma-separated list of ${REGION_CODES.join(', ')} like NA,EU,ASIA`;
  if (parts.length === 0 || parts.some((p) => p === ''))
    throw invalidFlag(`${label} must be ${form}, got '${value}'`);
  const regions: RegionCode[] = [];
  for (const part of parts) {
    if (!(REGION_CODES as readonly string[]).includes(part)) {
      throw invalidFlag(`${label} must be ${form}; '${part}' is not a region`);
    }
    if (regions.includes(part as RegionCode))
      throw invalidFlag(`${label} lists ${part} twice, got '${value}'`);
    regions.push(part as RegionCode);
  }
  return regions;
}

/** "30s:1000/s,2m:20000/s,30s:0/s" — each stage ramps linearly to its rate over its duration. */
export function parseStages(value: string | string[], label: string, players: number): RampStage[] {
  const parts = Array.isArray(value) ? value : String(value).split(',');
  const form = 'a comma-separated list of duration:rate like 30s:1000/s,2m:20000/s,30s:0/s';
  if (parts.length === 0 || parts.every((p) => p.trim() === ''))
    throw invalidFlag(`${label} must be ${form}, got '${value}'`);
  return parts.map((part, index) => {
    const [durationText, rateText, ...rest] = part.trim().split(':');
    const where = `${label} stage ${index + 1} ('${part.trim()}')`;
    if (durationText === undefined || rateText === undefined || rest.length > 0) {
      throw invalidFlag(`${label} must be ${form}; ${where} is not duration:rate`);
    }
    const durationMs = parseDurationMs(durationText);
    if (durationMs === undefined || !(durationMs > 0)) {
      throw invalidFlag(`${label} must be ${form}; ${where} needs a duration above zero like 30s`);
    }
    const spec = parseRateSpec(rateText);
    if (!spec)
      throw invalidFlag(
        `${label} must be ${form}; ${where} needs a rate like 5000/s or a duration like 10ms`,
      );
    if (spec.kind === 'per-player-gap' && !(spec.gapMs > 0)) {
      throw invalidFlag(`${label}: ${where} has a per-player gap of zero; use 0/s to stop`);
    }
    const targetRate = totalRate(spec, players);
    if (targetRate > MAX_RATE)
      throw invalidFlag(`${label}: ${where} exceeds ${MAX_RATE}/s in total (${targetRate}/s)`);
    return { durationMs, targetRate };
  });
}

export function parseLateBy(text: string, label: string): { min: number; max: number } {
  const form = 'a duration range like 2m..15m (or one duration like 5m)';
  const [lowText, highText, ...rest] = text.trim().split('..');
  const min = lowText === undefined ? undefined : parseDurationMs(lowText);
  const max = highText === undefined ? min : parseDurationMs(highText);
  if (rest.length > 0 || min === undefined || max === undefined)
    throw invalidFlag(`${label} must be ${form}, got '${text}'`);
  if (!(min > 0)) throw invalidFlag(`${label} must start above zero, got '${text}'`);
  if (min > max) throw invalidFlag(`${label} must go from the shorter to the longer duration, got '${text}'`);
  if (max > 7 * 86_400_000) throw invalidFlag(`${label} must be at most 7 days, got '${text}'`);
  return { min, max };
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})$/;
const LOCAL_TIME = /^([01]?\d|2[0-3]):([0-5]\d)@([A-Za-z]+)$/;

/**
 * An ISO-8601 instant with a zone ("2026-11-21T20:00:00Z"), or a local time in a region ("20:00@EU":
 * the latest such moment at or before now, in the region's standard time).
 */
export function parseStartTime(text: string, label: string, nowMs: number): number {
  const trimmed = text.trim();
  const form = 'an ISO-8601 time with a zone like 2026-11-21T20:00:00Z, or a local time like 20:00@EU';
  if (ISO_WITH_ZONE.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (Number.isFinite(ms) && ms >= 0 && ms < Date.UTC(10000, 0, 1)) return ms;
  }
  const local = LOCAL_TIME.exec(trimmed);
  if (local) {
    const region = (local[3] as string).toUpperCase();
    if (!(REGION_CODES as readonly string[]).includes(region)) {
      throw invalidFlag(
        `${label} names an unknown region '${local[3]}'; use one of ${REGION_CODES.join(', ')}, e.g. 20:00@EU`,
      );
    }
    const day = 86_400_000;
    const offsetMs = REGION_PROFILES[region as RegionCode].utcOffsetHours * 3_600_000;
    const localNow = nowMs + offsetMs;
    let candidate =
      Math.floor(localNow / day) * day + Number(local[1]) * 3_600_000 + Number(local[2]) * 60_000 - offsetMs;
    if (candidate > nowMs) candidate -= day;
    return candidate;
  }
  throw invalidFlag(`${label} must be ${form}, got '${text}'`);
}

export function parseBrokers(text: string, label: string): string[] {
  return parseSharedBrokers(text, label);
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
