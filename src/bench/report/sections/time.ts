/** The bench's time plots: seconds since the start, with the unmeasured stretches shaded. */
import type { BenchResult, SeriesPoint } from '../../types.js';
import { type Shade, type TimeAxis, timeAxis } from '../plot/axes.js';
import type { Frame } from '../plot/frame.js';
import type { Scale } from '../plot/scales.js';

/** The last second of the planned load (warm-up included). */
export function plannedEndS(result: BenchResult): number {
  return Math.ceil((result.config.warmupMs + result.config.durationMs) / 1000);
}

export interface BenchTimeAxisOptions {
  formatTick?: (value: number) => string;
  /** The planned end of the load (warm-up included), s: later seconds are shaded as not measured. */
  plannedEndS?: number;
}

/** Time grid over the run's seconds, shading of the unmeasured stretches (warm-up, after the planned end) and axes. */
export function benchTimeAxis(
  series: SeriesPoint[],
  frame: Frame,
  y: Scale,
  yTicks: number[],
  yTitle: string,
  options: BenchTimeAxisOptions = {},
): TimeAxis {
  const maxT = Math.max(1, ...series.map((point) => point.t));
  const shaded: Shade[] = warmupRanges(series).map(([start, end]) => ({ start, end, label: 'warm-up' }));
  // A run that fell behind goes on producing what was due after its planned end; that is not measured.
  if (options.plannedEndS !== undefined && maxT > options.plannedEndS) {
    shaded.push({
      start: options.plannedEndS,
      end: maxT,
      label: maxT - options.plannedEndS >= 3 ? 'after the planned end' : '',
    });
  }
  return timeAxis(maxT, frame, y, yTicks, yTitle, {
    xTitle: 'seconds since the start of the run',
    shaded,
    formatTick: options.formatTick,
  });
}

/** Contiguous warm-up seconds as [start, end] times; point t covers the second (t − 1, t]. */
function warmupRanges(series: SeriesPoint[]): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const point of series) {
    if (!point.warmup) continue;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === point.t - 1) last[1] = point.t;
    else ranges.push([point.t - 1, point.t]);
  }
  return ranges;
}

/**
 * The points of consecutive seconds, as runs: a second missing from the series (a stalled meter)
 * breaks the line instead of being drawn as if it had been measured. `toXY` gives a point's place,
 * or undefined to leave it out (that is no gap).
 */
export function secondRuns<Point extends { t: number }>(
  points: Point[],
  toXY: (point: Point) => [number, number] | undefined,
): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let previous: number | undefined;
  for (const point of points) {
    const xy = toXY(point);
    if (!xy) continue;
    const run = runs[runs.length - 1];
    if (run && previous !== undefined && point.t - previous <= 1) run.push(xy);
    else runs.push([xy]);
    previous = point.t;
  }
  return runs;
}

/**
 * The points of a per-second rate, as runs. A reading that came late (a held-up tick) covers the
 * seconds since the one before, and its rate is their mean: it is drawn flat across them, apart
 * from the line before it, rather than as a slope no reading showed.
 */
export function rateRuns<Point extends { t: number }>(
  points: Point[],
  x: Scale,
  y: (point: Point) => number,
): Array<Array<[number, number]>> {
  const runs: Array<Array<[number, number]>> = [];
  let previous: number | undefined;
  for (const point of points) {
    const xy: [number, number] = [x(point.t), y(point)];
    const run = runs[runs.length - 1];
    if (run && previous !== undefined && point.t - previous <= 1) run.push(xy);
    else if (previous !== undefined) runs.push([[x(previous), xy[1]], xy]);
    else runs.push([xy]);
    previous = point.t;
  }
  return runs;
}

/** The seconds missing from the series between its first and last, as text: "16, 18–19". */
export function missingSeconds(series: Array<{ t: number }>): string {
  const ranges: Array<[number, number]> = [];
  for (let i = 1; i < series.length; i++) {
    const before = series[i - 1]?.t;
    const t = series[i]?.t;
    if (before !== undefined && t !== undefined && t - before > 1) ranges.push([before + 1, t - 1]);
  }
  return ranges.map(([from, to]) => (from === to ? String(from) : `${from}–${to}`)).join(', ');
}
