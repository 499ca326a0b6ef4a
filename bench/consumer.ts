/**
 * The aggregation consumer's own cost, without Kafka or Elasticsearch: seeded traffic from the
 * generator is split into partitions by player (as Kafka's key partitioning does), then decoded
 * (decodeEvent: the single-pass scanner, JSON.parse + schema where it is not sure), deduplicated, windowed and aggregated exactly as `gapipe consume` does, with a
 * flush (documents + checkpoint collected and written to the memory store) every second of event
 * time. Only the consumer's time is counted, not the generator's.
 *
 *   node --import tsx bench/consumer.ts [--events 3000000] [--players 10000] [--rate 20000] [--partitions 6]
 *   node --import tsx bench/consumer.ts --players 1000000 --rate 20000 --minutes 12     (memory bound)
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/consumer.ts             (profile)
 *
 * Prints records/s, documents written, peak RSS and the state held at the end (open windows, cells,
 * dedupe and player fingerprints).
 */
import { parseArgs } from 'node:util';
import { PartitionAggregator } from '../src/pipeline/aggregator.js';
import { decodeEvent } from '../src/pipeline/decode.js';
import { fingerprint64 } from '../src/pipeline/fingerprint.js';
import { MemoryStore } from '../src/pipeline/store.js';
import { WINDOWING_DEFAULTS } from '../src/pipeline/windows.js';
import { TrafficGenerator } from '../src/simulators/generator.js';
import { SIMULATE_DEFAULTS, type SimulateOptions } from '../src/simulators/options.js';
import type { SinkRecord } from '../src/simulators/sinks/types.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    minutes: { type: 'string' },
    players: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '20000' },
    partitions: { type: 'string', default: '6' },
    disorder: { type: 'boolean', default: false },
  },
});

const players = Number(values.players);
const rate = Number(values.rate);
const partitions = Number(values.partitions);
const events = values.minutes
  ? Math.round(Number(values.minutes) * 60 * rate)
  : Number(values.events ?? 3_000_000);
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
  disorder: values.disorder
    ? {
        late: 0.01,
        lateByMs: { min: 120_000, max: 900_000 },
        duplicates: 0.001,
        malformed: 0.0001,
        outOfOrder: 0.01,
      }
    : { late: 0, lateByMs: { min: 120_000, max: 900_000 }, duplicates: 0, malformed: 0, outOfOrder: 0 },
  manifestPath: undefined,
  pace: false,
  maxInFlight: 100_000,
  scenario: undefined,
};

const generator = new TrafficGenerator(options);
const aggregators = Array.from(
  { length: partitions },
  (_, p) => new PartitionAggregator('game-events', p, WINDOWING_DEFAULTS),
);
const offsets = new Array<number>(partitions).fill(0);
const store = new MemoryStore();
const partitionOf = new Map<string, number>();
const baselineRss = process.memoryUsage.rss();
let peakRss = baselineRss;
let consumerMs = 0;
let consumed = 0;
let written = 0;
let flushes = 0;
let nextFlushAt = startTimeMs + 1000;

console.log(
  `consumer (decode + aggregate + flush to memory): ${events.toLocaleString('en-US')} events, ${players.toLocaleString('en-US')} players, ${partitions} partitions, event time ${(events / rate / 60).toFixed(1)} min at ${rate.toLocaleString('en-US')}/s; node ${process.version}`,
);

async function flush(): Promise<void> {
  const now = new Date().toISOString();
  const batches = aggregators.map((a) => a.collect(now));
  const stats = await store.writeDocuments(batches, []);
  await store.writeCheckpoints(batches);
  for (const [i, b] of batches.entries()) aggregators[i]?.acknowledge(b);
  written += stats.written;
  flushes++;
  const rss = process.memoryUsage.rss();
  if (rss > peakRss) peakRss = rss;
}

while (!generator.done) {
  const batch: SinkRecord[] = [];
  generator.fill(batch, Number.POSITIVE_INFINITY, 4096);
  // Buffers as Kafka delivers them; not timed.
  const values = batch.map((r) => (typeof r.value === 'string' ? Buffer.from(r.value) : r.value));
  const start = performance.now();
  for (let i = 0; i < batch.length; i++) {
    const record = batch[i] as SinkRecord;
    let partition = partitionOf.get(record.key);
    if (partition === undefined) {
      partition = fingerprint64(record.key).lo % partitions;
      partitionOf.set(record.key, partition);
    }
    const offset = offsets[partition] as number;
    offsets[partition] = offset + 1;
    (aggregators[partition] as PartitionAggregator).apply(
      offset,
      decodeEvent(values[i] as Buffer),
      record.headers['gapipe-run-id'],
    );
  }
  consumed += batch.length;
  const watermark = Math.max(
    ...aggregators.map((a) => (a.watermarkMs ?? 0) + WINDOWING_DEFAULTS.allowedLatenessMs),
  );
  if (watermark >= nextFlushAt) {
    await flush();
    nextFlushAt = watermark + 1000;
  }
  consumerMs += performance.now() - start;
}
const start = performance.now();
await flush();
consumerMs += performance.now() - start;

const cells = aggregators.reduce((n, a) => n + a.openCells, 0);
const windows = aggregators.reduce((n, a) => n + a.openWindows, 0);
console.log(
  `  ${consumed.toLocaleString('en-US')} records in ${(consumerMs / 1000).toFixed(2)} s of consumer time = ${Math.round(
    consumed / (consumerMs / 1000),
  ).toLocaleString(
    'en-US',
  )} records/s; ${flushes} flushes, ${written.toLocaleString('en-US')} documents written`,
);
console.log(
  `  peak RSS ${(peakRss / 1024 ** 2).toFixed(0)} MiB (baseline before consuming ${(baselineRss / 1024 ** 2).toFixed(0)} MiB, includes the generator's player pool); state at the end: ${windows} windows, ${cells} cells`,
);
