import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/kafka/crc32c.js';
import { RecordBatch, type RecordCodec, RecordEncoder } from '../../src/kafka/record-batch.js';
import {
  HeaderTextCache,
  readRecordBatches,
  UnsupportedBatchError,
} from '../../src/kafka/record-batch-reader.js';

// Batches are built with kafkajs' encoder: an implementation independent of the reader.
const require = createRequire(import.meta.url);
const { RecordBatch: encodeRecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (options: object) => Promise<{ buffer: Buffer }>;
};
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: object) => unknown;
const GZIP = 1;

interface Message {
  key?: string | null;
  value: string | null;
  headers?: Record<string, string | string[]>;
  timestampDelta?: number;
}

interface BatchSpec {
  baseOffset: number;
  messages: Message[];
  baseTimestamp?: number;
  compression?: number;
  transactional?: boolean;
  producerId?: number;
  /** Attribute bits to add after encoding (0x20 control, 0x08 LogAppendTime, 0x02 snappy). */
  extraAttributes?: number;
  maxTimestamp?: number;
}

async function batch(spec: BatchSpec): Promise<Buffer> {
  const base = spec.baseTimestamp ?? 1_700_000_000_000;
  const records = spec.messages.map((m, i) =>
    encodeRecord({
      offsetDelta: i,
      timestampDelta: m.timestampDelta ?? i,
      key: m.key === undefined || m.key === null ? null : Buffer.from(m.key),
      value: m.value === null ? null : Buffer.from(m.value),
      headers: m.headers ?? {},
    }),
  );
  const { buffer } = await encodeRecordBatch({
    compression: spec.compression ?? 0,
    firstOffset: String(spec.baseOffset),
    firstTimestamp: base,
    maxTimestamp: spec.maxTimestamp ?? base + spec.messages.length,
    lastOffsetDelta: spec.messages.length - 1,
    transactional: spec.transactional ?? false,
    producerId: String(spec.producerId ?? -1),
    records,
  });
  const wire = Buffer.from(buffer);
  if (spec.extraAttributes) {
    wire.writeInt16BE(wire.readInt16BE(21) | spec.extraAttributes, 21);
    wire.writeUInt32BE(crc32c(wire.subarray(21)), 17);
  }
  return wire;
}

/** A transaction marker: a control batch whose one record's key is version 0, type 0 (abort) or 1. */
async function marker(offset: number, producerId: number, commit: boolean): Promise<Buffer> {
  const key = Buffer.alloc(4);
  key.writeInt16BE(commit ? 1 : 0, 2);
  const record = encodeRecord({
    offsetDelta: 0,
    timestampDelta: 0,
    key,
    value: Buffer.alloc(6),
    headers: {},
  });
  const { buffer } = await encodeRecordBatch({
    firstOffset: String(offset),
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_000,
    lastOffsetDelta: 0,
    transactional: true,
    producerId: String(producerId),
    records: [record],
  });
  const wire = Buffer.from(buffer);
  wire.writeInt16BE(wire.readInt16BE(21) | 0x20, 21);
  wire.writeUInt32BE(crc32c(wire.subarray(21)), 17);
  return wire;
}

function read(
  bytes: Buffer,
  fetchOffset: number,
  aborted?: Array<{ producerId: number; firstOffset: number }>,
) {
  return readRecordBatches(bytes, {
    fetchOffset,
    cache: new HeaderTextCache(),
    ...(aborted ? { abortedTransactions: aborted } : {}),
  });
}

const messages: Message[] = [
  {
    key: 'p-000001',
    value: '{"a":1}',
    headers: { 'gapipe-run-id': 'run-1', 'gapipe-intended-ts': '1700000000123' },
  },
  { key: 'p-000002', value: '{"a":2}', headers: { 'gapipe-run-id': 'run-1', 'gapipe-intended-ts': '17' } },
  { key: null, value: 'élan', headers: { trace: ['one', 'two'], 'gapipe-intended-ts': '1e3' } },
];

