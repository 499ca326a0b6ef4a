/**
 * The consumer's first step: one Kafka record value → a `DecodedEvent`, or a `DecodeFailure` whose
 * kind and reason go to the dead-letter topic. Never throws for a record, whatever its bytes.
 *
 * Checks, in order (the first that fails decides the kind):
 *   empty          no value, or zero bytes
 *   invalid_utf8   bytes that are not UTF-8
 *   invalid_json   JSON.parse fails (reason: the parser's message)
 *   schema         not valid against templates/schema/event.schema.json (reason: the first error —
 *                  where, what, and the offending value)
 *   bad_timestamp  `ts` has the right shape but is not a calendar date (2026-02-30T…)
 *   bad_price      `price_usd` too large to count exactly in cents (beyond 2⁵³ cents)
 *
 * The schema is compiled once, on first use, by ajv (draft 2020-12) with allErrors off, so
 * validation stops at the first error. `format` is not checked by ajv: every `format` in the schema
 * sits next to a `pattern` that pins the same shape, and the calendar check below covers what the
 * pattern cannot. See bench/decode.ts for the throughput.
 *
 * Fast path: most records are valid, and for them the full path's work (UTF-8 check and conversion
 * of the whole value, JSON.parse into an object, ajv) is mostly spent on fields the aggregation never
 * reads. `scanValidEvent` reads the bytes once and checks every rule of the schema itself; it answers
 * only when it is sure the record is valid and would decode to the same event. Anything else —
 * any failure, escapes in strings, exponents, more than 15 significant digits, duplicate keys,
 * negative numbers — goes to the full path, which alone writes failure reasons. So the dead-letter
 * kinds and reasons are the full path's by construction (test/pipeline/decode-fast.test.ts checks
 * that both paths agree on generated and mutated records).
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { templatePath } from '../paths.js';
import { type Fingerprint, fingerprintAsciiInto, fingerprintInto } from './fingerprint.js';
import type { DecodedEvent, DecodeResult } from './types.js';

/** Every `DecodeFailure.kind` that `decodeEvent` produces. */
export const DECODE_FAILURE_KINDS = [
  'empty',
  'invalid_utf8',
  'invalid_json',
  'schema',
  'bad_timestamp',
  'bad_price',
] as const;
export type DecodeFailureKind = (typeof DECODE_FAILURE_KINDS)[number];

export const EVENT_SCHEMA_PATH = templatePath('schema/event.schema.json');

/** The fields of a schema-valid event that the aggregation reads. */
interface ValidEvent {
  event_id: string;
  event_type: string;
  ts: string;
  player_id: string;
  region: string;
  price_usd?: number;
}

let compiled: ValidateFunction | undefined;

/**
 * The compiled event schema, compiled on the first call. Call it at start-up to fail fast on a
 * broken install (schema file missing or invalid): that is the only thing that makes decodeEvent throw.
 */
