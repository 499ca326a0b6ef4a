import { describe, expect, it } from 'vitest';
import { fingerprint64, fingerprintInto } from '../../src/pipeline/fingerprint.js';
import { Sfc32 } from '../../src/simulators/prng.js';

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const uuidBytes = Buffer.alloc(36);

function putHex(value: number, at: number, width: number): void {
  let rest = value;
  for (let i = width - 1; i >= 0; i--) {
    uuidBytes[at + i] = HEX_DIGITS[rest & 15] as number;
    rest >>>= 4;
  }
}

/**
 * A version-4 UUID from the PRNG, as the generator writes them; a flat string, as JSON.parse makes
 * (template-literal strings are ropes, which would make the hash look slower than it is).
 */
function uuid(rng: Sfc32): string {
  const b = rng.uint32();
  const c = rng.uint32();
  putHex(rng.uint32(), 0, 8);
  putHex(b >>> 16, 9, 4);
  putHex(0x4000 | (b & 0x0fff), 14, 4);
  putHex(0x8000 | (c >>> 18), 19, 4);
  putHex(c & 0xffff, 24, 4);
  putHex(rng.uint32(), 28, 8);
  uuidBytes[8] = uuidBytes[13] = uuidBytes[18] = uuidBytes[23] = 0x2d;
  return uuidBytes.toString('latin1');
}

function popcount(value: number): number {
  let v = value - ((value >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) as number;
}

describe('fingerprint64', () => {
  it('has no collisions over 2 million UUIDs and 2 million player ids', () => {
    // Sorting the 64-bit values and comparing neighbours finds any collision exactly, in a fraction of
    // the time a Set of "hi:lo" strings takes (4 million strings: over 10 s here).
    const inputs = 2_000_000;
    const values = new BigUint64Array(2 * inputs);
    const words = new Uint32Array(values.buffer);
    const hiWord = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
    const out = { hi: 0, lo: 0 };
    const store = (n: number) => {
      words[2 * n + hiWord] = out.hi;
      words[2 * n + 1 - hiWord] = out.lo;
    };
    const rng = new Sfc32(2026);
    for (let i = 0; i < inputs; i++) {
      fingerprintInto(uuid(rng), out);
      store(i);
    }
    for (let i = 0; i < inputs; i++) {
      fingerprintInto(`p-${String(i).padStart(7, '0')}`, out);
      store(inputs + i);
    }
    values.sort();
    let collisions = 0;
    for (let i = 1; i < values.length; i++) if (values[i] === values[i - 1]) collisions++;
    expect(collisions).toBe(0);
  }, 60_000);

  it('is deterministic, and stable across versions (fingerprints are persisted in consumer state)', () => {
    expect(fingerprint64('p-000123')).toEqual(fingerprint64('p-000123'));
    // Changing these values breaks dedupe state written by earlier versions: do not, without a migration.
    // Reference values: MurmurHash3_x86_128 of the UTF-16LE bytes, seed 0x9747b28c, first 64 bits.
    expect(fingerprint64('')).toEqual({ hi: 0xf7bed5a1, lo: 0x5b576a1c });
    expect(fingerprint64('abc')).toEqual({ hi: 0x949e2c7f, lo: 0x6778c095 });
    expect(fingerprint64('p-000123')).toEqual({ hi: 0x49c59db0, lo: 0x73b16c63 });
    expect(fingerprint64('0b4a5f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b')).toEqual({ hi: 0x4ee8d3fe, lo: 0x669140eb });
    expect(fingerprint64('🎮x')).toEqual({ hi: 0x494a257c, lo: 0x75c55161 });
  });

  it('returns unsigned 32-bit halves', () => {
    const rng = new Sfc32(5);
    for (let i = 0; i < 1000; i++) {
      const { hi, lo } = fingerprint64(uuid(rng));
      for (const half of [hi, lo]) {
        expect(Number.isInteger(half) && half >= 0 && half <= 0xffffffff).toBe(true);
      }
    }
  });

  it('gives different strings different fingerprints, including near misses', () => {
    const strings = [
      '',
      'a',
      'a\u0000',
      '\u0000',
      '\u0000\u0000',
      'b',
      'ab',
      'ba',
      'p-000123',
      'p-000124',
      'p-0000123',
      'P-000123',
      '12345678',
      '123456789',
      '1234567',
      'élan',
      'elan',
      '🎮',
      '🎮🎮',
      '0b4a5f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
      '0B4A5F3E-1C2D-4E5F-8A9B-0C1D2E3F4A5B',
      '0b4a5f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5c',
    ];
    const keys = strings.map((s) => {
      const { hi, lo } = fingerprint64(s);
      return `${hi}:${lo}`;
    });
    expect(new Set(keys).size).toBe(strings.length);
  });

  it('works on the empty string and on every tail length', () => {
    const empty = fingerprint64('');
    expect(empty.hi !== 0 || empty.lo !== 0).toBe(true);
    const keys = new Set<string>();
    let text = '';
    for (let length = 0; length <= 40; length++) {
      const { hi, lo } = fingerprint64(text);
      keys.add(`${hi}:${lo}`);
      text += 'x';
    }
    expect(keys.size).toBe(41);
  });

  it('fingerprintInto writes into the given object and agrees with fingerprint64', () => {
    const out = { hi: 1, lo: 2, extra: 'kept' };
    const returned = fingerprintInto('p-000001', out);
    expect(returned).toBe(out);
    expect({ hi: out.hi, lo: out.lo }).toEqual(fingerprint64('p-000001'));
    expect(out.extra).toBe('kept');
  });

  it('avalanches: flipping one input bit flips each output bit about half the time', () => {
    const rng = new Sfc32(77);
    const trials = 20_000;
    const flips = new Array<number>(64).fill(0);
    let totalFlipped = 0;
    for (let t = 0; t < trials; t++) {
      // Half UUIDs, half sequential-looking player ids: both must spread.
      const base = t % 2 === 0 ? uuid(rng) : `p-${String(rng.int(10_000_000)).padStart(7, '0')}`;
      const at = rng.int(base.length);
      const bit = rng.int(7); // stay in ASCII, as ids do
      const changed =
        base.slice(0, at) + String.fromCharCode(base.charCodeAt(at) ^ (1 << bit)) + base.slice(at + 1);
      const a = fingerprint64(base);
      const b = fingerprint64(changed);
      const hiDiff = a.hi ^ b.hi;
      const loDiff = a.lo ^ b.lo;
      totalFlipped += popcount(hiDiff) + popcount(loDiff);
      for (let i = 0; i < 32; i++) {
        flips[i] = (flips[i] as number) + ((hiDiff >>> i) & 1);
        flips[32 + i] = (flips[32 + i] as number) + ((loDiff >>> i) & 1);
      }
    }
    expect(totalFlipped / trials).toBeGreaterThan(31.5);
    expect(totalFlipped / trials).toBeLessThan(32.5);
    // ±0.03 is about 8.5 standard deviations at 20,000 trials.
    for (const count of flips) {
      expect(count / trials).toBeGreaterThan(0.47);
      expect(count / trials).toBeLessThan(0.53);
    }
  });
});