describe('readRecordBatches', () => {
  for (const [name, compression] of [
    ['uncompressed', 0],
    ['gzip', GZIP],
  ] as const) {
    it(`reads offsets, timestamps, keys, values and headers of a ${name} batch`, async () => {
      const bytes = await batch({ baseOffset: 100, messages, compression, baseTimestamp: 5000 });
      const { records, nextOffset, truncated } = read(bytes, 100);
      expect(truncated).toBe(false);
      expect(nextOffset).toBe(103);
      expect(records.map((r) => r.offset)).toEqual([100, 101, 102]);
      expect(records.map((r) => r.timestampMs)).toEqual([5000, 5001, 5002]);
      expect(records.map((r) => r.key?.toString() ?? null)).toEqual(['p-000001', 'p-000002', null]);
      expect(records.map((r) => r.value?.toString())).toEqual(['{"a":1}', '{"a":2}', 'élan']);
      expect(records.map((r) => r.headerText('gapipe-run-id'))).toEqual(['run-1', 'run-1', undefined]);
      expect(records.map((r) => r.headerNumber('gapipe-intended-ts'))).toEqual([1700000000123, 17, 1000]);
      expect(records[2]?.headerText('trace')).toBe('one');
      expect(records[2]?.headers).toEqual({ trace: ['one', 'two'], 'gapipe-intended-ts': '1e3' });
      expect(records[0]?.headers).toEqual(messages[0]?.headers);
    });
  }

  it('skips the records of a batch before the fetch offset', async () => {
    const bytes = await batch({ baseOffset: 100, messages });
    const { records, nextOffset } = read(bytes, 102);
    expect(records.map((r) => r.offset)).toEqual([102]);
    expect(nextOffset).toBe(103);
  });

  it('ignores a partial batch at the end, and says so when there is no whole one', async () => {
    const first = await batch({ baseOffset: 0, messages });
    const second = await batch({ baseOffset: 3, messages });
    const third = await batch({ baseOffset: 6, messages });
    const bytes = Buffer.concat([first, second, third.subarray(0, third.length - 5)]);
    const whole = read(bytes, 0);
    expect(whole.records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(whole.nextOffset).toBe(6);
    expect(whole.truncated).toBe(false);
    for (const cut of [5, 30, third.length - 1]) {
      const partial = read(third.subarray(0, cut), 6);
      expect(partial).toMatchObject({ records: [], nextOffset: 6, truncated: true });
    }
    expect(read(Buffer.alloc(0), 9)).toMatchObject({ records: [], nextOffset: 9, truncated: false });
  });

  it('skips control batches and the batches of aborted transactions (read_committed)', async () => {
    const bytes = Buffer.concat([
      await batch({ baseOffset: 10, messages, transactional: true, producerId: 7 }),
      await batch({ baseOffset: 13, messages: messages.slice(0, 2), transactional: true, producerId: 8 }),
      await marker(15, 7, false),
      await marker(16, 8, true),
      await batch({ baseOffset: 17, messages: messages.slice(0, 1), transactional: true, producerId: 7 }),
      await marker(18, 7, true),
      await batch({ baseOffset: 19, messages: messages.slice(0, 1) }),
    ]);
    const { records, nextOffset } = read(bytes, 10, [{ producerId: 7, firstOffset: 10 }]);
    // Producer 7's first transaction was aborted (its abort marker at 15); its second one committed.
    expect(records.map((r) => r.offset)).toEqual([13, 14, 17, 19]);
    expect(nextOffset).toBe(20);
    // Without aborted transactions listed (read_uncommitted), only the markers are skipped.
    expect(read(bytes, 10).records.map((r) => r.offset)).toEqual([10, 11, 12, 13, 14, 17, 19]);
  });

  it('moves past a fetch that holds only control batches', async () => {
    const { records, nextOffset } = read(await marker(40, 3, true), 40);
    expect(records).toEqual([]);
    expect(nextOffset).toBe(41);
  });

  it('reads a tombstone (no value) and a record without key', async () => {
    const { records } = read(await batch({ baseOffset: 0, messages: [{ key: 'k', value: null }] }), 0);
    expect(records[0]?.value).toBeNull();
    expect(records[0]?.key?.toString()).toBe('k');
    expect(records[0]?.headers).toEqual({});
    expect(records[0]?.headerText('gapipe-run-id')).toBeUndefined();
    expect(records[0]?.headerNumber('gapipe-intended-ts')).toBeUndefined();
  });

  it('gives every record the batch max timestamp under LogAppendTime', async () => {
    const bytes = await batch({ baseOffset: 0, messages, extraAttributes: 0x08, maxTimestamp: 99_000 });
    expect(read(bytes, 0).records.map((r) => r.timestampMs)).toEqual([99_000, 99_000, 99_000]);
  });

  it('refuses codecs it does not have, old message formats and corrupt batches, naming the batch', async () => {
    const snappy = await batch({ baseOffset: 50, messages, extraAttributes: 0x02 });
    expect(() =>
      readRecordBatches(snappy, { fetchOffset: 50, cache: new HeaderTextCache(), partition: 4 }),
    ).toThrow(
      /offset 50 of partition 4 is compressed with snappy; gapipe's consumer reads uncompressed and gzip batches/,
    );
    const zstd = await batch({ baseOffset: 50, messages, extraAttributes: 0x04 });
    expect(() => read(zstd, 50)).toThrow(UnsupportedBatchError);
    const corrupt = await batch({ baseOffset: 50, messages });
    corrupt.writeUInt8(corrupt.readUInt8(corrupt.length - 3) ^ 0xff, corrupt.length - 3);
    expect(() => read(corrupt, 50)).toThrow(/CRC-32C mismatch/);
    const old = await batch({ baseOffset: 50, messages });
    old.writeInt8(1, 16);
    expect(() => read(old, 50)).toThrow(/message format v1/);
  });

  it("reads what gapipe's own producer writes", () => {
    interface Out {
      key: string;
      value: string;
      intended: number;
    }
    const codec: RecordCodec<Out> = {
      key: (r) => r.key,
      value: (r) => r.value,
      headerNames: ['gapipe-intended-ts', 'gapipe-run-id'],
      headerValue: (r, i) => (i === 0 ? r.intended : 'the-run'),
    };
    const encoder = new RecordEncoder(codec);
    const out = new RecordBatch<Out>(0, 0, 4096, 1 << 20, 1000);
    const sent = Array.from({ length: 200 }, (_, i) => ({
      key: `p-${i}`,
      value: JSON.stringify({ i, pad: 'x'.repeat(i) }),
      intended: 1_700_000_000_000 + i * 7,
    }));
    for (const [i, record] of sent.entries()) {
      encoder.prepare(record);
      expect(out.tryAppend(encoder, record, 1_700_000_000_000 + i)).toBe(true);
    }
    for (const compression of ['none', 'gzip'] as const) {
      const copy = new RecordBatch<Out>(0, 0, 4096, 1 << 20, 1000);
      for (const [i, record] of sent.entries()) {
        encoder.prepare(record);
        copy.tryAppend(encoder, record, 1_700_000_000_000 + i);
      }
      copy.close(compression);
      const wire = Buffer.from(copy.stamp(-1, -1));
      wire.writeInt32BE(0, 0);
      wire.writeInt32BE(500, 4); // the broker's base offset
      const { records, nextOffset } = read(wire, 500);
      expect(nextOffset).toBe(700);
      expect(records.map((r) => r.offset)).toEqual(sent.map((_, i) => 500 + i));
      expect(records.map((r) => r.value?.toString())).toEqual(sent.map((r) => r.value));
      expect(records.map((r) => r.key?.toString())).toEqual(sent.map((r) => r.key));
      expect(records.map((r) => r.headerNumber('gapipe-intended-ts'))).toEqual(sent.map((r) => r.intended));
      expect(records.map((r) => r.headerText('gapipe-run-id'))).toEqual(sent.map(() => 'the-run'));
      expect(records.map((r) => r.timestampMs)).toEqual(sent.map((_, i) => 1_700_000_000_000 + i));
    }
  });
});

describe('HeaderTextCache', () => {
  it('gives the right text whether values repeat or change every time', () => {
    const cache = new HeaderTextCache();
    const values = [
      ...Array.from({ length: 20 }, () => 'same-run'),
      ...Array.from({ length: 50 }, (_, i) => `ts-${1_700_000_000_000 + i}`),
      'other-run',
      'other-run',
      'ünïcode',
      '',
    ];
    for (const value of values) {
      const buf = Buffer.from(`xx${value}yy`);
      expect(cache.text('h', buf, 2, buf.length - 2)).toBe(value);
    }
  });
});