export function eventValidator(): ValidateFunction {
  if (compiled === undefined) {
    const schema = JSON.parse(readFileSync(EVENT_SCHEMA_PATH, 'utf8')) as object;
    const ajv = new Ajv2020({
      allErrors: false,
      validateFormats: false,
      // Puts the offending value (`data`) on each error, for the reason text; only error branches change.
      verbose: true,
    });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

function failure(kind: DecodeFailureKind, reason: string): DecodeResult {
  return { ok: false, failure: { kind, reason } };
}

const MAX_SHOWN = 80;

/** A value as it appears in a reason: JSON, cut short. */
function shown(value: unknown): string {
  // JSON.stringify would show Infinity (a JSON number too large for a double) as null.
  const text =
    value === undefined || (typeof value === 'number' && !Number.isFinite(value))
      ? String(value)
      : JSON.stringify(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

/** A reason from ajv's first error: "<instance path> <message> (got <value>)". */
export function schemaReason(error: ErrorObject): string {
  const where = error.instancePath === '' ? '' : `${error.instancePath} `;
  switch (error.keyword) {
    case 'const':
      return `${where}must be equal to constant ${shown(error.params.allowedValue)} (got ${shown(error.data)})`;
    case 'pattern': {
      const format = (error.parentSchema as { format?: unknown } | undefined)?.format;
      const what = typeof format === 'string' ? `must match format "${format}"` : error.message;
      return `${where}${what} (got ${shown(error.data)})`;
    }
    case 'additionalProperties':
      return `${where}must NOT have additional properties (got ${shown(error.params.additionalProperty)})`;
    default: {
      // The value, unless it is the whole event (required, if/then at the root).
      const data: unknown = error.data;
      const whole = data === undefined || (typeof data === 'object' && data !== null && !Array.isArray(data));
      return whole && error.keyword !== 'type'
        ? `${where}${error.message}`
        : `${where}${error.message} (got ${shown(data)})`;
    }
  }
}

const DIGIT_0 = 48;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) value = value * 10 + (text.charCodeAt(i) - DIGIT_0);
  return value;
}

/**
 * Epoch ms of a timestamp already matching the schema's pattern (YYYY-MM-DDTHH:MM:SS.mmmZ), or NaN
 * if the date does not exist. Date.parse would not do: V8 reads 2026-02-30 as 2 March.
 */
export function isoTimestampMs(ts: string): number {
  return civilMs(
    digits(ts, 0, 4),
    digits(ts, 5, 2),
    digits(ts, 8, 2),
    digits(ts, 11, 2) * 3600 + digits(ts, 14, 2) * 60 + digits(ts, 17, 2),
    digits(ts, 20, 3),
  );
}

/** Epoch ms of a civil UTC date and time of day, or NaN if the day is not in the month. */
function civilMs(year: number, month: number, day: number, seconds: number, ms: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month] as number);
  if (day > monthDays) return Number.NaN;
  // Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  const days = era * 146097 + dayOfEra - 719468;
  return (days * 86400 + seconds) * 1000 + ms;
}

const scratch: Fingerprint = { hi: 0, lo: 0 };

/** Decodes one record value (a Kafka record's value: bytes, or null for a tombstone). */
export function decodeEvent(value: Buffer | string | null | undefined): DecodeResult {
  if (value !== null && value !== undefined && typeof value !== 'string') {
    const fast = scanValidEvent(value);
    if (fast !== undefined) return fast;
  }
  return decodeEventFull(value);
}

/**
 * The full path alone: UTF-8 check, JSON.parse, ajv, then the timestamp and price checks. Exported
 * so that tests can hold the fast path to it.
 */
export function decodeEventFull(value: Buffer | string | null | undefined): DecodeResult {
  if (value === null || value === undefined || value.length === 0) {
    return failure('empty', 'the record has no value');
  }
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else {
    if (!isUtf8(value))
      return failure('invalid_utf8', `the value is not valid UTF-8 (${value.length} bytes)`);
    text = value.toString('utf8');
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return failure('invalid_json', `not JSON: ${(error as Error).message}`);
  }

  const validate = compiled ?? eventValidator();
  if (!validate(parsed)) {
    const first = validate.errors?.[0];
    return failure('schema', first === undefined ? 'does not match the event schema' : schemaReason(first));
  }
  const event = parsed as ValidEvent;

  const tsMs = isoTimestampMs(event.ts);
  if (Number.isNaN(tsMs))
    return failure('bad_timestamp', `/ts is not a calendar date (got ${shown(event.ts)})`);

  let priceCents = 0;
  if (event.event_type === 'item_purchase') {
    priceCents = Math.round((event.price_usd as number) * 100);
    if (!Number.isSafeInteger(priceCents)) {
      return failure(
        'bad_price',
        `/price_usd is too large to count in cents (got ${shown(event.price_usd)})`,
      );
    }
  }

  fingerprintInto(event.event_id, scratch);
  const eventHi = scratch.hi;
  const eventLo = scratch.lo;
  fingerprintInto(event.player_id, scratch);
  const decoded: DecodedEvent = {
    tsMs,
    region: event.region,
    eventType: event.event_type,
    playerId: event.player_id,
    eventHi,
    eventLo,
    playerHi: scratch.hi,
    playerLo: scratch.lo,
    priceCents,
  };
  return { ok: true, event: decoded };
}

// ——— the fast path ———

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const DOT = 0x2e;
const DASH = 0x2d;

