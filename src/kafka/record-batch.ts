/**
 * Kafka record batches (magic v2), written record by record straight into one buffer per batch: no
 * object per record, no intermediate encoding. The producer's caller describes its records through a
 * `RecordCodec`, so the same encoder serves any record type without adapting each record first.
 *
 * Batch layout (61-byte header, then the records):
 *   baseOffset int64 · batchLength int32 · partitionLeaderEpoch int32 · magic int8 (2) · crc uint32 ·
 *   attributes int16 · lastOffsetDelta int32 · baseTimestamp int64 · maxTimestamp int64 ·
 *   producerId int64 · producerEpoch int16 · baseSequence int32 · recordCount int32 · records…
 * The CRC-32C covers everything from the attributes on, so the producer id and sequence (stamped when
 * the batch is first sent, and again after a producer-id reset) are covered too.
 * A record: length varint · attributes int8 · timestampDelta varlong · offsetDelta varint ·
 *   key (length varint, -1 for none) · value (length varint) · header count varint ·
 *   headers (key length varint, key, value length varint, value).
 */
import { gzipSync } from 'node:zlib';
import { crc32c } from './crc32c.js';
import { murmur2 } from './murmur2.js';

export const BATCH_HEADER_BYTES = 61;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;
const GZIP = 1;

/** How the producer reads a caller's record. */
export interface RecordCodec<T> {
  /** The record key (partitioning and the record's key field); undefined for none. */
  key(record: T): string | Buffer | undefined;
  value(record: T): string | Buffer;
  /** Header names, the same for every record. */
  readonly headerNames: readonly string[];
  /**
   * The value of header `index` for `record`: a string, Buffer, or a non-negative integer that is
   * written as decimal text without making a string of it first.
   */
  headerValue(record: T, index: number): string | Buffer | number;
}

export type Compression = 'none' | 'gzip';

function varintSize(zigzag: number): number {
  if (zigzag < 0x80) return 1;
  if (zigzag < 0x4000) return 2;
  if (zigzag < 0x200000) return 3;
  if (zigzag < 0x10000000) return 4;
  let size = 5;
  for (let rest = Math.floor(zigzag / 0x800000000); rest > 0; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** Zigzag encoding of a signed value (what Kafka's varints store), for |value| < 2^52. */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function writeVarint(buf: Buffer, pos: number, zigzagValue: number): number {
  let v = zigzagValue;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = v >= 0x80000000 ? Math.floor(v / 128) : v >>> 7;
  }
  buf[pos++] = v;
  return pos;
}

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

function decimalDigits(value: number): number {
  let digits = 1;
  while (digits < 16 && value >= (POWERS_OF_TEN[digits] as number)) digits++;
  return digits;
}

/** varint(length) followed by the bytes: a header name, or a whole header. */
function lengthPrefixed(parts: Buffer[]): Buffer {
  const out: number[] = [];
  for (const part of parts) {
    let v = part.length * 2;
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v, ...part);
  }
  return Buffer.from(out);
}

/**
 * Turns one record into its parts (key bytes, value, header values and their sizes), so the producer
 * can pick the partition from the key and the batch can check the size before writing; then writes
 * the record in one pass. Pieces of a few bytes are copied byte by byte: that is several times faster
 * than Buffer#copy with a range.
 */
export class RecordEncoder<T> {
  /** The key's bytes in `keyBytes`, or -1 for no key. */
  keyLength = -1;
  keyBytes: Buffer = Buffer.allocUnsafe(256);
  private value: Buffer | string = '';
  private valueLength = 0;
  /** The header count as a varint. */
  private readonly headerCount: Buffer;
  /** Per header, its name with the length before it: what precedes a value written per record. */
  private readonly namePrefixes: Buffer[];
  /**
   * Per header, for this record: the whole encoded header (name and value) when the value is text —
   * cached, since such values repeat (a run id) — or undefined when the value is written per record.
   */
  private readonly wholeHeaders: Array<Buffer | undefined>;
  private readonly headerNumbers: Float64Array;
  private readonly headerBuffers: Array<Buffer | undefined>;
  private readonly headerLengths: Int32Array;
  private readonly lastText: Array<string | undefined>;
  private readonly lastWholeHeader: Buffer[];
  /** The header section's size: count, names, values and their length varints. */
  private headerSection = 0;
  private bodyLength = 0;

