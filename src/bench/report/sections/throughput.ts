/**
 * Throughput over time: records per second against the target, consumer lag, and aggregate
 * documents written, each second of the run, with the totals. For an engine gapipe reads from outside
 * (spark, external) consumed and lag are counted in the engine's documents, and the documents it
 * writes are not counted: the labels say so.
 */
import { type BenchResult, NOT_MEASURED, type SeriesPoint } from '../../types.js';
import { esc, formatInt, formatNumber } from '../format.js';
import { hoverBands } from '../plot/axes.js';
import {
  type Frame,
  noData,
  plotBottom,
  plotTop,
  runsAreaData,
  runsPathData,
  svgOpen,
} from '../plot/frame.js';
import { figure, type LegendItem, legend, lineSwatch } from '../plot/legend.js';
import { clippedMarks, PEAK_HEADROOM, plotNote, pointMark } from '../plot/marks.js';
import { linearScale, niceTicks } from '../plot/scales.js';
import { countedFromOutside, engineOf } from './engine.js';
import { lagPeak, lagText } from './lag.js';
import { LAG_COLOUR, RECORD_SERIES, THROUGHPUT_COLOURS, THROUGHPUT_DASHES } from './look.js';
import { benchTimeAxis, missingSeconds, plannedEndS, rateRuns, secondRuns } from './time.js';

/** The throughput section: records per second, consumer lag, documents written, and the totals. */
export function renderThroughput(result: BenchResult): string {
  const { summary, series } = result;
  const t = summary.throughput;
  const planned = plannedEndS(result);
  const drained = series.some((point) => point.t > planned);
  const outside = countedFromOutside(result);
  // Each line's figure is its mean over the measured seconds, the one in the table and result.json:
  // a consumer that fell behind reads "consumed 896/s" beside "produced 4,988/s".
  const items: LegendItem[] = [
    ...RECORD_SERIES.map((name) => ({
      series: name,
      swatch: lineSwatch(THROUGHPUT_COLOURS[name], THROUGHPUT_DASHES[name]),
      label: name === 'consumed' && outside ? `consumed (${COUNTED})` : name,
      figure: `${formatInt(t[name])}/s`,
    })),
    {
      series: 'target',
      swatch: '<span class="swatch dashed"></span>',
      label: 'target rate',
      figure: `${formatInt(summary.targetRate)}/s`,
    },
  ];
  const warmup = series.some((point) => point.warmup);
  if (warmup || drained) {
    const what = [warmup ? 'warm-up' : '', drained ? 'after the planned end' : ''].filter(Boolean).join(', ');
    items.push({ swatch: '<span class="swatch warmup"></span>', label: `not measured (${what})` });
  }
  const consumed = outside
    ? `consumed (${COUNTED}: gapipe does not see what this engine receives)`
    : 'consumed (received by the aggregation consumers)';
  const drain = outside
    ? ' Seconds after the planned end are the drain: the engine catching up with what was left, not measured.'
    : ' Seconds after the planned end are the drain: the consumers catching up with what was left, not measured.';
  return `<section aria-labelledby="throughput"><h2 id="throughput">Throughput</h2>
<p class="explain">Records per second, read on the clock each second: produced (handed to the producer by the generator), acknowledged (by the broker) and ${consumed}. The figure beside each name is its mean over the measured seconds. Lines that agree lie on each other: acknowledged is dashed, over a wider produced.${drained ? drain : ''}</p>
${figure('throughput', [throughputPlot(series, planned, outside), legend(items), consumedNote(result), gapNote(series)])}
${outside ? lagOutsideHeading : lagHeading}
${figure('lag', [lagPlot(result, planned, outside)])}
<h3>Documents written</h3>
${
  outside
    ? `<p class="explain">Not measured for this engine: gapipe counts the documents its own consumers write; of another engine it sees only what its documents count (consumed and lag above, the visible latency).</p>`
    : `<p class="explain">Aggregate documents acknowledged by the store per second — not events: a flush writes one document per open (window, region, event type, partition), once per flush interval, so this comes in steps.</p>
${figure('written', [writtenPlot(series, planned)])}`
}
${totalsTable(result, outside)}
<p class="muted small">${
    outside
      ? `Most records not yet counted in the engine's documents while measured: ${formatInt(summary.maxLag)}.`
      : `Maximum consumer lag while measured: ${formatInt(summary.maxLag)} records.`
  }</p>
</section>`;
}

/** How an engine read from outside was counted, as the result says. */
function consumedNote(result: BenchResult): string {
  const how = engineOf(result)?.measuredBy.consumed;
  if (!countedFromOutside(result) || !how) return '';
  return `<p class="how small"><span class="muted">consumed, measured:</span> ${esc(how)}</p>`;
}

/** What consumed is, for an engine read from outside. */
const COUNTED = "counted in the engine's documents";

const lagHeading = `<h3>Consumer lag</h3>
<p class="explain">Records that had reached the broker but not yet the consumers, at each second: the topic's end offsets minus the consumers' read positions, summed over partitions. A pipeline that keeps up stays near zero; one that falls behind climbs.</p>`;

const lagOutsideHeading = `<h3>Lag: records not yet counted in the engine's documents</h3>
<p class="explain">Records sent and not yet counted in the engine's documents, at each second. gapipe does not see the engine's read positions, so this runs from the producer to the searchable documents: the engine's reading, aggregating and writing all count. An engine that keeps up stays low; one that falls behind climbs.</p>`;

