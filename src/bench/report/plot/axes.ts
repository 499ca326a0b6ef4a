/**
 * Axes for the plotting kit: a time axis in seconds with shaded stretches, a logarithmic value axis
 * labelled by decades, a percentile axis (1/(1 − p) on a log scale, the classic HdrHistogram plot),
 * and hover bands that carry each second's figures.
 */
import { esc, formatCompact, formatInt } from '../format.js';
import {
  axisTitle,
  coord,
  type Frame,
  frameRect,
  plotBottom,
  plotLeft,
  plotRight,
  plotTop,
  tip,
  titled,
} from './frame.js';
import { linearScale, niceTicks, type Scale } from './scales.js';

/** A stretch of the time axis shaded, with a label (none when empty). */
export interface Shade {
  start: number;
  end: number;
  label: string;
}

export interface TimeAxisOptions {
  xTitle: string;
  formatTick?: (value: number) => string;
  /** Stretches shaded, in order; their labels go above the plot area (frame.top must hold them). */
  shaded?: Shade[];
}

export interface TimeAxis {
  x: Scale;
  parts: string[];
}

/**
 * Between a y tick label and the plot area: enough that the lowest label clears the first x label
 * under the corner in a phone's larger type.
 */
const TICK_GAP = 12;

/** Room a shade label's character takes, in viewBox units (11.5px italic, 15px on a phone). */
const SHADE_LABEL_CHAR_WIDTH = 8;

/** Time grid from 0 to maxT seconds in whole seconds, the shaded stretches, the y grid and the axes. */
export function timeAxis(
  maxT: number,
  frame: Frame,
  y: Scale,
  yTicks: number[],
  yTitle: string,
  options: TimeAxisOptions,
): TimeAxis {
  const formatTick = options.formatTick ?? formatCompact;
  const x = linearScale(0, maxT, plotLeft(frame), plotRight(frame));
  const parts: string[] = [];
  // Labels in the margin above the plot: inside it they crossed the grid and hid the data.
  const labelY = plotTop(frame) - 7;
  let labelsEnd = Number.NEGATIVE_INFINITY;
  for (const { start, end, label } of options.shaded ?? []) {
    const x0 = x(start);
    const x1 = x(end);
    parts.push(
      `<rect class="warmup" x="${coord(x0)}" y="${plotTop(frame)}" width="${coord(x1 - x0)}" height="${plotBottom(frame) - plotTop(frame)}"/>`,
    );
    if (!label) continue;
    // Centred over a band wide enough for it; else beside it, starting at the band. A label that
    // would run into the one before it, or past the plot's right edge, is left off.
    const width = label.length * SHADE_LABEL_CHAR_WIDTH;
    const fits = x1 - x0 >= width + 8;
    const left = fits ? (x0 + x1) / 2 - width / 2 : x0 + 4;
    if (left < labelsEnd + 8 || left + width > plotRight(frame)) continue;
    labelsEnd = left + width;
    parts.push(
      fits
        ? `<text class="warmup-label" x="${coord((x0 + x1) / 2)}" y="${coord(labelY)}" text-anchor="middle">${esc(label)}</text>`
        : `<text class="warmup-label" x="${coord(x0 + 4)}" y="${coord(labelY)}" text-anchor="start">${esc(label)}</text>`,
    );
  }
  for (const value of yTicks) {
    const py = coord(y(value));
    parts.push(
      `<line class="grid" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${plotLeft(frame) - TICK_GAP}" y="${py}" dy="0.32em" text-anchor="end">${esc(formatTick(value))}</text>`,
    );
  }
  for (const value of niceTicks(maxT, 10, { whole: true })) {
    if (value > maxT) continue;
    const px = coord(x(value));
    parts.push(
      `<line class="grid" x1="${px}" x2="${px}" y1="${plotTop(frame)}" y2="${plotBottom(frame)}"/>`,
      `<text class="tick" x="${px}" y="${plotBottom(frame) + 18}" text-anchor="middle">${esc(formatInt(value))}</text>`,
    );
  }
  parts.push(frameRect(frame), axisTitle(frame, options.xTitle, yTitle));
  return { x, parts };
}

/**
 * Grid lines and labels of a log-scale y axis, one per decade from 10^low to 10^high, with faint
 * lines at 2× and 5× when there are few enough decades for them to help.
 */
export function logDecadeAxis(
  frame: Frame,
  y: Scale,
  lowDecade: number,
  highDecade: number,
  formatTick: (value: number) => string,
): string[] {
  const parts: string[] = [];
  for (let decade = lowDecade; decade <= highDecade; decade++) {
    const value = 10 ** decade;
    const py = coord(y(value));
    parts.push(
      `<line class="grid" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${plotLeft(frame) - TICK_GAP}" y="${py}" dy="0.32em" text-anchor="end">${esc(formatTick(value))}</text>`,
    );
    if (decade < highDecade && highDecade - lowDecade <= 6) {
      for (const factor of [2, 5]) {
        const minor = coord(y(value * factor));
        parts.push(
          `<line class="grid minor" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${minor}" y2="${minor}"/>`,
        );
      }
    }
  }
  return parts;
}

/**
 * A percentile x axis: x = 1/(1 − p) on a log scale, one labelled line per decade (0%, 90%, 99%, …
 * up to `decades` nines).
 */
export function percentileAxis(frame: Frame, x: Scale, decades: number): string[] {
  const parts: string[] = [];
  for (let decade = 0; decade <= decades; decade++) {
    const px = coord(x(10 ** decade));
    parts.push(
      `<line class="grid" x1="${px}" x2="${px}" y1="${plotTop(frame)}" y2="${plotBottom(frame)}"/>`,
      `<text class="tick" x="${px}" y="${plotBottom(frame) + 18}" text-anchor="middle">${percentileTickLabel(decade)}</text>`,
    );
  }
  return parts;
}

function percentileTickLabel(decade: number): string {
  if (decade === 0) return '0%';
  return `${(100 - 10 ** (2 - decade)).toFixed(Math.max(0, decade - 2))}%`;
}

/** Most bands a plot gets; longer runs show every n-th second on hover. */
const MAX_HOVER_BANDS = 900;

/**
 * Invisible full-height strips, one per point of a time plot (point t covers the second before t),
 * that carry that point's figures as a tooltip.
 */
export function hoverBands<Point extends { t: number }>(
  points: Point[],
  frame: Frame,
  x: Scale,
  describe: (point: Point) => string,
): string[] {
  const stride = Math.ceil(points.length / MAX_HOVER_BANDS);
  const parts = ['<g class="bands">'];
  for (let i = 0; i < points.length; i += stride) {
    const point = points[i];
    if (!point) continue;
    const x0 = Math.max(plotLeft(frame), x(point.t - stride / 2));
    const x1 = Math.min(plotRight(frame), x(point.t + stride / 2));
    const text = describe(point);
    parts.push(
      `<rect class="band" x="${coord(x0)}" y="${plotTop(frame)}" width="${coord(Math.max(0, x1 - x0))}" height="${plotBottom(frame) - plotTop(frame)}"${tip(text)}>${titled(text)}</rect>`,
    );
  }
  parts.push('</g>');
  return parts;
}
