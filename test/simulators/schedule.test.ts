import { describe, expect, it } from 'vitest';
import { Sfc32 } from '../../src/simulators/prng.js';
import { ArrivalProcess, RateSchedule } from '../../src/simulators/schedule.js';

describe('RateSchedule', () => {
  it('is a constant rate without stages', () => {
    const schedule = new RateSchedule(100_000);
    expect(schedule.rateAt(0)).toBe(100_000);
    expect(schedule.rateAt(3_600_000)).toBe(100_000);
    expect(schedule.expectedEvents(1000)).toBeCloseTo(100_000, 6);
    expect(schedule.expectedEvents(60_000)).toBeCloseTo(6_000_000, 3);
    expect(schedule.timeOfExpected(50_000)).toBeCloseTo(500, 9);
    expect(schedule.peakRate).toBe(100_000);
  });

  it('ramps linearly from the previous stage rate, like k6 (30s:1000/s,2m:20000/s,30s:0/s)', () => {
    const schedule = new RateSchedule(0, [
      { durationMs: 30_000, targetRate: 1000 },
      { durationMs: 120_000, targetRate: 20_000 },
      { durationMs: 30_000, targetRate: 0 },
    ]);
    expect(schedule.stagesDurationMs).toBe(180_000);
    expect(schedule.peakRate).toBe(20_000);
    expect(schedule.rateAt(0)).toBe(0);
    expect(schedule.rateAt(15_000)).toBeCloseTo(500, 9);
    expect(schedule.rateAt(30_000)).toBeCloseTo(1000, 9);
    expect(schedule.rateAt(90_000)).toBeCloseTo(10_500, 9);
    expect(schedule.rateAt(165_000)).toBeCloseTo(10_000, 9);
    expect(schedule.rateAt(180_000)).toBe(0);
    expect(schedule.rateAt(500_000)).toBe(0);
    // Areas under the ramps: ½·30 s·1000/s, then (1000+20000)/2·120 s, then ½·30 s·20000/s.
    expect(schedule.expectedEvents(30_000)).toBeCloseTo(15_000, 6);
    expect(schedule.expectedEvents(150_000)).toBeCloseTo(15_000 + 1_260_000, 4);
    expect(schedule.expectedEvents(180_000)).toBeCloseTo(15_000 + 1_260_000 + 300_000, 4);
    expect(schedule.expectedEvents(999_000)).toBeCloseTo(1_575_000, 4);
  });

  it('inverts Λ exactly, including on ramps and through zero-rate stages', () => {
    const schedule = new RateSchedule(2000, [
      { durationMs: 10_000, targetRate: 0 },
      { durationMs: 5000, targetRate: 0 }, // a pause
      { durationMs: 10_000, targetRate: 8000 },
    ]);
    for (const t of [0, 1, 2500, 9999, 16_000, 20_000, 24_999, 40_000]) {
      const expected = schedule.expectedEvents(t);
      expect(schedule.timeOfExpected(expected)).toBeCloseTo(t, 5);
    }
    // Nothing is due in the pause: the first event after it belongs to the next ramp.
    const atPause = schedule.expectedEvents(10_000);
    expect(schedule.timeOfExpected(atPause + 1e-9)).toBeGreaterThanOrEqual(15_000);
  });

  it('never reaches a count beyond what a schedule ending at 0/s can deliver', () => {
    const schedule = new RateSchedule(1000, [{ durationMs: 1000, targetRate: 0 }]);
    expect(schedule.expectedEvents(10_000)).toBeCloseTo(500, 9);
    expect(schedule.timeOfExpected(499)).toBeLessThan(1000);
    expect(schedule.timeOfExpected(501)).toBe(Number.POSITIVE_INFINITY);
  });

  it('holds the last stage rate after the stages', () => {
    const schedule = new RateSchedule(100, [{ durationMs: 1000, targetRate: 300 }]);
    expect(schedule.rateAt(5000)).toBe(300);
    expect(schedule.expectedEvents(2000)).toBeCloseTo(200 + 300, 9);
    expect(schedule.timeOfExpected(500)).toBeCloseTo(2000, 6);
  });
});

describe('ArrivalProcess (merged Poisson process)', () => {
  it('produces a constant-rate stream with the right count and exponential gaps', () => {
    const arrivals = new ArrivalProcess(new RateSchedule(10_000), new Sfc32(1));
    const times: number[] = [];
    for (let t = arrivals.next(); t < 20_000; t = arrivals.next()) times.push(t);
    // 200,000 expected; a Poisson count has sd √200000 ≈ 447, allow 5 sd.
    expect(Math.abs(times.length - 200_000)).toBeLessThan(5 * 447);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeCloseTo(0.1, 3);
    // Exponential: P(gap > mean) = e⁻¹.
    const above = gaps.filter((g) => g > mean).length / gaps.length;
    expect(above).toBeCloseTo(Math.exp(-1), 2);
    // Monotonic intended times.
    expect(gaps.every((g) => g >= 0)).toBe(true);
  });

  it('follows a ramp: counts per interval match the area under the rate', () => {
    const schedule = new RateSchedule(0, [{ durationMs: 10_000, targetRate: 20_000 }]);
    const arrivals = new ArrivalProcess(schedule, new Sfc32(2));
    const perSecond = new Array(10).fill(0);
    for (let t = arrivals.next(); t < 10_000; t = arrivals.next()) perSecond[Math.floor(t / 1000)]++;
    for (let s = 0; s < 10; s++) {
      const expected = schedule.expectedEvents((s + 1) * 1000) - schedule.expectedEvents(s * 1000);
      expect(Math.abs((perSecond[s] as number) - expected)).toBeLessThan(5 * Math.sqrt(expected) + 1);
    }
  });

  it('is deterministic for a seed', () => {
    const run = () => {
      const arrivals = new ArrivalProcess(new RateSchedule(500), new Sfc32(7, 1));
      return Array.from({ length: 100 }, () => arrivals.next());
    };
    expect(run()).toEqual(run());
  });
});
