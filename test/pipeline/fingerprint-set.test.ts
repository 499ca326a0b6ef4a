import { describe, expect, it } from 'vitest';
import { fingerprint64 } from '../../src/pipeline/fingerprint.js';
import { FingerprintSet } from '../../src/pipeline/fingerprint-set.js';
import { Sfc32 } from '../../src/simulators/prng.js';

function members(set: FingerprintSet): string[] {
  const out: string[] = [];
  set.forEach((hi, lo) => {
    out.push(`${hi}:${lo}`);
  });
  return out.sort();
}

describe('FingerprintSet', () => {
  it('add reports whether the member is new; has finds exactly the members', () => {
    const set = new FingerprintSet();
    expect(set.size).toBe(0);
    expect(set.has(1, 2)).toBe(false);
    expect(set.add(1, 2)).toBe(true);
    expect(set.add(1, 2)).toBe(false);
    expect(set.has(1, 2)).toBe(true);
    expect(set.has(2, 1)).toBe(false);
    expect(set.has(1, 3)).toBe(false);
    expect(set.add(2, 1)).toBe(true);
    expect(set.add(0xffffffff, 0xffffffff)).toBe(true);
    expect(set.size).toBe(3);
  });

  it('takes halves as unsigned 32-bit, so int32 and uint32 spellings are one member', () => {
    const set = new FingerprintSet();
    expect(set.add(-1, -2)).toBe(true);
    expect(set.has(0xffffffff, 0xfffffffe)).toBe(true);
    expect(set.add(0xffffffff, 0xfffffffe)).toBe(false);
    expect(members(set)).toEqual(['4294967295:4294967294']);
  });

  it('stores (0, 0) like any other member', () => {
    const set = new FingerprintSet();
    expect(set.has(0, 0)).toBe(false);
    expect(set.add(0, 0)).toBe(true);
    expect(set.add(0, 0)).toBe(false);
    expect(set.has(0, 0)).toBe(true);
    expect(set.size).toBe(1);
    // Its neighbours are distinct members.
    expect(set.has(0, 1)).toBe(false);
    expect(set.add(0, 1)).toBe(true);
    expect(set.add(1, 0)).toBe(true);
    expect(set.size).toBe(3);
    expect(members(set)).toEqual(['0:0', '0:1', '1:0']);
  });

  it('grows by doubling through a million members, keeping the load between 0.35 and 0.7', () => {
    const set = new FingerprintSet();
    const rng = new Sfc32(9);
    const his = new Uint32Array(1_000_000);
    const los = new Uint32Array(1_000_000);
    const capacities = new Set<number>();
    let notNew = 0;
    for (let i = 0; i < his.length; i++) {
      his[i] = rng.uint32();
      los[i] = rng.uint32();
      if (!set.add(his[i] as number, los[i] as number)) notNew++;
      capacities.add(set.capacity);
    }
    expect(notNew).toBe(0);
    expect(set.size).toBe(1_000_000);
    for (let i = 0; i < his.length; i++) {
      if (!set.has(his[i] as number, los[i] as number)) throw new Error(`lost member #${i}`);
      if (set.add(his[i] as number, los[i] as number)) throw new Error(`member #${i} added twice`);
    }
    // Other values (the rng continues): none present.
    let falsePositives = 0;
    for (let i = 0; i < 100_000; i++) if (set.has(rng.uint32(), rng.uint32())) falsePositives++;
    expect(falsePositives).toBe(0);
    const sorted = [...capacities].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]).toBe(2 * (sorted[i - 1] as number));
    const load = set.size / set.capacity;
    expect(load).toBeGreaterThanOrEqual(0.35);
    expect(load).toBeLessThanOrEqual(0.7);
  });

  it('stays correct for poorly spread input (same lo, sequential hi)', () => {
    const set = new FingerprintSet();
    let wrong = 0;
    for (let i = 1; i <= 100_000; i++) if (!set.add(i, 7)) wrong++;
    for (let i = 1; i <= 100_000; i++) if (!set.has(i, 7) || set.has(i, 8)) wrong++;
    expect(wrong).toBe(0);
    expect(set.has(100_001, 7)).toBe(false);
    expect(set.size).toBe(100_000);
  });

  it('byteLength is the table: 8 bytes per slot, 11.4–22.9 bytes per member', () => {
    const empty = new FingerprintSet();
    expect(empty.byteLength).toBe(16 * 8);
    const set = new FingerprintSet();
    for (let i = 1; i <= 100_000; i++) {
      const { hi, lo } = fingerprint64(`p-${String(i).padStart(7, '0')}`);
      set.add(hi, lo);
    }
    expect(set.byteLength).toBe(set.capacity * 8);
    expect(set.byteLength / set.size).toBeGreaterThanOrEqual(8 / 0.7);
    expect(set.byteLength / set.size).toBeLessThanOrEqual(8 / 0.35);
  });

  it('presizes for an expected count', () => {
    const set = new FingerprintSet(1000);
    const capacity = set.capacity;
    expect(capacity * 0.7).toBeGreaterThanOrEqual(1000);
    for (let i = 1; i <= 1000; i++) set.add(i, i);
    expect(set.capacity).toBe(capacity);
  });

  it('clear empties the set, (0, 0) included, and keeps its capacity', () => {
    const set = new FingerprintSet();
    for (let i = 0; i < 1000; i++) set.add(i, i * 3);
    const bytes = set.byteLength;
    set.clear();
    expect(set.size).toBe(0);
    expect(set.has(0, 0)).toBe(false);
    expect(set.has(5, 15)).toBe(false);
    expect(set.byteLength).toBe(bytes);
    expect(set.add(5, 15)).toBe(true);
    expect(set.size).toBe(1);
  });

  describe('toBase64 / fromBase64', () => {
    it('round-trips the members, (0, 0) and extreme values included', () => {
      const set = new FingerprintSet();
      const rng = new Sfc32(4);
      set.add(0, 0);
      set.add(0xffffffff, 0xffffffff);
      set.add(0, 0xffffffff);
      set.add(0xffffffff, 0);
      for (let i = 0; i < 10_000; i++) set.add(rng.uint32(), rng.uint32());
      const text = set.toBase64();
      expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
      const restored = FingerprintSet.fromBase64(text);
      expect(restored.size).toBe(set.size);
      expect(members(restored)).toEqual(members(set));
      expect(restored.toBase64()).toBe(text);
    });

    it('is 8 bytes per member plus an 8-byte header before base64', () => {
      const set = new FingerprintSet();
      for (let i = 1; i <= 300; i++) set.add(i, 0);
      expect(Buffer.from(set.toBase64(), 'base64').length).toBe(8 + 300 * 8);
      expect(Buffer.from(new FingerprintSet().toBase64(), 'base64').length).toBe(8);
      expect(FingerprintSet.fromBase64(new FingerprintSet().toBase64()).size).toBe(0);
    });

    it('is canonical: the same members give the same text whatever the insertion order and capacity', () => {
      const pairs: Array<[number, number]> = [];
      const rng = new Sfc32(8);
      for (let i = 0; i < 5000; i++) pairs.push([rng.uint32(), rng.uint32()]);
      pairs.push([0, 0]);
      const forward = new FingerprintSet();
      for (const [hi, lo] of pairs) forward.add(hi, lo);
      const backward = new FingerprintSet(100_000);
      for (const [hi, lo] of [...pairs].reverse()) backward.add(hi, lo);
      expect(backward.capacity).not.toBe(forward.capacity);
      expect(backward.toBase64()).toBe(forward.toBase64());
    });

    it('writes members in ascending unsigned 64-bit order, little-endian', () => {
      const set = new FingerprintSet();
      set.add(2, 0);
      set.add(1, 0xffffffff);
      set.add(0x80000000, 1);
      set.add(0, 0);
      const bytes = Buffer.from(set.toBase64(), 'base64');
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('FPS1');
      expect(bytes.readUInt32LE(4)).toBe(4);
      const read = [];
      for (let offset = 8; offset < bytes.length; offset += 8) read.push(bytes.readBigUInt64LE(offset));
      expect(read).toEqual([0n, (1n << 32n) + 0xffffffffn, 2n << 32n, (0x80000000n << 32n) + 1n]);
    });

    it('rejects text that is not a serialised set, or a damaged one', () => {
      expect(() => FingerprintSet.fromBase64('')).toThrow(/FPS1/);
      expect(() => FingerprintSet.fromBase64(Buffer.from('hello world!').toString('base64'))).toThrow(/FPS1/);
      const set = new FingerprintSet();
      set.add(1, 2);
      set.add(3, 4);
      const bytes = Buffer.from(set.toBase64(), 'base64');
      expect(() => FingerprintSet.fromBase64(bytes.subarray(0, bytes.length - 3).toString('base64'))).toThrow(
        /header says 2 members/,
      );
    });
  });
});
