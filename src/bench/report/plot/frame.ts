/**
 * The plotting kit's frame: every plot is an inline SVG in a fixed coordinate system (a viewBox
 * PLOT_WIDTH wide) that scales with the page, with margins for the axes around the plot area.
 * Generic: it knows nothing about what is plotted.
 */
import { esc } from '../format.js';

/** Width of every plot's viewBox; heights differ. */
export const PLOT_WIDTH = 960;

/** A plot's height and the margins around its plot area, in viewBox units. */
export interface Frame {
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export const plotLeft = (f: Frame) => f.left;
export const plotRight = (f: Frame) => PLOT_WIDTH - f.right;
export const plotTop = (f: Frame) => f.top;
export const plotBottom = (f: Frame) => f.height - f.bottom;

/** A coordinate to one decimal: small files, no visible rounding. */
export const coord = (n: number) => (Math.round(n * 10) / 10).toString();

/** An SVG path through the points. */
export function pathData(points: Array<[number, number]>): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${coord(x)},${coord(y)}`).join('');
}

/**
 * One SVG path of several unconnected stretches (a gap in the data stays a gap). A stretch of one
 * point gets a short level stroke through it, or it would not show.
 */
export function runsPathData(runs: Array<Array<[number, number]>>): string {
  return runs
    .map((run) => {
      const only = run.length === 1 ? run[0] : undefined;
      return only
        ? pathData([
            [only[0] - 3, only[1]],
            [only[0] + 3, only[1]],
          ])
        : pathData(run);
    })
    .join('');
}

/** One SVG path of areas down to `baseY`, one per stretch. */
export function runsAreaData(runs: Array<Array<[number, number]>>, baseY: number): string {
  return runs
    .map((run) => {
      const first = run[0];
      const last = run[run.length - 1];
      if (!first || !last) return '';
      return `${pathData(run)}L${coord(last[0])},${coord(baseY)}L${coord(first[0])},${coord(baseY)}Z`;
    })
    .join('');
}

/** The opening tag of a plot; `plot` names it for tests and styles (data-plot). */
export function svgOpen(plot: string, frame: Frame, label: string): string {
  return `<svg class="plot" data-plot="${plot}" viewBox="0 0 ${PLOT_WIDTH} ${frame.height}" role="img" aria-label="${esc(label)}" preserveAspectRatio="xMidYMid meet">`;
}

/** The border of the plot area. */
export function frameRect(frame: Frame): string {
  return `<rect class="frame" x="${plotLeft(frame)}" y="${plotTop(frame)}" width="${plotRight(frame) - plotLeft(frame)}" height="${plotBottom(frame) - plotTop(frame)}"/>`;
}

/** The x axis title under the plot and the y axis title turned along the left edge. */
export function axisTitle(frame: Frame, x: string, y: string): string {
  const midX = (plotLeft(frame) + plotRight(frame)) / 2;
  const midY = (plotTop(frame) + plotBottom(frame)) / 2;
  return `<text class="axis-title" x="${coord(midX)}" y="${frame.height - 6}" text-anchor="middle">${esc(x)}</text><text class="axis-title" transform="translate(18 ${coord(midY)}) rotate(-90)" text-anchor="middle">${esc(y)}</text>`;
}

/** A message in the middle of an empty plot. */
export function noData(frame: Frame, message: string): string {
  const midX = (plotLeft(frame) + plotRight(frame)) / 2;
  const midY = (plotTop(frame) + plotBottom(frame)) / 2;
  return `<text class="no-data" x="${coord(midX)}" y="${coord(midY)}" text-anchor="middle">${esc(message)}</text>`;
}

/** Tooltip text: shown by the inline script, or natively through <title> without it. */
export function tip(text: string): string {
  return ` data-tip="${esc(text)}"`;
}

/** The native tooltip, the fallback for tip() without script. */
export function titled(text: string): string {
  return `<title>${esc(text)}</title>`;
}
