/**
 * The bench's self-contained HTML report (report.html): run header and provenance, latency by
 * percentile (the classic HdrHistogram plot), percentile tables, throughput and consumer lag over
 * time, the instrument (how busy the load generator was, how far behind its schedule), and
 * correctness. The pass/fail status, its reasons and who limited the run are the run's verdict,
 * rendered as decided. Everything is inline — CSS, SVG drawn here at render time, and a few lines
 * of optional JS for quicker tooltips — and a Content-Security-Policy forbids any network request, so
 * the file opens the same from a CI artifact, an e-mail or a laptop without network.
 */
import { decodeHistogram } from './histograms.js';
import {
  type AssertionOutcome,
  type BenchResult,
  type InstrumentPoint,
  LATENCY_DESCRIPTIONS,
  LATENCY_KINDS,
  type LatencyKind,
  type LatencySummary,
  type SeriesPoint,
  type VerifySummary,
} from './types.js';

/** One point of a latency-by-percentile curve. */
export interface LatencyCurvePoint {
  /** 0–100; 100 is the maximum. */
  percentile: number;
  /** Where the plot puts it: 1/(1 − percentile/100); for the maximum, the sample count. */
  x: number;
  valueMs: number;
}

/** Curve points per decade of 1/(1 − p): enough for a smooth line, few enough to hover. */
const POINTS_PER_DECADE = 20;

/**
 * The latency-by-percentile curve of a compressed base64 HDR histogram of microseconds: values at a
 * geometric series of percentiles (0, 90, 99, … in POINTS_PER_DECADE steps per decade of 1/(1 − p))
 * while the percentile still distinguishes samples, then the maximum. Empty for an empty histogram.
 * Throws when the text is not a histogram.
 */
export function latencyCurve(histogramBase64: string): LatencyCurvePoint[] {
  const histogram = decodeHistogram(histogramBase64);
  try {
    const count = histogram.totalCount;
    if (count === 0) return [];
    const points: LatencyCurvePoint[] = [];
    // Beyond 1/(1 − p) = count a percentile no longer separates samples: only the maximum is left.
    for (let step = 0; ; step++) {
      const x = 10 ** (step / POINTS_PER_DECADE);
      if (x >= count) break;
      const percentile = 100 * (1 - 1 / x);
      points.push({ percentile, x, valueMs: histogram.getValueAtPercentile(percentile) / 1000 });
    }
    points.push({ percentile: 100, x: count, valueMs: histogram.maxValue / 1000 });
    return points;
  } finally {
    histogram.destroy();
  }
}

