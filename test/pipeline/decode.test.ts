import { describe, expect, it } from 'vitest';
import { DECODE_FAILURE_KINDS, decodeEvent, isoTimestampMs } from '../../src/pipeline/decode.js';
import { fingerprint64 } from '../../src/pipeline/fingerprint.js';
import type { DecodeResult } from '../../src/pipeline/types.js';
import { corruptEvent, MALFORMED_KINDS, type MalformedKind } from '../../src/simulators/malformed.js';
import { Sfc32 } from '../../src/simulators/prng.js';
import { generateAll, NO_DISORDER, text } from '../simulators/helpers.js';

const PURCHASE = {
  schema: 1,
  event_id: '0b4a5f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
  event_type: 'item_purchase',
  ts: '2026-11-21T20:00:00.123Z',
  player_id: 'p-000123',
  username: 'NightOwl',
  region: 'EU',
  country: 'DE',
  platform: 'pc',
  session_id: 's-1',
  item_id: 'i-1',
  item_name: 'Golden Skin',
  category: 'cosmetic',
  price_usd: 9.99,
};

const LEVEL_UP = {
  schema: 1,
  event_id: 'f0e1d2c3-b4a5-4968-8776-655443322110',
  event_type: 'level_up',
  ts: '2026-11-21T20:00:01.000Z',
  player_id: 'p-000124',
  username: 'Dawn',
  region: 'ASIA',
  country: 'JP',
  platform: 'switch',
  session_id: 's-2',
  level: 7,
};

