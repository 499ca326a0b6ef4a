/**
 * The bench's self-contained HTML report (report.html): run header and provenance, latency by
 * percentile (the classic HdrHistogram plot), percentile tables, throughput and consumer lag over
 * time, the engine under test (which one, its CPU and memory, how each figure of it was measured),
 * the instrument (how busy the load generator was, how far behind its schedule), and correctness.
 * The pass/fail status, its reasons and who limited the run are the run's verdict, rendered as
 * decided. Everything is inline — CSS, SVG drawn here at render time, and a few lines of optional JS
 * for quicker tooltips — and a Content-Security-Policy forbids any network request, so the file opens
 * the same from a CI artifact, an e-mail or a laptop without network.
 *
 * Layout: page.ts assembles the document from sections/ (one file per part of the report), which
 * draw with plot/ (a small SVG plotting kit that knows nothing about benchmarks) and style with
 * assets.ts.
 */
export { renderReport } from './page.js';
export { type LatencyCurvePoint, latencyCurve } from './sections/latency-curve.js';