/** The rates and totals; figures only gapipe's own consumers report are "—" for another engine. */
function totalsTable(result: BenchResult, outside: boolean): string {
  const t = result.summary.throughput;
  const totals = result.summary.totals;
  const own = (text: string) => (outside ? '<span class="muted">—</span>' : text);
  const note = outside
    ? `<p class="muted small">— ${NOT_MEASURED}: documents written, late, dead-lettered and duplicates are counted by gapipe's own consumers.</p>`
    : '';
  return `<div class="scroll"><table class="numbers">
<thead><tr><th></th><th>produced</th><th>acknowledged</th><th>consumed${outside ? '<div class="muted small">counted in documents</div>' : ''}</th><th>documents written</th><th>failed</th><th>late</th><th>dead-lettered</th><th>duplicates</th></tr></thead>
<tbody>
<tr><th>per second (measured)</th><td>${formatInt(t.produced)}</td><td>${formatInt(t.acknowledged)}</td><td>${formatInt(t.consumed)}</td><td>${own(formatNumber(Math.round(t.written * 10) / 10))}</td><td></td><td></td><td></td><td></td></tr>
<tr><th>total</th><td>${formatInt(totals.produced)}</td><td>${formatInt(totals.acknowledged)}</td><td>${formatInt(totals.consumed)}</td><td>${own(formatInt(totals.written))}</td><td>${formatInt(totals.failed)}</td><td>${own(formatInt(totals.late))}</td><td>${own(formatInt(totals.deadLettered))}</td><td>${own(formatInt(totals.duplicates))}</td></tr>
</tbody>
</table></div>${note}`;
}

/** Says which seconds have no reading of their own, and how the plots show them. */
function gapNote(series: SeriesPoint[]): string {
  const missing = missingSeconds(series);
  if (!missing) return '';
  return `<p class="muted small gap-note">Seconds without a reading of their own: ${esc(missing)} (the bench's reading was held up). A rate read after such a gap is the mean over it and is drawn flat across it; the lag and the instrument figures, read at each tick, are left out there.</p>`;
}

// The top margins hold the labels of the shaded stretches.
const THROUGHPUT_FRAME: Frame = { height: 350, left: 88, right: 24, top: 26, bottom: 48 };
const LAG_FRAME: Frame = { height: 210, left: 88, right: 24, top: 26, bottom: 48 };
// Tall enough for its axis title in the larger type of a phone-width screen.
const WRITTEN_FRAME: Frame = { height: 230, left: 88, right: 24, top: 26, bottom: 48 };

/**
 * Consumption can run at many times the load for a second or two while consumers catch up. On an
 * axis that tall the load itself would be a flat line along the floor, so the axis stops at this
 * multiple of the load and higher values are cut at its top, with their figure written there.
 */
const CATCH_UP_CLIP = 2;

function throughputPlot(series: SeriesPoint[], plannedEnd: number, outside: boolean): string {
  const frame = THROUGHPUT_FRAME;
  const load = Math.max(
    1,
    ...series.flatMap((point) => [
      point.t <= plannedEnd ? point.targetRate : 0,
      point.produced,
      point.acknowledged,
    ]),
  );
  const highest = Math.max(load, ...series.flatMap((point) => RECORD_SERIES.map((name) => point[name])));
  const yTicks = niceTicks(Math.min(highest, load * CATCH_UP_CLIP) * 1.05, 5);
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const y = linearScale(0, yMax, plotBottom(frame), plotTop(frame));
  const { x, parts } = benchTimeAxis(series, frame, y, yTicks, 'records per second', {
    plannedEndS: plannedEnd,
  });
  const all = [svgOpen('throughput', frame, 'Records per second over the run'), ...parts];
  if (series.length === 0) all.push(noData(frame, 'no per-second data'));
  else {
    // Nothing is due after the planned end: a target there would read as a rate the drain missed.
    const target = secondRuns(series, (point) =>
      point.t <= plannedEnd ? [x(point.t), y(point.targetRate)] : undefined,
    );
    all.push(`<path class="line target" data-series="target" d="${runsPathData(target)}"/>`);
    // Produced underneath and wider, acknowledged dashed on top: three lines that agree stay three.
    for (const name of ['produced', 'consumed', 'acknowledged'] as const) {
      const points = rateRuns(series, x, (point) => y(Math.min(point[name], yMax)));
      const dash = THROUGHPUT_DASHES[name];
      all.push(
        `<path class="line${name === 'produced' ? ' under' : ''}" data-series="${name}" stroke="${THROUGHPUT_COLOURS[name]}"${dash ? ` stroke-dasharray="${dash}"` : ''} d="${runsPathData(points)}"/>`,
      );
    }
    const clipped = series.flatMap((point) => {
      const over = RECORD_SERIES.filter((name) => point[name] > yMax);
      const top = over.sort((a, b) => point[b] - point[a])[0];
      return top ? [{ px: x(point.t), label: `${top} ${formatInt(point[top])}/s` }] : [];
    });
    all.push(...clippedMarks(frame, clipped));
    all.push(...hoverBands(series, frame, x, (point) => describeSecond(point, plannedEnd, outside)));
  }
  all.push('</svg>');
  return all.join('\n');
}

