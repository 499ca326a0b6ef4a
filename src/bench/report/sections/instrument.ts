/**
 * The instrument: how busy gapipe's own load generator was and how far behind its schedule, so a
 * limit it set is never taken for the pipeline's; and who limited a failed run, with the evidence.
 */
import type { BenchResult, InstrumentPoint, SeriesPoint } from '../../types.js';
import { esc, formatCompact, formatDuration, formatFixed, formatInt, formatPercentShare } from '../format.js';
import { hoverBands } from '../plot/axes.js';
import {
  coord,
  type Frame,
  noData,
  plotBottom,
  plotLeft,
  plotRight,
  plotTop,
  runsPathData,
  svgOpen,
} from '../plot/frame.js';
import { figure, type LegendItem, legend } from '../plot/legend.js';
import { PEAK_HEADROOM, pointMark } from '../plot/marks.js';
import { linearScale, niceTicks } from '../plot/scales.js';
import { INSTRUMENT_COLOURS } from './look.js';
import { benchTimeAxis, plannedEndS, secondRuns } from './time.js';

/** The instrument section: generator load, the schedule plot, the figures, and who limited a failed run. */
export function renderInstrument(result: BenchResult): string {
  const { summary, series } = result;
  const i = summary.instrument;
  const verdict = summary.verdict;
  const hasCpu = series.some((point) => point.instrument?.cpuCores !== undefined);
  const hasConsumers = series.some((point) => point.pipeline !== undefined);
  const swatch = (colour: string) => `<span class="swatch" style="background:${colour}"></span>`;
  // Each line's figure is the summary's (the table's, result.json's), so the plot and the numbers agree.
  const items: LegendItem[] = [
    {
      series: 'generator-busy',
      swatch: swatch(INSTRUMENT_COLOURS.busy),
      label: 'generator thread busy (event loop)',
      figure: `mean ${formatPercentShare(i.eluMean)}, max ${formatPercentShare(i.eluMax)}`,
    },
  ];
  if (hasCpu) {
    items.push({
      series: 'generator-cpu',
      swatch: swatch(INSTRUMENT_COLOURS.cpu),
      label: `generator CPU (share of ${i.generatorThreads === 1 ? 'a core' : `${i.generatorThreads} cores`})`,
      ...(i.cpuCoresMean === undefined ? {} : { figure: `mean ${formatFixed(i.cpuCoresMean, 2)} cores` }),
    });
  }
  if (hasConsumers) {
    items.push({
      series: 'consumers-busy',
      swatch: swatch(INSTRUMENT_COLOURS.consumers),
      label: 'busiest consumer process busy',
      ...(i.pipelineEluMax === undefined ? {} : { figure: `max ${formatPercentShare(i.pipelineEluMax)}` }),
    });
  }
  items.push({ swatch: '<span class="swatch dashed"></span>', label: 'saturated from here (90%)' });
  const shared = i.sharedWithPipeline
    ? '<p class="note">On the embedded target the load generator and the pipeline share one thread: its busy share is theirs together, and when it is saturated the pipeline was not offered the load.</p>'
    : '';
  const explained =
    verdict.status === 'failed'
      ? `<h3>Who limited this run</h3><p class="limit-line">${
          verdict.limit ? esc(verdict.limit) : 'Not clear from these figures.'
        }</p><ul class="evidence">${verdict.evidence.map((line) => `<li>${esc(line)}</li>`).join('')}</ul>`
      : '';
  const cpu =
    i.cpuCoresMean === undefined
      ? '—'
      : `${formatFixed(i.cpuCoresMean, 2)} / ${formatFixed(i.cpuCoresMax ?? 0, 2)}`;
  return `<section aria-labelledby="instrument"><h2 id="instrument">Instrument</h2>
<p class="explain">gapipe measures its own load generator, so a limit it sets is never taken for the pipeline's: how busy the generator's thread was each second (event-loop utilisation), the CPU it used, and how far the load was behind its schedule. A run is instrument-bound when the generator was saturated while it fell behind.</p>
${shared}
${figure('instrument', [instrumentPlot(series, plannedEndS(result)), legend(items)])}
<h3>Behind the schedule</h3>
${figure('schedule', [schedulePlot(result)])}
<div class="scroll"><table class="numbers">
<thead><tr><th></th><th>busy, mean / max</th><th>CPU cores, mean / max</th><th>bench process CPU</th><th>most behind</th><th>backlog max</th><th>seconds behind</th><th>seconds saturated</th></tr></thead>
<tbody><tr><th>load generator (measured)</th><td>${esc(formatPercentShare(i.eluMean))} / ${esc(formatPercentShare(i.eluMax))}</td><td>${esc(cpu)}</td><td>${esc(formatFixed(i.processCpuCoresMean, 2))} cores</td><td>${esc(formatDuration(i.maxScheduleLagMs))}${i.maxScheduleLagAtS === null ? '' : ` <span class="muted">at ${i.maxScheduleLagAtS} s</span>`}</td><td>${esc(formatInt(i.maxBacklog))}</td><td>${esc(formatInt(i.secondsBehind))} of ${esc(formatInt(i.measuredSeconds))}</td><td>${esc(formatInt(i.secondsSaturated))} of ${esc(formatInt(i.measuredSeconds))}</td></tr></tbody>
</table></div>
${explained}
</section>`;
}

// The top margins hold the labels of the shaded stretches.
const INSTRUMENT_FRAME: Frame = { height: 250, left: 88, right: 24, top: 26, bottom: 48 };
const SCHEDULE_FRAME: Frame = { height: 210, left: 88, right: 24, top: 26, bottom: 48 };

