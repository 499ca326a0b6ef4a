import { describe, expect, it } from 'vitest';
import {
  createLatencyHistogram,
  decodeHistogram,
  emptySummary,
  encodeHistogram,
  HIGHEST_LATENCY_US,
  LatencyRecorder,
  mergeHistograms,
  summarize,
  toHgrm,
} from '../../src/bench/histograms.js';

/** HDR figures are exact to 3 significant digits (the highest equivalent value of a sample). */
function expectHdr(actual: number | undefined, expected: number): void {
  expect(actual).toBeGreaterThanOrEqual(expected);
  expect(actual).toBeLessThanOrEqual(expected * 1.001);
}

/** 1..n ms, each once. */
function recordRange(recorder: LatencyRecorder, n: number, offsetMs = 0): void {
  for (let i = 1; i <= n; i++) recorder.recordMs(i + offsetMs);
}

describe('LatencyRecorder', () => {
  it('excludes warm-up samples from the measured histogram but not from the per-second interval', () => {
    const recorder = new LatencyRecorder('delivery');
    expect(recorder.measuring).toBe(false);
    recorder.recordMs(5000);
    recorder.recordMs(6000);
    expect(recorder.count).toBe(0);
    expect(recorder.summary()).toEqual(emptySummary());
    // The warm-up second still has its own p99 for the series.
    const warmup = recorder.takeInterval();
    expect(warmup?.count).toBe(2);
    expectHdr(warmup?.maxMs, 6000);

    recorder.startMeasuring();
    recordRange(recorder, 100);
    const summary = recorder.summary();
    expect(summary.count).toBe(100);
    expectHdr(summary.maxMs, 100);
    expect(summary.minMs).toBe(1);
  });

  it('can start measuring through the flag or the constructor', () => {
    const byFlag = new LatencyRecorder('sink');
    byFlag.measuring = true;
    byFlag.recordMs(3);
    const byOption = new LatencyRecorder('sink', { measuring: true });
    byOption.recordMs(3);
    expect(byFlag.count).toBe(1);
    expect(byOption.count).toBe(1);
  });

  it('takeInterval returns the last second and starts a fresh one; undefined for a second without samples', () => {
    const recorder = new LatencyRecorder('produce-ack', { measuring: true });
    expect(recorder.takeInterval()).toBeUndefined();
    recordRange(recorder, 100);
    const first = recorder.takeInterval();
    expect(first?.count).toBe(100);
    expectHdr(first?.p50Ms, 50);
    expectHdr(first?.p99Ms, 99);
    expectHdr(first?.maxMs, 100);
    expect(recorder.takeInterval()).toBeUndefined();
    recorder.recordMs(250);
    const second = recorder.takeInterval();
    expect(second?.count).toBe(1);
    expectHdr(second?.p99Ms, 250);
    expect(second?.minMs).toBeLessThanOrEqual(250);
    expect(second?.minMs).toBeGreaterThan(249.7);
    // The cumulative histogram is untouched by taking intervals.
    expect(recorder.count).toBe(101);
  });

  it('clamps: negative and zero count as 1 µs, more than an hour as an hour; NaN is ignored', () => {
    const recorder = new LatencyRecorder('visible', { measuring: true });
    recorder.recordMs(-25);
    recorder.recordMs(0);
    recorder.recordMs(10 * 3_600_000);
    recorder.recordMs(Number.POSITIVE_INFINITY);
    recorder.recordMs(Number.NaN);
    const summary = recorder.summary();
    expect(summary.count).toBe(4);
    expect(summary.minMs).toBe(0.001);
    // Within the histogram's 3 significant digits of an hour.
    expect(summary.maxMs).toBeGreaterThanOrEqual(3_600_000);
    expect(summary.maxMs).toBeLessThan(3_600_000 * 1.001);
    expect(recorder.histogram.maxValue).toBeLessThanOrEqual(HIGHEST_LATENCY_US * 1.001);
  });

  it('keeps sub-millisecond resolution', () => {
    const recorder = new LatencyRecorder('produce-ack', { measuring: true });
    recorder.recordMs(0.25);
    recorder.recordMs(0.5);
    expect(recorder.summary()).toMatchObject({ minMs: 0.25, maxMs: 0.5, meanMs: 0.375 });
  });
});

