import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulationProgress } from '../../src/simulators/runner.js';
import type { SimulationStart } from '../../src/simulators/simulate.js';
import { createSimulateReporter, SimulateProgress } from '../../src/ui/simulate-progress.js';

afterEach(() => cleanup());

const start: SimulationStart = {
  runId: 'run-1',
  seed: 7,
  seedGiven: true,
  scenario: undefined,
  players: 1000,
  regions: ['NA', 'EU', 'ASIA'],
  startTime: '2026-11-21T20:00:00.000Z',
  targetRate: 100_000,
  peakTargetRate: 100_000,
  rateDescription: 'one event every 10ms per player',
  stages: [],
  durationMs: 60_000,
  events: undefined,
  sink: 'stdout',
  disorder: { late: 0, lateByMs: { min: 1, max: 2 }, duplicates: 0, malformed: 0, outOfOrder: 0 },
  paced: true,
  maxInFlight: 100_000,
  manifestPath: undefined,
};

const progress: SimulationProgress = {
  elapsedMs: 30_000,
  produced: 3_000_000,
  acknowledged: 2_999_000,
  failed: 0,
  inFlight: 1000,
  targetRate: 100_000,
  achievedRate: 99_870,
  backlog: 0,
  lagMs: 0,
  atInFlightLimit: false,
  fraction: 0.5,
};

function frame(p: SimulationProgress | undefined): string {
  const { lastFrame } = render(<SimulateProgress start={start} progress={p} />);
  return stripVTControlCharacters(lastFrame() ?? '');
}

describe('SimulateProgress', () => {
  it('shows the banner with the target rate before the first update', () => {
    const text = frame(undefined);
    expect(text).toContain('Simulating 1,000 players in NA, EU, ASIA → stdout');
    expect(text).toContain('target rate 100,000/s (one event every 10ms per player), for 1m');
    expect(text).toContain('starting');
  });

  it('shows progress, counts and achieved vs target rate', () => {
    const text = frame(progress);
    expect(text).toContain('50%');
    expect(text).toContain('produced 3,000,000 · acknowledged 2,999,000 · in flight 1,000');
    expect(text).toContain('rate 99,870/s of 100,000/s target');
    expect(text).not.toContain('behind');
  });

  it('shows the shortfall when the sink cannot keep up', () => {
    const text = frame({
      ...progress,
      achievedRate: 40_000,
      lagMs: 12_300,
      backlog: 1_230_000,
      atInFlightLimit: true,
      failed: 5,
    });
    expect(text).toContain('rate 40,000/s of 100,000/s target');
    expect(text).toContain('behind schedule by 12.3s, backlog 1,230,000 events');
    expect(text).toContain('in-flight limit reached');
    expect(text).toContain('failed 5');
  });
});

describe('createSimulateReporter', () => {
  it('prints plain lines (banner, then throttled progress) when output is plain', () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    const reporter = createSimulateReporter({
      plain: true,
      quiet: false,
      stream: stream as unknown as NodeJS.WriteStream,
    });
    reporter.started(start);
    for (let s = 1; s <= 10; s++) reporter.progress({ ...progress, elapsedMs: s * 1000 });
    reporter.done();
    const lines = stripVTControlCharacters(chunks.join('')).trimEnd().split('\n');
    expect(lines[0]).toBe('Simulating 1,000 players in NA, EU, ASIA → stdout');
    const progressLines = lines.filter((line) => line.includes('produced'));
    expect(progressLines).toHaveLength(2); // every 5 s of run time
    expect(progressLines[0]).toContain('rate 99,870/s (target 100,000/s)');
  });

  it('prints nothing when quiet', () => {
    const stream = new PassThrough();
    let written = '';
    stream.on('data', (chunk: Buffer) => {
      written += chunk.toString();
    });
    const reporter = createSimulateReporter({
      plain: true,
      quiet: true,
      stream: stream as unknown as NodeJS.WriteStream,
    });
    reporter.started(start);
    reporter.progress({ ...progress, elapsedMs: 10_000 });
    reporter.done();
    expect(written).toBe('');
  });
});
