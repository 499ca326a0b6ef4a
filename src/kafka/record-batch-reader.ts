/**
 * Reads the record batches (magic v2) of a Fetch response straight from the response buffer. A record
 * is one small object holding its offset, timestamp and where its key, value and headers lie in the
 * buffer: the key and value become Buffers (views, not copies) only when read, and a header is found
 * by comparing its name's bytes — no headers object, no strings, unless a caller asks for them. (A
 * general client builds an object, key/value/header Buffers and a headers map per record; at tens of
 * thousands of records a second that, and the garbage it leaves, was a third of the consumer's CPU.)
 *
 * What is skipped, as Kafka's Java consumer does: records before the fetch offset (a batch is returned
 * whole), control batches (transaction markers), batches of aborted transactions (read_committed),
 * and a partial batch at the end (the broker cuts the response at the size limit). Batches compressed
 * with gzip are decompressed; other codecs are refused with `UnsupportedBatchError`. Each batch's
 * CRC-32C is checked.
 */
import { gunzipSync } from 'node:zlib';
import { crc32c } from './crc32c.js';

const BATCH_HEADER_BYTES = 61;
/** A batch's length field counts from after it: baseOffset (8) and batchLength (4) come first. */
const LOG_OVERHEAD = 12;
const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** A batch the reader cannot decode: a codec it does not have, an old message format, a bad CRC. */
export class UnsupportedBatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedBatchError';
  }
}

/**
 * Header values as text, decoded once for values that repeat (a run id is the same on every record
 * of a run): the last value seen per header name and its text. A header whose value changes from
 * record to record (a timestamp) stops being cached, so it costs no copy per record either.
 */
export class HeaderTextCache {
  private readonly last = new Map<string, { bytes: Buffer; text: string; hits: number; misses: number }>();

  text(name: string, buf: Buffer, start: number, end: number): string {
    const length = end - start;
    const cached = this.last.get(name);
    if (cached !== undefined) {
      const bytes = cached.bytes;
      if (bytes.length === length) {
        let i = 0;
        while (i < length && bytes[i] === buf[start + i]) i++;
        if (i === length) {
          cached.hits++;
          return cached.text;
        }
      }
      cached.misses++;
      const text = buf.toString('utf8', start, end);
      // Worth keeping only while the value mostly repeats.
      if (cached.misses <= 4 || cached.hits >= cached.misses) {
        cached.bytes = Buffer.from(buf.subarray(start, end));
        cached.text = text;
      }
      return text;
    }
    const text = buf.toString('utf8', start, end);
    if (length <= 128) {
      this.last.set(name, { bytes: Buffer.from(buf.subarray(start, end)), text, hits: 0, misses: 0 });
    }
    return text;
  }
}

/** One record of a fetched batch; its bytes stay in the response buffer until read. */
export class FetchedRecord {
  private decodedHeaders: Record<string, string | string[]> | undefined;

  constructor(
    readonly offset: number,
    /** Broker timestamp, epoch ms. */
    readonly timestampMs: number,
    private readonly buf: Buffer,
    private readonly keyStart: number,
    /** -1: no key. */
    private readonly keyLength: number,
    private readonly valueStart: number,
    /** -1: no value (a tombstone). */
    private readonly valueLength: number,
    private readonly headersStart: number,
    private readonly headerCount: number,
    private readonly cache: HeaderTextCache,
  ) {}