function instrumentPlot(series: SeriesPoint[], plannedEnd: number): string {
  const frame = INSTRUMENT_FRAME;
  const y = linearScale(0, 1, plotBottom(frame), plotTop(frame));
  const { x, parts } = benchTimeAxis(
    series,
    frame,
    y,
    [0, 0.25, 0.5, 0.75, 1],
    // Short enough to fit along the plot in a phone's larger type; the legend says of what.
    'busy (% of capacity)',
    { formatTick: formatPercentShare, plannedEndS: plannedEnd },
  );
  const all = [svgOpen('instrument', frame, 'Load generator busy and CPU per second'), ...parts];
  const points = series.filter((point) => point.instrument);
  if (points.length === 0) all.push(noData(frame, 'no instrument figures'));
  else {
    const limit = coord(y(0.9));
    all.push(
      `<line class="saturation" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${limit}" y2="${limit}"/>`,
    );
    const line = (name: string, colour: string, value: (point: SeriesPoint) => number | undefined) => {
      const runs = secondRuns(series, (point) => {
        const v = value(point);
        return v === undefined ? undefined : [x(point.t), y(Math.min(1, Math.max(0, v)))];
      });
      if (runs.length > 0)
        all.push(`<path class="line" data-series="${name}" stroke="${colour}" d="${runsPathData(runs)}"/>`);
    };
    line('generator-busy', INSTRUMENT_COLOURS.busy, (point) => point.instrument?.elu);
    line('generator-cpu', INSTRUMENT_COLOURS.cpu, (point) => cpuShare(point.instrument));
    line('consumers-busy', INSTRUMENT_COLOURS.consumers, (point) => point.pipeline?.elu);
    all.push(...hoverBands(series, frame, x, describeInstrumentSecond));
  }
  all.push('</svg>');
  return all.join('\n');
}

/** The generator's CPU as a share of the cores its threads can use (one per thread). */
function cpuShare(instrument: InstrumentPoint | undefined): number | undefined {
  if (instrument?.cpuCores === undefined) return undefined;
  return instrument.cpuCores / Math.max(1, instrument.threads.length);
}

function schedulePlot(result: BenchResult): string {
  const { series } = result;
  const plannedEnd = plannedEndS(result);
  const frame = SCHEDULE_FRAME;
  const lagSeconds = (point: SeriesPoint) => (point.instrument?.scheduleLagMs ?? 0) / 1000;
  // At least up to the tolerance, so "on schedule" reads as a flat line well below it.
  const { maxScheduleLagMs, maxScheduleLagAtS } = result.summary.instrument;
  // Headroom over the worst second for its label.
  const yTicks = niceTicks(
    Math.max(
      1.2 * 1.05,
      ...series.map((point) => lagSeconds(point) * 1.05),
      (maxScheduleLagMs / 1000) * PEAK_HEADROOM,
    ),
    3,
  );
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const y = linearScale(0, yMax, plotBottom(frame), plotTop(frame));
  const { x, parts } = benchTimeAxis(series, frame, y, yTicks, 'seconds behind', {
    formatTick: (v) => `${formatCompact(v)} s`,
    plannedEndS: plannedEnd,
  });
  const all = [svgOpen('schedule', frame, 'How far the load was behind its schedule'), ...parts];
  const points = series.filter((point) => point.instrument);
  if (points.length === 0) all.push(noData(frame, 'no instrument figures'));
  else {
    const tolerance = coord(y(1));
    all.push(
      `<line class="saturation" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${tolerance}" y2="${tolerance}"/>`,
      `<text class="limit-label" x="${plotRight(frame) - 6}" y="${coord(y(1) - 5)}" text-anchor="end">1 s: not keeping up beyond this</text>`,
    );
    const data = secondRuns(points, (point) => [x(point.t), y(lagSeconds(point))]);
    all.push(
      `<path class="line" data-series="schedule-lag" stroke="${INSTRUMENT_COLOURS.busy}" d="${runsPathData(data)}"/>`,
    );
    // The summary's worst second (the table's "most behind"), marked where it happened.
    if (maxScheduleLagAtS !== null && maxScheduleLagMs > 0) {
      all.push(
        pointMark(
          frame,
          x(maxScheduleLagAtS),
          y(maxScheduleLagMs / 1000),
          `most while measured: ${formatDuration(maxScheduleLagMs)} at ${maxScheduleLagAtS} s`,
          INSTRUMENT_COLOURS.busy,
        ),
      );
    }
    all.push(...hoverBands(series, frame, x, describeInstrumentSecond));
  }
  all.push('</svg>');
  return all.join('\n');
}

function describeInstrumentSecond(point: SeriesPoint): string {
  const lines = [`t = ${point.t} s${point.warmup ? ' (warm-up)' : ''}`];
  const i = point.instrument;
  if (!i) return [...lines, 'no instrument figures'].join('\n');
  lines.push(`generator busy ${formatPercentShare(i.elu)}`);
  const share = cpuShare(i);
  if (share !== undefined) lines.push(`generator CPU ${formatPercentShare(share)} of a core`);
  lines.push(`bench process ${formatFixed(i.processCpuCores, 2)} cores`);
  lines.push(`behind the schedule ${formatDuration(i.scheduleLagMs)}, backlog ${formatInt(i.backlog)}`);
  lines.push(`in flight ${formatInt(i.inFlight)}${i.atInFlightLimit ? ' (waited at the budget)' : ''}`);
  if (point.pipeline) lines.push(`busiest consumer busy ${formatPercentShare(point.pipeline.elu)}`);
  return lines.join('\n');
}
