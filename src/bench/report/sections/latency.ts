/**
 * Latency by percentile: one curve per latency kind on log scales (the classic HdrHistogram plot),
 * its legend, and the percentile table with how each kind was measured. A kind the engine does not
 * have (sink, for an engine gapipe reads from outside) is said to be not measured, and not drawn.
 */
import {
  type BenchResult,
  LATENCY_DESCRIPTIONS,
  LATENCY_KINDS,
  type LatencyKind,
  type LatencySummary,
  NOT_MEASURED,
} from '../../types.js';
import { esc, formatAxisMs, formatInt, formatMs, formatPercentile } from '../format.js';
import { logDecadeAxis, percentileAxis } from '../plot/axes.js';
import {
  axisTitle,
  coord,
  type Frame,
  frameRect,
  noData,
  pathData,
  plotBottom,
  plotLeft,
  plotRight,
  plotTop,
  svgOpen,
  tip,
  titled,
} from '../plot/frame.js';
import { figure, type LegendItem, legend, lineSwatch } from '../plot/legend.js';
import { logScale } from '../plot/scales.js';
import { measuredByOf, notMeasuredForEngine } from './engine.js';
import { type LatencyCurvePoint, latencyCurve } from './latency-curve.js';
import { DRAW_ORDER, KIND_COLOURS, KIND_DASHES } from './look.js';

interface KindCurve {
  kind: LatencyKind;
  points: LatencyCurvePoint[];
  /** Why the kind is not drawn, when it is not. */
  missing?: string;
}

function kindCurves(result: BenchResult): KindCurve[] {
  return LATENCY_KINDS.map((kind) => {
    if (notMeasuredForEngine(result, kind)) return { kind, points: [], missing: NOT_MEASURED };
    const text = result.histograms[kind];
    if (!text) {
      return {
        kind,
        points: [],
        missing: result.summary.latency[kind]?.count ? 'histogram missing' : 'no samples',
      };
    }
    try {
      const points = latencyCurve(text);
      return points.length > 0 ? { kind, points } : { kind, points, missing: 'no samples' };
    } catch {
      return { kind, points: [], missing: 'histogram unreadable' };
    }
  });
}

/** The latency section: plot, legend, what was left off the axis, and the table. */
export function renderLatency(result: BenchResult): string {
  const curves = kindCurves(result);
  const items = curves.map(({ kind, missing }): LegendItem => {
    const swatch = lineSwatch(KIND_COLOURS[kind], KIND_DASHES[kind]);
    if (missing) return { swatch, label: `${kind} — ${missing}`, absent: true };
    // The figure beside each line is the table's (and result.json's) p99: the plot and the numbers agree.
    const p99 = result.summary.latency[kind]?.p99Ms;
    return {
      series: kind,
      swatch,
      label: kind,
      ...(p99 === undefined ? {} : { figure: `p99 ${formatMs(p99)} ms` }),
    };
  });
  return `<section aria-labelledby="latency"><h2 id="latency">Latency by percentile</h2>
<p class="explain">Each line is one latency kind: the latency (log scale) at or below which that share of the measured events fell. The right end of a line is the slowest event; the further right, the rarer. Where two kinds take about the same time their lines overlap: the dashed ones are drawn on top.</p>
${figure('latency', [latencyPlot(curves), legend(items), belowAxisNote(curves)])}
${latencyTable(result)}
</section>`;
}

function latencyTable(result: BenchResult): string {
  const latency: Record<LatencyKind, LatencySummary> = result.summary.latency;
  const rows = LATENCY_KINDS.map((kind) => {
    const s = latency[kind];
    const notMeasured = notMeasuredForEngine(result, kind);
    const how = notMeasured ? "only inside gapipe's own consumers" : measuredByOf(result, kind);
    // How it was measured goes on a line of its own across the table: in the kind's cell it made the
    // rows tall and narrow on a phone.
    const howRow = how
      ? `<tr class="how-row"><td colspan="7" class="how small"><span class="muted">measured:</span> ${esc(how)}</td></tr>`
      : '';
    const open = how ? '<tr class="has-how">' : '<tr>';
    const name = `<th>${lineSwatch(KIND_COLOURS[kind], KIND_DASHES[kind])}${esc(kind)}<div class="muted small">${esc(LATENCY_DESCRIPTIONS[kind])}</div></th>`;
    if (notMeasured)
      return `${open}${name}<td colspan="6" class="muted center">${NOT_MEASURED}</td></tr>${howRow}`;
    if (!s || s.count === 0)
      return `${open}${name}<td colspan="6" class="muted center">no samples</td></tr>${howRow}`;
    const cells = [s.p50Ms, s.p90Ms, s.p99Ms, s.p999Ms, s.maxMs].map((ms) => `<td>${esc(formatMs(ms))}</td>`);
    return `${open}${name}${cells.join('')}<td>${esc(formatInt(s.count))}</td></tr>${howRow}`;
  });
  return `<div class="scroll"><table class="numbers">
<caption>Latency, ms (measured part of the run)</caption>
<thead><tr><th>kind</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>count</th></tr></thead>
<tbody>${rows.join('')}</tbody>
</table></div>`;
}

