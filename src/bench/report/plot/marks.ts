/** Marks for the plotting kit: a labelled point, a note in the plot. */
import { esc } from '../format.js';
import { coord, type Frame, plotBottom, plotLeft, plotRight, plotTop } from './frame.js';

/**
 * How far above a marked maximum an axis should reach, as a multiple of it: room for the label over
 * the point (in the shortest plots, about 20 units of a 130-unit-high plot area).
 */
export const PEAK_HEADROOM = 1.2;

/** Room a label's character takes at most, in viewBox units (12px, or 15 on a phone-width screen). */
const LABEL_CHAR_WIDTH = 8;

/**
 * A dot on one data point with its label beside it, kept inside the plot area: to the right of a
 * point in the left half and to the left of one in the right half (or whichever side it fits on),
 * above it unless that would leave the plot. Above a maximum (with PEAK_HEADROOM on its axis) the
 * label crosses no data on its side.
 */
export function pointMark(frame: Frame, px: number, py: number, label: string, colour: string): string {
  const width = label.length * LABEL_CHAR_WIDTH;
  const fitsRight = px + 8 + width <= plotRight(frame);
  const fitsLeft = px - 8 - width >= plotLeft(frame);
  const preferRight = px < (plotLeft(frame) + plotRight(frame)) / 2;
  const above = py - plotTop(frame) >= 20;
  const ty = coord(above ? py - 8 : Math.min(py + 18, plotBottom(frame) - 4));
  const text =
    (preferRight && fitsRight) || (!fitsLeft && fitsRight)
      ? `x="${coord(px + 8)}" y="${ty}" text-anchor="start"`
      : fitsLeft
        ? `x="${coord(px - 8)}" y="${ty}" text-anchor="end"`
        : `x="${coord(plotLeft(frame) + 6)}" y="${ty}" text-anchor="start"`;
  return `<g class="mark"><circle cx="${coord(px)}" cy="${coord(py)}" r="4" fill="${colour}"/><text class="mark-label" ${text}>${esc(label)}</text></g>`;
}

/** A line of text in the top left corner of the plot area, for what the plot cannot show by itself. */
export function plotNote(frame: Frame, text: string): string {
  return `<text class="mark-label" x="${coord(plotLeft(frame) + 8)}" y="${coord(plotTop(frame) + 18)}" text-anchor="start">${esc(text)}</text>`;
}

/**
 * Labels along the top of the plot area for values cut off by the axis (drawn at its top), each
 * with a caret, so a spike kept off the scale still shows its figure. Labels that would run into
 * the one before are left off (the tooltips still have every figure).
 */
export function clippedMarks(frame: Frame, marks: Array<{ px: number; label: string }>): string[] {
  const parts: string[] = [];
  let end = Number.NEGATIVE_INFINITY;
  for (const { px, label } of [...marks].sort((a, b) => a.px - b.px)) {
    const width = label.length * LABEL_CHAR_WIDTH;
    const left = Math.min(Math.max(px - width / 2, plotLeft(frame) + 2), plotRight(frame) - width - 2);
    if (left < end + 6) continue;
    end = left + width;
    parts.push(
      `<g class="clipped"><path d="M${coord(px - 5)},${coord(plotTop(frame) + 6)}L${coord(px)},${coord(plotTop(frame) + 1)}L${coord(px + 5)},${coord(plotTop(frame) + 6)}"/><text class="mark-label" x="${coord(left + width / 2)}" y="${coord(plotTop(frame) + 20)}" text-anchor="middle">${esc(label)}</text></g>`,
    );
  }
  return parts;
}
