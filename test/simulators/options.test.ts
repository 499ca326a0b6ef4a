import { describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import {
  parseDurationMs,
  parseRateSpec,
  parseStages,
  resolveSimulateOptions,
  SIMULATE_DEFAULTS,
  type SimulateInput,
} from '../../src/simulators/options.js';

const NOW = Date.parse('2026-11-21T15:30:00Z');
const context = { nowMs: NOW, fallbackSeed: 1234 };

function resolve(flags: SimulateInput, scenario: SimulateInput = {}, scenarioName?: string) {
  return resolveSimulateOptions(flags, scenario, { ...context, scenarioName });
}

function errorOf(flags: SimulateInput, scenario: SimulateInput = {}, scenarioName?: string): GapipeError {
  try {
    resolve(flags, scenario, scenarioName);
  } catch (error) {
    expect(error).toBeInstanceOf(GapipeError);
    return error as GapipeError;
  }
  throw new Error(`expected ${JSON.stringify(flags)} to be rejected`);
}

describe('parsing single values', () => {
  it.each([
    ['10ms', 10],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    [' 60s ', 60_000],
  ])('duration %s = %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['10', '', 'ms', '10 ms', '10sec', '-5s', '5s10'])('rejects duration %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it('reads a rate as a per-player gap or a total', () => {
    expect(parseRateSpec('10ms')).toEqual({ kind: 'per-player-gap', gapMs: 10 });
    expect(parseRateSpec('5000/s')).toEqual({ kind: 'total', perSecond: 5000 });
    expect(parseRateSpec('2k/s')).toEqual({ kind: 'total', perSecond: 2000 });
    expect(parseRateSpec('600/m')).toEqual({ kind: 'total', perSecond: 10 });
    expect(parseRateSpec('10')).toBeUndefined();
    expect(parseRateSpec('5000/sec')).toBeUndefined();
  });

  it('turns stage rates given as per-player gaps into totals', () => {
    expect(parseStages('30s:1000/s,2m:10ms', '--stages', 500)).toEqual([
      { durationMs: 30_000, targetRate: 1000 },
      { durationMs: 120_000, targetRate: 50_000 },
    ]);
  });
});

describe('resolveSimulateOptions', () => {
  it('has documented defaults', () => {
    const options = resolve({});
    expect(options).toMatchObject({
      players: 1000,
      startRate: 1000,
      stages: [],
      durationMs: 60_000,
      events: undefined,
      regions: ['NA', 'EU', 'ASIA'],
      seed: 1234,
      seedGiven: false,
      sink: 'kafka',
      brokers: ['127.0.0.1:9092'],
      topic: 'game-events',
      startTimeMs: NOW,
      pace: true,
      maxInFlight: SIMULATE_DEFAULTS.maxInFlight,
    });
    expect(options.disorder).toEqual({
      late: 0,
      lateByMs: { min: 120_000, max: 900_000 },
      duplicates: 0,
      malformed: 0,
      outOfOrder: 0,
    });
  });

  it('reads --rate as a duration per player: 1000 players at 10ms target 100,000 events/s', () => {
    expect(resolve({ players: '1000', rate: '10ms' }).startRate).toBe(100_000);
    expect(resolve({ players: '1000', rate: '5000/s' }).startRate).toBe(5000);
  });

  it('knows whether the rate was given as a total (the banner then shows the one figure)', () => {
    expect(resolve({ rate: '5000/s' })).toMatchObject({ rateGivenAsTotal: true });
    expect(resolve({ rate: '10ms' })).toMatchObject({
      rateGivenAsTotal: false,
      rateDescription: 'one event every 10ms per player',
    });
    expect(resolve({})).toMatchObject({ rateGivenAsTotal: false });
  });

  it('bounds the run by --events, --duration or the stages', () => {
    expect(resolve({ events: '1000' })).toMatchObject({ events: 1000, durationMs: undefined });
    expect(resolve({ duration: '2m' })).toMatchObject({ events: undefined, durationMs: 120_000 });
    const staged = resolve({ stages: '30s:1000/s,2m:20000/s,30s:0/s' });
    expect(staged).toMatchObject({ startRate: 0, durationMs: 180_000 });
    expect(staged.stages).toHaveLength(3);
    expect(resolve({ stages: '30s:1000/s', rate: '200/s', duration: '10s' })).toMatchObject({
      startRate: 200,
      durationMs: 10_000,
    });
  });

  it('parses the rest of the flags', () => {
    const options = resolve({
      regions: 'eu, oce',
      seed: '4294967295',
      sink: 'file',
      out: 'events.ndjson',
      brokers: 'a:9092,b.example:19092',
      topic: 'events.v1',
      startTime: '2026-11-21T20:00:00.250+01:00',
      late: '0.01',
      lateBy: '2m..15m',
      duplicates: '0.1%',
      malformed: '1e-4',
      outOfOrder: '0.05',
      manifest: 'truth.json',
      pace: false,
      maxInFlight: '5000',
    });
    expect(options).toMatchObject({
      regions: ['EU', 'OCE'],
      seed: 4_294_967_295,
      seedGiven: true,
      sink: 'file',
      out: 'events.ndjson',
      brokers: ['a:9092', 'b.example:19092'],
      topic: 'events.v1',
      startTimeMs: Date.parse('2026-11-21T19:00:00.250Z'),
      manifestPath: 'truth.json',
      pace: false,
      maxInFlight: 5000,
    });
    expect(options.disorder).toEqual({
      late: 0.01,
      lateByMs: { min: 120_000, max: 900_000 },
      duplicates: 0.001,
      malformed: 0.0001,
      outOfOrder: 0.05,
    });
  });

  it('takes --out alone to mean --sink file', () => {
    expect(resolve({ out: 'x.ndjson' })).toMatchObject({ sink: 'file', out: 'x.ndjson' });
  });

  it('reads a local start time in a region: the latest such moment at or before now', () => {
    // Now is 15:30Z = 16:30 in EU (UTC+1): 20:00@EU was yesterday at 19:00Z, 16:00@EU today at 15:00Z.
    expect(resolve({ startTime: '20:00@EU' }).startTimeMs).toBe(Date.parse('2026-11-20T19:00:00Z'));
    expect(resolve({ startTime: '16:00@eu' }).startTimeMs).toBe(Date.parse('2026-11-21T15:00:00Z'));
    expect(resolve({ startTime: '20:00@ASIA' }).startTimeMs).toBe(Date.parse('2026-11-21T12:00:00Z'));
  });

  it('lets flags override a scenario, and a flag bound replaces the scenario bound', () => {
    const scenario: SimulateInput = { players: 500, rate: '1s', duration: '10m', late: 0.5, regions: ['NA'] };
    const options = resolve({ rate: '100/s', events: '50' }, scenario, 'steady');
    expect(options).toMatchObject({
      players: 500,
      startRate: 100,
      events: 50,
      durationMs: undefined,
      regions: ['NA'],
      scenario: 'steady',
    });
    expect(options.disorder.late).toBe(0.5);
  });
});

describe('flag errors name the flag and the allowed form', () => {
  it.each<[SimulateInput, string]>([
    [{ rate: '10' }, "--rate must be a duration like 10ms or a rate like 5000/s, got '10'"],
    [{ rate: 'fast' }, "--rate must be a duration like 10ms or a rate like 5000/s, got 'fast'"],
    [{ rate: '0ms' }, "--rate must be above zero, got '0ms'"],
    [{ rate: '0/s' }, "--rate must be above zero, got '0/s'"],
    [{ rate: '20000000/s' }, '--rate must give at most 10000000/s in total'],
    [{ players: 'many' }, "--players must be a whole number from 1 to 10000000, got 'many'"],
    [{ players: '0' }, "--players must be a whole number from 1 to 10000000, got '0'"],
    [{ players: '1.5' }, "--players must be a whole number from 1 to 10000000, got '1.5'"],
    [{ players: '2' }, "--players must be at least the number of regions (3: NA, EU, ASIA), got '2'"],
    [{ duration: '60' }, "--duration must be a duration like 60s, 2m or 1h30m, got '60'"],
    [{ duration: '0s' }, "--duration must be above zero and at most 30 days, got '0s'"],
    [{ events: '-1' }, "--events must be a whole number 1 or more, got '-1'"],
    [{ events: '1e6' }, "--events must be a whole number 1 or more, got '1e6'"],
    [{ duration: '1m', events: '10' }, '--duration and --events cannot be combined; give one of them'],
    [
      { regions: 'NA,MARS' },
      "--regions must be a comma-separated list of NA, EU, ASIA, SA, OCE like NA,EU,ASIA; 'MARS' is not a region",
    ],
    [
      { regions: 'NA,,EU' },
      '--regions must be a comma-separated list of NA, EU, ASIA, SA, OCE like NA,EU,ASIA, got',
    ],
    [{ regions: 'NA,na' }, "--regions lists NA twice, got 'NA,na'"],
    [{ seed: 'abc' }, "--seed must be a whole number from 0 to 4294967295, got 'abc'"],
    [{ seed: '4294967296' }, "--seed must be a whole number from 0 to 4294967295, got '4294967296'"],
    [{ sink: 'kinesis' }, "--sink must be one of kafka, stdout, file, null, got 'kinesis'"],
    [{ sink: 'file' }, '--sink file needs --out FILE, the file to write the events to'],
    [{ sink: 'stdout', out: 'x' }, '--out applies only to --sink file, but --sink is stdout'],
    [
      { brokers: 'localhost' },
      "--brokers must be a comma-separated list of host:port like 127.0.0.1:9092 or [::1]:9092 (ports 1–65535), got 'localhost'",
    ],
    [{ brokers: 'a:99999' }, '--brokers must be a comma-separated list of host:port'],
    [{ topic: 'bad topic' }, "--topic must be 1-200 of a-z A-Z 0-9 . _ -, got 'bad topic'"],
    [
      { stages: '30s' },
      "--stages must be a comma-separated list of duration:rate like 30s:1000/s,2m:20000/s,30s:0/s; --stages stage 1 ('30s') is not duration:rate",
    ],
    [{ stages: '30s:1000/s,x:5/s' }, "--stages stage 2 ('x:5/s') needs a duration above zero like 30s"],
    [
      { stages: '30s:lots' },
      "--stages stage 1 ('30s:lots') needs a rate like 5000/s or a duration like 10ms",
    ],
    [{ stages: '' }, '--stages must be a comma-separated list of duration:rate'],
    [
      { startTime: 'yesterday' },
      "--start-time must be an ISO-8601 time with a zone like 2026-11-21T20:00:00Z, or a local time like 20:00@EU, got 'yesterday'",
    ],
    [{ startTime: '2026-11-21T20:00:00' }, '--start-time must be an ISO-8601 time with a zone'],
    [{ startTime: '20:00@MOON' }, "--start-time names an unknown region 'MOON'"],
    [{ late: '2' }, "--late must be a fraction from 0 to 1 like 0.01 (or a percentage like 1%), got '2'"],
    [
      { late: 'some' },
      "--late must be a fraction from 0 to 1 like 0.01 (or a percentage like 1%), got 'some'",
    ],
    [
      { duplicates: '-0.1' },
      "--duplicates must be a fraction from 0 to 1 like 0.01 (or a percentage like 1%), got '-0.1'",
    ],
    [
      { malformed: '150%' },
      "--malformed must be a fraction from 0 to 1 like 0.01 (or a percentage like 1%), got '150%'",
    ],
    [
      { outOfOrder: 'x' },
      "--out-of-order must be a fraction from 0 to 1 like 0.01 (or a percentage like 1%), got 'x'",
    ],
    [
      { duplicates: '0.6', outOfOrder: '0.6' },
      '--duplicates, --malformed and --out-of-order add up to 1.2; together they must be at most 1',
    ],
    [
      { lateBy: '2m' + '..' },
      "--late-by must be a duration range like 2m..15m (or one duration like 5m), got '2m..'",
    ],
    [{ lateBy: '15m..2m' }, "--late-by must go from the shorter to the longer duration, got '15m..2m'"],
    [{ lateBy: '0s..1m' }, "--late-by must start above zero, got '0s..1m'"],
    [
      { lateBy: 'soon' },
      "--late-by must be a duration range like 2m..15m (or one duration like 5m), got 'soon'",
    ],
    [{ maxInFlight: '0' }, "--max-in-flight must be a whole number from 1 to 10000000, got '0'"],
  ])('%j', (flags, message) => {
    const error = errorOf(flags);
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(message);
  });

  it('names the scenario key when the bad value comes from a scenario', () => {
    const error = errorOf({}, { rate: '10' }, 'evening-peak');
    expect(error.message).toBe(
      `"rate" in scenario evening-peak must be a duration like 10ms or a rate like 5000/s, got '10'`,
    );
    expect(errorOf({}, { duration: '1m', events: 5 }, 'x.json').message).toContain(
      '"duration" in scenario x.json and "events" in scenario x.json cannot be combined',
    );
  });
});