  get key(): Buffer | null {
    return this.keyLength < 0 ? null : this.buf.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  get value(): Buffer | null {
    return this.valueLength < 0
      ? null
      : this.buf.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  /** The first value of header `name` as text (an ASCII name), without decoding the other headers. */
  headerText(name: string): string | undefined {
    const start = this.findHeader(name);
    if (start < 0) return undefined;
    return this.cache.text(name, this.buf, start, start + foundLength);
  }

  /**
   * The first value of header `name` as `Number(text)` gives it (undefined when there is none): plain
   * decimal digits are read from the bytes, without making a string.
   */
  headerNumber(name: string): number | undefined {
    const start = this.findHeader(name);
    if (start < 0) return undefined;
    const buf = this.buf;
    const length = foundLength;
    if (length > 0 && length <= 15) {
      let value = 0;
      let i = 0;
      for (; i < length; i++) {
        const digit = (buf[start + i] as number) - 48;
        if (digit < 0 || digit > 9) break;
        value = value * 10 + digit;
      }
      if (i === length) return value;
    }
    return Number(buf.toString('utf8', start, start + length));
  }

  /** Where header `name`'s value starts (its length in `foundLength`); -1 when absent or null. */
  private findHeader(name: string): number {
    const buf = this.buf;
    const nameLength = name.length;
    let pos = this.headersStart;
    for (let h = 0; h < this.headerCount; h++) {
      const keyLength = readVarint(buf, pos);
      const keyStart = varintEnd;
      const valueLength = readVarint(buf, keyStart + keyLength);
      const valueStart = varintEnd;
      pos = valueLength > 0 ? valueStart + valueLength : valueStart;
      if (keyLength !== nameLength) continue;
      let i = 0;
      while (i < nameLength && buf[keyStart + i] === name.charCodeAt(i)) i++;
      if (i < nameLength) continue;
      if (valueLength < 0) return -1;
      foundLength = valueLength;
      return valueStart;
    }
    return -1;
  }

  /** Every header as text (a name that repeats gives an array), decoded on first use. */
  get headers(): Record<string, string | string[]> {
    if (this.decodedHeaders !== undefined) return this.decodedHeaders;
    const headers: Record<string, string | string[]> = {};
    const buf = this.buf;
    let pos = this.headersStart;
    for (let h = 0; h < this.headerCount; h++) {
      const keyLength = readVarint(buf, pos);
      pos = varintEnd;
      const name = buf.toString('utf8', pos, pos + keyLength);
      pos += keyLength;
      const valueLength = readVarint(buf, pos);
      pos = varintEnd;
      const value = valueLength < 0 ? '' : buf.toString('utf8', pos, pos + valueLength);
      if (valueLength > 0) pos += valueLength;
      const previous = headers[name];
      if (previous === undefined) headers[name] = value;
      else if (Array.isArray(previous)) previous.push(value);
      else headers[name] = [previous, value];
    }
    this.decodedHeaders = headers;
    return headers;
  }
}

/** Where the last `readVarint` stopped (a module-level cursor: no object per varint). */
let varintEnd = 0;
/** The value length of the header `findHeader` found last. */
let foundLength = 0;

/** A zigzag varint of up to 32 bits at `pos`; sets `varintEnd`. */
function readVarint(buf: Buffer, pos: number): number {
  let byte = buf[pos++] as number;
  let value = byte & 0x7f;
  let shift = 7;
  while (byte & 0x80) {
    if (shift > 28) throw new RangeError('varint longer than 5 bytes');
    byte = buf[pos++] as number;
    value |= (byte & 0x7f) << shift;
    shift += 7;
  }
  varintEnd = pos;
  return (value >>> 1) ^ -(value & 1);
}

/** A zigzag varlong (timestamp deltas) as a number; exact up to 2^53. */
function readVarlong(buf: Buffer, pos: number): number {
  let byte = buf[pos++] as number;
  if ((byte & 0x80) === 0) {
    varintEnd = pos;
    return (byte >>> 1) ^ -(byte & 1);
  }
  let value = byte & 0x7f;
  let multiplier = 128;
  do {
    if (multiplier > 2 ** 63) throw new RangeError('varlong longer than 10 bytes');
    byte = buf[pos++] as number;
    value += (byte & 0x7f) * multiplier;
    multiplier *= 128;
  } while (byte & 0x80);
  varintEnd = pos;
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 4294967296 + buf.readUInt32BE(pos + 4);
}

/** What the reader took from one partition's record set. */
export interface ReadResult {
  records: FetchedRecord[];
  /**
   * The offset after the last whole batch (records, control batches and aborted batches alike), or
   * the fetch offset when there was none: where the next fetch of the partition starts.
   */
  nextOffset: number;
  /** True when the record set held bytes but not one whole batch: the partition limit is too small. */
  truncated: boolean;
}

export interface ReadOptions {
  fetchOffset: number;
  /** read_committed: the response's aborted transactions, whose batches are skipped. */
  abortedTransactions?: ReadonlyArray<{ producerId: number; firstOffset: number }>;
  cache: HeaderTextCache;
  /** For messages: the partition the bytes came from. */
  partition?: number;
}

/** Reads the whole batches of `bytes` (one partition's record set from a Fetch response). */
export function readRecordBatches(bytes: Buffer | null, options: ReadOptions): ReadResult {
  const records: FetchedRecord[] = [];
  const fetchOffset = options.fetchOffset;
  let nextOffset = fetchOffset;
  if (bytes === null || bytes.length === 0) return { records, nextOffset, truncated: false };
  const aborted = [...(options.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset);
  let abortedIndex = 0;
  const abortedProducers = new Set<number>();
  const end = bytes.length;
  let pos = 0;
  let whole = 0;
  while (pos + LOG_OVERHEAD <= end) {
    const baseOffset = readInt64(bytes, pos);
    const batchEnd = pos + LOG_OVERHEAD + bytes.readInt32BE(pos + 8);
    if (batchEnd > end || end - pos < BATCH_HEADER_BYTES) break;
    whole++;
    const batchStart = pos;
    pos = batchEnd;
    const where = () =>
      `the record batch at offset ${baseOffset}${options.partition === undefined ? '' : ` of partition ${options.partition}`}`;
    const magic = bytes.readInt8(batchStart + 16);
    if (magic !== 2) {
      throw new UnsupportedBatchError(
        `${where()} has message format v${magic}; only v2 (Kafka 0.11 and newer) is read`,
      );
    }
    if (bytes.readUInt32BE(batchStart + 17) !== crc32c(bytes.subarray(batchStart + 21, batchEnd))) {
      throw new UnsupportedBatchError(`${where()} is corrupt (CRC-32C mismatch)`);
    }
    const attributes = bytes.readInt16BE(batchStart + 21);
    const lastOffset = baseOffset + bytes.readInt32BE(batchStart + 23);
    nextOffset = Math.max(nextOffset, lastOffset + 1);
    const producerId = readInt64(bytes, batchStart + 43);
    const isTransactional = (attributes & 0x10) !== 0;
    const isControl = (attributes & 0x20) !== 0;
    if (lastOffset < fetchOffset) continue;
    if (producerId >= 0 && aborted.length > 0) {
      while (abortedIndex < aborted.length && (aborted[abortedIndex]?.firstOffset as number) <= lastOffset) {
        abortedProducers.add((aborted[abortedIndex] as { producerId: number }).producerId);
        abortedIndex++;
      }
      if (isControl) {
        // An abort marker ends the aborted transaction; a commit marker ends nothing we skip.
        if (isAbortMarker(bytes, batchStart + BATCH_HEADER_BYTES, batchEnd))
          abortedProducers.delete(producerId);
        continue;
      }
      if (isTransactional && abortedProducers.has(producerId)) continue;
    }
    if (isControl) continue;
    const codec = attributes & 0x07;
    let buf = bytes;
    let recordsStart = batchStart + BATCH_HEADER_BYTES;
    let recordsEnd = batchEnd;
    if (codec !== 0) {
      if (codec !== 1) {
        throw new UnsupportedBatchError(
          `${where()} is compressed with ${COMPRESSION_NAMES[codec] ?? `codec ${codec}`}; gapipe's consumer reads uncompressed and gzip batches`,
        );
      }
      buf = gunzipSync(bytes.subarray(recordsStart, recordsEnd));
      recordsStart = 0;
      recordsEnd = buf.length;
    }
    const logAppendTime = (attributes & 0x08) !== 0;
    const baseTimestamp = readInt64(bytes, batchStart + 27);
    const maxTimestamp = readInt64(bytes, batchStart + 35);
    const count = bytes.readInt32BE(batchStart + 57);
    readRecords(
      buf,
      recordsStart,
      recordsEnd,
      count,
      baseOffset,
      fetchOffset,
      logAppendTime ? maxTimestamp : -1,
      baseTimestamp,
      options.cache,
      records,
    );
  }
  return { records, nextOffset, truncated: whole === 0 };
}

function readRecords(
  buf: Buffer,
  start: number,
  end: number,
  count: number,
  baseOffset: number,
  fetchOffset: number,
  /** LogAppendTime: every record has the batch's max timestamp; -1 for CreateTime. */
  fixedTimestamp: number,
  baseTimestamp: number,
  cache: HeaderTextCache,
  out: FetchedRecord[],
): void {
  let pos = start;
  for (let i = 0; i < count; i++) {
    if (pos >= end) throw new RangeError('record batch shorter than its record count');
    const length = readVarint(buf, pos);
    pos = varintEnd;
    const recordEnd = pos + length;
    pos++; // attributes
    const timestampDelta = readVarlong(buf, pos);
    pos = varintEnd;
    const offsetDelta = readVarint(buf, pos);
    pos = varintEnd;
    const keyLength = readVarint(buf, pos);
    pos = varintEnd;
    const keyStart = pos;
    if (keyLength > 0) pos += keyLength;
    const valueLength = readVarint(buf, pos);
    pos = varintEnd;
    const valueStart = pos;
    if (valueLength > 0) pos += valueLength;
    const headerCount = readVarint(buf, pos);
    const headersStart = varintEnd;
    pos = recordEnd;
    const offset = baseOffset + offsetDelta;
    if (offset < fetchOffset) continue;
    out.push(
      new FetchedRecord(
        offset,
        fixedTimestamp >= 0 ? fixedTimestamp : baseTimestamp + timestampDelta,
        buf,
        keyStart,
        keyLength,
        valueStart,
        valueLength,
        headersStart,
        headerCount,
        cache,
      ),
    );
  }
}

/** A control batch's record key: version int16, type int16 (0 abort, 1 commit). */
function isAbortMarker(buf: Buffer, start: number, end: number): boolean {
  if (start >= end) return false;
  let pos = start;
  readVarint(buf, pos); // length
  pos = varintEnd + 1; // attributes
  readVarlong(buf, pos);
  pos = varintEnd;
  readVarint(buf, pos); // offset delta
  pos = varintEnd;
  const keyLength = readVarint(buf, pos);
  pos = varintEnd;
  return keyLength >= 4 && buf.readInt16BE(pos + 2) === 0;
}
