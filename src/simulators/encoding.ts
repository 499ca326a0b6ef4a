/**
 * Hot-path byte building for events. Events are written as ASCII/UTF-8 bytes straight into a large
 * arena buffer, in a fixed field order, from pre-encoded fragments: no JSON.stringify, no object per
 * event, and no concatenated string that a sink would have to flatten and encode again. Each record's
 * value is a view of its bytes in the arena; a full arena is left to the records that still point
 * into it (in flight in a sink, say) and a fresh one is started, so bytes are never overwritten.
 */
import type { Sfc32 } from './prng.js';

const ARENA_BYTES = 512 * 1024;
/** Upper bound of one event's encoding: checked before writing it. */
export const MAX_EVENT_BYTES = 2048;

const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const text = i.toString(16).padStart(2, '0');
  HEX[2 * i] = text.charCodeAt(0);
  HEX[2 * i + 1] = text.charCodeAt(1);
}
const DIGIT_0 = 48;
const DASH = 45;
const DOT = 46;
const Z = 90;

export function ascii(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

export class ByteWriter {
  private buf: Buffer = Buffer.allocUnsafeSlow(ARENA_BYTES);
  private pos = 0;
  private start = 0;
  private readonly digits = new Uint8Array(24);

  /** Starts a value; at most `maxBytes` will be written before `end`. */
  begin(maxBytes = MAX_EVENT_BYTES): void {
    if (this.pos + maxBytes > this.buf.length) {
      this.buf = Buffer.allocUnsafeSlow(Math.max(ARENA_BYTES, maxBytes));
      this.pos = 0;
    }
    this.start = this.pos;
  }

  /** The bytes written since `begin`, as a view (valid for as long as anyone holds it). */
  end(): Buffer {
    return this.buf.subarray(this.start, this.pos);
  }

  bytes(source: Uint8Array): void {
    this.buf.set(source, this.pos);
    this.pos += source.length;
  }

  /** Copies `length` bytes of `source` from `offset` (no view allocated). */
  range(source: Buffer, offset: number, length: number): void {
    source.copy(this.buf, this.pos, offset, offset + length);
    this.pos += length;
  }

  byte(code: number): void {
    this.buf[this.pos++] = code;
  }

  /** Text that is known to be ASCII (numbers, ISO timestamps). */
  latin1(text: string): void {
    this.pos += this.buf.write(text, this.pos, 'latin1');
  }

  /** A non-negative integer in decimal, left-padded with zeros to `width`. */
  uint(value: number, width = 1): void {
    let n = value;
    let count = 0;
    do {
      const next = Math.floor(n / 10);
      this.digits[count++] = DIGIT_0 + (n - next * 10);
      n = next;
    } while (n > 0);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = count; i < width; i++) buf[pos++] = DIGIT_0;
    while (count > 0) buf[pos++] = this.digits[--count] as number;
    this.pos = pos;
  }

  /** Whole milliseconds as a JSON number of seconds: 12345 → 12.345, 1500 → 1.5, 2000 → 2. */
  seconds(milliseconds: number): void {
    const ms = Math.max(0, Math.round(milliseconds));
    const whole = Math.floor(ms / 1000);
    let fraction = ms - whole * 1000;
    this.uint(whole);
    if (fraction === 0) return;
    let width = 3;
    while (fraction % 10 === 0) {
      fraction /= 10;
      width--;
    }
    this.byte(DOT);
    this.uint(fraction, width);
  }

  /** Three millisecond digits and the closing 'Z' of an ISO timestamp. */
  millisZ(ms: number): void {
    const buf = this.buf;
    const hundreds = Math.floor(ms / 100);
    const tens = Math.floor(ms / 10) - hundreds * 10;
    buf[this.pos] = DIGIT_0 + hundreds;
    buf[this.pos + 1] = DIGIT_0 + tens;
    buf[this.pos + 2] = DIGIT_0 + (ms - hundreds * 100 - tens * 10);
    buf[this.pos + 3] = Z;
    this.pos += 4;
  }

  /** A random (version 4, RFC 9562 variant) UUID from the PRNG: 4 draws, 36 bytes. */
  uuid(rng: Sfc32): void {
    const a = rng.uint32();
    const b = rng.uint32();
    const c = rng.uint32();
    const d = rng.uint32();
    const buf = this.buf;
    let pos = this.pos;
    pos = hexByte(buf, pos, a >>> 24);
    pos = hexByte(buf, pos, (a >>> 16) & 255);
    pos = hexByte(buf, pos, (a >>> 8) & 255);
    pos = hexByte(buf, pos, a & 255);
    buf[pos++] = DASH;
    pos = hexByte(buf, pos, b >>> 24);
    pos = hexByte(buf, pos, (b >>> 16) & 255);
    buf[pos++] = DASH;
    pos = hexByte(buf, pos, 0x40 | ((b >>> 8) & 0x0f)); // version 4
    pos = hexByte(buf, pos, b & 255);
    buf[pos++] = DASH;
    pos = hexByte(buf, pos, 0x80 | ((c >>> 24) & 0x3f)); // RFC 9562 variant
    pos = hexByte(buf, pos, (c >>> 16) & 255);
    buf[pos++] = DASH;
    pos = hexByte(buf, pos, (c >>> 8) & 255);
    pos = hexByte(buf, pos, c & 255);
    pos = hexByte(buf, pos, d >>> 24);
    pos = hexByte(buf, pos, (d >>> 16) & 255);
    pos = hexByte(buf, pos, (d >>> 8) & 255);
    pos = hexByte(buf, pos, d & 255);
    this.pos = pos;
  }
}

