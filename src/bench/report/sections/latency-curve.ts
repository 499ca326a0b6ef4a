/** The latency-by-percentile curve of an HDR histogram, as the latency plot draws it. */
import { decodeHistogram } from '../../histograms.js';

/** One point of a latency-by-percentile curve. */
export interface LatencyCurvePoint {
  /** 0–100; 100 is the maximum. */
  percentile: number;
  /** Where the plot puts it: 1/(1 − percentile/100); for the maximum, the sample count. */
  x: number;
  valueMs: number;
}

/** Curve points per decade of 1/(1 − p): enough for a smooth line, few enough to hover. */
const POINTS_PER_DECADE = 20;

/**
 * The latency-by-percentile curve of a compressed base64 HDR histogram of microseconds: values at a
 * geometric series of percentiles (0, 90, 99, … in POINTS_PER_DECADE steps per decade of 1/(1 − p))
 * while the percentile still distinguishes samples, then the maximum. Empty for an empty histogram.
 * Throws when the text is not a histogram.
 */
export function latencyCurve(histogramBase64: string): LatencyCurvePoint[] {
  const histogram = decodeHistogram(histogramBase64);
  try {
    const count = histogram.totalCount;
    if (count === 0) return [];
    const points: LatencyCurvePoint[] = [];
    // Beyond 1/(1 − p) = count a percentile no longer separates samples: only the maximum is left.
    for (let step = 0; ; step++) {
      const x = 10 ** (step / POINTS_PER_DECADE);
      if (x >= count) break;
      const percentile = 100 * (1 - 1 / x);
      points.push({ percentile, x, valueMs: histogram.getValueAtPercentile(percentile) / 1000 });
    }
    points.push({ percentile: 100, x: count, valueMs: histogram.maxValue / 1000 });
    return points;
  } finally {
    histogram.destroy();
  }
}
