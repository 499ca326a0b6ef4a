import { describe, expect, it } from 'vitest';
import { decodeEvent, decodeEventFull, scanValidEvent } from '../../src/pipeline/decode.js';
import { fingerprintAsciiInto, fingerprintInto } from '../../src/pipeline/fingerprint.js';
import type { DecodeResult } from '../../src/pipeline/types.js';
import { corruptEvent } from '../../src/simulators/malformed.js';
import { Sfc32 } from '../../src/simulators/prng.js';
import { generateAll, NO_DISORDER, text } from '../simulators/helpers.js';

const generated = generateAll({
  events: 4000,
  players: 300,
  regions: ['NA', 'EU', 'ASIA', 'SA', 'OCE'],
}).records.map(text);

/** How many records the fast path decided (the rest it handed to the full path). */
let fastDecided = 0;

/** The fast path either passes or gives exactly the full path's result; decodeEvent always does. */
function expectAgreement(value: Buffer): void {
  const full: DecodeResult = decodeEventFull(value);
  const fast = scanValidEvent(value);
  if (fast !== undefined) {
    fastDecided++;
    if (!Object.is(JSON.stringify(fast), JSON.stringify(full)) || !full.ok) {
      throw new Error(
        `fast path ${JSON.stringify(fast)} but full path ${JSON.stringify(full)} for ${JSON.stringify(value.toString('latin1'))}`,
      );
    }
    expect(fast).toStrictEqual(full);
  }
  expect(decodeEvent(value)).toStrictEqual(full);
}

/** Values the schema treats specially, for any field. */
const ODD_VALUES: unknown[] = [
  '',
  'x',
  'é',
  '😀',
  'a\u0000b',
  'tab\there',
  'quote"inside',
  'back\\slash',
  'x'.repeat(32),
  'x'.repeat(33),
  'x'.repeat(64),
  'x'.repeat(65),
  'é'.repeat(64),
  'é'.repeat(65),
  '😀'.repeat(64),
  '😀'.repeat(65),
  'x'.repeat(128),
  'x'.repeat(129),
  0,
  -0,
  1,
  -1,
  0.5,
  1.5,
  9.99,
  4.35,
  1e21,
  1e-7,
  123456789012345,
  1234567890123456,
  0.1234567890123456,
  90071992547409.94,
  9007199254740994,
  Number.MAX_SAFE_INTEGER,
  true,
  false,
  null,
  [],
  {},
  ['NA'],
  { a: 1 },
  'NA',
  'EU',
  'MARS',
  'na',
  'pc',
  'win',
  'DE',
  'de',
  'DEU',
  'item_purchase',
  'level_up',
  'player_join',
  'match_end',
  'enemy_defeated',
  '2026-02-28T12:00:00.000Z',
  '2026-02-29T12:00:00.000Z',
  '2024-02-29T12:00:00.000Z',
  '2026-04-31T00:00:00.000Z',
  '2026-12-31T23:59:59.999Z',
  '2026-11-21T24:00:00.000Z',
  '2026-11-21T20:00:00Z',
  '2026-11-21T20:00:00.000+00:00',
  '0b4a5f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
  '0B4A5F3E-1C2D-4E5F-8A9B-0C1D2E3F4A5B',
  '0b4a5f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5',
  '0b4a5f3e_1c2d-4e5f-8a9b-0c1d2e3f4a5b',
];

/** Number spellings that JSON.stringify never writes. */
const NUMBER_TEXT = [
  '1.0',
  '1e0',
  '1E2',
  '0.0',
  '-0',
  '-0.0',
  '00',
  '01',
  '1.',
  '.5',
  '9.990',
  '9.99e0',
  '1e400',
  '0.1000000000000000055511151231257827',
  '123456789012345.6',
  '12345678901234.56',
  '4.35',
  '0.000000000000001',
  '99999999999999.99',
  '999999999999999',
  '9999999999999999',
  '+1',
  'NaN',
  'Infinity',
  '0x10',
];

const FIELDS = [
  'schema',
  'event_id',
  'event_type',
  'ts',
  'player_id',
  'username',
  'region',
  'country',
  'platform',
  'session_id',
  'client_version',
  'session_length_s',
  'match_id',
  'mode',
  'result',
  'duration_s',
  'enemy_type',
  'weapon',
  'xp',
  'level',
  'item_id',
  'item_name',
  'category',
  'price_usd',
  'extra',
  '__proto__',
];

/** Bytes worth splicing in: structure, whitespace, escapes, high bytes, broken UTF-8. */
const ODD_BYTES = [
  0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x20, 0x09, 0x0a, 0x0d, 0x00, 0x7f, 0x30, 0x39, 0x2d, 0x2e,
  0x65, 0x41, 0x80, 0xbf, 0xc0, 0xc3, 0xa9, 0xe2, 0xed, 0xa0, 0xf0, 0xf4, 0x90, 0xff,
];

function pick<T>(rng: Sfc32, list: readonly T[]): T {
  return list[rng.int(list.length)] as T;
}

/** One random change to a record's text (as bytes). */
function mutateBytes(json: string, rng: Sfc32): Buffer {
  const bytes = [...Buffer.from(json, 'utf8')];
  const changes = 1 + rng.int(3);
  for (let n = 0; n < changes; n++) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(5)) {
      case 0:
        bytes.splice(at, 1);
        break;
      case 1:
        bytes.splice(at, 0, pick(rng, ODD_BYTES));
        break;
      case 2:
        bytes[Math.min(at, bytes.length - 1)] = pick(rng, ODD_BYTES);
        break;
      case 3:
        bytes[Math.min(at, bytes.length - 1)] = rng.int(256);
        break;
      default: {
        // Swap two bytes (digits of a date, letters of a name).
        const other = rng.int(bytes.length);
        const i = Math.min(at, bytes.length - 1);
        [bytes[i], bytes[other]] = [bytes[other] as number, bytes[i] as number];
      }
    }
  }
  return Buffer.from(bytes);
}

