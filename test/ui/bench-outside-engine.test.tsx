/**
 * What the live view and the summary say for an engine read from outside (spark, external): the bench
 * knows what the engine's documents count, and nothing of its watermark, late or dead-lettered records,
 * documents written or inside latencies — those must read "not measured", never as a measured 0.
 */
import { stripVTControlCharacters } from 'node:util';
import { cleanup, render } from 'ink-testing-library';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { emptySummary } from '../../src/bench/histograms.js';
import type { BenchProgress } from '../../src/bench/types.js';
import { renderBenchSummary } from '../../src/ui/bench.js';
import { BenchView } from '../../src/ui/bench-progress.js';
import { sampleBenchResult } from '../bench/fixtures.js';
import { asOutsideEngine } from '../bench/helpers/engine-results.js';
import { latency } from './helpers/latency.js';

// ink draws nothing until unmount under CI=true: pin the terminal behaviour (read when ink is imported).
vi.hoisted(() => {
  vi.stubEnv('CI', 'false');
  vi.stubEnv('CONTINUOUS_INTEGRATION', 'false');
});
afterAll(() => vi.unstubAllEnvs());
afterEach(() => cleanup());

/** A Spark run 50 s in: no sink latency, no documents written, late or dead-lettered known. */
const sparkProgress: BenchProgress = {
  outsideEngine: 'spark',
  phase: 'load',
  phaseElapsedMs: 50_000,
  elapsedMs: 50_000,
  totalMs: 70_000,
  warmup: false,
  target: 'lab',
  targetRate: 2000,
  rates: { produced: 2090, acknowledged: 2090, consumed: 0, written: 0 },
  history: Array.from({ length: 50 }, (_, i) => ({
    produced: 2000,
    consumed: i % 12 === 0 ? 20_000 : 0,
    written: 0,
    lag: (i % 12) * 2000,
  })),
  lag: 48_612,
  // The engine's watermark is its own: the bench never has one for it.
  watermarkMs: undefined,
  latency: {
    'produce-ack': latency(87.6, 5000),
    delivery: latency(90, 5000),
    sink: emptySummary(),
    visible: latency(35_684, 5000),
  },
  errors: [],
  totals: {
    produced: 115_960,
    acknowledged: 115_949,
    failed: 0,
    consumed: 67_348,
    written: 0,
    late: 0,
    deadLettered: 0,
    duplicates: 0,
  },
};

function frame(progress: BenchProgress): string {
  const { lastFrame } = render(
    <BenchView progress={progress} allowedLatenessMs={600_000} nowMs={0} onStop={() => {}} />,
  );
  return stripVTControlCharacters(lastFrame() ?? '');
}

describe('the live view for an engine read from outside', () => {
  const text = frame(sparkProgress);

  it('says the sink latency is not measured instead of waiting for samples', () => {
    expect(text).toMatch(/^sink\s+not measured for this engine$/m);
    expect(text).not.toContain('no samples yet');
  });

  it('shows what the engine counted, and no written, late, dead-lettered or watermark figure', () => {
    expect(text).toContain('total produced 115,960 · acknowledged 115,949 · counted 67,348');
    expect(text).toContain(
      'failed 0 · errors 0 · watermark, late and dead-lettered records: inside the engine, not measured',
    );
    expect(text).not.toMatch(/written \d|late 0|dead-lettered 0|watermark -/);
  });

  it('keeps them for gapipe’s own consumers, which do report them', () => {
    const own = frame({ ...sparkProgress, outsideEngine: undefined });
    expect(own).toMatch(/^sink\s+no samples yet$/m);
    expect(own).toContain('late 0 · dead-lettered 0 · failed 0 · errors 0');
    expect(own).toContain('consumed 67,348 · written 0 docs');
  });
});

describe('the summary for an engine read from outside', () => {
  const lines = stripVTControlCharacters(
    renderBenchSummary(asOutsideEngine(sampleBenchResult(), 'spark')),
  ).split('\n');

  it('totals what the engine’s documents count, and names what it cannot know', () => {
    const totals = lines.find((line) => line.startsWith('  totals:'));
    expect(totals).toMatch(
      /· counted in the engine's documents [\d,]+ · written, late, dead-lettered and duplicates: not measured for this engine$/,
    );
    expect(totals).not.toMatch(/written \d|docs/);
  });

  it('lists the sink latency as not measured, outside the table of measured kinds', () => {
    const table = lines.slice(lines.indexOf('Latency from intended send time (warm-up excluded):'));
    expect(table[1]).toMatch(/^ {2}kind\s+p50/);
    expect(table.filter((line) => /^ {2}sink\b/.test(line))).toEqual([
      "  sink: not measured for this engine (timed only inside gapipe's own consumer)",
    ]);
    expect(table.some((line) => /^ {2}visible\s+[\d,.]+m?s/.test(line))).toBe(true);
  });
});
