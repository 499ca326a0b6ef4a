import { describe, expect, it } from 'vitest';
import { FragmentStore } from '../../src/simulators/encoding.js';
import { RESEND_WINDOW_MS, TrafficGenerator } from '../../src/simulators/generator.js';
import { EVENT_TYPES } from '../../src/simulators/manifest.js';
import {
  PLATFORMS,
  REGION_PROFILES,
  type RegionCode,
  regionActivityAt,
  splitPlayers,
} from '../../src/simulators/regions.js';
import type { SinkRecord } from '../../src/simulators/sinks/types.js';
import { isValidRecord, validateRecord } from './event-schema.js';
import { EVENING_EU, generateAll, NO_DISORDER, parse, simulateOptions, streamHash, text } from './helpers.js';

const DISORDER = {
  late: 0.02,
  lateByMs: { min: 120_000, max: 900_000 },
  duplicates: 0.01,
  malformed: 0.005,
  outOfOrder: 0.02,
};

describe('determinism', () => {
  it('gives byte-identical streams for the same seed and options, whatever the batch sizes', () => {
    const options = simulateOptions({ events: 20_000, disorder: DISORDER });
    const first = generateAll(options).records;
    const second = generateAll(options).records;
    expect(streamHash(second)).toBe(streamHash(first));
    expect(second.map((r) => r.key)).toEqual(first.map((r) => r.key));

    const oneByOne = new TrafficGenerator(options);
    const records: SinkRecord[] = [];
    while (!oneByOne.done) oneByOne.fill(records, Number.POSITIVE_INFINITY, 1 + (records.length % 7));
    expect(streamHash(records)).toBe(streamHash(first));
  });

  it('gives a different stream for a different seed', () => {
    expect(streamHash(generateAll({ seed: 1, events: 2000 }).records)).not.toBe(
      streamHash(generateAll({ seed: 2, events: 2000 }).records),
    );
  });

  it('takes content only from the seed and schedule: the same records arrive when taken by time slices', () => {
    const options = simulateOptions({ events: 5000, startRate: 1000 });
    const reference = generateAll(options).records;
    const sliced = new TrafficGenerator(options);
    const records: SinkRecord[] = [];
    for (let until = 0; !sliced.done; until += 37) sliced.fill(records, until, 100);
    expect(streamHash(records)).toBe(streamHash(reference));
  });
});

describe('events', () => {
  const { records, generator } = generateAll({ events: 50_000, players: 2000 });
  const events = records.map(parse);

  it('all validate against templates/schema/event.schema.json', () => {
    for (const record of records) expect(validateRecord(record.value)).toEqual([]);
  });

  it('are keyed by player_id and carry their intended send time in headers, not in the payload', () => {
    generator.anchor(0, 'run-1');
    for (const [i, record] of records.entries()) {
      expect(record.key).toBe(events[i]?.player_id);
      expect(Object.keys(events[i] ?? {})).not.toContain('run_id');
    }
    const fresh = new TrafficGenerator(simulateOptions({ events: 3 }));
    fresh.anchor(1_700_000_000_000, 'run-7');
    const out: SinkRecord[] = [];
    fresh.fill(out, Number.POSITIVE_INFINITY, 3);
    for (const record of out) {
      expect(record.headers['gapipe-run-id']).toBe('run-7');
      expect(Number(record.headers['gapipe-intended-ts'])).toBe(Math.round(record.intendedMs));
      expect(record.intendedMs).toBeGreaterThanOrEqual(1_700_000_000_000);
    }
  });

  it('have unique event ids and an event time equal to the intended time from the start', () => {
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    for (const [i, record] of records.entries()) {
      expect(Date.parse(String(events[i]?.ts))).toBe(Math.floor(EVENING_EU + record.intendedMs));
    }
  });

  it('follow the session state machine per player', () => {
    type State = 'offline' | 'lobby' | 'match';
    const players = new Map<string, { state: State; session: string; match?: string }>();
    for (const event of events) {
      const id = String(event.player_id);
      const type = String(event.event_type);
      const current = players.get(id);
      if (type === 'player_join') {
        if (current) expect(current.state, `${id} joins while ${current.state}`).toBe('offline');
        if (current) expect(event.session_id, 'a new session id').not.toBe(current.session);
        players.set(id, { state: 'lobby', session: String(event.session_id) });
        continue;
      }
      if (!current) continue; // started the run mid-session
      expect(event.session_id, `${id} ${type} in its session`).toBe(current.session);
      switch (type) {
        case 'match_start':
          expect(current.state).toBe('lobby');
          current.state = 'match';
          current.match = String(event.match_id);
          break;
        case 'enemy_defeated':
          expect(current.state).toBe('match');
          break;
        case 'match_end':
          expect(current.state).toBe('match');
          expect(event.match_id).toBe(current.match);
          current.state = 'lobby';
          break;
        case 'player_leave':
          expect(current.state).toBe('lobby');
          current.state = 'offline';
          break;
        default:
          expect(['item_purchase', 'level_up']).toContain(type);
          expect(current.state).not.toBe('offline');
      }
    }
    // Players come back: some have more than one session in the run.
    const sessions = new Set(events.filter((e) => e.event_type === 'player_join').map((e) => e.session_id));
    const rejoined = [...sessions].filter((s) => !String(s).endsWith('-0001'));
    expect(rejoined.length).toBeGreaterThan(0);
  });
});