/** One random change at the level of fields: values, spellings, keys, order, whitespace. */
function mutateFields(json: string, rng: Sfc32): Buffer {
  const event = JSON.parse(json) as Record<string, unknown>;
  let entries = Object.entries(event);
  switch (rng.int(6)) {
    case 0: {
      const i = rng.int(entries.length);
      entries[i] = [entries[i]?.[0] as string, pick(rng, ODD_VALUES)];
      break;
    }
    case 1:
      entries.splice(rng.int(entries.length), 1);
      break;
    case 2:
      entries.push([pick(rng, FIELDS), pick(rng, ODD_VALUES)]);
      break;
    case 3:
      entries = entries.reverse();
      break;
    case 4: {
      // A number field spelled differently (raw text), or a duplicate key.
      const i = rng.int(entries.length);
      const key = entries[i]?.[0] as string;
      const raw = rng.chance(0.5) ? pick(rng, NUMBER_TEXT) : JSON.stringify(pick(rng, ODD_VALUES));
      const body = entries.map(([k, v]) => `${JSON.stringify(k)}:${k === key ? raw : JSON.stringify(v)}`);
      if (rng.chance(0.3)) body.push(`${JSON.stringify(key)}:${JSON.stringify(entries[i]?.[1])}`);
      return Buffer.from(`{${body.join(',')}}`, 'utf8');
    }
    default: {
      const space = pick(rng, [' ', '\n', '\t', '\r\n', '  ']);
      const body = entries.map(([k, v]) => `${JSON.stringify(k)}${space}:${space}${JSON.stringify(v)}`);
      return Buffer.from(`${space}{${space}${body.join(`${space},${space}`)}${space}}${space}`, 'utf8');
    }
  }
  return Buffer.from(JSON.stringify(Object.fromEntries(entries)), 'utf8');
}

describe('the fast path of decodeEvent', () => {
  it('decides every generated event, exactly as the full path does', () => {
    fastDecided = 0;
    for (const json of generated) expectAgreement(Buffer.from(json, 'utf8'));
    expect(fastDecided).toBe(generated.length);
  });

  it('agrees with the full path on simulator traffic with every kind of disorder', () => {
    const { records } = generateAll({
      events: 4000,
      players: 300,
      regions: ['NA', 'EU', 'ASIA', 'SA', 'OCE'],
      seed: 9,
      disorder: { ...NO_DISORDER, malformed: 0.2, duplicates: 0.05, late: 0.05, outOfOrder: 0.05 },
    });
    let failures = 0;
    for (const record of records) {
      const value = typeof record.value === 'string' ? Buffer.from(record.value, 'utf8') : record.value;
      expectAgreement(value);
      if (!decodeEventFull(value).ok) failures++;
    }
    expect(failures).toBeGreaterThan(200);
  });

  it('agrees with the full path on byte-level mutations of generated events', () => {
    const rng = new Sfc32(11);
    let valid = 0;
    for (let n = 0; n < 15_000; n++) {
      const value = mutateBytes(pick(rng, generated), rng);
      expectAgreement(value);
      if (decodeEventFull(value).ok) valid++;
    }
    // Some mutations keep the event valid (a changed username letter, a swapped digit of a price).
    expect(valid).toBeGreaterThan(300);
  });

  it('agrees with the full path on field-level mutations of generated events', () => {
    const rng = new Sfc32(12);
    fastDecided = 0;
    let valid = 0;
    for (let n = 0; n < 15_000; n++) {
      const value = mutateFields(pick(rng, generated), rng);
      expectAgreement(value);
      if (decodeEventFull(value).ok) valid++;
    }
    expect(valid).toBeGreaterThan(2000);
    expect(fastDecided).toBeGreaterThan(valid / 2);
  });

  it('agrees with the full path on the corruptions the simulator sends', () => {
    const rng = new Sfc32(13);
    for (let n = 0; n < 5000; n++) {
      const { value } = corruptEvent(pick(rng, generated), rng);
      expectAgreement(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
    }
  });

  it('reads non-ASCII strings as the full path does, counting code points for the length limits', () => {
    const base = JSON.parse(generated[0] as string) as Record<string, unknown>;
    for (const value of ['é', 'ü'.repeat(64), '😀'.repeat(64), '😀'.repeat(65), '日本語', 'a\u2028b']) {
      for (const field of ['username', 'player_id', 'session_id']) {
        expectAgreement(Buffer.from(JSON.stringify({ ...base, [field]: value }), 'utf8'));
      }
    }
    const withEmoji = Buffer.from(JSON.stringify({ ...base, player_id: 'p-😀' }), 'utf8');
    const decoded = decodeEvent(withEmoji);
    expect(decoded.ok && decoded.event.playerId).toBe('p-😀');
  });
});

describe('fingerprintAsciiInto', () => {
  it('equals fingerprintInto of the same text, for every length', () => {
    const rng = new Sfc32(5);
    const fromBytes = { hi: 0, lo: 0 };
    const fromText = { hi: 0, lo: 0 };
    for (let length = 0; length < 80; length++) {
      for (let n = 0; n < 20; n++) {
        let textValue = '';
        for (let i = 0; i < length; i++) textValue += String.fromCharCode(rng.int(128));
        const bytes = Buffer.from(`xy${textValue}z`, 'latin1');
        fingerprintAsciiInto(bytes, 2, 2 + length, fromBytes);
        fingerprintInto(textValue, fromText);
        expect(fromBytes).toEqual(fromText);
      }
    }
  });
});