/** Renders a BenchResult as one self-contained HTML document. */
export function renderReport(result: BenchResult): string {
  const { summary, config } = result;
  const title = `gapipe bench ${result.runId} — ${summary.verdict.status}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="gapipe ${esc(result.provenance.gapipeVersion)}">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${renderHeader(result)}
${config.target === 'embedded' ? EMBEDDED_BANNER : ''}
${renderRunFacts(result)}
${renderLatency(result)}
${renderThroughput(result)}
${renderInstrument(result)}
${renderCorrectness(result)}
${renderProvenance(result)}
<footer>Written by gapipe ${esc(result.provenance.gapipeVersion)} from a <code>${esc(result.format)}</code> result. Latency is measured from each event's intended send time (open-loop schedule), so a stalled producer shows up in the numbers; warm-up seconds are excluded from the histograms and summaries. Histograms record microseconds; the report shows milliseconds.</footer>
</main>
<script>${TOOLTIP_SCRIPT}</script>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// Sections

const EMBEDDED_BANNER = `<div class="banner" role="note"><strong>Embedded run.</strong> No Kafka and no Elasticsearch were involved: an in-memory transport and sink stood in for them, so these numbers measure gapipe's own generator, consumer and aggregation, not a broker, a network or a search cluster.</div>`;

function renderHeader(result: BenchResult): string {
  const { summary } = result;
  const verdict = summary.verdict;
  const passed = verdict.status === 'passed';
  const limit = verdict.limit
    ? `<p class="limit ${verdict.limitedBy === 'instrument' ? 'instrument' : 'pipeline'}" data-limited-by="${esc(verdict.limitedBy ?? '')}">${esc(verdict.limit)} <span class="muted small">(evidence under Instrument)</span></p>`
    : '';
  const failures =
    verdict.failures.length > 0
      ? `<ul class="failures">${verdict.failures.map((line) => `<li>${esc(line)}</li>`).join('')}</ul>`
      : '';
  const warnings =
    verdict.warnings.length > 0
      ? `<ul class="warnings">${verdict.warnings.map((line) => `<li>${esc(line)}</li>`).join('')}</ul>`
      : '';
  const stop =
    summary.stopReason === 'completed'
      ? ''
      : `<p class="stop">The run did not complete: it was ${summary.stopReason === 'stopped' ? 'stopped before the end' : 'ended by an error'}.</p>`;
  return `<header class="status ${passed ? 'passed' : 'failed'}">
<div class="status-line"><span class="badge">${passed ? 'Passed' : 'Failed'}</span><h1>gapipe bench <span class="run-id">${esc(result.runId)}</span></h1></div>
${limit}${failures}${warnings}${stop}
</header>`;
}

function renderRunFacts(result: BenchResult): string {
  const { config, summary } = result;
  const rateNote = summary.keptUp
    ? '<span class="ok">the load kept its schedule</span>'
    : '<span class="bad">the load fell behind its schedule</span>';
  // How far behind the pipeline was, in records and in seconds of load: a run can pass and still lag.
  const lagSeconds = summary.targetRate > 0 ? summary.maxLag / summary.targetRate : undefined;
  const lag = `${esc(formatInt(summary.maxLag))} records at most${
    lagSeconds !== undefined && summary.maxLag > 0
      ? ` <span class="muted">(${esc(formatDuration(lagSeconds * 1000))} of load)</span>`
      : ''
  }`;
  const facts: Array<[string, string]> = [
    [
      'Target',
      config.target === 'embedded'
        ? 'embedded (in-memory transport and sink)'
        : `lab <span class="muted">— Kafka ${esc(config.brokers ?? '?')}, Elasticsearch ${esc(config.esUrl ?? '?')}</span>`,
    ],
    ['Started', esc(formatDate(result.startedAt))],
    [
      'Duration',
      `${esc(formatDuration(summary.durationMs))} <span class="muted">(${esc(formatDuration(summary.measuredMs))} measured after ${esc(formatDuration(config.warmupMs))} warm-up)</span>`,
    ],
    ['Seed', esc(String(config.seed))],
    [
      'Rate',
      `${esc(formatInt(summary.achievedRate))}/s achieved of ${esc(formatInt(summary.targetRate))}/s target — ${rateNote} <span class="muted">(--rate ${esc(config.rate)}${config.stages ? `, stages ${esc(config.stages)}` : ''})</span>`,
    ],
    ['Consumer lag', lag],
    ['Players', esc(formatInt(config.players))],
    ['Consumers', esc(formatInt(config.consumers))],
    [
      'Topic',
      `${esc(config.topic)} <span class="muted">(${esc(formatInt(config.partitions))} partitions)</span>`,
    ],
    ['Index', esc(config.index)],
  ];
  if (config.scenario) facts.push(['Scenario', esc(config.scenario)]);
  const extras = Object.entries(config.extra);
  const extra =
    extras.length > 0
      ? `<details><summary>Other settings</summary><div class="scroll"><table class="kv">${extras
          .map(
            ([key, value]) =>
              `<tr><th>${esc(key)}</th><td><code>${esc(JSON.stringify(value))}</code></td></tr>`,
          )
          .join('')}</table></div></details>`
      : '';
  return `<section aria-label="Run">
<dl class="facts">${facts.map(([term, value]) => `<div><dt>${term}</dt><dd>${value}</dd></div>`).join('')}</dl>
<div class="command"><div class="label">Command</div><pre><code>${esc(result.provenance.command)}</code></pre></div>
${extra}
</section>`;
}

function renderProvenance(result: BenchResult): string {
  const { provenance } = result;
  const { host } = provenance;
  const libraries = Object.entries(provenance.libraries)
    .map(([name, version]) => `${esc(name)} ${esc(version)}`)
    .join(', ');
  const images = Object.entries(provenance.images);
  const imageRows =
    images.length > 0
      ? images
          .map(
            ([service, image]) =>
              `<tr><th>${esc(service)}</th><td><code>${esc(image.name)}</code> <span class="muted mono">${esc(shortImageId(image.id))}</span></td></tr>`,
          )
          .join('')
      : `<tr><th>Images</th><td class="muted">${result.config.target === 'embedded' ? 'none (embedded run)' : 'not recorded'}</td></tr>`;
  return `<section aria-labelledby="provenance"><h2 id="provenance">Provenance</h2>
<div class="scroll"><table class="kv">
<tr><th>gapipe</th><td>${esc(provenance.gapipeVersion)}</td></tr>
<tr><th>Node.js</th><td>${esc(provenance.node)}</td></tr>
<tr><th>Libraries</th><td>${libraries || '<span class="muted">—</span>'}</td></tr>
${imageRows}
<tr><th>Host</th><td>${esc(host.hostname)} — ${esc(host.platform)}/${esc(host.arch)}, ${esc(formatInt(host.cpus))} × ${esc(host.cpuModel)}, ${esc(formatBytes(host.memoryBytes))} memory</td></tr>
<tr><th>Run</th><td>${esc(formatDate(result.startedAt))} → ${esc(formatDate(result.finishedAt))}</td></tr>
</table></div>
</section>`;
}

interface KindCurve {
  kind: LatencyKind;
  points: LatencyCurvePoint[];
  /** Why the kind is not drawn, when it is not. */
  missing?: string;
}

function kindCurves(result: BenchResult): KindCurve[] {
  return LATENCY_KINDS.map((kind) => {
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

function renderLatency(result: BenchResult): string {
  const curves = kindCurves(result);
  const legend = curves
    .map(({ kind, missing }) =>
      missing
        ? `<li class="absent">${lineSwatch(KIND_COLOURS[kind], KIND_DASHES[kind])}${esc(kind)} — ${esc(missing)}</li>`
        : `<li>${lineSwatch(KIND_COLOURS[kind], KIND_DASHES[kind])}${esc(kind)}</li>`,
    )
    .join('');
  return `<section aria-labelledby="latency"><h2 id="latency">Latency by percentile</h2>
<p class="explain">Each line is one latency kind: the latency (log scale) at or below which that share of the measured events fell. The right end of a line is the slowest event; the further right, the rarer. Where two kinds take about the same time their lines overlap: the dashed ones are drawn on top.</p>
${latencyPlot(curves)}
<ul class="legend">${legend}</ul>
${belowAxisNote(curves)}
${latencyTable(result.summary.latency)}
</section>`;
}

function latencyTable(latency: Record<LatencyKind, LatencySummary>): string {
  const rows = LATENCY_KINDS.map((kind) => {
    const s = latency[kind];
    const name = `<th>${lineSwatch(KIND_COLOURS[kind], KIND_DASHES[kind])}${esc(kind)}<div class="muted small">${esc(LATENCY_DESCRIPTIONS[kind])}</div></th>`;
    if (!s || s.count === 0) return `<tr>${name}<td colspan="6" class="muted center">no samples</td></tr>`;
    const cells = [s.p50Ms, s.p90Ms, s.p99Ms, s.p999Ms, s.maxMs].map((ms) => `<td>${esc(formatMs(ms))}</td>`);
    return `<tr>${name}${cells.join('')}<td>${esc(formatInt(s.count))}</td></tr>`;
  });
  return `<div class="scroll"><table class="numbers">
<caption>Latency, ms (measured part of the run)</caption>
<thead><tr><th>kind</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>count</th></tr></thead>
<tbody>${rows.join('')}</tbody>
</table></div>`;
}

function renderThroughput(result: BenchResult): string {
  const { summary, series } = result;
  const warmupSwatch = series.some((point) => point.warmup)
    ? '<li><span class="swatch warmup"></span>warm-up (not measured)</li>'
    : '';
  const legend = [
    ...RECORD_SERIES.map(
      (name) => `<li>${lineSwatch(THROUGHPUT_COLOURS[name], THROUGHPUT_DASHES[name])}${name}</li>`,
    ),
    '<li><span class="swatch dashed"></span>target rate</li>',
    warmupSwatch,
  ].join('');
  const t = summary.throughput;
  const totals = summary.totals;
  const planned = plannedEndS(result);
  const drained = series.some((point) => point.t > planned);
  return `<section aria-labelledby="throughput"><h2 id="throughput">Throughput</h2>
<p class="explain">Records per second, read on the clock each second: produced (handed to the producer by the generator), acknowledged (by the broker) and consumed (received by the aggregation consumers).${drained ? ' Seconds after the planned end are the drain: the consumers catching up with what was left, not measured.' : ''}</p>
${throughputPlot(series, planned)}
<ul class="legend">${legend}</ul>
<h3>Consumer lag</h3>
<p class="explain">Records that had reached the broker but not yet the consumers, at each second: the topic's end offsets minus the consumers' read positions, summed over partitions. A pipeline that keeps up stays near zero; one that falls behind climbs.</p>
${lagPlot(series, planned)}
<h3>Documents written</h3>
<p class="explain">Aggregate documents acknowledged by the store per second — not events: a flush writes one document per open (window, region, event type, partition), once per flush interval, so this comes in steps.</p>
${writtenPlot(series, planned)}
<div class="scroll"><table class="numbers">
<thead><tr><th></th><th>produced</th><th>acknowledged</th><th>consumed</th><th>documents written</th><th>failed</th><th>late</th><th>dead-lettered</th><th>duplicates</th></tr></thead>
<tbody>
<tr><th>per second (measured)</th><td>${formatInt(t.produced)}</td><td>${formatInt(t.acknowledged)}</td><td>${formatInt(t.consumed)}</td><td>${formatNumber(Math.round(t.written * 10) / 10)}</td><td></td><td></td><td></td><td></td></tr>
<tr><th>total</th><td>${formatInt(totals.produced)}</td><td>${formatInt(totals.acknowledged)}</td><td>${formatInt(totals.consumed)}</td><td>${formatInt(totals.written)}</td><td>${formatInt(totals.failed)}</td><td>${formatInt(totals.late)}</td><td>${formatInt(totals.deadLettered)}</td><td>${formatInt(totals.duplicates)}</td></tr>
</tbody>
</table></div>
<p class="muted small">Maximum consumer lag while measured: ${formatInt(summary.maxLag)} records.</p>
</section>`;
}

function renderInstrument(result: BenchResult): string {
  const { summary, series } = result;
  const i = summary.instrument;
  const verdict = summary.verdict;
  const hasCpu = series.some((point) => point.instrument?.cpuCores !== undefined);
  const hasConsumers = series.some((point) => point.pipeline !== undefined);
  const legend = [
    `<li><span class="swatch" style="background:${INSTRUMENT_COLOURS.busy}"></span>generator thread busy (event loop)</li>`,
    hasCpu
      ? `<li><span class="swatch" style="background:${INSTRUMENT_COLOURS.cpu}"></span>generator CPU (share of ${i.generatorThreads === 1 ? 'a core' : `${i.generatorThreads} cores`})</li>`
      : '',
    hasConsumers
      ? `<li><span class="swatch" style="background:${INSTRUMENT_COLOURS.consumers}"></span>busiest consumer process busy</li>`
      : '',
    '<li><span class="swatch dashed"></span>saturated from here</li>',
  ].join('');
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
${instrumentPlot(series, plannedEndS(result))}
<ul class="legend">${legend}</ul>
<h3>Behind the schedule</h3>
${schedulePlot(series, plannedEndS(result))}
<div class="scroll"><table class="numbers">
<thead><tr><th></th><th>busy, mean / max</th><th>CPU cores, mean / max</th><th>bench process CPU</th><th>most behind</th><th>backlog max</th><th>seconds behind</th><th>seconds saturated</th></tr></thead>
<tbody><tr><th>load generator (measured)</th><td>${esc(formatPercentShare(i.eluMean))} / ${esc(formatPercentShare(i.eluMax))}</td><td>${esc(cpu)}</td><td>${esc(formatFixed(i.processCpuCoresMean, 2))} cores</td><td>${esc(formatDuration(i.maxScheduleLagMs))}${i.maxScheduleLagAtS === null ? '' : ` <span class="muted">at ${i.maxScheduleLagAtS} s</span>`}</td><td>${esc(formatInt(i.maxBacklog))}</td><td>${esc(formatInt(i.secondsBehind))} of ${esc(formatInt(i.measuredSeconds))}</td><td>${esc(formatInt(i.secondsSaturated))} of ${esc(formatInt(i.measuredSeconds))}</td></tr></tbody>
</table></div>
${explained}
</section>`;
}

const INSTRUMENT_FRAME: Frame = { height: 240, left: 72, right: 24, top: 16, bottom: 48 };
const SCHEDULE_FRAME: Frame = { height: 190, left: 72, right: 24, top: 12, bottom: 48 };

/** The last second of the planned load (warm-up included). */
function plannedEndS(result: BenchResult): number {
  return Math.ceil((result.config.warmupMs + result.config.durationMs) / 1000);
}

function instrumentPlot(series: SeriesPoint[], plannedEnd: number): string {
  const frame = INSTRUMENT_FRAME;
  const y = linearScale(0, 1, plotBottom(frame), plotTop(frame));
  const { x, parts } = timeAxis(series, frame, y, [0, 0.25, 0.5, 0.75, 1], 'busy (% of a thread or core)', {
    formatTick: formatPercentShare,
    plannedEndS: plannedEnd,
    labelsAtBottom: true,
  });
  const all = [svgOpen('instrument', frame, 'Load generator busy and CPU per second'), ...parts];
  const points = series.filter((point) => point.instrument);
  if (points.length === 0) all.push(noData(frame, 'no instrument figures'));
  else {
    const limit = coord(y(0.9));
    all.push(
      `<line class="saturation" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${limit}" y2="${limit}"/>`,
    );
    const line = (name: string, colour: string, value: (point: SeriesPoint) => number | undefined) => {
      const data = series
        .map((point): [number, number] | undefined => {
          const v = value(point);
          return v === undefined ? undefined : [x(point.t), y(Math.min(1, Math.max(0, v)))];
        })
        .filter((p): p is [number, number] => p !== undefined);
      if (data.length > 0)
        all.push(`<path class="line" data-series="${name}" stroke="${colour}" d="${pathData(data)}"/>`);
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

function schedulePlot(series: SeriesPoint[], plannedEnd: number): string {
  const frame = SCHEDULE_FRAME;
  const lagSeconds = (point: SeriesPoint) => (point.instrument?.scheduleLagMs ?? 0) / 1000;
  // At least up to the tolerance, so "on schedule" reads as a flat line well below it.
  const yTicks = niceTicks(Math.max(1.2, ...series.map(lagSeconds)) * 1.05, 3);
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const y = linearScale(0, yMax, plotBottom(frame), plotTop(frame));
  const { x, parts } = timeAxis(series, frame, y, yTicks, 'seconds behind', {
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
    const data = points.map((point): [number, number] => [x(point.t), y(lagSeconds(point))]);
    all.push(
      `<path class="line" data-series="schedule-lag" stroke="${INSTRUMENT_COLOURS.busy}" d="${pathData(data)}"/>`,
    );
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

function renderCorrectness(result: BenchResult): string {
  const { summary } = result;
  const errors =
    summary.errors.length > 0
      ? `<h3>Errors</h3><ul class="errors">${summary.errors.map((line) => `<li>${esc(line)}</li>`).join('')}</ul>`
      : '';
  return `<section aria-labelledby="correctness"><h2 id="correctness">Correctness</h2>
${verifyBlock(summary.verify)}
<h3>Assertions</h3>
${assertionsTable(summary.assertions)}
${errors}
</section>`;
}

function verifyBlock(verify: VerifySummary | null): string {
  if (!verify) {
    return '<p class="verdict unknown"><span class="pill">not verified</span> Verification did not run (for example, the run was interrupted before any data).</p>';
  }
  const verdict = verify.ok
    ? '<span class="pill ok">ok</span> The aggregates in the sink match the aggregates expected from the events sent.'
    : '<span class="pill bad">wrong</span> The aggregates in the sink differ from the aggregates expected from the events sent.';
  const counts = `<p>${formatInt(verify.cellsCompared)} cells compared, ${formatInt(verify.cellsDiffering)} differing.</p>`;
  if (verify.differences.length === 0) return `<p class="verdict">${verdict}</p>${counts}`;
  const rows = verify.differences
    .map(
      (d) =>
        `<tr><td class="mono">${esc(d.window_start)}</td><td>${esc(d.region)}</td><td>${esc(d.event_type)}</td><td>${esc(d.field)}</td><td>${esc(formatNumber(d.expected))}</td><td>${esc(formatNumber(d.actual))}</td></tr>`,
    )
    .join('');
  const more =
    verify.cellsDiffering > verify.differences.length
      ? `<p class="muted small">The first ${formatInt(verify.differences.length)} of ${formatInt(verify.cellsDiffering)} differences.</p>`
      : '';
  return `<p class="verdict">${verdict}</p>${counts}
<div class="scroll"><table class="numbers diff">
<thead><tr><th>window start</th><th>region</th><th>event type</th><th>field</th><th>expected</th><th>actual</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>${more}`;
}

function assertionsTable(assertions: AssertionOutcome[]): string {
  if (assertions.length === 0)
    return '<p class="muted">No assertions were given (<code>--assert</code>).</p>';
  const rows = assertions
    .map(
      (a) =>
        `<tr><td><code>${esc(a.expression)}</code></td><td>${a.passed ? '<span class="pill ok">pass</span>' : '<span class="pill bad">fail</span>'}</td><td>${esc(a.actual ?? '—')}</td><td>${esc(a.message)}</td></tr>`,
    )
    .join('');
  return `<div class="scroll"><table class="assertions">
<thead><tr><th>assertion</th><th>result</th><th>actual</th><th>message</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

// ---------------------------------------------------------------------------------------------
// Plots. Inline SVG in a fixed coordinate system (viewBox) that scales with the page width.

const PLOT_WIDTH = 960;

interface Frame {
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const plotLeft = (f: Frame) => f.left;
const plotRight = (f: Frame) => PLOT_WIDTH - f.right;
const plotTop = (f: Frame) => f.top;
const plotBottom = (f: Frame) => f.height - f.bottom;

type Scale = (value: number) => number;

function linearScale(domainMin: number, domainMax: number, rangeMin: number, rangeMax: number): Scale {
  const span = domainMax - domainMin || 1;
  return (value) => rangeMin + ((value - domainMin) / span) * (rangeMax - rangeMin);
}

function logScale(domainMin: number, domainMax: number, rangeMin: number, rangeMax: number): Scale {
  const low = Math.log10(domainMin);
  const span = Math.log10(domainMax) - low || 1;
  return (value) => rangeMin + ((Math.log10(value) - low) / span) * (rangeMax - rangeMin);
}

const coord = (n: number) => (Math.round(n * 10) / 10).toString();

function pathData(points: Array<[number, number]>): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${coord(x)},${coord(y)}`).join('');
}

function svgOpen(plot: string, frame: Frame, label: string): string {
  return `<svg class="plot" data-plot="${plot}" viewBox="0 0 ${PLOT_WIDTH} ${frame.height}" role="img" aria-label="${esc(label)}" preserveAspectRatio="xMidYMid meet">`;
}

function axisTitle(frame: Frame, x: string, y: string): string {
  const midX = (plotLeft(frame) + plotRight(frame)) / 2;
  const midY = (plotTop(frame) + plotBottom(frame)) / 2;
  return `<text class="axis-title" x="${coord(midX)}" y="${frame.height - 6}" text-anchor="middle">${esc(x)}</text><text class="axis-title" transform="translate(14 ${coord(midY)}) rotate(-90)" text-anchor="middle">${esc(y)}</text>`;
}

function noData(frame: Frame, message: string): string {
  const midX = (plotLeft(frame) + plotRight(frame)) / 2;
  const midY = (plotTop(frame) + plotBottom(frame)) / 2;
  return `<text class="no-data" x="${coord(midX)}" y="${coord(midY)}" text-anchor="middle">${esc(message)}</text>`;
}

/** Tooltip text: shown by the inline script, or natively through <title> without it. */
function tip(text: string): string {
  return ` data-tip="${esc(text)}"`;
}

function titled(text: string): string {
  return `<title>${esc(text)}</title>`;
}

// The right margin holds half of the last percentile label ("99.9999%") under the plot's edge.
const LATENCY_FRAME: Frame = { height: 420, left: 72, right: 56, top: 16, bottom: 52 };

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
  for (let decade = lowDecade; decade <= highDecade; decade++) {
    const value = 10 ** decade;
    const py = coord(y(value));
    parts.push(
      `<line class="grid" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${plotLeft(frame) - 8}" y="${py}" dy="0.32em" text-anchor="end">${esc(formatAxisMs(value))}</text>`,
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
  for (let decade = 0; decade <= decades; decade++) {
    const px = coord(x(10 ** decade));
    parts.push(
      `<line class="grid" x1="${px}" x2="${px}" y1="${plotTop(frame)}" y2="${plotBottom(frame)}"/>`,
      `<text class="tick" x="${px}" y="${plotBottom(frame) + 18}" text-anchor="middle">${percentileTickLabel(decade)}</text>`,
    );
  }
  parts.push(
    `<rect class="frame" x="${plotLeft(frame)}" y="${plotTop(frame)}" width="${plotRight(frame) - plotLeft(frame)}" height="${plotBottom(frame) - plotTop(frame)}"/>`,
    axisTitle(frame, 'percentile', 'latency (ms, log scale)'),
  );
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

const THROUGHPUT_SERIES = ['produced', 'acknowledged', 'consumed', 'written'] as const;
type ThroughputSeries = (typeof THROUGHPUT_SERIES)[number];
/** The series counted in records (events), on the throughput plot; documents have their own. */
const RECORD_SERIES = ['produced', 'acknowledged', 'consumed'] as const;

const THROUGHPUT_FRAME: Frame = { height: 340, left: 72, right: 24, top: 16, bottom: 48 };
const LAG_FRAME: Frame = { height: 190, left: 72, right: 24, top: 12, bottom: 48 };
const WRITTEN_FRAME: Frame = { height: 170, left: 72, right: 24, top: 12, bottom: 48 };

interface TimeAxis {
  x: Scale;
  parts: string[];
}

interface TimeAxisOptions {
  formatTick?: (value: number) => string;
  /** The planned end of the load (warm-up included), s: later seconds are shaded as not measured. */
  plannedEndS?: number;
  /** Shade labels at the bottom, where the data keeps to the top of the plot. */
  labelsAtBottom?: boolean;
}

/** Time grid, shading of the unmeasured stretches (warm-up, after the planned end) and axis. */
function timeAxis(
  series: SeriesPoint[],
  frame: Frame,
  y: Scale,
  yTicks: number[],
  yTitle: string,
  options: TimeAxisOptions = {},
): TimeAxis {
  const formatTick = options.formatTick ?? formatCompact;
  const maxT = Math.max(1, ...series.map((point) => point.t));
  const x = linearScale(0, maxT, plotLeft(frame), plotRight(frame));
  const parts: string[] = [];
  const labelY = options.labelsAtBottom ? plotBottom(frame) - 8 : plotTop(frame) + 14;
  const shade = (start: number, end: number, label: string) => {
    const x0 = x(start);
    const x1 = x(end);
    // A band too narrow for its label gets the label beside it, starting at the band.
    const fits = x1 - x0 >= label.length * 7 + 8;
    parts.push(
      `<rect class="warmup" x="${coord(x0)}" y="${plotTop(frame)}" width="${coord(x1 - x0)}" height="${plotBottom(frame) - plotTop(frame)}"/>`,
      fits
        ? `<text class="warmup-label" x="${coord((x0 + x1) / 2)}" y="${coord(labelY)}" text-anchor="middle">${esc(label)}</text>`
        : `<text class="warmup-label" x="${coord(x0 + 4)}" y="${coord(labelY)}" text-anchor="start">${esc(label)}</text>`,
    );
  };
  for (const [start, end] of warmupRanges(series)) shade(start, end, 'warm-up');
  // A run that fell behind goes on producing what was due after its planned end; that is not measured.
  if (options.plannedEndS !== undefined && maxT > options.plannedEndS)
    shade(options.plannedEndS, maxT, maxT - options.plannedEndS >= 3 ? 'after the planned end' : '');
  for (const value of yTicks) {
    const py = coord(y(value));
    parts.push(
      `<line class="grid" x1="${plotLeft(frame)}" x2="${plotRight(frame)}" y1="${py}" y2="${py}"/>`,
      `<text class="tick" x="${plotLeft(frame) - 8}" y="${py}" dy="0.32em" text-anchor="end">${esc(formatTick(value))}</text>`,
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
  parts.push(
    `<rect class="frame" x="${plotLeft(frame)}" y="${plotTop(frame)}" width="${plotRight(frame) - plotLeft(frame)}" height="${plotBottom(frame) - plotTop(frame)}"/>`,
    axisTitle(frame, 'seconds since the start of the run', yTitle),
  );
  return { x, parts };
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

function throughputPlot(series: SeriesPoint[], plannedEnd: number): string {
  const frame = THROUGHPUT_FRAME;
  const maxRate = Math.max(
    1,
    ...series.flatMap((point) => [point.targetRate, ...RECORD_SERIES.map((name) => point[name])]),
  );
  const yTicks = niceTicks(maxRate * 1.05, 5);
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const y = linearScale(0, yMax, plotBottom(frame), plotTop(frame));
  const { x, parts } = timeAxis(series, frame, y, yTicks, 'records per second', { plannedEndS: plannedEnd });
  const all = [svgOpen('throughput', frame, 'Records per second over the run'), ...parts];
  if (series.length === 0) all.push(noData(frame, 'no per-second data'));
  else {
    const targetPoints = series.map((point): [number, number] => [x(point.t), y(point.targetRate)]);
    all.push(`<path class="line target" data-series="target" d="${pathData(targetPoints)}"/>`);
    // Produced underneath and wider, acknowledged dashed on top: three lines that agree stay three.
    for (const name of ['produced', 'consumed', 'acknowledged'] as const) {
      const points = series.map((point): [number, number] => [x(point.t), y(point[name])]);
      const dash = THROUGHPUT_DASHES[name];
      all.push(
        `<path class="line${name === 'produced' ? ' under' : ''}" data-series="${name}" stroke="${THROUGHPUT_COLOURS[name]}"${dash ? ` stroke-dasharray="${dash}"` : ''} d="${pathData(points)}"/>`,
      );
    }
    all.push(...hoverBands(series, frame, x, describeSecond));
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
  const { x, parts } = timeAxis(series, frame, y, yTicks, 'documents per second', {
    plannedEndS: plannedEnd,
  });
  const all = [svgOpen('written', frame, 'Aggregate documents written per second'), ...parts];
  if (series.length === 0) all.push(noData(frame, 'no per-second data'));
  else {
    const points = series.map((point): [number, number] => [x(point.t), y(point.written)]);
    all.push(
      `<path class="line" data-series="written" stroke="${THROUGHPUT_COLOURS.written}" d="${pathData(points)}"/>`,
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

function lagPlot(series: SeriesPoint[], plannedEnd: number): string {
  const frame = LAG_FRAME;
  const yTicks = niceTicks(Math.max(1, ...series.map((point) => point.lag)) * 1.05, 3);
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const y = linearScale(0, yMax, plotBottom(frame), plotTop(frame));
  const { x, parts } = timeAxis(series, frame, y, yTicks, 'records behind', { plannedEndS: plannedEnd });
  const all = [svgOpen('lag', frame, 'Consumer lag over the run'), ...parts];
  if (series.length === 0) all.push(noData(frame, 'no per-second data'));
  else {
    const points = series.map((point): [number, number] => [x(point.t), y(point.lag)]);
    const first = points[0];
    const last = points[points.length - 1];
    if (first && last) {
      const base = coord(y(0));
      all.push(
        `<path class="area" fill="${LAG_COLOUR}" d="${pathData(points)}L${coord(last[0])},${base}L${coord(first[0])},${base}Z"/>`,
      );
    }
    all.push(`<path class="line" data-series="lag" stroke="${LAG_COLOUR}" d="${pathData(points)}"/>`);
    all.push(
      ...hoverBands(
        series,
        frame,
        x,
        (point) => `t = ${point.t} s${point.warmup ? ' (warm-up)' : ''}\nlag ${formatInt(point.lag)} records`,
      ),
    );
  }
  all.push('</svg>');
  return all.join('\n');
}

function describeSecond(point: SeriesPoint): string {
  const lines = [
    `t = ${point.t} s${point.warmup ? ' (warm-up)' : ''}`,
    `target ${formatInt(point.targetRate)}/s`,
  ];
  for (const name of RECORD_SERIES) lines.push(`${name} ${formatInt(point[name])}/s`);
  lines.push(`written ${formatInt(point.written)} documents/s`);
  lines.push(`lag ${formatInt(point.lag)} records`);
  if (point.errors > 0) lines.push(`errors ${formatInt(point.errors)}`);
  return lines.join('\n');
}

/** Most bands a plot gets; longer runs show every n-th second on hover. */
const MAX_HOVER_BANDS = 900;

/** Invisible full-height strips, one per second, that carry that second's figures as a tooltip. */
function hoverBands(
  series: SeriesPoint[],
  frame: Frame,
  x: Scale,
  describe: (point: SeriesPoint) => string,
): string[] {
  const stride = Math.ceil(series.length / MAX_HOVER_BANDS);
  const parts = ['<g class="bands">'];
  for (let i = 0; i < series.length; i += stride) {
    const point = series[i];
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

/**
 * Ticks 0, step, 2·step, … up to the first one at or above max (steps of 1, 2, 2.5 or 5 × 10ⁿ; with
 * `whole`, whole numbers only and no 2.5 — seconds labelled "3" must be at 3, not 2.5).
 */
function niceTicks(max: number, target: number, options: { whole?: boolean } = {}): number[] {
  const upper = max > 0 && Number.isFinite(max) ? max : 1;
  const raw = upper / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const quarter = !options.whole || magnitude >= 10;
  let step =
    (normalized <= 1
      ? 1
      : normalized <= 2
        ? 2
        : normalized <= 2.5 && quarter
          ? 2.5
          : normalized <= 5
            ? 5
            : 10) * magnitude;
  if (options.whole) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const value = Math.round(i * step * 1e9) / 1e9;
    ticks.push(value);
    if (value >= upper) break;
  }
  return ticks;
}

/** Histograms record whole microseconds from 1 µs up; 0 µs would sit at minus infinity on a log axis. */
const HISTOGRAM_FLOOR_MS = 0.001;
const clampMs = (ms: number) => Math.max(ms, HISTOGRAM_FLOOR_MS);

function percentileTickLabel(decade: number): string {
  if (decade === 0) return '0%';
  return `${(100 - 10 ** (2 - decade)).toFixed(Math.max(0, decade - 2))}%`;
}

function formatPercentile(percentile: number): string {
  if (percentile >= 100) return 'max';
  if (percentile <= 0) return 'min';
  const decimals = Math.min(6, Math.max(0, Math.ceil(-Math.log10(100 - percentile)) + 1));
  return `p${Number(percentile.toFixed(decimals))}`;
}

// ---------------------------------------------------------------------------------------------
// Formatting (no locale: the same result renders the same file everywhere)

/** HTML-escapes text for element content and quoted attribute values. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function group(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function formatInt(n: number): string {
  if (!Number.isFinite(n)) return '—';
  const rounded = Math.round(n);
  return `${rounded < 0 ? '-' : ''}${group(String(Math.abs(rounded)))}`;
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (Number.isInteger(n)) return formatInt(n);
  const [whole = '0', fraction = ''] = Math.abs(n).toFixed(3).replace(/0+$/, '').split('.');
  return `${n < 0 ? '-' : ''}${group(whole)}${fraction ? `.${fraction}` : ''}`;
}

/** Milliseconds with about three significant digits: 0.412, 9.87, 241, 1,150. */
function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const decimals = ms < 1 ? 3 : ms < 10 ? 2 : ms < 100 ? 1 : 0;
  const [whole = '0', fraction] = ms.toFixed(decimals).split('.');
  return fraction ? `${group(whole)}.${fraction}` : group(whole);
}

function formatAxisMs(ms: number): string {
  return ms >= 1 ? formatInt(ms) : String(Number(ms.toPrecision(1)));
}

function formatPercentShare(fraction: number): string {
  return Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : '—';
}

function formatFixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function formatCompact(n: number): string {
  if (n >= 1e6) return `${Number((n / 1e6).toFixed(2))}M`;
  if (n >= 1e3) return `${Number((n / 1e3).toFixed(2))}k`;
  return String(Number(n.toFixed(2)));
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const totalSeconds = ms / 1000;
  if (totalSeconds < 60) return `${Number(totalSeconds.toFixed(1))} s`;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = Math.round(totalSeconds % 60);
  if (hours > 0) return `${hours} h ${minutes} min`;
  return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}

function shortImageId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

// ---------------------------------------------------------------------------------------------
// Look

const KIND_COLOURS: Record<LatencyKind, string> = {
  'produce-ack': '#4e79a7',
  delivery: '#f28e2b',
  sink: '#59a14f',
  visible: '#b07aa1',
};

const THROUGHPUT_COLOURS: Record<ThroughputSeries, string> = {
  produced: '#4e79a7',
  acknowledged: '#76b7b2',
  consumed: '#f28e2b',
  written: '#59a14f',
};

const LAG_COLOUR = '#b07aa1';

/** Dash patterns: a dashed line is drawn over the solid ones, so a kind hidden under another shows. */
const KIND_DASHES: Record<LatencyKind, string | undefined> = {
  'produce-ack': '9 5',
  delivery: undefined,
  sink: undefined,
  visible: '9 5',
};
const DRAW_ORDER: Record<LatencyKind, number> = { delivery: 0, sink: 1, visible: 2, 'produce-ack': 3 };

const THROUGHPUT_DASHES: Record<ThroughputSeries, string | undefined> = {
  produced: undefined,
  acknowledged: '9 5',
  consumed: undefined,
  written: undefined,
};

/** A legend sample of a line: its colour and dash pattern. */
function lineSwatch(colour: string, dash: string | undefined): string {
  return `<svg class="line-swatch" viewBox="0 0 28 8" aria-hidden="true"><line x1="1" y1="4" x2="27" y2="4" stroke="${colour}" stroke-width="2.5"${
    dash
      ? ` stroke-dasharray="${dash
          .split(' ')
          .map((n) => Number(n) / 2)
          .join(' ')}"`
      : ''
  }/></svg>`;
}

const INSTRUMENT_COLOURS = { busy: '#e15759', cpu: '#4e79a7', consumers: '#59a14f' };

const STYLE = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn-bg:#fff8c5;--warn:#7d4e00;
--sans:-apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;--mono:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--fg);font:14px/1.5 var(--sans)}
main{max-width:1080px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0;font-weight:600}
h2{font-size:18px;font-weight:600;margin:0 0 8px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;font-weight:600;margin:20px 0 6px}
section{margin-top:28px}
code,pre,.mono{font-family:var(--mono);font-size:12.5px}
.muted{color:var(--muted)}.small{font-size:12px}.center{text-align:center}
.status{border:1px solid var(--line);border-left-width:6px;border-radius:6px;padding:14px 18px}
.status.passed{border-left-color:var(--ok)}.status.failed{border-left-color:var(--bad);background:var(--bad-bg)}
.status-line{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.badge{font-weight:700;font-size:13px;letter-spacing:.04em;text-transform:uppercase;color:#fff;border-radius:4px;padding:3px 10px}
.passed .badge{background:var(--ok)}.failed .badge{background:var(--bad)}
.run-id{font-family:var(--mono);font-weight:500;font-size:18px;word-break:break-all}
.failures{margin:10px 0 0;padding-left:20px;color:var(--bad);font-weight:500}
.limit{margin:10px 0 0;font-weight:600}.limit.instrument{color:var(--warn)}.limit.pipeline{color:var(--bad)}
.limit .small{font-weight:400;margin-left:6px}
.warnings{margin:10px 0 0;padding-left:20px;color:var(--warn)}
.note{margin:4px 0 10px;padding:8px 12px;border-left:3px solid #d4a72c;background:var(--warn-bg);color:var(--warn);max-width:860px}
.limit-line{font-weight:600;margin:4px 0}
.evidence{margin:4px 0 0;padding-left:20px}
svg.plot .saturation{stroke:#57606a;stroke-width:1.2;stroke-dasharray:5 4}
svg.plot .limit-label{font-size:11.5px}
.stop{margin:8px 0 0}
.banner{margin-top:14px;padding:10px 14px;border:1px solid #d4a72c;border-radius:6px;background:var(--warn-bg);color:var(--warn)}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px 24px;margin:0}
.facts div{min-width:0}.facts dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.facts dd{margin:0;overflow-wrap:anywhere}
.command{margin-top:14px}.command .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
pre{margin:4px 0 0;padding:10px 12px;background:var(--soft);border:1px solid var(--line);border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere}
details{margin-top:10px}summary{cursor:pointer;color:var(--muted)}
.explain{color:var(--muted);margin:4px 0 10px;max-width:860px}
svg.plot{display:block;width:100%;height:auto;background:#fff}
svg.plot text{font-family:var(--sans);fill:var(--muted)}
svg.plot .tick{font-size:12px}
svg.plot .axis-title{font-size:12.5px;fill:var(--fg)}
svg.plot .no-data{font-size:15px}
svg.plot .grid{stroke:#e6eaef;stroke-width:1}
svg.plot .grid.minor{stroke:#f1f3f5}
svg.plot .frame{fill:none;stroke:#aab4be;stroke-width:1}
svg.plot .line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
svg.plot .line.under{stroke-width:4.5;stroke-opacity:.55}
svg.plot .target{stroke:#57606a;stroke-width:1.5;stroke-dasharray:6 4}
svg.plot .area{opacity:.12;stroke:none}
svg.plot .warmup{fill:#eef1f4}
svg.plot .warmup-label{font-size:11.5px;font-style:italic;paint-order:stroke;stroke:rgba(255,255,255,.75);stroke-width:3px;stroke-linejoin:round}
svg.plot .pt{opacity:0;stroke:#fff;stroke-width:1.5}
svg.plot .pt:hover{opacity:1}
svg.plot .band{fill:transparent}
svg.plot .band:hover{fill:rgba(31,35,40,.06)}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;list-style:none;padding:0;margin:6px 0 0 64px}
.legend li{display:flex;align-items:center;gap:6px}
.legend .absent{color:var(--muted);font-style:italic}
.swatch{display:inline-block;width:14px;height:3px;border-radius:2px;margin-right:6px;vertical-align:middle}
.legend .swatch{margin-right:0}
.line-swatch{display:inline-block;width:28px;height:8px;vertical-align:middle;margin-right:6px;flex:none}
.swatch.dashed{height:0;border-top:2px dashed #57606a;background:none}
.swatch.warmup{height:10px;background:#eef1f4;border:1px solid var(--line)}
.scroll{overflow-x:auto;margin-top:14px}
table{border-collapse:collapse;width:100%}
caption{text-align:left;color:var(--muted);font-size:12px;padding-bottom:4px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{font-size:12px;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line)}
table.numbers td{text-align:right;font-variant-numeric:tabular-nums}
table.numbers thead th:not(:first-child){text-align:right}
table.numbers td.center{text-align:center}
table.numbers tbody th{font-weight:500}
table.diff td:nth-child(-n+4),table.diff thead th:nth-child(-n+4){text-align:left}
table.kv th{width:160px;color:var(--muted);font-weight:500}
table.assertions td:nth-child(2){white-space:nowrap}
.pill{display:inline-block;font-size:12px;font-weight:600;border-radius:10px;padding:1px 9px;margin-right:6px;background:var(--soft);color:var(--muted);border:1px solid var(--line)}
.pill.ok{background:var(--ok-bg);color:var(--ok);border-color:#aceebb}.pill.bad{background:var(--bad-bg);color:var(--bad);border-color:#ffcecb}
.ok{color:var(--ok);font-weight:500}.bad{color:var(--bad);font-weight:500}
.verdict{margin:8px 0 4px}
.errors{color:var(--bad)}
footer{margin-top:36px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:12px}
.tip{position:fixed;z-index:10;pointer-events:none;background:#1f2328;color:#fff;font:12px/1.45 var(--mono);padding:6px 9px;border-radius:5px;white-space:pre;box-shadow:0 2px 8px rgba(0,0,0,.2)}
@media (max-width:640px){main{padding:16px 12px}.legend{margin-left:0}table{font-size:12.5px}th,td{padding:5px 6px}
svg.plot .tick,svg.plot .axis-title{font-size:17px}svg.plot .warmup-label{font-size:15px}}
`;

/** Faster tooltips than the native <title> ones (which stay as the fallback without script). */
const TOOLTIP_SCRIPT = `
(function () {
  var tip = document.createElement('div');
  tip.className = 'tip';
  tip.hidden = true;
  document.body.appendChild(tip);
  document.querySelectorAll('[data-tip] > title').forEach(function (t) { t.remove(); });
  function owner(node) { return node && node.closest ? node.closest('[data-tip]') : null; }
  document.addEventListener('pointerover', function (e) {
    var el = owner(e.target);
    if (!el) { tip.hidden = true; return; }
    tip.textContent = el.getAttribute('data-tip');
    tip.hidden = false;
  });
  document.addEventListener('pointermove', function (e) {
    if (tip.hidden) return;
    var x = e.clientX + 14, y = e.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 4) x = e.clientX - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > window.innerHeight - 4) y = e.clientY - tip.offsetHeight - 14;
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  });
  document.addEventListener('pointerout', function (e) { if (!owner(e.relatedTarget)) tip.hidden = true; });
})();
`;
