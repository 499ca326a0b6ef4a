/** Shared set-up for the simulator tests. */
import { createHash } from 'node:crypto';
import type { ManualClock } from '../../src/clock.js';
import { TrafficGenerator } from '../../src/simulators/generator.js';
import type { GroundTruthObserver } from '../../src/simulators/manifest.js';
import { SIMULATE_DEFAULTS, type SimulateOptions } from '../../src/simulators/options.js';
import type { Sink, SinkRecord, SinkStats } from '../../src/simulators/sinks/types.js';

/** 20:00 UTC: evening in Europe (21:00 local), early afternoon in NA, night in ASIA. */
export const EVENING_EU = Date.parse('2026-11-21T20:00:00Z');

export const NO_DISORDER = {
  late: 0,
  lateByMs: { min: 120_000, max: 900_000 },
  duplicates: 0,
  malformed: 0,
  outOfOrder: 0,
};

export function simulateOptions(overrides: Partial<SimulateOptions> = {}): SimulateOptions {
  return {
    players: 1000,
    startRate: 10_000,
    stages: [],
    rateDescription: '10000/s total',
    durationMs: undefined,
    events: 10_000,
    regions: ['NA', 'EU', 'ASIA'],
    seed: 42,
    seedGiven: true,
    sink: 'null',
    out: undefined,
    brokers: [...SIMULATE_DEFAULTS.brokers],
    topic: 'game-events',
    startTimeMs: EVENING_EU,
    disorder: NO_DISORDER,
    manifestPath: undefined,
    pace: true,
    maxInFlight: 100_000,
    kafka: { ...SIMULATE_DEFAULTS.kafka },
    scenario: undefined,
    ...overrides,
  };
}

/** Runs a generator to the end, unpaced, and returns every record. */
export function generateAll(
  overrides: Partial<SimulateOptions> = {},
  observer?: GroundTruthObserver,
): { records: SinkRecord[]; generator: TrafficGenerator } {
  const generator = new TrafficGenerator(simulateOptions(overrides));
  if (observer) generator.observe(observer);
  const records: SinkRecord[] = [];
  while (!generator.done) generator.fill(records, Number.POSITIVE_INFINITY, 4096);
  return { records, generator };
}

export function text(record: SinkRecord): string {
  return typeof record.value === 'string' ? record.value : record.value.toString('utf8');
}

export function parse(record: SinkRecord): Record<string, unknown> {
  return JSON.parse(text(record)) as Record<string, unknown>;
}

/** SHA-256 of the values as the stdout sink writes them. */
export function streamHash(records: readonly SinkRecord[]): string {
  const hash = createHash('sha256');
  for (const record of records) {
    hash.update(record.value);
    hash.update('\n');
  }
  return hash.digest('hex');
}

/** A sink that acknowledges at most `perMs` records per millisecond of clock time (a slow broker). */
export class ThrottledSink implements Sink {
  readonly description = 'throttled';
  readonly records: SinkRecord[] = [];
  maxInFlightSeen = 0;
  private readonly startMs: number;

  constructor(
    private readonly clock: ManualClock,
    private readonly perMs: number,
  ) {
    this.startMs = clock.now();
  }

  private acknowledged(): number {
    return Math.min(this.records.length, Math.floor((this.clock.now() - this.startMs) * this.perMs));
  }

  async open(): Promise<void> {}
  send(records: readonly SinkRecord[]): void {
    this.records.push(...records);
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlight());
  }
  inFlight(): number {
    return this.records.length - this.acknowledged();
  }
  stats(): SinkStats {
    return { acknowledged: this.acknowledged(), failed: 0, bytes: 0 };
  }
  async flush(): Promise<void> {
    while (this.inFlight() > 0) await this.clock.sleep(1);
  }
  async close(): Promise<void> {}
  fatalError(): Error | undefined {
    return undefined;
  }
}
