/**
 * The bench's per-second figures: the merged latency histograms, one series point per tick, and the
 * counters each tick read — from which the measured window's rates are taken.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { ConsumeSnapshot } from '../pipeline/types.js';
import { createLatencyHistogram, decodeHistogram, emptySummary, summarize } from './histograms.js';
import { type Counters, ratesBetween } from './sampling.js';
import {
  type BenchSummary,
  type InstrumentPoint,
  LATENCY_KINDS,
  type LatencyKind,
  type PipelineLoadPoint,
  type SeriesPoint,
} from './types.js';

/** One reading of everything the per-second figures come from. */
export interface Reading {
  atMs: number;
  counters: Counters;
  /**
   * Records received per second since the previous reading, each consumer over the time between its
   * own two answers (a consumer busy with a batch answers late, and its count is of that moment).
   */
  consumedPerSecond: number;
  lag: number;
  watermarkMs: number | undefined;
  snapshots: ConsumeSnapshot[];
}

/** Per-second figures, the merged latency histograms, and the counters at each tick. */
export class Meter {
  readonly cumulative = new Map<LatencyKind, Histogram>();
  private interval = new Map<LatencyKind, Histogram>();
  readonly series: SeriesPoint[] = [];
  /** The counters at each tick (by t), and at the start of the load (t = 0). */
  readonly readings = new Map<number, { atMs: number; counters: Counters }>();
  errors: string[] = [];

  constructor() {
    for (const kind of LATENCY_KINDS) {
      this.cumulative.set(kind, createLatencyHistogram());
      this.interval.set(kind, createLatencyHistogram());
    }
  }

  add(intervals: Partial<Record<LatencyKind, string>>): void {
    for (const [kind, text] of Object.entries(intervals) as Array<[LatencyKind, string]>) {
      const h = decodeHistogram(text);
      this.cumulative.get(kind)?.add(h);
      this.interval.get(kind)?.add(h);
    }
  }

  error(message: string): void {
    if (!this.errors.includes(message)) this.errors.push(message);
  }

  /** The second that ended at this reading. */
  tick(
    t: number,
    warmup: boolean,
    targetRate: number,
    reading: Reading,
    load: { instrument: InstrumentPoint; pipeline: PipelineLoadPoint | undefined },
  ): SeriesPoint {
    const p99Ms: SeriesPoint['p99Ms'] = {};
    for (const [kind, h] of this.interval) {
      if (h.totalCount > 0) p99Ms[kind] = h.getValueAtPercentile(99) / 1000;
      h.reset();
    }
    const previous = [...this.readings].reduce<{ atMs: number; counters: Counters } | undefined>(
      (last, [at, r]) => (at < t && (last === undefined || r.atMs > last.atMs) ? r : last),
      undefined,
    );
    const rates = previous
      ? { ...ratesBetween(previous, reading), consumed: reading.consumedPerSecond }
      : { produced: 0, acknowledged: 0, consumed: 0, written: 0 };
    const point: SeriesPoint = {
      t,
      warmup,
      targetRate,
      ...rates,
      lag: reading.lag,
      ...(reading.watermarkMs !== undefined ? { watermarkMs: reading.watermarkMs } : {}),
      p99Ms,
      errors: this.errors.length,
      instrument: load.instrument,
      ...(load.pipeline ? { pipeline: load.pipeline } : {}),
    };
    this.readings.set(t, { atMs: reading.atMs, counters: reading.counters });
    this.series.push(point);
    return point;
  }

  latency(): Record<LatencyKind, ReturnType<typeof summarize>> {
    const out = {} as Record<LatencyKind, ReturnType<typeof summarize>>;
    for (const kind of LATENCY_KINDS) {
      const h = this.cumulative.get(kind);
      out[kind] = h ? summarize(h) : emptySummary();
    }
    return out;
  }

  /**
   * Per-second rates over the measured window — from the tick that ended the warm-up to the last
   * measured tick — and the window's length: counters read at its two ends, not a sum of rounded
   * seconds.
   */
  measuredRates(warmupSeconds: number, lastMeasured: number): { rates: Counters; measuredMs: number } {
    // A tick can be folded into a later one (a held-up thread): start from the last one not after the warm-up.
    const startAt = Math.max(-1, ...[...this.readings.keys()].filter((t) => t <= warmupSeconds));
    const from = this.readings.get(startAt);
    const to = this.readings.get(lastMeasured);
    if (!from || !to || to.atMs <= from.atMs)
      return { rates: { produced: 0, acknowledged: 0, consumed: 0, written: 0 }, measuredMs: 0 };
    const seconds = (to.atMs - from.atMs) / 1000;
    const rate = (field: keyof Counters) =>
      Math.max(0, (to.counters[field] - from.counters[field]) / seconds);
    return {
      rates: {
        produced: rate('produced'),
        acknowledged: rate('acknowledged'),
        consumed: rate('consumed'),
        written: rate('written'),
      },
      measuredMs: to.atMs - from.atMs,
    };
  }
}

export function totalsOf(counters: Counters, snapshots: ConsumeSnapshot[]): BenchSummary['totals'] {
  const sum = (f: (s: ConsumeSnapshot) => number) => snapshots.reduce((n, s) => n + f(s), 0);
  return {
    produced: counters.produced,
    acknowledged: counters.acknowledged,
    failed: 0,
    consumed: counters.consumed,
    written: counters.written,
    late: sum((s) => s.late),
    deadLettered: sum((s) => s.deadLettered),
    duplicates: sum((s) => s.duplicates),
  };
}
