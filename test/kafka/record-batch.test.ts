import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cImplementation, crc32cPortable } from '../../src/kafka/crc32c.js';
import { murmur2, partitionForKey } from '../../src/kafka/murmur2.js';
import { RecordBatch, type RecordCodec, RecordEncoder } from '../../src/kafka/record-batch.js';

const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder');
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (buffer: Buffer) => number;
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (
  key: Buffer,
) => number;

interface TestRecord {
  key: string | Buffer | undefined;
  value: string | Buffer;
  intended: number;
  runId: string;
  blob?: Buffer;
}

const codec: RecordCodec<TestRecord> = {
  key: (r) => r.key,
  value: (r) => r.value,
  headerNames: ['intended', 'run', 'blob'],
  headerValue: (r, i) => (i === 0 ? r.intended : i === 1 ? r.runId : (r.blob ?? Buffer.alloc(0))),
};

async function decode(wire: Buffer) {
  return decodeRecordBatch(new Decoder(wire));
}

describe('crc32c', () => {
  it('matches the CRC-32C check value and kafkajs for every length', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32cPortable(Buffer.from('123456789'))).toBe(0xe3069283);
    for (const length of [0, 1, 7, 8, 9, 63, 64, 65, 1000, 70_000]) {
      const data = randomBytes(length);
      const expected = kafkajsCrc32c(data) >>> 0;
      expect(crc32c(data)).toBe(expected);
      expect(crc32cPortable(data)).toBe(expected);
    }
  });

  it('uses the native implementation on this machine', () => {
    expect(crc32cImplementation).toBe('native');
  });
});

describe('murmur2 partitioner', () => {
  it('picks the partition kafkajs and the Java client pick', () => {
    for (let i = 0; i < 2000; i++) {
      const key = Buffer.from(
        i % 3 === 0 ? `p-${String(i).padStart(7, '0')}` : randomBytes(i % 41).toString('hex'),
      );
      expect(murmur2(key, key.length)).toBe(kafkajsMurmur2(key));
      expect(partitionForKey(key, key.length, 6)).toBe((kafkajsMurmur2(key) & 0x7fffffff) % 6);
    }
  });
});

describe('RecordBatch', () => {
  it('writes records that an independent decoder reads back exactly', async () => {
    const encoder = new RecordEncoder(codec);
    const batch = new RecordBatch<TestRecord>(2, 1_000, 128, 1024 * 1024, 1000);
    const records: TestRecord[] = [
      { key: 'p-0000001', value: Buffer.from('{"a":1}'), intended: 1_790_000_000_123, runId: 'run-1' },
      { key: 'clé-ü', value: 'valeur ✓', intended: 0, runId: 'run-1', blob: Buffer.from([0, 255, 7]) },
      { key: undefined, value: Buffer.alloc(3000, 'x'), intended: 42, runId: 'run-2' },
      { key: Buffer.from([1, 2, 3]), value: '', intended: 9, runId: 'r'.repeat(300) },
    ];
    const timestamps = [1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_250, 1_700_000_100_000];
    records.forEach((record, i) => {
      encoder.prepare(record);
      expect(batch.tryAppend(encoder, record, timestamps[i] as number)).toBe(true);
    });
    batch.close('none');
    batch.baseSequence = 17;
    const wire = batch.stamp(5001, 3);
    expect(wire.readUInt32BE(17)).toBe(kafkajsCrc32c(wire.subarray(21)) >>> 0);
    const decoded = await decode(wire);
    expect(decoded.producerId).toBe('5001');
    expect(decoded.producerEpoch).toBe(3);
    expect(decoded.firstSequence).toBe(17);
    expect(decoded.records).toHaveLength(4);
    decoded.records.forEach(
      (
        record: {
          key: Buffer | null;
          value: Buffer;
          headers: Record<string, Buffer>;
          timestamp: string;
          offset: string;
        },
        i: number,
      ) => {
        const sent = records[i] as TestRecord;
        expect(record.key === null ? undefined : record.key).toEqual(
          sent.key === undefined ? undefined : Buffer.from(sent.key),
        );
        expect(record.value).toEqual(Buffer.from(sent.value));
        expect(record.headers.intended?.toString()).toBe(String(sent.intended));
        expect(record.headers.run?.toString()).toBe(sent.runId);
        expect(record.headers.blob).toEqual(sent.blob ?? Buffer.alloc(0));
        expect(Number(record.timestamp)).toBe(timestamps[i]);
        expect(record.offset).toBe(String(i));
      },
    );
  });

  it('recomputes the CRC when restamped with a new producer id and sequence', async () => {
    const encoder = new RecordEncoder(codec);
    const batch = new RecordBatch<TestRecord>(0, 0, 128, 64 * 1024, 100);
    const record: TestRecord = { key: 'k', value: 'v', intended: 1, runId: 'r' };
    encoder.prepare(record);
    batch.tryAppend(encoder, record, 5);
    batch.close('none');
    batch.baseSequence = 0;
    batch.stamp(1, 0);
    batch.baseSequence = 40;
    const wire = batch.stamp(2, 1);
    expect(wire.readUInt32BE(17)).toBe(kafkajsCrc32c(wire.subarray(21)) >>> 0);
    expect((await decode(wire)).firstSequence).toBe(40);
  });

  it('compresses with gzip in a form other clients read', async () => {
    const encoder = new RecordEncoder(codec);
    const batch = new RecordBatch<TestRecord>(0, 0, 128, 1024 * 1024, 1000);
    for (let i = 0; i < 200; i++) {
      const record: TestRecord = {
        key: `p-${i}`,
        value: `{"event":${i},"pad":"${'x'.repeat(200)}"}`,
        intended: i,
        runId: 'r',
      };
      encoder.prepare(record);
      batch.tryAppend(encoder, record, 1000 + i);
    }
    batch.close('gzip');
    const wire = batch.stamp(-1, -1);
    expect(wire.length).toBeLessThan(200 * 200);
    const decoded = await decode(wire);
    expect(decoded.records).toHaveLength(200);
    expect(decoded.records[199].value.toString()).toContain('"event":199');
  });

  it('stops at the record and byte limits, but takes one oversized record alone', () => {
    const encoder = new RecordEncoder(codec);
    const byCount = new RecordBatch<TestRecord>(0, 0, 128, 1024 * 1024, 3);
    const small: TestRecord = { key: 'k', value: 'v', intended: 1, runId: 'r' };
    encoder.prepare(small);
    expect([1, 2, 3, 4].map(() => byCount.tryAppend(encoder, small, 0))).toEqual([true, true, true, false]);
    expect(byCount.full).toBe(true);

    const bySize = new RecordBatch<TestRecord>(0, 0, 128, 2000, 1000);
    const big: TestRecord = { key: 'k', value: Buffer.alloc(1500), intended: 1, runId: 'r' };
    encoder.prepare(big);
    expect(bySize.tryAppend(encoder, big, 0)).toBe(true);
    expect(bySize.tryAppend(encoder, big, 0)).toBe(false);

    const alone = new RecordBatch<TestRecord>(0, 0, 128, 1000, 1000);
    expect(alone.tryAppend(encoder, big, 0)).toBe(true);
    expect(alone.count).toBe(1);
  });
});