  constructor(private readonly codec: RecordCodec<T>) {
    const names = codec.headerNames.map((name) => Buffer.from(name, 'utf8'));
    const count = names.length;
    this.headerCount = Buffer.alloc(varintSize(count * 2));
    writeVarint(this.headerCount, 0, count * 2);
    this.namePrefixes = names.map((name) => lengthPrefixed([name]));
    this.wholeHeaders = new Array(count).fill(undefined);
    this.headerNumbers = new Float64Array(count);
    this.headerBuffers = new Array(count).fill(undefined);
    this.headerLengths = new Int32Array(count);
    this.lastText = new Array(count).fill(undefined);
    this.lastWholeHeader = names.map(() => Buffer.alloc(0));
  }

  prepare(record: T): void {
    const codec = this.codec;
    const key = codec.key(record);
    if (key === undefined) this.keyLength = -1;
    else if (typeof key === 'string') this.keyLength = this.encodeKeyText(key);
    else {
      if (key.length > this.keyBytes.length) this.keyBytes = Buffer.allocUnsafe(key.length * 2);
      this.keyLength = key.copy(this.keyBytes, 0);
    }
    const value = codec.value(record);
    this.value = value;
    this.valueLength = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;

    const prefixes = this.namePrefixes;
    let section = this.headerCount.length;
    for (let i = 0; i < prefixes.length; i++) {
      const header = codec.headerValue(record, i);
      if (typeof header === 'string') {
        if (header !== this.lastText[i]) {
          this.lastText[i] = header;
          this.lastWholeHeader[i] = lengthPrefixed([
            Buffer.from(this.codec.headerNames[i] as string, 'utf8'),
            Buffer.from(header, 'utf8'),
          ]);
        }
        const whole = this.lastWholeHeader[i] as Buffer;
        this.wholeHeaders[i] = whole;
        section += whole.length;
        continue;
      }
      let length: number;
      this.wholeHeaders[i] = undefined;
      if (typeof header === 'number') {
        this.headerBuffers[i] = undefined;
        this.headerNumbers[i] = header;
        length = decimalDigits(header);
      } else {
        this.headerBuffers[i] = header;
        length = header.length;
      }
      this.headerLengths[i] = length;
      section += (prefixes[i] as Buffer).length + varintSize(length * 2) + length;
    }
    this.headerSection = section;
  }

  /** ASCII keys (player ids) go in byte by byte; anything else through the UTF-8 encoder. */
  private encodeKeyText(key: string): number {
    const length = key.length;
    if (length * 3 > this.keyBytes.length) this.keyBytes = Buffer.allocUnsafe(length * 3);
    const bytes = this.keyBytes;
    for (let i = 0; i < length; i++) {
      const code = key.charCodeAt(i);
      if (code >= 0x80) return bytes.write(key, 0, 'utf8');
      bytes[i] = code;
    }
    return length;
  }

  /** murmur2 of the key (the partitioner's hash); only meaningful when keyLength >= 0. */
  keyHash(): number {
    return murmur2(this.keyBytes, this.keyLength);
  }

  /** Bytes of the record (length prefix included) at these deltas; `write` then uses the same deltas. */
  size(offsetDelta: number, timestampDelta: number): number {
    const keyLength = this.keyLength;
    const body =
      1 +
      varintSize(zigzag(timestampDelta)) +
      varintSize(offsetDelta * 2) +
      (keyLength < 0 ? 1 : varintSize(keyLength * 2) + keyLength) +
      varintSize(this.valueLength * 2) +
      this.valueLength +
      this.headerSection;
    this.bodyLength = body;
    return varintSize(body * 2) + body;
  }

