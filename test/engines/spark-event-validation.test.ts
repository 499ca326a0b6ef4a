/**
 * The Spark job's event validation (templates/engines/spark/job.py, plain Python) against gapipe's
 * consumer (decodeEventFull): the same records must be valid or invalid alike, valid ones must give the
 * same event, and invalid ones the same dead-letter kind and reason — the reason word for word, except
 * after "not JSON: ", where Python's parser words its message differently from V8's.
 *
 * The job's validation needs only the standard library, so this runs with the machine's python3.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeEventFull } from '../../src/pipeline/decode.js';
import { fingerprintInto } from '../../src/pipeline/fingerprint.js';
import { corruptEvent } from '../../src/simulators/malformed.js';
import { Sfc32 } from '../../src/simulators/prng.js';
import { generateAll, text } from '../simulators/helpers.js';

const JOB_DIR = fileURLToPath(new URL('../../templates/engines/spark/', import.meta.url));

/** What job.EventDecoder returns, as JSON. */
type PythonResult = [
  ok: boolean,
  kind: string | null,
  reason: string | null,
  eventId: string | null,
  eventType: string | null,
  tsMs: number | null,
  playerId: string | null,
  region: string | null,
  priceCents: number | null,
];

const DECODE_LINES = `
import base64, json, sys
sys.path.insert(0, sys.argv[1])
import job
decode = job.EventDecoder(json.load(open(job.DEFAULT_SCHEMA, encoding="utf-8")))
for line in sys.stdin:
    value = json.loads(line)
    result = decode(None if value is None else base64.b64decode(value))
    print(json.dumps(result))
`;

/** Runs every value through the job's decoder in one python3 process. */
function decodeInPython(values: ReadonlyArray<Buffer | null>): PythonResult[] {
  const input = values.map((v) => JSON.stringify(v === null ? null : v.toString('base64'))).join('\n');
  const run = spawnSync('python3', ['-c', DECODE_LINES, JOB_DIR], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    input: `${input}\n`,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`python3 failed (${run.status}): ${run.stderr}`);
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(values.length);
  return lines.map((line) => JSON.parse(line) as PythonResult);
}

interface Disagreement {
  value: string;
  gapipe: unknown;
  spark: unknown;
}

/** Every record on which the two decoders disagree (empty when they agree on all). */
function disagreements(values: ReadonlyArray<Buffer | null>): { valid: number; list: Disagreement[] } {
  const results = decodeInPython(values);
  const list: Disagreement[] = [];
  let valid = 0;
  values.forEach((value, i) => {
    const spark = results[i] as PythonResult;
    const gapipe = decodeEventFull(value);
    let same: boolean;
    if (gapipe.ok) {
      valid++;
      const { event } = gapipe;
      const id = { hi: 0, lo: 0 };
      if (spark[3] !== null) fingerprintInto(spark[3], id);
      same =
        spark[0] &&
        id.hi === event.eventHi &&
        id.lo === event.eventLo &&
        spark[4] === event.eventType &&
        spark[5] === event.tsMs &&
        spark[6] === event.playerId &&
        spark[7] === event.region &&
        spark[8] === event.priceCents;
    } else {
      const { kind, reason } = gapipe.failure;
      same =
        !spark[0] &&
        spark[1] === kind &&
        (kind === 'invalid_json'
          ? (spark[2] ?? '').startsWith('not JSON: ')
          : // gapipe's reason as its UTF-8 header carries it (a lone surrogate becomes U+FFFD).
            spark[2] === Buffer.from(reason, 'utf8').toString('utf8'));
    }
    if (!same) list.push({ value: value === null ? 'null' : value.toString('latin1'), gapipe, spark });
  });
  return { valid, list };
}

const generated = generateAll({ events: 3000, players: 300, regions: ['NA', 'EU', 'ASIA', 'SA', 'OCE'] })
  .records.map(text)
  .map((json) => Buffer.from(json, 'utf8'));

function pick<T>(rng: Sfc32, list: readonly T[]): T {
  return list[rng.int(list.length)] as T;
}

/** Values with a special meaning somewhere in the schema. */
const ODD_VALUES: unknown[] = [
  '',
  'x',
  'é',
  '😀',
  'a\u0000b',
  'quote"inside',
  'x'.repeat(33),
  'x'.repeat(65),
  '😀'.repeat(64),
  '😀'.repeat(65),
  'x'.repeat(129),
  `${'x'.repeat(78)}😀tail`,
  0,
  -1,
  0.5,
  1.5,
  4.35,
  1e21,
  1e-7,
  123456789012345680000,
  9007199254740994,
  1e300,
  true,
  false,
  null,
  [],
  {},
  ['NA'],
  { 10: 1, b: 2, 2: 3 },
  'MARS',
  'na',
  'DE',
  'de',
  'item_purchase',
  'level_up',
  'player_join',
  'match_end',
  '2026-02-29T12:00:00.000Z',
  '2024-02-29T12:00:00.000Z',
  '0000-01-01T00:00:00.000Z',
  '2026-11-21T20:00:00Z',
  '2026-11-21T20:00:00.000Z\n',
  '0B4A5F3E-1C2D-4E5F-8A9B-0C1D2E3F4A5B',
];

/** Number spellings JSON.stringify never writes, and words that are not JSON numbers. */
const NUMBER_TEXT = ['1.0', '1e0', '1E2', '-0', '00', '1.', '.5', '1e400', '-1e400', 'NaN', 'Infinity', '+1'];