/** Histograms record whole microseconds from 1 µs up; 0 µs would sit at minus infinity on a log axis. */
const HISTOGRAM_FLOOR_MS = 0.001;
const clampMs = (ms: number) => Math.max(ms, HISTOGRAM_FLOOR_MS);

// The right margin holds half of the last percentile label ("99.9999%") under the plot's edge.
const LATENCY_FRAME: Frame = { height: 420, left: 96, right: 56, top: 16, bottom: 52 };

/**
 * The latency axis fits the data. Values at the histogram's floor (a microsecond or less: an
 * in-process acknowledgement, say) would stretch it over decades of nothing: they are left off the
 * plot, and `belowAxis` says which kinds had them.
 */
function latencyAxisFloorMs(curves: KindCurve[]): number {
  const drawn = curves.filter((curve) => curve.points.length > 0);
  const fitted = drawn.flatMap((curve) =>
    curve.points.filter((point) => point.valueMs > HISTOGRAM_FLOOR_MS).map((point) => point.valueMs),
  );
  const values =
    fitted.length > 0 ? fitted : drawn.flatMap((curve) => curve.points.map((p) => clampMs(p.valueMs)));
  return 10 ** Math.floor(Math.log10(values.length > 0 ? Math.min(...values) : 1));
}

/** "produce-ack and delivery had samples of 0.001 ms, below the axis", or nothing. */
function belowAxisNote(curves: KindCurve[]): string {
  const floorMs = latencyAxisFloorMs(curves);
  const below = curves.filter((curve) => curve.points.some((point) => clampMs(point.valueMs) < floorMs));
  if (below.length === 0) return '';
  const lowest = Math.min(...below.flatMap((curve) => curve.points.map((point) => point.valueMs)));
  const kinds = below.map((curve) => curve.kind).join(' and ');
  return `<p class="muted small">Not drawn: ${esc(kinds)} had samples as fast as ${esc(formatMs(lowest))} ms (the histogram's resolution), below the axis.</p>`;
}

function latencyPlot(curves: KindCurve[]): string {
  const frame = LATENCY_FRAME;
  const drawn = curves.filter((curve) => curve.points.length > 0);
  const maxCount = Math.max(1, ...drawn.map((curve) => curve.points[curve.points.length - 1]?.x ?? 1));
  // Always show up to 99.999%, as the classic plot does; further when there are samples to fill it.
  const decades = Math.max(5, Math.ceil(Math.log10(maxCount)));
  const x = logScale(1, 10 ** decades, plotLeft(frame), plotRight(frame));

  const all = drawn.flatMap((curve) => curve.points.map((point) => clampMs(point.valueMs)));
  const floorMs = latencyAxisFloorMs(curves);
  const lowDecade = Math.round(Math.log10(floorMs));
  let highDecade = Math.ceil(Math.log10(all.length > 0 ? Math.max(...all) : 1000));
  if (highDecade <= lowDecade) highDecade = lowDecade + 1;
  const y = logScale(floorMs, 10 ** highDecade, plotBottom(frame), plotTop(frame));
  const onAxis = (point: LatencyCurvePoint) => clampMs(point.valueMs) >= floorMs;

  const parts: string[] = [svgOpen('latency', frame, 'Latency by percentile, log scales')];
  // Grid: decades labelled, 2× and 5× as faint lines.
  parts.push(...logDecadeAxis(frame, y, lowDecade, highDecade, formatAxisMs));
  parts.push(...percentileAxis(frame, x, decades));
  parts.push(frameRect(frame), axisTitle(frame, 'percentile', 'latency (ms, log scale)'));
  if (drawn.length === 0) parts.push(noData(frame, 'no latency samples'));

  // Solid lines first, dashed ones over them: kinds with about the same latency stay both visible.
  for (const curve of [...drawn].sort((a, b) => DRAW_ORDER[a.kind] - DRAW_ORDER[b.kind])) {
    const points = curve.points
      .filter(onAxis)
      .map((point): [number, number] => [x(point.x), y(clampMs(point.valueMs))]);
    const dash = KIND_DASHES[curve.kind];
    parts.push(
      `<path class="line" data-series="${esc(curve.kind)}" stroke="${KIND_COLOURS[curve.kind]}"${dash ? ` stroke-dasharray="${dash}"` : ''} d="${pathData(points)}"/>`,
    );
  }
  // Hover targets after all lines, so a later line does not cover an earlier line's points.
  for (const curve of drawn) {
    parts.push(`<g class="points" fill="${KIND_COLOURS[curve.kind]}">`);
    for (const point of curve.points.filter(onAxis)) {
      const label = `${curve.kind} ${formatPercentile(point.percentile)}: ${formatMs(point.valueMs)} ms`;
      parts.push(
        `<circle class="pt" cx="${coord(x(point.x))}" cy="${coord(y(clampMs(point.valueMs)))}" r="4"${tip(label)}>${titled(label)}</circle>`,
      );
    }
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('\n');
}