  /** Writes the record at `start` (after `size` with the same deltas); returns the position after it. */
  write(buf: Buffer, start: number, offsetDelta: number, timestampDelta: number): number {
    let pos = writeVarint(buf, start, this.bodyLength * 2);
    buf[pos++] = 0; // attributes
    pos = writeVarint(buf, pos, zigzag(timestampDelta));
    pos = writeVarint(buf, pos, offsetDelta * 2);
    const keyLength = this.keyLength;
    if (keyLength < 0) {
      buf[pos++] = 1; // zigzag(-1): no key
    } else {
      pos = writeVarint(buf, pos, keyLength * 2);
      pos = copySmall(this.keyBytes, keyLength, buf, pos);
    }
    pos = writeVarint(buf, pos, this.valueLength * 2);
    const value = this.value;
    pos += typeof value === 'string' ? buf.write(value, pos, 'utf8') : value.copy(buf, pos);
    pos = copySmall(this.headerCount, this.headerCount.length, buf, pos);
    const prefixes = this.namePrefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const whole = this.wholeHeaders[i];
      if (whole !== undefined) {
        pos = copySmall(whole, whole.length, buf, pos);
        continue;
      }
      const prefix = prefixes[i] as Buffer;
      pos = copySmall(prefix, prefix.length, buf, pos);
      const length = this.headerLengths[i] as number;
      pos = writeVarint(buf, pos, length * 2);
      const bytes = this.headerBuffers[i];
      if (bytes !== undefined) pos = copySmall(bytes, length, buf, pos);
      else pos = writeDecimal(buf, pos, this.headerNumbers[i] as number, length);
    }
    return pos;
  }
}

/**
 * Writes a non-negative integer of `digits` digits. Epoch milliseconds do not fit an int32, so the
 * number is split into two parts that do, and their digits come from integer arithmetic.
 */
function writeDecimal(buf: Buffer, start: number, value: number, digits: number): number {
  let pos = start + digits - 1;
  let high = Math.floor(value / 100_000_000);
  let low = value - high * 100_000_000;
  const lowDigits = high > 0 ? 8 : digits;
  for (let i = 0; i < lowDigits; i++) {
    const next = (low / 10) | 0;
    buf[pos--] = 48 + low - next * 10;
    low = next;
  }
  while (pos >= start) {
    const next = Math.floor(high / 10);
    buf[pos--] = 48 + high - next * 10;
    high = next;
  }
  return start + digits;
}

function copySmall(source: Uint8Array, length: number, target: Buffer, start: number): number {
  if (length > 16) {
    target.set(length === source.length ? source : source.subarray(0, length), start);
    return start + length;
  }
  for (let i = 0; i < length; i++) target[start + i] = source[i] as number;
  return start + length;
}

