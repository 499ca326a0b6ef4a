/**
 * Generator throughput, alone: seeded traffic into the null sink, as fast as it goes (no pacing).
 * The bar is 500,000 events/s in one process.
 *
 *   node --import tsx bench/generator.ts [--events 5000000] [--players 10000] [--disorder] [--manifest]
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/generator.ts     (profile)
 *
 * Each configuration runs a warm-up (JIT) and then three measured rounds; the median is reported.
 */
import { parseArgs } from 'node:util';
import { TrafficGenerator } from '../src/simulators/generator.js';
import { GroundTruthRecorder } from '../src/simulators/manifest.js';
import { SIMULATE_DEFAULTS, type SimulateOptions } from '../src/simulators/options.js';
import { NullSink } from '../src/simulators/sinks/null.js';
import type { SinkRecord } from '../src/simulators/sinks/types.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000000' },
    players: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    disorder: { type: 'boolean', default: false },
    manifest: { type: 'boolean', default: false },
    batch: { type: 'string', default: '2048' },
  },
});

const events = Number(values.events);
const players = Number(values.players);
const batchSize = Number(values.batch);

function options(seed: number, count: number): SimulateOptions {
  return {
    players,
    startRate: 100_000,
    stages: [],
    rateDescription: '100000/s',
    durationMs: undefined,
    events: count,
    regions: ['NA', 'EU', 'ASIA', 'SA', 'OCE'],
    seed,
    seedGiven: true,
    sink: 'null',
    out: undefined,
    brokers: [],
    topic: 'game-events',
    kafka: { ...SIMULATE_DEFAULTS.kafka },
    startTimeMs: Date.parse('2026-11-21T19:00:00Z'),
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
}

interface Round {
  setupMs: number;
  seconds: number;
  events: number;
  bytes: number;
}

function round(seed: number, count: number): Round {
  const setupStart = performance.now();
  const generator = new TrafficGenerator(options(seed, count));
  if (values.manifest) generator.observe(new GroundTruthRecorder(['NA', 'EU', 'ASIA', 'SA', 'OCE']));
  const sink = new NullSink();
  const setupMs = performance.now() - setupStart;
  const start = performance.now();
  let produced = 0;
  while (!generator.done) {
    const batch: SinkRecord[] = [];
    produced += generator.fill(batch, Number.POSITIVE_INFINITY, batchSize);
    sink.send(batch);
  }
  const seconds = (performance.now() - start) / 1000;
  return { setupMs, seconds, events: produced, bytes: sink.stats().bytes };
}

const label = `${players.toLocaleString('en-US')} players, 5 regions${values.disorder ? ', disorder on' : ''}${
  values.manifest ? ', manifest on' : ''
}`;
console.log(`generator → null sink: ${label}; node ${process.version}, ${process.arch}`);
round(1, Math.min(events, 1_000_000)); // warm-up
const rounds: Round[] = [];
for (let i = 0; i < Number(values.rounds); i++) {
  const r = round(i + 2, events);
  rounds.push(r);
  console.log(
    `  round ${i + 1}: ${r.events.toLocaleString('en-US')} events in ${r.seconds.toFixed(2)} s = ${Math.round(
      r.events / r.seconds,
    ).toLocaleString(
      'en-US',
    )} events/s, ${(r.bytes / r.seconds / 1024 ** 2).toFixed(0)} MiB/s, ${(r.bytes / r.events).toFixed(0)} B/event (setup ${r.setupMs.toFixed(0)} ms)`,
  );
}
const rates = rounds.map((r) => r.events / r.seconds).sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)] as number;
console.log(
  `median: ${Math.round(median).toLocaleString('en-US')} events/s (bar: 500,000) ${median >= 500_000 ? 'PASS' : 'FAIL'}`,
);