function hexByte(buf: Buffer, pos: number, value: number): number {
  buf[pos] = HEX[2 * value] as number;
  buf[pos + 1] = HEX[2 * value + 1] as number;
  return pos + 2;
}

/**
 * ISO-8601 UTC timestamps with milliseconds ("2026-11-21T20:00:00.123Z"). Keeps the bytes of the
 * current second, so consecutive events (which share it) cost a copy and four digits.
 */
export class IsoTimeWriter {
  private secondStart = Number.NaN;
  private prefix: Buffer = Buffer.alloc(0);

  write(out: ByteWriter, ms: number): void {
    let offset = ms - this.secondStart;
    if (!(offset >= 0 && offset < 1000)) {
      this.secondStart = ms - (((ms % 1000) + 1000) % 1000);
      this.prefix = ascii(new Date(this.secondStart).toISOString().slice(0, 20));
      offset = ms - this.secondStart;
    }
    out.bytes(this.prefix);
    out.millisZ(offset);
  }

  /** For rare outliers (late events): formats without moving the cached second. */
  writeOutlier(out: ByteWriter, ms: number): void {
    const offset = ms - this.secondStart;
    if (offset >= 0 && offset < 1000) {
      out.bytes(this.prefix);
      out.millisZ(offset);
    } else {
      out.latin1(new Date(ms).toISOString());
    }
  }
}

/**
 * Pre-encoded per-player text, appended lazily into large chunks. The caller keeps each fragment's
 * location (chunk, offset, length) next to the rest of the player's state, where it is already in
 * cache. Up to `VIEW_LIMIT` players also get a view of their bytes, which copies fastest; with more
 * players, an object per player costs more in memory and cache misses than copying a range.
 */
export class FragmentStore {
  static readonly VIEW_LIMIT = 100_000;
  private chunk: Buffer = Buffer.allocUnsafeSlow(256 * 1024);
  private used = 0;
  private readonly chunks: Buffer[] = [this.chunk];
  private readonly views: Array<Buffer | undefined> | undefined;
  /** Where the last `add` put its bytes. */
  lastChunk = 0;
  lastOffset = 0;
  lastLength = 0;

  constructor(count: number) {
    this.views = count <= FragmentStore.VIEW_LIMIT ? new Array(count) : undefined;
  }

  /** Stores `text` for `index`; its location is left in lastChunk / lastOffset / lastLength. */
  add(index: number, text: string): void {
    const length = Buffer.byteLength(text);
    if (this.used + length > this.chunk.length) {
      this.chunk = Buffer.allocUnsafeSlow(Math.max(this.chunk.length, length));
      this.chunks.push(this.chunk);
      this.used = 0;
    }
    this.chunk.write(text, this.used, 'utf8');
    this.lastChunk = this.chunks.length - 1;
    this.lastOffset = this.used;
    this.lastLength = length;
    if (this.views) this.views[index] = this.chunk.subarray(this.used, this.used + length);
    this.used += length;
  }

  /** Copies fragment `index`, stored at (chunk, offset, length), into `out`. */
  writeTo(out: ByteWriter, index: number, chunk: number, offset: number, length: number): void {
    const view = this.views?.[index];
    if (view) out.bytes(view);
    else out.range(this.chunks[chunk] as Buffer, offset, length);
  }
}

/** Dollars from whole cents with two decimals, as JSON number text ("9.99", "120.00"). */
export function centsToJsonNumber(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}
