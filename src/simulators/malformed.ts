/**
 * Malformed records: bytes a consumer must reject (dead-letter) and keep going. Each kind breaks a
 * different layer — framing, JSON syntax, types, required fields, enums, formats, ranges — so a
 * consumer's validation is exercised on more than one path. Every kind is invalid against
 * templates/schema/event.schema.json, which the tests check.
 */
import type { Sfc32 } from './prng.js';

export const MALFORMED_KINDS = [
  'truncated_json',
  'not_json',
  'binary_garbage',
  'empty',
  'wrong_type',
  'missing_field',
  'unknown_enum',
  'bad_timestamp',
  'negative_value',
  'unexpected_field',
  'wrong_schema_version',
] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

const REQUIRED_COMMON = [
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
] as const;

const NEGATABLE = ['xp', 'price_usd', 'duration_s', 'session_length_s', 'level'] as const;

export interface MalformedRecord {
  kind: MalformedKind;
  value: string | Buffer;
}

/** Corrupts the valid event text `valid` in one of the MALFORMED_KINDS, chosen by `rng`. */
export function corruptEvent(valid: string, rng: Sfc32): MalformedRecord {
  const kind = MALFORMED_KINDS[rng.int(MALFORMED_KINDS.length)] as MalformedKind;
  switch (kind) {
    case 'truncated_json':
      // A proper prefix of a JSON object (with no nested objects) is never valid JSON.
      return { kind, value: valid.slice(0, 1 + rng.int(valid.length - 1)) };
    case 'empty':
      return { kind, value: '' };
    case 'binary_garbage': {
      const bytes = Buffer.alloc(8 + rng.int(57));
      for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
      bytes[0] = 0xff; // never valid UTF-8, so never JSON
      // One record per line in the stdout and file sinks: no newline inside.
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a || bytes[i] === 0x0d) bytes[i] = 0x0b;
      return { kind, value: bytes };
    }
    default:
      break;
  }
  const event = JSON.parse(valid) as Record<string, unknown>;
  switch (kind) {
    case 'not_json':
      // What a misconfigured client sends: a form-encoded body instead of JSON.
      return {
        kind,
        value: `event_id=${String(event.event_id)}&event_type=${String(event.event_type)}&player_id=${String(event.player_id)}`,
      };
    case 'wrong_type': {
      const field = ['schema', 'ts', 'player_id', 'region'][rng.int(4)] as string;
      if (field === 'ts') event.ts = Date.parse(String(event.ts));
      else if (field === 'schema') event.schema = '1';
      else if (field === 'player_id')
        event.player_id = Number(String(event.player_id).replace(/\D/g, '')) || 1;
      else event.region = [String(event.region)];
      return { kind, value: JSON.stringify(event) };
    }
    case 'missing_field': {
      const field = REQUIRED_COMMON[rng.int(REQUIRED_COMMON.length)] as string;
      delete event[field];
      return { kind, value: JSON.stringify(event) };
    }
    case 'unknown_enum': {
      const pick = rng.int(3);
      if (pick === 0) event.region = 'MARS';
      else if (pick === 1) event.event_type = 'player_dance';
      else event.platform = 'dreamcast';
      return { kind, value: JSON.stringify(event) };
    }
    case 'bad_timestamp': {
      const iso = String(event.ts);
      // Without milliseconds and zone, or in a local notation: both fail the schema's date-time pattern.
      event.ts = rng.chance(0.5)
        ? iso.slice(0, 19).replace('T', ' ')
        : `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)} ${iso.slice(11, 19)}`;
      return { kind, value: JSON.stringify(event) };
    }
    case 'negative_value': {
      const field = NEGATABLE.find((name) => typeof event[name] === 'number');
      if (field === undefined) break;
      const current = event[field] as number;
      event[field] = field === 'level' ? 0 : -(current || 1);
      return { kind, value: JSON.stringify(event) };
    }
    case 'unexpected_field':
      event.cheat_mode = true;
      return { kind, value: JSON.stringify(event) };
    default:
      break;
  }
  event.schema = 2;
  return { kind: 'wrong_schema_version', value: JSON.stringify(event) };
}