/** Aggregate documents written per second, on their own axis (tens or hundreds, not thousands). */
function writtenPlot(series: SeriesPoint[], plannedEnd: number): string {
  const frame = WRITTEN_FRAME;
  const yTicks = niceTicks(Math.max(1, ...series.map((point) => point.written)) * 1.05, 3);
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const y = linearScale(0, yMax, plotBottom(frame), plotTop(frame));
  const { x, parts } = benchTimeAxis(series, frame, y, yTicks, 'documents per second', {
    plannedEndS: plannedEnd,
  });
  const all = [svgOpen('written', frame, 'Aggregate documents written per second'), ...parts];
  if (series.length === 0) all.push(noData(frame, 'no per-second data'));
  else {
    const points = rateRuns(series, x, (point) => y(point.written));
    all.push(
      `<path class="line" data-series="written" stroke="${THROUGHPUT_COLOURS.written}" d="${runsPathData(points)}"/>`,
    );
    all.push(
      ...hoverBands(
        series,
        frame,
        x,
        (point) =>
          `t = ${point.t} s${point.warmup ? ' (warm-up)' : ''}\nwritten ${formatInt(point.written)} documents/s`,
      ),
    );
  }
  all.push('</svg>');
  return all.join('\n');
}

/**
 * The lag axis reaches at least this much load (target rate × seconds): a pipeline that batches is
 * always a few records behind, and those should not fill the plot like a backlog.
 */
const LAG_AXIS_FLOOR_S = 0.2;

function lagPlot(result: BenchResult, plannedEnd: number, outside: boolean): string {
  const { series, summary } = result;
  const frame = LAG_FRAME;
  const floor = Math.max(1, summary.targetRate * LAG_AXIS_FLOOR_S);
  const peak = lagPeak(result);
  // Headroom over the peak for its label, which then sits above all the measured seconds.
  const top = Math.max(floor, ...series.map((point) => point.lag * 1.05), (peak?.lag ?? 0) * PEAK_HEADROOM);
  const yTicks = niceTicks(top, 4);
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const y = linearScale(0, yMax, plotBottom(frame), plotTop(frame));
  // Short enough to fit along the plot in a phone's larger type; the heading says of what.
  const { x, parts } = benchTimeAxis(
    series,
    frame,
    y,
    yTicks,
    outside ? 'not yet counted' : 'records behind',
    {
      plannedEndS: plannedEnd,
    },
  );
  const title = outside
    ? "Records not yet counted in the engine's documents over the run"
    : 'Consumer lag over the run';
  const all = [svgOpen('lag', frame, title), ...parts];
  if (series.length === 0) all.push(noData(frame, 'no per-second data'));
  else {
    const points = secondRuns(series, (point) => [x(point.t), y(point.lag)]);
    all.push(`<path class="area" fill="${LAG_COLOUR}" d="${runsAreaData(points, y(0))}"/>`);
    all.push(`<path class="line" data-series="lag" stroke="${LAG_COLOUR}" d="${runsPathData(points)}"/>`);
    // The measured maximum, as the summary and result.json have it, marked where it happened.
    if (peak) {
      const label = `most while measured: ${lagText(summary)} at ${peak.t} s`;
      all.push(pointMark(frame, x(peak.t), y(peak.lag), label, LAG_COLOUR));
    } else if (summary.maxLag === 0) {
      // A line along the floor could be a line missing: say what it means.
      all.push(plotNote(frame, 'no lag at any measured second'));
    }
    all.push(
      ...hoverBands(
        series,
        frame,
        x,
        (point) => `t = ${point.t} s${point.warmup ? ' (warm-up)' : ''}\n${lagLine(point, outside)}`,
      ),
    );
  }
  all.push('</svg>');
  return all.join('\n');
}

function lagLine(point: SeriesPoint, outside: boolean): string {
  return outside ? `not yet counted ${formatInt(point.lag)} records` : `lag ${formatInt(point.lag)} records`;
}

function describeSecond(point: SeriesPoint, plannedEnd: number, outside: boolean): string {
  const lines = [
    `t = ${point.t} s${point.warmup ? ' (warm-up)' : ''}`,
    point.t > plannedEnd ? 'after the planned end: nothing due' : `target ${formatInt(point.targetRate)}/s`,
  ];
  for (const name of RECORD_SERIES)
    lines.push(`${name}${name === 'consumed' && outside ? ' (counted)' : ''} ${formatInt(point[name])}/s`);
  if (!outside) lines.push(`written ${formatInt(point.written)} documents/s`);
  lines.push(lagLine(point, outside));
  if (point.errors > 0) lines.push(`errors ${formatInt(point.errors)}`);
  return lines.join('\n');
}
