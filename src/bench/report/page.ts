/**
 * The page: one self-contained HTML document — head, Content-Security-Policy, inline assets — that
 * puts the sections together in reading order.
 */
import type { BenchResult } from '../types.js';
import { STYLE, TOOLTIP_SCRIPT } from './assets.js';
import { esc } from './format.js';
import { renderCorrectness } from './sections/correctness.js';
import { renderEngine } from './sections/engine.js';
import { renderInstrument } from './sections/instrument.js';
import { renderLatency } from './sections/latency.js';
import { renderProvenance } from './sections/provenance.js';
import { EMBEDDED_BANNER, renderHeader, renderRunFacts } from './sections/summary.js';
import { renderThroughput } from './sections/throughput.js';

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
${renderEngine(result)}
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
