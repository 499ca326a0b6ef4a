/** Legends for the plotting kit, and the figure that keeps a plot and its legend together. */
import { esc } from '../format.js';

/** One entry of a legend. */
export interface LegendItem {
  /** The data-series of the line it explains, if any (tests and readers match them up). */
  series?: string;
  /** lineSwatch(), or any inline sample. */
  swatch: string;
  label: string;
  /** A figure shown after the label, such as the series' mean. */
  figure?: string;
  /** Listed but not drawn (say why in the label). */
  absent?: boolean;
}

/** A legend sample of a line: its colour and dash pattern (the plot's dashes, at half length). */
export function lineSwatch(colour: string, dash: string | undefined): string {
  return `<svg class="line-swatch" viewBox="0 0 28 8" aria-hidden="true"><line x1="1" y1="4" x2="27" y2="4" stroke="${colour}" stroke-width="2.5"${
    dash
      ? ` stroke-dasharray="${dash
          .split(' ')
          .map((n) => Number(n) / 2)
          .join(' ')}"`
      : ''
  }/></svg>`;
}

/** A legend as a list under its plot. */
export function legend(items: LegendItem[]): string {
  const entries = items.map((item) => {
    const attributes = `${item.absent ? ' class="absent"' : ''}${item.series ? ` data-series="${esc(item.series)}"` : ''}`;
    const figure = item.figure ? ` <span class="figure">${esc(item.figure)}</span>` : '';
    return `<li${attributes}>${item.swatch}${esc(item.label)}${figure}</li>`;
  });
  return `<ul class="legend">${entries.join('')}</ul>`;
}

/** A plot with what belongs to it (legend, notes), as one unit a reader — or a screenshot — takes in. */
export function figure(chart: string, parts: string[]): string {
  return `<figure class="chart" data-chart="${esc(chart)}">\n${parts.filter(Boolean).join('\n')}\n</figure>`;
}
