import { describe, expect, it } from 'vitest';
import {
  ByteWriter,
  centsToJsonNumber,
  FragmentStore,
  IsoTimeWriter,
} from '../../src/simulators/encoding.js';
import { Sfc32 } from '../../src/simulators/prng.js';

function written(write: (w: ByteWriter) => void): string {
  const writer = new ByteWriter();
  writer.begin();
  write(writer);
  return writer.end().toString('utf8');
}

describe('ByteWriter', () => {
  it('writes integers, zero-padded integers and seconds as JSON numbers', () => {
    expect(written((w) => w.uint(0))).toBe('0');
    expect(written((w) => w.uint(1_234_567_890_123))).toBe('1234567890123');
    expect(written((w) => w.uint(42, 6))).toBe('000042');
    for (const [ms, text] of [
      [0, '0'],
      [1500, '1.5'],
      [12_345, '12.345'],
      [2000, '2'],
      [7, '0.007'],
      [960_500, '960.5'],
    ] as const) {
      expect(written((w) => w.seconds(ms))).toBe(text);
      expect(JSON.parse(text)).toBe(ms / 1000);
    }
  });

  it('writes RFC 9562 version-4 UUIDs', () => {
    const rng = new Sfc32(1);
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = written((w) => w.uuid(rng));
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(1000);
  });

  it('never overwrites bytes a record still points to', () => {
    const writer = new ByteWriter();
    const views: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      writer.begin(1024);
      writer.uint(i, 8);
      views.push(writer.end());
    }
    for (const [i, view] of views.entries()) expect(view.toString()).toBe(String(i).padStart(8, '0'));
  });
});

describe('IsoTimeWriter', () => {
  it('matches Date#toISOString across seconds, outliers included', () => {
    const iso = new IsoTimeWriter();
    const start = Date.parse('2026-12-31T23:59:58.990Z');
    for (let ms = start; ms < start + 2500; ms += 7) {
      expect(written((w) => iso.write(w, ms))).toBe(new Date(ms).toISOString());
      expect(written((w) => iso.writeOutlier(w, ms - 600_000))).toBe(new Date(ms - 600_000).toISOString());
    }
  });
});

describe('FragmentStore', () => {
  it('returns each stored fragment, with or without cached views', () => {
    for (const count of [3, FragmentStore.VIEW_LIMIT + 1]) {
      const store = new FragmentStore(count);
      store.add(0, '"a":"x"');
      const first = [store.lastChunk, store.lastOffset, store.lastLength] as const;
      store.add(2, '"name":"Zoë"');
      const second = [store.lastChunk, store.lastOffset, store.lastLength] as const;
      expect(second[2]).toBe(13);
      expect(written((w) => store.writeTo(w, 2, ...second))).toBe('"name":"Zoë"');
      expect(written((w) => store.writeTo(w, 0, ...first))).toBe('"a":"x"');
    }
  });
});

describe('centsToJsonNumber', () => {
  it('gives two decimals', () => {
    expect(centsToJsonNumber(999)).toBe('9.99');
    expect(centsToJsonNumber(12_000)).toBe('120.00');
    expect(centsToJsonNumber(5)).toBe('0.05');
  });
});