function record(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function without(event: Record<string, unknown>, field: string): Record<string, unknown> {
  const copy = { ...event };
  delete copy[field];
  return copy;
}

function failureOf(result: DecodeResult): { kind: string; reason: string } {
  if (result.ok) throw new Error(`expected a failure, decoded ${JSON.stringify(result.event)}`);
  return result.failure;
}

describe('decodeEvent', () => {
  it('decodes a valid purchase', () => {
    const result = decodeEvent(record(PURCHASE));
    expect(result).toEqual({
      ok: true,
      event: {
        tsMs: Date.parse('2026-11-21T20:00:00.123Z'),
        region: 'EU',
        eventType: 'item_purchase',
        playerId: 'p-000123',
        eventHi: fingerprint64(PURCHASE.event_id).hi,
        eventLo: fingerprint64(PURCHASE.event_id).lo,
        playerHi: fingerprint64('p-000123').hi,
        playerLo: fingerprint64('p-000123').lo,
        priceCents: 999,
      },
    });
  });

  it('counts price in whole cents, exactly for two-decimal prices that binary floats miss', () => {
    // 4.35 * 100 is 434.99999999999994 and 0.29 * 100 is 28.999999999999996 in doubles.
    for (const [price, cents] of [
      [4.35, 435],
      [0.29, 29],
      [1.15, 115],
      [99.99, 9999],
      [0, 0],
      [120, 12000],
      [0.015, 2],
    ] as const) {
      const result = decodeEvent(record({ ...PURCHASE, price_usd: price }));
      expect(result.ok && result.event.priceCents, `${price}`).toBe(cents);
    }
  });

  it('gives priceCents 0 for other event types, even with a price_usd field', () => {
    const result = decodeEvent(record({ ...LEVEL_UP, price_usd: 5 }));
    expect(result.ok && result.event.priceCents).toBe(0);
    const plain = decodeEvent(record(LEVEL_UP));
    expect(plain.ok && plain.event).toMatchObject({ eventType: 'level_up', region: 'ASIA', priceCents: 0 });
  });

  it('accepts a string value and non-ASCII UTF-8 text', () => {
    const result = decodeEvent(JSON.stringify({ ...LEVEL_UP, username: 'Zoë 🎮' }));
    expect(result.ok).toBe(true);
    const bytes = decodeEvent(record({ ...LEVEL_UP, username: 'Zoë 🎮' }));
    expect(bytes.ok).toBe(true);
  });

  it('accepts real edge dates: leap days, end of year, midnight', () => {
    for (const ts of [
      '2028-02-29T00:00:00.000Z',
      '2000-02-29T23:59:59.999Z',
      '2026-12-31T23:59:59.999Z',
      '2026-01-01T00:00:00.000Z',
      '2026-04-30T12:00:00.000Z',
    ]) {
      const result = decodeEvent(record({ ...LEVEL_UP, ts }));
      expect(result.ok && result.event.tsMs, ts).toBe(Date.parse(ts));
    }
  });

  // Parser messages are V8's and change between Node versions: matched loosely.
  const table: Array<[string, Buffer | string | null | undefined, string, string | RegExp]> = [
    ['null value (tombstone)', null, 'empty', 'the record has no value'],
    ['undefined value', undefined, 'empty', 'the record has no value'],
    ['zero bytes', Buffer.alloc(0), 'empty', 'the record has no value'],
    [
      'invalid UTF-8',
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      'invalid_utf8',
      'the value is not valid UTF-8 (4 bytes)',
    ],
    [
      'lone continuation byte',
      Buffer.from([0x22, 0x80, 0x22]),
      'invalid_utf8',
      'the value is not valid UTF-8 (3 bytes)',
    ],
    [
      'truncated JSON',
      '{"schema":1,"event_id":"0b4a',
      'invalid_json',
      /^not JSON: .*(Unterminated string|end of JSON)/,
    ],
    ['form-encoded body', 'event_id=1&player_id=2', 'invalid_json', /^not JSON: Unexpected token/],
    ['a number', '42', 'schema', 'must be object (got 42)'],
    ['an array', '[1,2]', 'schema', 'must be object (got [1,2])'],
    ['JSON null', 'null', 'schema', 'must be object (got null)'],
    [
      'unknown region',
      record({ ...PURCHASE, region: 'MARS' }),
      'schema',
      '/region must be equal to one of the allowed values (got "MARS")',
    ],
    [
      'unknown event type',
      record({ ...PURCHASE, event_type: 'player_dance' }),
      'schema',
      '/event_type must be equal to one of the allowed values (got "player_dance")',
    ],
    ['missing ts', record(without(PURCHASE, 'ts')), 'schema', "must have required property 'ts'"],
    [
      'missing per-type field',
      record(without(PURCHASE, 'price_usd')),
      'schema',
      "must have required property 'price_usd'",
    ],
    [
      'schema version 2',
      record({ ...PURCHASE, schema: 2 }),
      'schema',
      '/schema must be equal to constant 1 (got 2)',
    ],
    [
      'schema as a string',
      record({ ...PURCHASE, schema: '1' }),
      'schema',
      '/schema must be equal to constant 1 (got "1")',
    ],
    [
      'ts without ms and zone',
      record({ ...PURCHASE, ts: '2026-11-21 20:00:00' }),
      'schema',
      '/ts must match format "date-time" (got "2026-11-21 20:00:00")',
    ],
    [
      'ts as epoch ms',
      record({ ...PURCHASE, ts: 1795291200123 }),
      'schema',
      '/ts must be string (got 1795291200123)',
    ],
    [
      'ts on 30 February',
      record({ ...PURCHASE, ts: '2026-02-30T12:00:00.000Z' }),
      'bad_timestamp',
      '/ts is not a calendar date (got "2026-02-30T12:00:00.000Z")',
    ],
    [
      'ts on 29 February of a common year',
      record({ ...PURCHASE, ts: '2100-02-29T12:00:00.000Z' }),
      'bad_timestamp',
      '/ts is not a calendar date (got "2100-02-29T12:00:00.000Z")',
    ],
    [
      'ts on 31 April',
      record({ ...PURCHASE, ts: '2026-04-31T00:00:00.000Z' }),
      'bad_timestamp',
      '/ts is not a calendar date (got "2026-04-31T00:00:00.000Z")',
    ],
    [
      'ts hour 24',
      record({ ...PURCHASE, ts: '2026-11-21T24:00:00.000Z' }),
      'schema',
      '/ts must match format "date-time" (got "2026-11-21T24:00:00.000Z")',
    ],
    [
      'unexpected field',
      record({ ...PURCHASE, cheat_mode: true }),
      'schema',
      'must NOT have additional properties (got "cheat_mode")',
    ],
    [
      'negative price',
      record({ ...PURCHASE, price_usd: -9.99 }),
      'schema',
      '/price_usd must be >= 0 (got -9.99)',
    ],
    [
      'price as a string',
      record({ ...PURCHASE, price_usd: '9.99' }),
      'schema',
      '/price_usd must be number (got "9.99")',
    ],
    [
      'price overflowing to Infinity',
      JSON.stringify(PURCHASE).replace('9.99', '1e400'),
      'schema',
      '/price_usd must be number (got Infinity)',
    ],
    [
      'price beyond exact cents',
      record({ ...PURCHASE, price_usd: 1e300 }),
      'bad_price',
      '/price_usd is too large to count in cents (got 1e+300)',
    ],
    ['level 0', record({ ...LEVEL_UP, level: 0 }), 'schema', '/level must be >= 1 (got 0)'],
    [
      'fractional xp',
      record({
        ...LEVEL_UP,
        event_type: 'enemy_defeated',
        enemy_type: 'orc',
        weapon: 'axe',
        xp: 1.5,
        level: undefined,
      }),
      'schema',
      '/xp must be integer (got 1.5)',
    ],
    [
      'player_id as a number',
      record({ ...PURCHASE, player_id: 123 }),
      'schema',
      '/player_id must be string (got 123)',
    ],
    [
      'region as an array',
      record({ ...PURCHASE, region: ['EU'] }),
      'schema',
      '/region must be string (got ["EU"])',
    ],
    [
      'event_id not a UUID',
      record({ ...PURCHASE, event_id: 'not-a-uuid' }),
      'schema',
      '/event_id must match format "uuid" (got "not-a-uuid")',
    ],
    [
      'lower-case country',
      record({ ...PURCHASE, country: 'de' }),
      'schema',
      '/country must match pattern "^[A-Z]{2}$" (got "de")',
    ],
    [
      'empty username',
      record({ ...PURCHASE, username: '' }),
      'schema',
      '/username must NOT have fewer than 1 characters (got "")',
    ],
    [
      'long value, cut short',
      record({ ...PURCHASE, region: 'X'.repeat(200) }),
      'schema',
      `/region must be equal to one of the allowed values (got "${'X'.repeat(78)}…)`,
    ],
  ];

  it.each(table)('rejects %s', (_name, value, kind, reason) => {
    const failure = failureOf(decodeEvent(value));
    expect(failure.kind).toBe(kind);
    if (typeof reason === 'string') expect(failure.reason).toBe(reason);
    else expect(failure.reason).toMatch(reason);
  });

  it('uses only the documented failure kinds', () => {
    for (const [, value] of table) {
      expect(DECODE_FAILURE_KINDS).toContain(failureOf(decodeEvent(value)).kind);
    }
  });

  describe('against the simulator', () => {
    const valid = generateAll({ events: 5000, regions: ['NA', 'EU', 'ASIA', 'SA', 'OCE'] }).records.map(text);

    it('decodes every generated event, with fields matching its JSON', () => {
      let purchases = 0;
      const types = new Set<string>();
      for (const json of valid) {
        const result = decodeEvent(Buffer.from(json, 'utf8'));
        if (!result.ok) throw new Error(`${result.failure.kind}: ${result.failure.reason} in ${json}`);
        const source = JSON.parse(json) as Record<string, unknown>;
        const { event } = result;
        const eventId = fingerprint64(source.event_id as string);
        const playerId = fingerprint64(source.player_id as string);
        // Cents from the decimal text itself, not from a float.
        const price = /"price_usd":(\d+)\.(\d{2})[,}]/.exec(json);
        const expected = {
          tsMs: Date.parse(source.ts as string),
          region: source.region,
          eventType: source.event_type,
          playerId: source.player_id,
          eventHi: eventId.hi,
          eventLo: eventId.lo,
          playerHi: playerId.hi,
          playerLo: playerId.lo,
          priceCents: price ? Number(price[1]) * 100 + Number(price[2]) : 0,
        };
        if (JSON.stringify(event) !== JSON.stringify(expected)) expect(event).toEqual(expected);
        if (source.event_type === 'item_purchase') {
          expect(price).not.toBeNull();
          purchases++;
        }
        types.add(event.eventType);
      }
      expect(purchases).toBeGreaterThan(0);
      expect(types.size).toBe(7);
    });

    it('rejects every malformed kind, with a reason', () => {
      const rng = new Sfc32(11);
      const expectedKind: Record<MalformedKind, string> = {
        truncated_json: 'invalid_json',
        not_json: 'invalid_json',
        binary_garbage: 'invalid_utf8',
        empty: 'empty',
        wrong_type: 'schema',
        missing_field: 'schema',
        unknown_enum: 'schema',
        bad_timestamp: 'schema',
        negative_value: 'schema',
        unexpected_field: 'schema',
        wrong_schema_version: 'schema',
      };
      const seen = new Map<MalformedKind, number>();
      for (const json of valid) {
        const { kind, value } = corruptEvent(json, rng);
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
        const result = decodeEvent(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
        if (result.ok) throw new Error(`${kind} was accepted: ${String(value)}`);
        if (result.failure.kind !== expectedKind[kind] || result.failure.reason.length === 0) {
          expect({ kind, failure: result.failure, value: String(value) }).toEqual({
            kind,
            failure: expectedKind[kind],
          });
        }
      }
      expect([...seen.keys()].sort()).toEqual([...MALFORMED_KINDS].sort());
      for (const count of seen.values()) expect(count).toBeGreaterThan(100);
    });

    it('rejects exactly the records the generator corrupted, and decodes the rest (duplicates and late events too)', () => {
      const { records, generator } = generateAll({
        events: 20_000,
        disorder: { ...NO_DISORDER, late: 0.02, duplicates: 0.02, malformed: 0.03, outOfOrder: 0.02 },
      });
      let rejected = 0;
      for (const r of records) {
        const result = decodeEvent(typeof r.value === 'string' ? Buffer.from(r.value, 'utf8') : r.value);
        if (!result.ok) rejected++;
      }
      const stats = generator.stats();
      expect(stats.malformed).toBeGreaterThan(0);
      expect(rejected).toBe(stats.malformed);
    });
  });
});

describe('isoTimestampMs', () => {
  it('agrees with Date.parse on real dates from year 0000 to 9999', () => {
    const rng = new Sfc32(21);
    const lo = Date.parse('0000-01-01T00:00:00.000Z');
    const hi = Date.parse('9999-12-31T23:59:59.999Z');
    let wrong = 0;
    for (let i = 0; i < 20_000; i++) {
      const ms = lo + Math.floor(rng.float() * (hi - lo));
      const iso = new Date(ms).toISOString();
      if (isoTimestampMs(iso) !== ms) wrong++;
    }
    expect(wrong).toBe(0);
    // Two-digit years are years, not 19xx (the Date.UTC trap).
    expect(isoTimestampMs('0050-06-01T00:00:00.000Z')).toBe(Date.parse('0050-06-01T00:00:00.000Z'));
  });

  it('is NaN for days a month does not have', () => {
    expect(isoTimestampMs('2026-02-29T00:00:00.000Z')).toBeNaN();
    expect(isoTimestampMs('1900-02-29T00:00:00.000Z')).toBeNaN();
    expect(isoTimestampMs('2026-06-31T00:00:00.000Z')).toBeNaN();
    expect(isoTimestampMs('2024-02-29T00:00:00.000Z')).toBe(Date.parse('2024-02-29T00:00:00.000Z'));
  });
});