// What the schema says about each property, as the scanner checks it.
const K_SCHEMA = 0; // const 1
const K_UUID = 1; // event_id pattern
const K_EVENT_TYPE = 2;
const K_TS = 3; // date-time pattern
const K_STRING = 4; // minLength / maxLength
const K_REGION = 5;
const K_COUNTRY = 6; // ^[A-Z]{2}$
const K_PLATFORM = 7;
const K_RESULT = 8;
const K_NUMBER = 9; // number, minimum 0
const K_INTEGER = 10; // integer, minimum FIELD_MIN

interface FieldRule {
  name: string;
  kind: number;
  min: number;
  max: number;
}

/** Every property of event.schema.json; a record with any other key takes the full path. */
const FIELDS: FieldRule[] = [
  { name: 'schema', kind: K_SCHEMA, min: 0, max: 0 },
  { name: 'event_id', kind: K_UUID, min: 0, max: 0 },
  { name: 'event_type', kind: K_EVENT_TYPE, min: 0, max: 0 },
  { name: 'ts', kind: K_TS, min: 0, max: 0 },
  { name: 'player_id', kind: K_STRING, min: 1, max: 128 },
  { name: 'username', kind: K_STRING, min: 1, max: 64 },
  { name: 'region', kind: K_REGION, min: 0, max: 0 },
  { name: 'country', kind: K_COUNTRY, min: 0, max: 0 },
  { name: 'platform', kind: K_PLATFORM, min: 0, max: 0 },
  { name: 'session_id', kind: K_STRING, min: 1, max: 128 },
  { name: 'client_version', kind: K_STRING, min: 1, max: 32 },
  { name: 'session_length_s', kind: K_NUMBER, min: 0, max: 0 },
  { name: 'match_id', kind: K_STRING, min: 1, max: 128 },
  { name: 'mode', kind: K_STRING, min: 1, max: 64 },
  { name: 'result', kind: K_RESULT, min: 0, max: 0 },
  { name: 'duration_s', kind: K_NUMBER, min: 0, max: 0 },
  { name: 'enemy_type', kind: K_STRING, min: 1, max: 64 },
  { name: 'weapon', kind: K_STRING, min: 1, max: 64 },
  { name: 'xp', kind: K_INTEGER, min: 0, max: 0 },
  { name: 'level', kind: K_INTEGER, min: 1, max: 0 },
  { name: 'item_id', kind: K_STRING, min: 1, max: 128 },
  { name: 'item_name', kind: K_STRING, min: 1, max: 128 },
  { name: 'category', kind: K_STRING, min: 1, max: 64 },
  { name: 'price_usd', kind: K_NUMBER, min: 0, max: 0 },
];
const F_PLAYER_ID = 4;
const F_PRICE = 23;

const bit = (name: string): number => 1 << FIELDS.findIndex((f) => f.name === name);
const bits = (...names: string[]): number => names.reduce((mask, name) => mask | bit(name), 0);
const REQUIRED = bits(
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
);

/** An enum's values as bytes, beside the strings handed out (one shared string per value). */
interface ByteEnum {
  bytes: Uint8Array[];
  values: string[];
}
function byteEnum(values: string[]): ByteEnum {
  return { bytes: values.map((v) => Buffer.from(v, 'latin1')), values };
}
const EVENT_TYPES = byteEnum([
  'player_join',
  'player_leave',
  'match_start',
  'match_end',
  'enemy_defeated',
  'item_purchase',
  'level_up',
]);
/** The schema's if/then: fields each event type requires, in EVENT_TYPES order. */
const REQUIRED_BY_TYPE = [
  bits('client_version'),
  bits('session_length_s'),
  bits('match_id', 'mode'),
  bits('match_id', 'mode', 'result', 'duration_s'),
  bits('enemy_type', 'weapon', 'xp'),
  bits('item_id', 'item_name', 'category', 'price_usd'),
  bits('level'),
];
const ITEM_PURCHASE = 5;
const REGIONS = byteEnum(['NA', 'EU', 'ASIA', 'SA', 'OCE']);
const PLATFORMS = byteEnum(['pc', 'playstation', 'xbox', 'switch', 'ios', 'android']);
const RESULTS = byteEnum(['win', 'loss', 'draw']);