describe('large player counts', () => {
  it('stay valid and deterministic when per-player views are not cached', () => {
    const options = { players: FragmentStore.VIEW_LIMIT + 5000, events: 5000 };
    const { records } = generateAll(options);
    for (const record of records) expect(validateRecord(record.value)).toEqual([]);
    for (const record of records) expect(parse(record).player_id).toBe(record.key);
    expect(new Set(records.map((r) => r.key)).size).toBeGreaterThan(4500);
    expect(records[0]?.key).toMatch(/^p-\d{6}$/);
    expect(streamHash(generateAll(options).records)).toBe(streamHash(records));
  });
});

describe('distributions (large N, within tolerance)', () => {
  const { records, generator } = generateAll({ events: 200_000, players: 20_000 });
  const events = records.map(parse);
  const count = (predicate: (e: Record<string, unknown>) => boolean) => events.filter(predicate).length;

  it('has a game-like event-type mix', () => {
    const share = (type: string) => count((e) => e.event_type === type) / events.length;
    expect(share('enemy_defeated')).toBeGreaterThan(0.7);
    expect(share('enemy_defeated')).toBeLessThan(0.9);
    expect(share('match_start')).toBeGreaterThan(0.03);
    expect(share('match_start')).toBeLessThan(0.1);
    // Every end has a start (or began before the run); the difference is what is still open.
    const open = (start: string, end: string) =>
      count((e) => e.event_type === start) - count((e) => e.event_type === end);
    const players = new Set(events.map((e) => e.player_id)).size;
    expect(Math.abs(open('match_start', 'match_end'))).toBeLessThanOrEqual(players);
    expect(Math.abs(open('player_join', 'player_leave'))).toBeLessThanOrEqual(players);
    expect(share('player_leave')).toBeGreaterThan(0.01);
    expect(share('player_join')).toBeGreaterThan(0.01);
    expect(share('level_up')).toBeGreaterThan(0.005);
    expect(share('level_up')).toBeLessThan(0.06);
    expect(share('item_purchase')).toBeGreaterThan(0.0005);
    expect(share('item_purchase')).toBeLessThan(0.01);
    const stats = generator.stats();
    for (const type of EVENT_TYPES) expect(stats.byType[type]).toBe(count((e) => e.event_type === type));
  });

  it('splits events over regions by players × local activity curve', () => {
    const regions: RegionCode[] = ['NA', 'EU', 'ASIA'];
    const players = splitPlayers(20_000, regions);
    const weights = regions.map(
      (r, i) => (players[i] as number) * regionActivityAt(REGION_PROFILES[r], EVENING_EU),
    );
    const total = weights.reduce((a, b) => a + b, 0);
    for (const [i, region] of regions.entries()) {
      const share = count((e) => e.region === region) / events.length;
      expect(share, region).toBeCloseTo((weights[i] as number) / total, 2);
    }
    // 20:00Z is 21:00 in EU and 04:00 in ASIA.
    expect(count((e) => e.region === 'EU')).toBeGreaterThan(count((e) => e.region === 'NA'));
    expect(count((e) => e.region === 'NA')).toBeGreaterThan(count((e) => e.region === 'ASIA'));
  });

  it('is busiest in ASIA at 20:00 ASIA time', () => {
    const asiaEvening = Date.parse('2026-11-21T12:00:00Z');
    const sample = generateAll({ events: 20_000, startTimeMs: asiaEvening }).records.map(parse);
    const by = (region: string) => sample.filter((e) => e.region === region).length;
    expect(by('ASIA')).toBeGreaterThan(by('EU'));
    expect(by('ASIA')).toBeGreaterThan(by('NA'));
  });

  it('gives each region its platform mix and its own countries', () => {
    const firstSeen = new Map<string, Record<string, unknown>>();
    for (const e of events) if (!firstSeen.has(String(e.player_id))) firstSeen.set(String(e.player_id), e);
    for (const region of ['NA', 'EU'] as const) {
      const profile = REGION_PROFILES[region];
      const people = [...firstSeen.values()].filter((e) => e.region === region);
      expect(people.length).toBeGreaterThan(2000);
      for (const [i, platform] of PLATFORMS.entries()) {
        const share = people.filter((e) => e.platform === platform).length / people.length;
        expect(Math.abs(share - (profile.platformMix[i] as number)), `${region} ${platform}`).toBeLessThan(
          0.03,
        );
      }
      const countries = new Set(profile.countries.map(([code]) => code));
      for (const e of people) expect(countries.has(String(e.country))).toBe(true);
    }
  });

  it('has heavy-tailed spend: most players never pay, a few whales bring much of the revenue', () => {
    const spendByPlayer = new Map<string, number>();
    const active = new Set<string>();
    for (const e of events) {
      active.add(String(e.player_id));
      if (e.event_type === 'item_purchase') {
        spendByPlayer.set(
          String(e.player_id),
          (spendByPlayer.get(String(e.player_id)) ?? 0) + Number(e.price_usd),
        );
      }
    }
    const payers = spendByPlayer.size / active.size;
    expect(payers).toBeGreaterThan(0.01);
    expect(payers).toBeLessThan(0.12);
    const spends = [...spendByPlayer.values()].sort((a, b) => b - a);
    const revenue = spends.reduce((a, b) => a + b, 0);
    const topPercentOfActive = Math.ceil(active.size * 0.01);
    const whaleRevenue = spends.slice(0, topPercentOfActive).reduce((a, b) => a + b, 0);
    expect(whaleRevenue / revenue).toBeGreaterThan(0.4);
    // Prices are store price points, from $0.99 to $99.99.
    const prices = new Set(events.filter((e) => e.event_type === 'item_purchase').map((e) => e.price_usd));
    for (const price of prices) expect([0.99, 1.99, 4.99, 9.99, 19.99, 49.99, 99.99]).toContain(price);
    expect(prices.size).toBeGreaterThanOrEqual(5);
  });
});

