import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { SimulationStart } from '../../src/simulators/simulate.js';
import type { SimulateSummary } from '../../src/simulators/summary.js';
import {
  formatDuration,
  formatRate,
  renderProgressLine,
  renderSimulateBanner,
  renderSimulateSummary,
} from '../../src/ui/simulate.js';

const summary: SimulateSummary = {
  runId: 'run-1',
  seed: 7,
  sink: 'stdout',
  scenario: undefined,
  players: 1000,
  regions: ['NA', 'EU', 'ASIA'],
  startTime: '2026-11-21T20:00:00.000Z',
  stopReason: 'completed',
  paced: true,
  produced: 6_000_000,
  acknowledged: 6_000_000,
  failed: 0,
  bytes: 1.8 * 1024 ** 3,
  targetRate: 100_000,
  peakTargetRate: 100_000,
  achievedRate: 100_002.5,
  acknowledgedRate: 100_002.5,
  keptUp: true,
  maxLagMs: 3,
  maxBacklog: 0,
  inFlightWaitMs: 0,
  producingMs: 60_000,
  elapsedMs: 60_010,
  events: {
    records: 6_000_000,
    events: 6_000_000,
    late: 0,
    duplicates: 0,
    malformed: 0,
    outOfOrder: 0,
    byType: {
      player_join: 0,
      player_leave: 0,
      match_start: 0,
      match_end: 0,
      enemy_defeated: 0,
      item_purchase: 0,
      level_up: 0,
    },
    byRegion: {},
  },
};

const plain = (text: string) => stripVTControlCharacters(text);

describe('formatting', () => {
  it('formats rates and durations for people', () => {
    expect(formatRate(100_000)).toBe('100,000/s');
    expect(formatRate(12.345)).toBe('12.3/s');
    expect(formatDuration(450)).toBe('450ms');
    expect(formatDuration(12_300)).toBe('12.3s');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(3_600_000)).toBe('1h');
  });
});

describe('renderSimulateBanner', () => {
  const start: SimulationStart = {
    runId: 'run-1',
    seed: 99,
    seedGiven: false,
    scenario: 'launch-day',
    players: 200_000,
    regions: ['NA', 'EU'],
    startTime: '2026-11-21T20:00:00.000Z',
    targetRate: 5000,
    peakTargetRate: 50_000,
    rateDescription: '5000/s in total',
    stages: [
      { durationMs: 30_000, targetRate: 50_000 },
      { durationMs: 120_000, targetRate: 10_000 },
    ],
    durationMs: 150_000,
    events: undefined,
    sink: 'file out.ndjson',
    disorder: {
      late: 0.01,
      lateByMs: { min: 120_000, max: 900_000 },
      duplicates: 0.001,
      malformed: 0,
      outOfOrder: 0,
    },
    paced: false,
    maxInFlight: 100_000,
    manifestPath: 'truth.json',
  };

  it('prints the target rate, the stages, how to repeat the run, and the disorder', () => {
    const lines = plain(renderSimulateBanner(start)).trimEnd().split('\n');
    expect(lines[0]).toBe('Simulating 200,000 players in NA, EU → file out.ndjson (scenario launch-day)');
    expect(lines[1]).toBe(
      '  target rate 5,000/s at start, ramping 30s→50,000/s, 2m→10,000/s (peak 50,000/s), for 2m30s',
    );
    expect(lines[2]).toContain('seed 99 (random; add --seed 99 to repeat this stream)');
    expect(lines[3]).toBe('  disorder: late 1% (by 2m..15m), duplicates 0.1%');
    expect(lines).toContain('  ground truth → truth.json');
    expect(lines.some((line) => line.includes('unpaced'))).toBe(true);
  });

  const steady: SimulationStart = {
    ...start,
    scenario: undefined,
    players: 1000,
    targetRate: 50_000,
    peakTargetRate: 50_000,
    stages: [],
    durationMs: 60_000,
    paced: true,
  };

  it('gives a total rate as one figure, not "50,000/s (50000/s in total)"', () => {
    const lines = plain(
      renderSimulateBanner({ ...steady, rateDescription: '50000/s in total', rateGivenAsTotal: true }),
    ).split('\n');
    expect(lines[1]).toBe('  target rate 50,000/s, for 1m');
  });

  it('spells out a rate given per player', () => {
    const lines = plain(
      renderSimulateBanner({
        ...steady,
        rateDescription: 'one event every 20ms per player',
        rateGivenAsTotal: false,
      }),
    ).split('\n');
    expect(lines[1]).toBe('  target rate 50,000/s (one event every 20ms per player), for 1m');
  });

  it('splits a steady paced rate over the generator threads, not a ramp or an unpaced run', () => {
    const total = { ...steady, rateDescription: '50000/s in total', rateGivenAsTotal: true };
    expect(plain(renderSimulateBanner({ ...total, workers: 4 }))).toContain(
      '\n  4 generator threads (about 12,500/s each)\n',
    );
    expect(plain(renderSimulateBanner({ ...total, workers: 1 }))).not.toContain('generator threads');
    expect(plain(renderSimulateBanner({ ...start, workers: 2 }))).toContain('\n  2 generator threads\n');
    expect(plain(renderSimulateBanner({ ...total, paced: false, workers: 2 }))).toContain(
      '\n  2 generator threads\n',
    );
  });
});

describe('renderSimulateSummary', () => {
  it('says the run kept up', () => {
    const text = plain(renderSimulateSummary(summary));
    expect(text).toContain('✓ Produced 6,000,000 records in 1m → stdout');
    expect(text).toContain('acknowledged 6,000,000 · failed 0 · 1.80 GiB');
    expect(text).toContain('achieved 100,003/s of 100,000/s target — kept up (max lag 3ms)');
  });

  it('shows the shortfall, latency percentiles and injected disorder', () => {
    const text = plain(
      renderSimulateSummary({
        ...summary,
        keptUp: false,
        achievedRate: 62_000,
        maxLagMs: 12_300,
        maxBacklog: 1_230_000,
        inFlightWaitMs: 20_000,
        produceAck: {
          unit: 'ms',
          count: 10,
          p50: 1.2,
          p90: 3.4,
          p99: 9.9,
          p999: 20,
          max: 31,
          mean: 2,
          histogram: 'x',
        },
        events: { ...summary.events, late: 60_000, duplicates: 6000, malformed: 600, outOfOrder: 300 },
      }),
    );
    expect(text).toContain(
      'achieved 62,000/s of 100,000/s target — could not keep up: fell 12.3s behind schedule, backlog peaked at 1,230,000 events',
    );
    expect(text).toContain('waited 20s at the in-flight limit');
    expect(text).toContain('p50 1.2ms · p90 3.4ms · p99 9.9ms · p99.9 20ms · max 31ms');
    expect(text).toContain('injected: late 60,000, out-of-order 300, duplicates 6,000, malformed 600');
  });

  it('renders a progress line with the shortfall', () => {
    const line = plain(
      renderProgressLine({
        elapsedMs: 5000,
        produced: 10,
        acknowledged: 5,
        failed: 0,
        inFlight: 5,
        targetRate: 100,
        achievedRate: 2,
        backlog: 490,
        lagMs: 4900,
        atInFlightLimit: true,
        fraction: undefined,
      }),
    );
    expect(line).toContain('behind by 4.9s, backlog 490 (in-flight limit reached)');
  });
});