/** Field names as bytes, grouped by length. */
const FIELDS_BY_LENGTH: Array<Array<{ bytes: Uint8Array; index: number }>> = [];
FIELDS.forEach((field, index) => {
  const list = FIELDS_BY_LENGTH[field.name.length] ?? [];
  list.push({ bytes: Buffer.from(field.name, 'latin1'), index });
  FIELDS_BY_LENGTH[field.name.length] = list;
});

function sameBytes(buf: Uint8Array, start: number, end: number, bytes: Uint8Array): boolean {
  if (end - start !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[start + i] !== bytes[i]) return false;
  return true;
}

function fieldIndex(buf: Uint8Array, start: number, end: number): number {
  const candidates = FIELDS_BY_LENGTH[end - start];
  if (candidates === undefined) return -1;
  for (const candidate of candidates) if (sameBytes(buf, start, end, candidate.bytes)) return candidate.index;
  return -1;
}

function enumIndex(buf: Uint8Array, start: number, end: number, values: ByteEnum): number {
  const all = values.bytes;
  for (let i = 0; i < all.length; i++) if (sameBytes(buf, start, end, all[i] as Uint8Array)) return i;
  return -1;
}

function skipWhitespace(buf: Uint8Array, start: number): number {
  let i = start;
  for (;;) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66));
}

/** The UUID pattern of event_id. */
function isUuid(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = buf[start + i];
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== DASH) return false;
    } else if (!isHex(c)) return false;
  }
  return true;
}

function twoDigits(buf: Uint8Array, at: number): number {
  const a = buf[at];
  const b = buf[at + 1];
  return isDigit(a) && isDigit(b) ? ((a as number) - DIGIT_0) * 10 + ((b as number) - DIGIT_0) : -1;
}

/**
 * Epoch ms of `ts` if it matches the schema's pattern (YYYY-MM-DDTHH:MM:SS.mmmZ) and is a calendar
 * date; NaN otherwise (the full path then says which).
 */
function timestampMs(buf: Uint8Array, start: number, end: number): number {
  if (end - start !== 24) return Number.NaN;
  const s = start;
  const century = twoDigits(buf, s);
  const yy = twoDigits(buf, s + 2);
  const month = twoDigits(buf, s + 5);
  const day = twoDigits(buf, s + 8);
  const hour = twoDigits(buf, s + 11);
  const minute = twoDigits(buf, s + 14);
  const second = twoDigits(buf, s + 17);
  const msHigh = twoDigits(buf, s + 20);
  const msLow = buf[s + 22];
  if (
    century < 0 ||
    yy < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 31 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59 ||
    msHigh < 0 ||
    !isDigit(msLow) ||
    buf[s + 4] !== DASH ||
    buf[s + 7] !== DASH ||
    buf[s + 10] !== 0x54 || // T
    buf[s + 13] !== COLON ||
    buf[s + 16] !== COLON ||
    buf[s + 19] !== DOT ||
    buf[s + 23] !== 0x5a // Z
  ) {
    return Number.NaN;
  }
  return civilMs(
    century * 100 + yy,
    month,
    day,
    hour * 3600 + minute * 60 + second,
    msHigh * 10 + ((msLow as number) - DIGIT_0),
  );
}

/** 10^k exactly, for k ≤ 22. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);
const MAX_FAST_DIGITS = 15;

// Scanner outputs, reused (the scanner is synchronous and not re-entrant).
let scannedEnd = 0;
let scannedNumber = 0;
let scannedIsInteger = false;
let scannedCodePoints = 0;
let scannedAscii = true;

/**
 * A JSON number at `start` without sign or exponent and with at most 15 significant digits: its
 * value then is digits / 10^fraction, two exact doubles whose quotient IEEE rounds correctly — the
 * same double JSON.parse gives. False for anything else.
 */
