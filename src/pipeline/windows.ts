/**
 * Event-time windowing: the options that define windows and lateness, and window assignment.
 *
 * - tumbling: [k·size, (k+1)·size), aligned to the epoch; every event is in exactly one.
 * - hopping: windows of `size` starting every `hop` (size a multiple of hop); an event is in size/hop
 *   of them.
 * - session: per player, events closer than `gap` form one window [first ts, last ts + gap); a new
 *   event can extend or merge sessions (see PartitionAggregator).
 *
 * Lateness is per partition: watermark = max event time seen − allowed lateness. A window is closed
 * (final) once the watermark reaches its end; a closed window is still remembered for
 * `lateRetentionMs`, so later arrivals are deduplicated and counted as late on its documents, then
 * forgotten (arrivals after that are "expired": still sent to the late topic and counted).
 */
import { createHash } from 'node:crypto';
import type { WindowKind } from './types.js';

export interface WindowingOptions {
  kind: WindowKind;
  /** Tumbling and hopping window length. */
  sizeMs: number;
  /** Hopping: distance between window starts. Tumbling: equals sizeMs. */
  hopMs: number;
  /** Session: inactivity that ends a session. */
  sessionGapMs: number;
  allowedLatenessMs: number;
  /** How long a closed window is remembered for dedupe and late accounting. */
  lateRetentionMs: number;
}

export const WINDOWING_DEFAULTS: WindowingOptions = {
  kind: 'tumbling',
  sizeMs: 60_000,
  hopMs: 60_000,
  sessionGapMs: 5 * 60_000,
  allowedLatenessMs: 10 * 60_000,
  lateRetentionMs: 10 * 60_000,
};

/** Dedupe is kept per pane: an event's duplicates share its event time, hence its pane. */
export function paneMs(options: WindowingOptions): number {
  if (options.kind === 'hopping') return options.hopMs;
  if (options.kind === 'tumbling') return options.sizeMs;
  return 60_000;
}

export function floorTo(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}

/**
 * Starts of the tumbling or hopping windows that contain `tsMs`, oldest first. Allocation-free for
 * tumbling windows (the caller passes a reusable array).
 */
export function assignWindows(tsMs: number, options: WindowingOptions, out: number[]): number[] {
  out.length = 0;
  if (options.kind === 'tumbling') {
    out.push(floorTo(tsMs, options.sizeMs));
    return out;
  }
  const last = floorTo(tsMs, options.hopMs);
  for (let start = last - options.sizeMs + options.hopMs; start <= last; start += options.hopMs) {
    out.push(start);
  }
  return out;
}

/** Event time after which nothing in this pane can change any remembered window any more. */
export function paneRetainedUntil(paneStart: number, options: WindowingOptions): number {
  const pane = paneMs(options);
  if (options.kind === 'session') return paneStart + pane + options.sessionGapMs + options.lateRetentionMs;
  // The last window containing the pane ends at paneStart + size.
  return paneStart + options.sizeMs + options.lateRetentionMs;
}

/** A description for banners: "tumbling 1m", "hopping 5m every 1m", "session gap 5m". */
export function describeWindowing(options: WindowingOptions, format: (ms: number) => string): string {
  if (options.kind === 'tumbling') return `tumbling ${format(options.sizeMs)}`;
  if (options.kind === 'hopping') return `hopping ${format(options.sizeMs)} every ${format(options.hopMs)}`;
  return `session gap ${format(options.sessionGapMs)}`;
}

/**
 * A short hash of everything that changes what the documents contain. A checkpoint built with other
 * settings cannot be continued.
 */
export function windowingHash(options: WindowingOptions): string {
  const relevant = {
    kind: options.kind,
    sizeMs: options.kind === 'session' ? 0 : options.sizeMs,
    hopMs: options.kind === 'hopping' ? options.hopMs : 0,
    sessionGapMs: options.kind === 'session' ? options.sessionGapMs : 0,
    allowedLatenessMs: options.allowedLatenessMs,
    lateRetentionMs: options.lateRetentionMs,
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 12);
}
