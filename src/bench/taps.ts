/**
 * Where latencies are taken: each tap records, per latency kind, how long after its intended send
 * time a record reached a stage, into an HDR histogram of the current interval (microseconds). Records
 * intended before `measureFromMs` (the warm-up) are not recorded. Intervals are handed over encoded
 * (compressed base64), so consumer processes can send them to the bench, which merges them.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { ConsumerObserver } from '../pipeline/consumer.js';
import { createLatencyHistogram, encodeHistogram, latencyMsToUs } from './histograms.js';
import type { LatencyKind } from './types.js';

export class LatencyTaps {
  /** Records intended before this (epoch ms) are warm-up. */
  measureFromMs = Number.POSITIVE_INFINITY;
  private readonly intervals = new Map<LatencyKind, Histogram>();

  constructor(readonly kinds: readonly LatencyKind[]) {
    for (const kind of kinds) this.intervals.set(kind, createLatencyHistogram());
  }

  record(kind: LatencyKind, intendedMs: number, nowMs: number): void {
    if (intendedMs < this.measureFromMs) return;
    this.intervals.get(kind)?.recordValue(latencyMsToUs(nowMs - intendedMs));
  }

  recordMany(kind: LatencyKind, intendedMs: ArrayLike<number>, count: number, nowMs: number): void {
    const histogram = this.intervals.get(kind);
    if (!histogram) return;
    for (let i = 0; i < count; i++) {
      const intended = intendedMs[i] as number;
      if (intended >= this.measureFromMs) histogram.recordValue(latencyMsToUs(nowMs - intended));
    }
  }

  /**
   * The consumer-side kinds, as a consumer observer. `visible` is timed inside the consumer only when
   * asked: the bench times it from outside (visibility.ts), so every engine is measured alike.
   */
  consumerObserver(options: { visible?: boolean } = {}): ConsumerObserver {
    return {
      delivered: (intended, now) => {
        if (intended !== undefined) this.record('delivery', intended, now);
      },
      stored: (intended, count, now) => this.recordMany('sink', intended, count, now),
      ...(options.visible
        ? { visible: (intended, count, now) => this.recordMany('visible', intended, count, now) }
        : {}),
    };
  }

  /** The interval so far, encoded, and a fresh interval started. */
  takeIntervals(): Partial<Record<LatencyKind, string>> {
    const out: Partial<Record<LatencyKind, string>> = {};
    for (const [kind, histogram] of this.intervals) {
      if (histogram.totalCount > 0) out[kind] = encodeHistogram(histogram);
      histogram.reset();
    }
    return out;
  }
}