const KEYS = ['schema', 'event_id', 'event_type', 'ts', 'player_id', 'region', 'price_usd', 'level', 'xp'];
const EXTRA_KEYS = ['extra', '__proto__', '7', '01', 'cheat_mode'];

function mutateFields(json: Buffer, rng: Sfc32): Buffer {
  const event = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
  let entries = Object.entries(event);
  switch (rng.int(5)) {
    case 0: {
      const i = rng.int(entries.length);
      entries[i] = [entries[i]?.[0] as string, pick(rng, ODD_VALUES)];
      break;
    }
    case 1:
      entries.splice(rng.int(entries.length), 1 + rng.int(2));
      break;
    case 2:
      entries.push([pick(rng, [...KEYS, ...EXTRA_KEYS]), pick(rng, ODD_VALUES)]);
      break;
    case 3:
      entries = entries.reverse();
      break;
    default: {
      // A value spelled as raw text, or a repeated key.
      const i = rng.int(entries.length);
      const key = entries[i]?.[0] as string;
      const raw = rng.chance(0.5) ? pick(rng, NUMBER_TEXT) : JSON.stringify(pick(rng, ODD_VALUES));
      const body = entries.map(([k, v]) => `${JSON.stringify(k)}:${k === key ? raw : JSON.stringify(v)}`);
      if (rng.chance(0.3)) body.push(`${JSON.stringify(key)}:${JSON.stringify(entries[i]?.[1])}`);
      return Buffer.from(`{${body.join(',')}}`, 'utf8');
    }
  }
  return Buffer.from(JSON.stringify(Object.fromEntries(entries)), 'utf8');
}

const ODD_BYTES = [
  0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x20, 0x0a, 0x00, 0x30, 0x2d, 0x80, 0xc3, 0xed, 0xff,
];

function mutateBytes(json: Buffer, rng: Sfc32): Buffer {
  const bytes = [...json];
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = Math.min(rng.int(bytes.length + 1), bytes.length - 1);
    const choice = rng.int(3);
    if (choice === 0) bytes.splice(at, 1);
    else if (choice === 1) bytes.splice(at, 0, pick(rng, ODD_BYTES));
    else bytes[at] = rng.int(256);
  }
  return Buffer.from(bytes);
}

function expectAgreement(values: ReadonlyArray<Buffer | null>): number {
  const { valid, list } = disagreements(values);
  expect(list.slice(0, 5)).toEqual([]);
  return valid;
}

describe("the Spark job's event validation", () => {
  it('takes every generated event as gapipe does', () => {
    expect(expectAgreement(generated)).toBe(generated.length);
  });

  it('gives the dead-letter kind and reason gapipe gives for every corruption the simulator sends', () => {
    const rng = new Sfc32(21);
    const values: Array<Buffer | null> = [null, Buffer.alloc(0)];
    for (let n = 0; n < 3000; n++) {
      const { value } = corruptEvent(pick(rng, generated).toString('utf8'), rng);
      values.push(typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
    }
    expect(expectAgreement(values)).toBe(0);
  });

  it('agrees on field-level mutations: odd values, missing and extra keys, spellings, repeated keys', () => {
    const rng = new Sfc32(22);
    const values = Array.from({ length: 8000 }, () => mutateFields(pick(rng, generated), rng));
    // Some stay valid (a changed username), most do not: both sides are exercised.
    const valid = expectAgreement(values);
    expect(valid).toBeGreaterThan(500);
    expect(valid).toBeLessThan(values.length - 2000);
  });

  it('agrees on byte-level mutations: broken UTF-8, JSON syntax, control characters', () => {
    const rng = new Sfc32(23);
    const values = Array.from({ length: 8000 }, () => mutateBytes(pick(rng, generated), rng));
    expect(expectAgreement(values)).toBeGreaterThan(100);
  });

  it('agrees on every odd value in every field of every event type', () => {
    const byType = new Map<string, Buffer>();
    for (const value of generated) {
      const type = (JSON.parse(value.toString('utf8')) as { event_type: string }).event_type;
      if (!byType.has(type)) byType.set(type, value);
    }
    expect(byType.size).toBe(7);
    const values: Buffer[] = [];
    for (const base of byType.values()) {
      const event = JSON.parse(base.toString('utf8')) as Record<string, unknown>;
      for (const field of [...Object.keys(event), ...EXTRA_KEYS]) {
        for (const odd of ODD_VALUES) values.push(Buffer.from(JSON.stringify({ ...event, [field]: odd })));
      }
    }
    expect(expectAgreement(values)).toBeGreaterThan(50);
  });

  it('names the first extra key in JavaScript order (array-index keys first), as ajv does', () => {
    const event = JSON.parse((generated[0] as Buffer).toString('utf8')) as Record<string, unknown>;
    const values = [
      ['extra', '7'],
      ['extra', '01'],
      ['b', '10', '2'],
      ['4294967295', '4294967294'],
    ].map((keys) =>
      Buffer.from(`${JSON.stringify(event).slice(0, -1)},${keys.map((k) => `"${k}":1`).join(',')}}`),
    );
    const reasons = decodeInPython(values).map((result) => result[2]);
    expect(reasons).toEqual([
      'must NOT have additional properties (got "7")',
      'must NOT have additional properties (got "extra")',
      'must NOT have additional properties (got "2")',
      'must NOT have additional properties (got "4294967294")',
    ]);
    expectAgreement(values);
  });
});
