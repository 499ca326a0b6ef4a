/**
 * Latency measurement for `gapipe bench`: HDR histograms in microseconds, one recorder per latency
 * kind, and the conversions the result files need (summaries in ms, compressed base64 so runs and
 * worker processes can be merged, and the standard .hgrm percentile distribution).
 *
 * Every latency is measured from the record's intended send time (open-loop), so a stalled producer
 * shows up as latency instead of disappearing from the numbers.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';
import { LATENCY_DESCRIPTIONS, type LatencyKind, type LatencySummary } from './types.js';

/** Smallest recordable latency: 1 µs (anything faster, or negative because of clock skew, counts as this). */
export const LOWEST_LATENCY_US = 1;
/** Largest recordable latency: one hour. Longer latencies are recorded as one hour. */
export const HIGHEST_LATENCY_US = 3_600_000_000;
const SIGNIFICANT_DIGITS = 3;

/**
 * A histogram of latencies in microseconds: JS implementation (no WASM to initialise), 32-bit
 * counts, 1 µs to 1 h at 3 significant digits (about 95 KB). The recorder clamps to that range, but
 * a histogram merged from another source (say the simulator's auto-resizing one) may hold more, so
 * it may grow rather than throw in `add`.
 */
export function createLatencyHistogram(): Histogram {
  return build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: LOWEST_LATENCY_US,
    highestTrackableValue: HIGHEST_LATENCY_US,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    useWebAssembly: false,
  });
}

/** Milliseconds (fractional, possibly negative or absurd) → whole microseconds within the recordable range. */
export function latencyMsToUs(latencyMs: number): number {
  if (latencyMs === Number.POSITIVE_INFINITY) return HIGHEST_LATENCY_US;
  const us = Math.round(latencyMs * 1000);
  if (!(us >= LOWEST_LATENCY_US)) return LOWEST_LATENCY_US;
  return Math.min(us, HIGHEST_LATENCY_US);
}

/**
 * Records one kind of latency. Each sample goes into a per-second "interval" histogram (warm-up
 * included, since the per-second series covers warm-up seconds too) and, once measuring has started,
 * into the cumulative histogram that the summary, result files and assertions use. The caller decides
 * when warm-up ends (`startMeasuring()` or `measuring = true`) and when a second is over
 * (`takeInterval()`), so tests need no clock.
 */
export class LatencyRecorder {
  readonly kind: LatencyKind;
  /** False during warm-up: samples then only reach the interval histogram. */
  measuring: boolean;
  private readonly cumulative = createLatencyHistogram();
  private readonly interval = createLatencyHistogram();

  constructor(kind: LatencyKind, options: { measuring?: boolean } = {}) {
    this.kind = kind;
    this.measuring = options.measuring ?? false;
  }

  /** Ends warm-up: from now on samples count in the cumulative histogram. */
  startMeasuring(): void {
    this.measuring = true;
  }

  /**
   * Records a latency in milliseconds from the intended send time. Clamped to [1 µs, 1 h]; negative
   * values (clock skew between processes) count as 1 µs. NaN is not a latency and is ignored.
   */
  recordMs(latencyMs: number): void {
    if (Number.isNaN(latencyMs)) return;
    const us = latencyMsToUs(latencyMs);
    this.interval.recordValue(us);
    if (this.measuring) this.cumulative.recordValue(us);
  }

  /** Samples measured so far (warm-up excluded). */
  get count(): number {
    return this.cumulative.totalCount;
  }

  /** The summary of the second that just ended, and a fresh interval; undefined when it had no samples. */
  takeInterval(): LatencySummary | undefined {
    if (this.interval.totalCount === 0) return undefined;
    const result = summarize(this.interval);
    this.interval.reset();
    return result;
  }

  /** The cumulative measured histogram (microseconds). Read it, don't record into it. */
  get histogram(): Histogram {
    return this.cumulative;
  }

  /** Summary of everything measured so far (warm-up excluded), in ms. */
  summary(): LatencySummary {
    return summarize(this.cumulative);
  }

  /** The measured histogram as compressed base64 (what result.json stores). */
  encode(): string {
    return encodeHistogram(this.cumulative);
  }
}

/** The summary of a histogram with no samples: count 0 and zeros elsewhere. */
export function emptySummary(): LatencySummary {
  return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
}

/** Whole microseconds → milliseconds, rounded to the microsecond so the JSON stays short. */
function usToMs(us: number): number {
  return Math.round(us) / 1000;
}

/**
 * Count, min, mean, p50/p90/p99/p99.9 and max, in milliseconds, of a histogram recorded in
 * microseconds. Like every HDR figure they are exact to 3 significant digits: percentiles and max are
 * the highest value equivalent to the sample (a recorded 50 ms reads 50.015 ms), min the lowest. Max
 * and min come from the counts, not from the raw extremes a recording histogram also keeps, so a
 * decoded or merged histogram summarises exactly like the one it was encoded from.
 */
export function summarize(histogram: Histogram): LatencySummary {
  if (histogram.totalCount === 0) return emptySummary();
  return {
    count: histogram.totalCount,
    minMs: usToMs(histogram.getValueAtPercentile(0)),
    meanMs: usToMs(histogram.mean),
    p50Ms: usToMs(histogram.getValueAtPercentile(50)),
    p90Ms: usToMs(histogram.getValueAtPercentile(90)),
    p99Ms: usToMs(histogram.getValueAtPercentile(99)),
    p999Ms: usToMs(histogram.getValueAtPercentile(99.9)),
    maxMs: usToMs(histogram.getValueAtPercentile(100)),
  };
}

/** The histogram as compressed base64 (HdrHistogram V2 encoding, readable by the Java and Go ports). */
export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

/**
 * A histogram from compressed base64; the empty string gives an empty histogram. Throws an Error
 * saying what is wrong when the text is not an encoded histogram (callers add which file it came from).
 */
export function decodeHistogram(text: string): Histogram {
  if (text.trim() === '') return createLatencyHistogram();
  let decoded: Histogram;
  try {
    decoded = decodeFromCompressedBase64(text, 32, false);
  } catch (error) {
    throw new Error(`not a compressed base64 HDR histogram (${(error as Error).message})`, { cause: error });
  }
  return decoded;
}

/**
 * Merges encoded histograms (several consumer processes, or several runs) into one: the same as having
 * recorded every sample in a single histogram.
 */
export function mergeHistograms(texts: string[]): Histogram {
  const merged = createLatencyHistogram();
  for (const text of texts) merged.add(decodeHistogram(text));
  return merged;
}

/** Divides recorded microseconds so the .hgrm shows milliseconds. */
const US_PER_MS = 1000;

/**
 * The standard HdrHistogram percentile distribution (.hgrm) in milliseconds, as read by
 * HdrHistogram's plotter, with a `#` header naming the latency kind and the unit.
 */
export function toHgrm(histogram: Histogram, kind: LatencyKind): string {
  const header = `# gapipe bench ${kind} latency (${LATENCY_DESCRIPTIONS[kind]}); values in milliseconds\n`;
  return `${header}${histogram.outputPercentileDistribution(5, US_PER_MS)}`;
}
