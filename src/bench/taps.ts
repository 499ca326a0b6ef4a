/**
 * Where latencies are taken: each tap records, per latency kind, how long after its intended send
 * time a record reached a stage, into an HDR histogram of the current interval (microseconds). Records
 * intended before `measureFromMs` (the warm-up) are not recorded. Intervals are handed over encoded
 * (compressed base64), so consumer processes can send them to the bench, which merges them.
 */
import * as hdr from 'hdr-histogram-js';
import type { ConsumerObserver } from '../pipeline/consumer.js';
import type { LatencyKind } from './types.js';

export const HISTOGRAM_OPTIONS = {
  bitBucketSize: 32 as const,
  lowestDiscernibleValue: 1,
  highestTrackableValue: 3_600_000_000,
  numberOfSignificantValueDigits: 3 as const,
  useWebAssembly: false,
};

export function newHistogram(): hdr.Histogram {
  return hdr.build(HISTOGRAM_OPTIONS);
}

const MAX_US = HISTOGRAM_OPTIONS.highestTrackableValue;

function toMicros(latencyMs: number): number {
  const us = Math.round(latencyMs * 1000);
  return us < 1 ? 1 : us > MAX_US ? MAX_US : us;
}

export class LatencyTaps {
  /** Records intended before this (epoch ms) are warm-up. */
  measureFromMs = Number.POSITIVE_INFINITY;
  private readonly intervals = new Map<LatencyKind, hdr.Histogram>();

  constructor(readonly kinds: readonly LatencyKind[]) {
    for (const kind of kinds) this.intervals.set(kind, newHistogram());
  }

  record(kind: LatencyKind, intendedMs: number, nowMs: number): void {
    if (intendedMs < this.measureFromMs) return;
    this.intervals.get(kind)?.recordValue(toMicros(nowMs - intendedMs));
  }

  recordMany(kind: LatencyKind, intendedMs: ArrayLike<number>, count: number, nowMs: number): void {
    const histogram = this.intervals.get(kind);
    if (!histogram) return;
    for (let i = 0; i < count; i++) {
      const intended = intendedMs[i] as number;
      if (intended >= this.measureFromMs) histogram.recordValue(toMicros(nowMs - intended));
    }
  }

  /** The consumer-side kinds, as a consumer observer. */
  consumerObserver(): ConsumerObserver {
    return {
      delivered: (intended, now) => {
        if (intended !== undefined) this.record('delivery', intended, now);
      },
      stored: (intended, count, now) => this.recordMany('sink', intended, count, now),
      visible: (intended, count, now) => this.recordMany('visible', intended, count, now),
    };
  }

  /** The interval so far, encoded, and a fresh interval started. */
  takeIntervals(): Partial<Record<LatencyKind, string>> {
    const out: Partial<Record<LatencyKind, string>> = {};
    for (const [kind, histogram] of this.intervals) {
      if (histogram.totalCount > 0) out[kind] = hdr.encodeIntoCompressedBase64(histogram);
      histogram.reset();
    }
    return out;
  }
}

export function decodeHistogram(text: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(text, HISTOGRAM_OPTIONS.bitBucketSize, false);
}
