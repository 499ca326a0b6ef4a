/**
 * 64-bit fingerprints of short strings (event ids, player ids) for dedupe and unique counts: the
 * consumer keeps two 32-bit numbers per member instead of the string itself.
 *
 * The hash is MurmurHash3 x86_128 (four 32-bit lanes with cross-lane mixing and a full fmix32
 * finalisation, so one changed input bit flips each output bit with probability ½) of the string's
 * UTF-16LE bytes with seed 0x9747b28c, truncated to its first 64 bits (h1 → hi, h2 → lo). It reads
 * two code units per 32-bit word straight from the string: no encoding, no BigInt, no allocation,
 * and V8 keeps every lane in a register as an int32. (Not the same value as MurmurHash3 over UTF-8,
 * and it need not be: fingerprints only ever meet other fingerprints made here.)
 *
 * With 64 bits, the chance of any collision among n distinct strings is about n² / 2⁶⁵: 3·10⁻⁸ for a
 * million event ids, 3·10⁻⁴ for a hundred million.
 */

/** A 64-bit fingerprint as two unsigned 32-bit halves. */
export interface Fingerprint {
  hi: number;
  lo: number;
}

// A non-zero seed, so the empty string does not hash to (0, 0).
const SEED = 0x9747b28c;
const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Code units `i` and `i + 1` as one little-endian word, zero-padded past the end of `text`. */
function word(text: string, i: number): number {
  return i + 1 < text.length ? text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16) : text.charCodeAt(i);
}

/**
 * Writes the fingerprint of `text` into `out` and returns `out`: the allocation-free form for the
 * hot path (reuse one `out` per caller).
 */
export function fingerprintInto<T extends Fingerprint>(text: string, out: T): T {
  const length = text.length;
  let h1 = SEED;
  let h2 = SEED;
  let h3 = SEED;
  let h4 = SEED;
  let k1: number;
  let k2: number;
  let k3: number;
  let k4: number;
  const blocksEnd = length - (length & 7);
  let i = 0;
  for (; i < blocksEnd; i += 8) {
    k1 = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16) | 0;
    k2 = text.charCodeAt(i + 2) | (text.charCodeAt(i + 3) << 16) | 0;
    k3 = text.charCodeAt(i + 4) | (text.charCodeAt(i + 5) << 16) | 0;
    k4 = text.charCodeAt(i + 6) | (text.charCodeAt(i + 7) << 16) | 0;

    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;

    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    h2 ^= Math.imul(k2, C3);
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (h2 + h3) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;

    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    h3 ^= Math.imul(k3, C4);
    h3 = (h3 << 15) | (h3 >>> 17);
    h3 = (h3 + h4) | 0;
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;

    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    h4 ^= Math.imul(k4, C1);
    h4 = (h4 << 13) | (h4 >>> 19);
    h4 = (h4 + h1) | 0;
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }

  if (i < length) {
    // The tail (1–7 code units), zero-padded. A zero word mixes to zero, so mixing all four lanes
    // unconditionally equals MurmurHash3's per-length tail switch.
    k1 = word(text, i);
    k2 = i + 2 < length ? word(text, i + 2) : 0;
    k3 = i + 4 < length ? word(text, i + 4) : 0;
    k4 = i + 6 < length ? word(text, i + 6) : 0;
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    h2 ^= Math.imul(k2, C3);
    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    h3 ^= Math.imul(k3, C4);
    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    h4 ^= Math.imul(k4, C1);
  }

  // Length in bytes, as MurmurHash3 folds it in: "a" and "a\0" must differ.
  const bytes = length * 2;
  h1 ^= bytes;
  h2 ^= bytes;
  h3 ^= bytes;
  h4 ^= bytes;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;

  out.hi = h1 >>> 0;
  out.lo = h2 >>> 0;
  return out;
}

/**
 * The fingerprint of the ASCII bytes `bytes[start, end)`: the same value as `fingerprintInto` of the
 * string they spell (each ASCII byte is one UTF-16 code unit), without making that string. Only for
 * ASCII: a byte ≥ 0x80 is not a code unit.
 */
export function fingerprintAsciiInto<T extends Fingerprint>(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: T,
): T {
  const length = end - start;
  let h1 = SEED;
  let h2 = SEED;
  let h3 = SEED;
  let h4 = SEED;
  let k1: number;
  let k2: number;
  let k3: number;
  let k4: number;
  const blocksEnd = start + length - (length & 7);
  let i = start;
  for (; i < blocksEnd; i += 8) {
    k1 = (bytes[i] as number) | ((bytes[i + 1] as number) << 16);
    k2 = (bytes[i + 2] as number) | ((bytes[i + 3] as number) << 16);
    k3 = (bytes[i + 4] as number) | ((bytes[i + 5] as number) << 16);
    k4 = (bytes[i + 6] as number) | ((bytes[i + 7] as number) << 16);

    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;

    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    h2 ^= Math.imul(k2, C3);
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (h2 + h3) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;

    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    h3 ^= Math.imul(k3, C4);
    h3 = (h3 << 15) | (h3 >>> 17);
    h3 = (h3 + h4) | 0;
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;

    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    h4 ^= Math.imul(k4, C1);
    h4 = (h4 << 13) | (h4 >>> 19);
    h4 = (h4 + h1) | 0;
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }

  if (i < end) {
    k1 = byteWord(bytes, i, end);
    k2 = i + 2 < end ? byteWord(bytes, i + 2, end) : 0;
    k3 = i + 4 < end ? byteWord(bytes, i + 4, end) : 0;
    k4 = i + 6 < end ? byteWord(bytes, i + 6, end) : 0;
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    h2 ^= Math.imul(k2, C3);
    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    h3 ^= Math.imul(k3, C4);
    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    h4 ^= Math.imul(k4, C1);
  }

  const byteLength = length * 2;
  h1 ^= byteLength;
  h2 ^= byteLength;
  h3 ^= byteLength;
  h4 ^= byteLength;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;

  out.hi = h1 >>> 0;
  out.lo = h2 >>> 0;
  return out;
}

/** Bytes `i` and `i + 1` as one little-endian word of two code units, zero-padded at `end`. */
function byteWord(bytes: Uint8Array, i: number, end: number): number {
  return i + 1 < end ? (bytes[i] as number) | ((bytes[i + 1] as number) << 16) : (bytes[i] as number);
}

/** The 64-bit fingerprint of `text` as a new object. On the hot path prefer `fingerprintInto`. */
export function fingerprint64(text: string): Fingerprint {
  return fingerprintInto(text, { hi: 0, lo: 0 });
}
