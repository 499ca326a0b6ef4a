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
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { templatePath } from '../paths.js';
import { type Fingerprint, fingerprintInto } from './fingerprint.js';
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
  const year = digits(ts, 0, 4);
  const month = digits(ts, 5, 2);
  const day = digits(ts, 8, 2);
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
  const seconds = digits(ts, 11, 2) * 3600 + digits(ts, 14, 2) * 60 + digits(ts, 17, 2);
  return (days * 86400 + seconds) * 1000 + digits(ts, 20, 3);
}

const scratch: Fingerprint = { hi: 0, lo: 0 };

/** Decodes one record value (a Kafka record's value: bytes, or null for a tombstone). */
export function decodeEvent(value: Buffer | string | null | undefined): DecodeResult {
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
