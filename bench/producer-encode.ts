/**
 * The Kafka producer's own per-record work, without a broker: generated records encoded into Kafka
 * record batches exactly as the Kafka sink does it (key, partition, value copy, headers, CRC-32C at
 * close), with the generator's time measured apart. Compare `generate` (the generator alone) with
 * `encode` (what the sink adds per record before the bytes go to the socket).
 *
 *   node --import tsx bench/producer-encode.ts [--records 500000] [--rounds 5] [--partitions 6]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/producer-encode.ts    (profile)
 *
 * Generation and encoding are timed chunk by chunk (2048 records, as the simulator hands them to the
 * sink), so load from other work on the machine falls on both alike. One warm-up round, then the
 * median of the measured rounds.
 */
import { parseArgs } from 'node:util';
import { crc32cImplementation } from '../src/kafka/crc32c.js';
import { BufferPool, RecordBatch, RecordEncoder } from '../src/kafka/record-batch.js';
import { TrafficGenerator } from '../src/simulators/generator.js';
import { SIMULATE_DEFAULTS, type SimulateOptions } from '../src/simulators/options.js';
import { SINK_RECORD_CODEC } from '../src/simulators/sinks/kafka.js';
import type { SinkRecord } from '../src/simulators/sinks/types.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '500000' },
    players: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    partitions: { type: 'string', default: '6' },
  },
});
const count = Number(values.records);
const partitionCount = Number(values.partitions);

function options(seed: number): SimulateOptions {
  return {
    ...SIMULATE_DEFAULTS,
    players: Number(values.players),
    startRate: 100_000,
    stages: [],
    rateDescription: '100000/s',
    durationMs: undefined,
    events: count,
    regions: ['NA', 'EU', 'ASIA'],
    seed,
    seedGiven: true,
    sink: 'null',
    out: undefined,
    brokers: [],
    kafka: { ...SIMULATE_DEFAULTS.kafka },
    startTimeMs: Date.parse('2026-11-21T19:00:00Z'),
    disorder: {
      late: 0,
      lateByMs: { min: 120_000, max: 900_000 },
      duplicates: 0,
      malformed: 0,
      outOfOrder: 0,
    },
    manifestPath: undefined,
    pace: false,
    scenario: undefined,
  } as SimulateOptions;
}

function round(seed: number): { generateUs: number; encodeUs: number; wireBytes: number } {
  const generator = new TrafficGenerator(options(seed));
  generator.anchor(Date.now(), '3f6c8002-9bdd-4985-8843-8d12b2ba235a');
  const encoder = new RecordEncoder(SINK_RECORD_CODEC);
  const pool = new BufferPool();
  const open: Array<RecordBatch<SinkRecord> | undefined> = new Array(partitionCount);
  let generateMs = 0;
  let encodeMs = 0;
  let wireBytes = 0;
  let records = 0;
  const now = Date.now();
  while (!generator.done) {
    const chunk: SinkRecord[] = [];
    const t0 = performance.now();
    generator.fill(chunk, Number.POSITIVE_INFINITY, 2048);
    const t1 = performance.now();
    for (const record of chunk) {
      encoder.prepare(record);
      const partition = (encoder.keyHash() & 0x7fffffff) % partitionCount;
      let batch = open[partition];
      if (batch === undefined || !batch.tryAppend(encoder, record, now)) {
        if (batch) {
          batch.close('none');
          batch.stamp(1, 0);
          wireBytes += batch.bytes;
          batch.release();
        }
        batch = new RecordBatch(partition, now, 256 * 1024, 256 * 1024, 4000, pool);
        open[partition] = batch;
        batch.tryAppend(encoder, record, now);
      }
    }
    encodeMs += performance.now() - t1;
    generateMs += t1 - t0;
    records += chunk.length;
  }
  return {
    generateUs: (generateMs * 1000) / records,
    encodeUs: (encodeMs * 1000) / records,
    wireBytes: wireBytes / records,
  };
}

console.log(
  `node ${process.version}, crc32c ${crc32cImplementation}, ${count} records, ${partitionCount} partitions`,
);
const generated: number[] = [];
const encoded: number[] = [];
for (let i = 0; i <= Number(values.rounds); i++) {
  const result = round(i + 1);
  if (i === 0) continue; // warm-up
  generated.push(result.generateUs);
  encoded.push(result.encodeUs);
  console.log(
    `  round ${i}: generate ${result.generateUs.toFixed(2)} µs/record, encode ${result.encodeUs.toFixed(2)} µs/record, ${result.wireBytes.toFixed(0)} B/record on the wire`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(
  `median: generate ${median(generated).toFixed(2)} µs/record, encode ${median(encoded).toFixed(2)} µs/record`,
);