function scanNumber(buf: Uint8Array, start: number): boolean {
  let i = start;
  let mantissa = 0;
  let significant = 0;
  let fraction = 0;
  let c = buf[i];
  if (c === DIGIT_0) {
    i++;
    if (isDigit(buf[i])) return false; // a leading zero is not JSON
  } else if (isDigit(c)) {
    for (c = buf[i]; isDigit(c); c = buf[i]) {
      mantissa = mantissa * 10 + ((c as number) - DIGIT_0);
      significant++;
      i++;
    }
  } else return false;
  if (buf[i] === DOT) {
    i++;
    if (!isDigit(buf[i])) return false;
    for (c = buf[i]; isDigit(c); c = buf[i]) {
      mantissa = mantissa * 10 + ((c as number) - DIGIT_0);
      significant++;
      fraction++;
      i++;
    }
  }
  const next = buf[i];
  if (next === 0x65 || next === 0x45 || significant > MAX_FAST_DIGITS) return false;
  scannedNumber = fraction === 0 ? mantissa : mantissa / (POWERS_OF_TEN[fraction] as number);
  scannedIsInteger = fraction === 0;
  scannedEnd = i;
  return true;
}

/**
 * A JSON string starting after its opening quote, without escapes or control characters, in valid
 * UTF-8: sets scannedEnd (the closing quote), scannedCodePoints (what minLength counts) and
 * scannedAscii. False for anything else.
 */