describe('disorder at the configured rates', () => {
  const n = 100_000;
  const { records, generator } = generateAll({ events: n, players: 5000, disorder: DISORDER });
  const stats = generator.stats();
  const valid = records.map((r) => isValidRecord(r.value));

  it('produces exactly --events records', () => {
    expect(records).toHaveLength(n);
    expect(stats.records).toBe(n);
  });

  it('injects each kind within tolerance of its rate', () => {
    const within = (actual: number, rate: number, of: number) => {
      const expected = rate * of;
      expect(Math.abs(actual - expected)).toBeLessThan(5 * Math.sqrt(expected) + 5);
    };
    within(stats.duplicates, DISORDER.duplicates, n);
    within(stats.malformed, DISORDER.malformed, n);
    within(stats.outOfOrder, DISORDER.outOfOrder, n);
    // Late applies to fresh events, i.e. records that are not duplicates, malformed or held back.
    within(
      stats.late,
      DISORDER.late,
      n * (1 - DISORDER.duplicates - DISORDER.malformed - DISORDER.outOfOrder),
    );
  });

  it('sends malformed records that never validate, with variety', () => {
    const invalid = records.filter((_, i) => !valid[i]);
    expect(invalid).toHaveLength(stats.malformed);
    const shapes = new Set(
      invalid.map((r) => {
        const value = text(r);
        if (value === '') return 'empty';
        try {
          JSON.parse(value);
          return 'json';
        } catch {
          return value.startsWith('{') ? 'truncated' : 'not-json';
        }
      }),
    );
    expect(shapes).toEqual(new Set(['empty', 'json', 'truncated', 'not-json']));
    for (const r of invalid) expect(typeof r.key).toBe('string');
  });

  it('duplicates repeat an earlier record byte for byte, with the same key', () => {
    const seen = new Map<string, { value: string; key: string }>();
    let duplicates = 0;
    for (const [i, record] of records.entries()) {
      if (!valid[i]) continue;
      const value = text(record);
      const id = String(JSON.parse(value).event_id);
      const earlier = seen.get(id);
      if (earlier) {
        duplicates++;
        expect(earlier).toEqual({ value, key: record.key });
      } else {
        seen.set(id, { value, key: record.key });
      }
    }
    expect(duplicates).toBe(stats.duplicates);
  });

  it('re-sends a copy with the same player’s next record, within the re-send window, never a late event', () => {
    const lastByPlayer = new Map<string, { value: string; intendedMs: number }>();
    let copies = 0;
    for (const [i, record] of records.entries()) {
      const value = text(record);
      const previous = lastByPlayer.get(record.key);
      if (valid[i] && previous?.value === value) {
        copies++;
        expect(record.intendedMs - previous.intendedMs).toBeLessThanOrEqual(RESEND_WINDOW_MS);
        const lagMs = Math.floor(EVENING_EU + record.intendedMs) - Date.parse(String(parse(record).ts));
        expect(lagMs).toBeLessThan(DISORDER.lateByMs.min);
      }
      lastByPlayer.set(record.key, { value, intendedMs: record.intendedMs });
    }
    expect(copies).toBe(stats.duplicates);
  });

  it('sends late events with event time behind the send time by the --late-by range', () => {
    let late = 0;
    let maxOutOfOrderLag = 0;
    for (const [i, record] of records.entries()) {
      if (!valid[i]) continue;
      const lagMs = Math.floor(EVENING_EU + record.intendedMs) - Date.parse(String(parse(record).ts));
      if (lagMs >= DISORDER.lateByMs.min) {
        late++;
        expect(lagMs).toBeLessThanOrEqual(DISORDER.lateByMs.max + 1);
      } else {
        maxOutOfOrderLag = Math.max(maxOutOfOrderLag, lagMs);
      }
    }
    // Duplicates of late events are late too.
    expect(late).toBeGreaterThanOrEqual(stats.late);
    expect(late).toBeLessThan(stats.late * 1.1 + 10);
    expect(maxOutOfOrderLag).toBeLessThan(60_000);
  });

  it('sends out-of-order events after events that happened later', () => {
    let maxTs = Number.NEGATIVE_INFINITY;
    let behind = 0;
    for (const [i, record] of records.entries()) {
      if (!valid[i]) continue;
      const event = parse(record);
      const ts = Date.parse(String(event.ts));
      const lagMs = Math.floor(EVENING_EU + record.intendedMs) - ts;
      if (lagMs < DISORDER.lateByMs.min && ts < maxTs) behind++;
      if (lagMs < DISORDER.lateByMs.min) maxTs = Math.max(maxTs, ts);
    }
    expect(behind).toBeGreaterThan(stats.outOfOrder * 0.5);
  });

  it('leaves the stream untouched when all rates are zero', () => {
    const clean = generateAll({ events: 5000, disorder: NO_DISORDER }).generator.stats();
    expect([clean.late, clean.duplicates, clean.malformed, clean.outOfOrder]).toEqual([0, 0, 0, 0]);
  });
});

describe('run bounds and schedules', () => {
  it('stops at --duration: every intended time is inside it, out-of-order events included', () => {
    const { records } = generateAll({
      events: undefined,
      durationMs: 2000,
      startRate: 5000,
      disorder: { ...NO_DISORDER, outOfOrder: 0.2 },
    });
    expect(Math.abs(records.length - 10_000)).toBeLessThan(600);
    for (const record of records) expect(record.intendedMs).toBeLessThan(2000);
    const ids = records.map((r) => String(parse(r).event_id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('ends when the stages reach 0/s for good', () => {
    const { records } = generateAll({
      events: undefined,
      durationMs: undefined,
      startRate: 0,
      stages: [
        { durationMs: 1000, targetRate: 4000 },
        { durationMs: 1000, targetRate: 0 },
      ],
    });
    expect(Math.abs(records.length - 4000)).toBeLessThan(5 * Math.sqrt(4000));
    expect((records.at(-1) as SinkRecord).intendedMs).toBeLessThan(2000);
  });
});