/**
 * Batch buffers, reused. A fresh 256 KiB buffer per batch is memory outside the JavaScript heap that
 * V8 still counts towards its collection triggers: at a few hundred batches a second the garbage
 * collector ran several times as often. Sizes are powers of two, so buffers fit the next batch.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private pooledBytes = 0;

  constructor(private readonly maxPooledBytes = 32 * 1024 * 1024) {}

  /** A buffer of at least `bytes` (a power of two, at least 4 KiB). */
  take(bytes: number): Buffer {
    let size = 4096;
    while (size < bytes) size *= 2;
    const buffer = this.free.get(size)?.pop();
    if (buffer) {
      this.pooledBytes -= size;
      return buffer;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Takes a buffer back once nothing refers to its bytes any more. */
  give(buffer: Buffer): void {
    const size = buffer.length;
    if (size < 4096 || (size & (size - 1)) !== 0 || this.pooledBytes + size > this.maxPooledBytes) return;
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(buffer);
    this.pooledBytes += size;
  }
}

const EMPTY = Buffer.alloc(0);

/** Records of one partition on their way to Kafka, with the caller's records for the callbacks. */
export class RecordBatch<T> {
  private buffer: Buffer;
  private pos = BATCH_HEADER_BYTES;
  private baseTimestamp = 0;
  private maxTimestamp = 0;
  readonly records: T[] = [];
  /** The batch as sent (header stamped, compressed when asked); set by `close`. */
  private wire: Buffer | undefined;
  /** Idempotence: the first record's sequence number, -1 until the batch is first sent. */
  baseSequence = -1;
  private stampedProducerId = Number.NaN;
  private stampedEpoch = Number.NaN;
  private stampedSequence = Number.NaN;
  /** Sends so far (retries are sends after the first). */
  attempts = 0;
  /** Why the last attempt failed, for the error of a batch that finally fails. */
  lastError: Error | undefined;

  constructor(
    readonly partition: number,
    readonly createdMs: number,
    initialBytes: number,
    private readonly maxBytes: number,
    private readonly maxRecords: number,
    private readonly pool: BufferPool = new BufferPool(0),
  ) {
    this.buffer = pool.take(Math.max(initialBytes, BATCH_HEADER_BYTES + 64));
  }

  get count(): number {
    return this.records.length;
  }

  get closed(): boolean {
    return this.wire !== undefined;
  }

  /** Bytes written so far (header included). */
  get bytes(): number {
    return this.wire ? this.wire.length : this.pos;
  }

  /** True when no record more can go in. */
  get full(): boolean {
    return this.records.length >= this.maxRecords || this.pos >= this.maxBytes;
  }

  /**
   * Appends the record `encoder` holds; false (nothing written) when the batch is closed or has no
   * room for it. A record larger than the batch limit goes into an empty batch of its own.
   */
  tryAppend(encoder: RecordEncoder<T>, record: T, timestampMs: number): boolean {
    if (this.wire) return false;
    const count = this.records.length;
    if (count >= this.maxRecords) return false;
    if (count === 0) {
      this.baseTimestamp = timestampMs;
      this.maxTimestamp = timestampMs;
    }
    const delta = timestampMs - this.baseTimestamp;
    const size = encoder.size(count, delta);
    const end = this.pos + size;
    if (end > this.maxBytes && count > 0) return false;
    if (end > this.buffer.length) this.grow(end);
    this.pos = encoder.write(this.buffer, this.pos, count, delta);
    if (timestampMs > this.maxTimestamp) this.maxTimestamp = timestampMs;
    this.records.push(record);
    return true;
  }

  private grow(needed: number): void {
    const grown = this.pool.take(Math.max(needed, Math.min(this.maxBytes, this.buffer.length * 2)));
    this.buffer.copy(grown, 0, 0, this.pos);
    this.pool.give(this.buffer);
    this.buffer = grown;
  }

  /** Ends the batch: no more records; writes the header fields that do not change, compresses. */
  close(compression: Compression): void {
    if (this.wire) return;
    let wire = this.buffer.subarray(0, this.pos);
    if (compression === 'gzip') {
      const compressed = gzipSync(wire.subarray(BATCH_HEADER_BYTES));
      wire = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
      compressed.copy(wire, BATCH_HEADER_BYTES);
      this.pool.give(this.buffer);
      this.buffer = EMPTY;
    }
    wire.writeBigInt64BE(0n, 0); // baseOffset: the broker assigns offsets
    wire.writeInt32BE(wire.length - 12, 8);
    wire.writeInt32BE(-1, 12); // partitionLeaderEpoch
    wire.writeInt8(2, 16); // magic
    wire.writeInt16BE(compression === 'gzip' ? GZIP : 0, ATTRIBUTES_OFFSET);
    wire.writeInt32BE(this.records.length - 1, 23);
    wire.writeBigInt64BE(BigInt(this.baseTimestamp), 27);
    wire.writeBigInt64BE(BigInt(this.maxTimestamp), 35);
    wire.writeInt32BE(this.records.length, 57);
    this.wire = wire;
    this.stamp(-1, -1);
  }

  /**
   * The bytes to send, stamped with the producer identity and this batch's sequence (-1s for a
   * producer that is not idempotent). Restamping changes the CRC, so it is computed here.
   */
  stamp(producerId: number, producerEpoch: number): Buffer {
    const wire = this.wire;
    if (!wire) throw new Error('a record batch is sent only after close()');
    if (
      producerId !== this.stampedProducerId ||
      producerEpoch !== this.stampedEpoch ||
      this.baseSequence !== this.stampedSequence
    ) {
      wire.writeBigInt64BE(BigInt(producerId), 43);
      wire.writeInt16BE(producerEpoch, 51);
      wire.writeInt32BE(this.baseSequence, 53);
      wire.writeUInt32BE(crc32c(wire.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
      this.stampedProducerId = producerId;
      this.stampedEpoch = producerEpoch;
      this.stampedSequence = this.baseSequence;
    }
    return wire;
  }

  /**
   * Lets go of the record bytes once the batch is settled — acknowledged, or failed and not in flight
   * — so the pool can hand the buffer to a new batch. The records array stays for the callbacks.
   */
  release(): void {
    this.pool.give(this.buffer);
    this.wire = EMPTY;
    this.buffer = EMPTY;
  }
}