describe('summaries and encoding', () => {
  it('summarises in milliseconds', () => {
    const h = createLatencyHistogram();
    for (let us = 1000; us <= 100_000; us += 1000) h.recordValue(us); // 1..100 ms
    const summary = summarize(h);
    expect(summary.count).toBe(100);
    expect(summary.minMs).toBe(1);
    expect(summary.meanMs).toBeCloseTo(50.5, 1);
    expectHdr(summary.p50Ms, 50);
    expectHdr(summary.p90Ms, 90);
    expectHdr(summary.p99Ms, 99);
    expectHdr(summary.p999Ms, 100);
    expectHdr(summary.maxMs, 100);
    // Microsecond precision at most, so result.json stays short.
    for (const value of Object.values(summary)) expect(Math.round(value * 1000)).toBe(value * 1000);
  });

  it('an empty histogram summarises to the empty summary', () => {
    expect(summarize(createLatencyHistogram())).toEqual(emptySummary());
    expect(emptySummary()).toEqual({
      count: 0,
      minMs: 0,
      meanMs: 0,
      p50Ms: 0,
      p90Ms: 0,
      p99Ms: 0,
      p999Ms: 0,
      maxMs: 0,
    });
  });

  it('round-trips through compressed base64', () => {
    const recorder = new LatencyRecorder('delivery', { measuring: true });
    recordRange(recorder, 1000, 0.5);
    const text = recorder.encode();
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(summarize(decodeHistogram(text))).toEqual(recorder.summary());
    expect(encodeHistogram(recorder.histogram)).toBe(text);
  });

  it('decodes the empty string as an empty histogram and rejects garbage', () => {
    expect(decodeHistogram('').totalCount).toBe(0);
    expect(() => decodeHistogram('not a histogram')).toThrow(/not a compressed base64 HDR histogram/);
  });

  it('merging two encoded histograms equals recording every value in one', () => {
    const a = new LatencyRecorder('sink', { measuring: true });
    const b = new LatencyRecorder('sink', { measuring: true });
    const all = new LatencyRecorder('sink', { measuring: true });
    for (let i = 0; i < 5000; i++) {
      // Different shapes per worker: a fast one and a slow, heavy-tailed one.
      const fast = 1 + (i % 37) * 0.7;
      const slow = 20 + ((i * 7919) % 1000) ** 1.3 / 10;
      a.recordMs(fast);
      b.recordMs(slow);
      all.recordMs(fast);
      all.recordMs(slow);
    }
    const merged = mergeHistograms([a.encode(), b.encode()]);
    expect(merged.totalCount).toBe(10_000);
    expect(summarize(merged)).toEqual(all.summary());
    for (const p of [1, 25, 50, 75, 90, 99, 99.9, 99.99]) {
      expect(merged.getValueAtPercentile(p)).toBe(all.histogram.getValueAtPercentile(p));
    }
    expect(mergeHistograms([]).totalCount).toBe(0);
  });
});

describe('toHgrm', () => {
  it('is the standard percentile distribution in ms, with a header naming the kind and the unit', () => {
    const recorder = new LatencyRecorder('delivery', { measuring: true });
    recordRange(recorder, 1000);
    const text = toHgrm(recorder.histogram, 'delivery');
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^# gapipe bench delivery latency .*milliseconds/);
    expect(text).toContain('Value     Percentile TotalCount 1/(1-Percentile)');
    // Percentile lines: value (ms), percentile as a fraction, cumulative count, 1/(1-p).
    const rows = lines.filter((line) => /^\s+[\d.]+\s+[\d.]+\s+\d+(\s+[\d.]+)?$/.test(line));
    expect(rows.length).toBeGreaterThan(10);
    expect(rows[0]).toMatch(/^\s+1\.000 0\.000000000000\s+1\s+1\.00$/);
    expect(text).toMatch(/^\s+500\.\d+ 0\.500000000000\s+500\s+2\.00$/m);
    expect(rows.at(-1)).toMatch(/^\s+1000\.\d+ 1\.000000000000\s+1000$/);
    expect(text).toContain('#[Max     =     1000.000, Total count    =         1000]');
  });

  it('writes a valid, empty distribution for a kind without samples', () => {
    const text = toHgrm(createLatencyHistogram(), 'visible');
    expect(text).toContain('# gapipe bench visible latency');
    expect(text).toContain('Total count    =            0]');
  });
});

describe('createLatencyHistogram', () => {
  it('takes in histograms that reach past an hour instead of throwing', () => {
    const wide = createLatencyHistogram();
    wide.recordValue(HIGHEST_LATENCY_US * 4);
    const merged = mergeHistograms([encodeHistogram(wide), encodeHistogram(createLatencyHistogram())]);
    expect(merged.totalCount).toBe(1);
    const target = createLatencyHistogram();
    target.add(decodeHistogram(encodeHistogram(wide)));
    expect(summarize(target).maxMs).toBeGreaterThanOrEqual(4 * 3_600_000);
  });
});