function scanString(buf: Uint8Array, start: number): boolean {
  let i = start;
  let codePoints = 0;
  let ascii = true;
  for (;;) {
    const c = buf[i];
    if (c === undefined) return false;
    if (c === QUOTE) break;
    if (c < 0x80) {
      if (c === BACKSLASH || c < 0x20) return false;
      i++;
    } else {
      // One well-formed UTF-8 sequence (no overlongs, surrogates or code points past U+10FFFF).
      ascii = false;
      const b1 = buf[i + 1] ?? 0;
      if (c >= 0xc2 && c <= 0xdf) {
        if ((b1 & 0xc0) !== 0x80) return false;
        i += 2;
      } else if (c >= 0xe0 && c <= 0xef) {
        const b2 = buf[i + 2] ?? 0;
        const low = c === 0xe0 ? 0xa0 : 0x80;
        const high = c === 0xed ? 0x9f : 0xbf;
        if (b1 < low || b1 > high || (b2 & 0xc0) !== 0x80) return false;
        i += 3;
      } else if (c >= 0xf0 && c <= 0xf4) {
        const b2 = buf[i + 2] ?? 0;
        const b3 = buf[i + 3] ?? 0;
        const low = c === 0xf0 ? 0x90 : 0x80;
        const high = c === 0xf4 ? 0x8f : 0xbf;
        if (b1 < low || b1 > high || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return false;
        i += 4;
      } else return false;
    }
    codePoints++;
  }
  scannedEnd = i;
  scannedCodePoints = codePoints;
  scannedAscii = ascii;
  return true;
}

const fastScratch: Fingerprint = { hi: 0, lo: 0 };

/**
 * The fast path: the decoded event when `value` is certainly a valid event (then `decodeEventFull`
 * returns the same), undefined when the full path must decide.
 */
export function scanValidEvent(value: Buffer): DecodeResult | undefined {
  const buf = value;
  let i = skipWhitespace(buf, 0);
  if (buf[i] !== OPEN_BRACE) return undefined;
  i = skipWhitespace(buf, i + 1);
  let seen = 0;
  let eventIdStart = 0;
  let playerStart = 0;
  let playerEnd = 0;
  let playerAscii = true;
  let eventType = -1;
  let region = -1;
  let tsMs = Number.NaN;
  let price = 0;
  for (;;) {
    if (buf[i] !== QUOTE) return undefined;
    const keyStart = i + 1;
    let keyEnd = keyStart;
    for (;;) {
      const c = buf[keyEnd];
      if (c === QUOTE) break;
      // Only the schema's names are accepted, all plain ASCII; anything else decides nothing here.
      if (c === undefined || c === BACKSLASH || c < 0x20 || c >= 0x80) return undefined;
      keyEnd++;
    }
    const field = fieldIndex(buf, keyStart, keyEnd);
    if (field < 0) return undefined;
    const fieldBit = 1 << field;
    // JSON.parse keeps the last of duplicate keys: the full path sorts that out.
    if ((seen & fieldBit) !== 0) return undefined;
    seen |= fieldBit;
    i = skipWhitespace(buf, keyEnd + 1);
    if (buf[i] !== COLON) return undefined;
    i = skipWhitespace(buf, i + 1);
    const rule = FIELDS[field] as FieldRule;
    const kind = rule.kind;
    if (kind === K_SCHEMA || kind === K_NUMBER || kind === K_INTEGER) {
      if (!scanNumber(buf, i)) return undefined;
      if (kind === K_SCHEMA) {
        if (scannedNumber !== 1 || !scannedIsInteger || scannedEnd !== i + 1) return undefined;
      } else if (kind === K_INTEGER) {
        if (!scannedIsInteger || scannedNumber < rule.min) return undefined;
      }
      if (field === F_PRICE) price = scannedNumber;
      i = scannedEnd;
    } else {
      if (buf[i] !== QUOTE) return undefined;
      const start = i + 1;
      if (!scanString(buf, start)) return undefined;
      const end = scannedEnd;
      if (kind === K_STRING) {
        if (scannedCodePoints < rule.min || scannedCodePoints > rule.max) return undefined;
        if (field === F_PLAYER_ID) {
          playerStart = start;
          playerEnd = end;
          playerAscii = scannedAscii;
        }
      } else {
        // Patterns and enums are ASCII.
        if (!scannedAscii) return undefined;
        if (kind === K_UUID) {
          if (!isUuid(buf, start, end)) return undefined;
          eventIdStart = start;
        } else if (kind === K_EVENT_TYPE) {
          eventType = enumIndex(buf, start, end, EVENT_TYPES);
          if (eventType < 0) return undefined;
        } else if (kind === K_TS) {
          tsMs = timestampMs(buf, start, end);
          if (Number.isNaN(tsMs)) return undefined;
        } else if (kind === K_REGION) {
          region = enumIndex(buf, start, end, REGIONS);
          if (region < 0) return undefined;
        } else if (kind === K_COUNTRY) {
          const a = buf[start] as number;
          const b = buf[start + 1] as number;
          if (end - start !== 2 || a < 0x41 || a > 0x5a || b < 0x41 || b > 0x5a) return undefined;
        } else if (kind === K_PLATFORM) {
          if (enumIndex(buf, start, end, PLATFORMS) < 0) return undefined;
        } else if (kind === K_RESULT) {
          if (enumIndex(buf, start, end, RESULTS) < 0) return undefined;
        }
      }
      i = end + 1;
    }
    i = skipWhitespace(buf, i);
    const c = buf[i];
    if (c === COMMA) {
      i = skipWhitespace(buf, i + 1);
      continue;
    }
    if (c !== CLOSE_BRACE) return undefined;
    if (skipWhitespace(buf, i + 1) !== buf.length) return undefined;
    break;
  }
  if ((seen & REQUIRED) !== REQUIRED) return undefined;
  const typeRequired = REQUIRED_BY_TYPE[eventType] as number;
  if ((seen & typeRequired) !== typeRequired) return undefined;

  let priceCents = 0;
  if (eventType === ITEM_PURCHASE) {
    priceCents = Math.round(price * 100);
    if (!Number.isSafeInteger(priceCents)) return undefined;
  }

  fingerprintAsciiInto(buf, eventIdStart, eventIdStart + 36, fastScratch);
  const eventHi = fastScratch.hi;
  const eventLo = fastScratch.lo;
  let playerId: string;
  if (playerAscii) {
    playerId = buf.toString('latin1', playerStart, playerEnd);
    fingerprintAsciiInto(buf, playerStart, playerEnd, fastScratch);
  } else {
    playerId = buf.toString('utf8', playerStart, playerEnd);
    fingerprintInto(playerId, fastScratch);
  }
  const decoded: DecodedEvent = {
    tsMs,
    region: REGIONS.values[region] as string,
    eventType: EVENT_TYPES.values[eventType] as string,
    playerId,
    eventHi,
    eventLo,
    playerHi: fastScratch.hi,
    playerLo: fastScratch.lo,
    priceCents,
  };
  return { ok: true, event: decoded };
}
