/**
 * The Kafka client's share of the consumer's work per record, without a broker: the record batches
 * of a fetch response (generated events of ~300 bytes, the two gapipe headers, 1,000 records a batch)
 * read as the consumer reads them — offset, value, run id and intended time — by gapipe's reader
 * (src/kafka/record-batch-reader.ts) and by kafkajs' batch decoder plus the message objects kafkajs'
 * consumer hands to eachBatch. One warm-up round, then ROUNDS measured rounds; min/median/max.
 *
 *   node --import tsx bench/consumer-fetch.ts [--records 500000] [--rounds 5]
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { RecordBatch, type RecordCodec, RecordEncoder } from '../src/kafka/record-batch.js';
import { HeaderTextCache, readRecordBatches } from '../src/kafka/record-batch-reader.js';
import { TrafficGenerator } from '../src/simulators/generator.js';
import { SIMULATE_DEFAULTS, type SimulateOptions } from '../src/simulators/options.js';
import type { SinkRecord } from '../src/simulators/sinks/types.js';

const require = createRequire(import.meta.url);
const KafkajsDecoder = require('kafkajs/src/protocol/decoder');
const decodeKafkajsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<{ records: Array<{ offset: string; value: Buffer; headers: Record<string, Buffer> }> }>;

const { values } = parseArgs({
  options: { records: { type: 'string', default: '500000' }, rounds: { type: 'string', default: '5' } },
});
const total = Number(values.records);
const rounds = Number(values.rounds);

// Generated events, as `gapipe simulate` writes them.
const players = 10_000;
const rate = 20_000;
const events = total;
const startTimeMs = Date.parse('2026-11-21T19:00:00Z');
const options: SimulateOptions = {
  players,
  startRate: rate,
  stages: [],
  rateDescription: `${rate}/s`,
  durationMs: undefined,
  events,
  regions: ['NA', 'EU', 'ASIA', 'SA', 'OCE'],
  seed: 1,
  seedGiven: true,
  sink: 'null',
  out: undefined,
  brokers: [],
  topic: 'game-events',
  kafka: { ...SIMULATE_DEFAULTS.kafka },
  startTimeMs,
  disorder: { late: 0, lateByMs: { min: 120_000, max: 900_000 }, duplicates: 0, malformed: 0, outOfOrder: 0 },
  manifestPath: undefined,
  pace: false,
  maxInFlight: 100_000,
  scenario: undefined,
};

const generator = new TrafficGenerator(options);
const codec: RecordCodec<SinkRecord> = {
  key: (r) => r.key,
  value: (r) => r.value,
  headerNames: ['gapipe-intended-ts', 'gapipe-run-id'],
  headerValue: (r, i) =>
    i === 0 ? startTimeMs + Math.round(r.intendedMs) : 'e6f2a4c8-1f0b-4a57-9a43-5c1d2b3e4f60',
};
const encoder = new RecordEncoder(codec);
const batches: Buffer[] = [];
let batch = new RecordBatch<SinkRecord>(0, 0, 1 << 20, 1 << 20, 1000);
let offset = 0;
const flush = () => {
  if (batch.count === 0) return;
  batch.close('none');
  const wire = Buffer.from(batch.stamp(-1, -1));
  wire.writeBigInt64BE(BigInt(offset), 0);
  offset += batch.count;
  batches.push(wire);
  batch = new RecordBatch<SinkRecord>(0, 0, 1 << 20, 1 << 20, 1000);
};
while (!generator.done) {
  const chunk: SinkRecord[] = [];
  generator.fill(chunk, Number.POSITIVE_INFINITY, 4096);
  for (const record of chunk) {
    encoder.prepare(record);
    if (!batch.tryAppend(encoder, record, startTimeMs + Math.round(record.intendedMs))) {
      flush();
      encoder.prepare(record);
      batch.tryAppend(encoder, record, startTimeMs + Math.round(record.intendedMs));
    }
  }
}
flush();
const bytes = batches.reduce((n, b) => n + b.length, 0);
console.log(
  `${offset.toLocaleString('en')} records, ${(bytes / 1048576).toFixed(0)} MiB in ${batches.length} batches`,
);

let sink = 0;

function gapipeRound(): void {
  const cache = new HeaderTextCache();
  // Fetch responses of ~1 MiB per partition, as the consumer gets them.
  const step = 3;
  for (let i = 0; i < batches.length; i += step) {
    const bytes = Buffer.concat(batches.slice(i, i + step));
    const { records } = readRecordBatches(bytes, { fetchOffset: 0, cache });
    for (const record of records) {
      sink += (record.value?.length ?? 0) + record.offset;
      if (record.headerText('gapipe-run-id') === undefined) sink++;
      sink += record.headerNumber('gapipe-intended-ts') ?? 0;
    }
  }
}

async function kafkajsRound(): Promise<void> {
  for (const wire of batches) {
    const decoded = await decodeKafkajsBatch(new KafkajsDecoder(wire));
    for (const message of decoded.records) {
      // What the kafkajs transport and the consumer then do per record.
      const record = {
        offset: Number(message.offset),
        value: message.value,
        headers: message.headers,
      };
      sink += record.value.length + record.offset;
      if (record.headers['gapipe-run-id']?.toString() === undefined) sink++;
      sink += Number(record.headers['gapipe-intended-ts']?.toString());
    }
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]?.toFixed(2)} / ${s[Math.floor((s.length - 1) / 2)]?.toFixed(2)} / ${s.at(-1)?.toFixed(2)}`;
};
const results: Record<string, number[]> = { gapipe: [], kafkajs: [] };
for (let round = 0; round <= rounds; round++) {
  for (const name of ['gapipe', 'kafkajs'] as const) {
    const start = process.cpuUsage();
    if (name === 'gapipe') gapipeRound();
    else await kafkajsRound();
    const used = process.cpuUsage(start);
    if (round > 0) results[name]?.push((used.user + used.system) / offset);
  }
}
console.log('CPU µs per record, min / median / max (GC included):');
for (const [name, xs] of Object.entries(results)) console.log(`  ${name.padEnd(8)} ${stats(xs)}`);
if (sink === 0) console.log('');
