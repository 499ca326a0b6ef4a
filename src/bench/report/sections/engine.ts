/**
 * The engine under test: which one ran, which figures gapipe could take of it and how, and its CPU
 * and memory. Results of versions before engines name none: they are gapipe's, and the report says
 * nothing about an engine for them.
 */
import type { BenchResult, EngineSummary, LatencyKind } from '../../types.js';
import { esc, formatBytes, formatFixed, formatInt } from '../format.js';

/** The engine as recorded, or undefined for a result that names none. */
export function engineOf(result: BenchResult): EngineSummary | undefined {
  return result.summary.engine;
}

/**
 * True for an engine gapipe reads from outside (spark, external): its consumed figure is the records
 * its documents count, its lag the records sent and not yet counted, and it writes no document gapipe
 * counts.
 */
export function countedFromOutside(result: BenchResult): boolean {
  const engine = engineOf(result);
  return engine !== undefined && engine.name !== 'gapipe';
}

/** How a latency kind was measured, when the result says. */
export function measuredByOf(result: BenchResult, kind: LatencyKind): string | undefined {
  return engineOf(result)?.measuredBy[kind];
}

/**
 * True for a kind this engine does not have (sink latency is timed inside gapipe's own consumers):
 * the result names how every other kind was measured and this one has no samples.
 */
export function notMeasuredForEngine(result: BenchResult, kind: LatencyKind): boolean {
  const engine = engineOf(result);
  if (!engine || engine.measuredBy[kind] !== undefined) return false;
  return (result.summary.latency[kind]?.count ?? 0) === 0;
}

/** "spark — the Spark job on local[2]", for the run facts. */
export function engineFact(engine: EngineSummary): string {
  return `${esc(engine.name)} <span class="muted">— ${esc(engine.description)}</span>`;
}

/** The Engine section: what ran, its CPU and memory while measured, or why they were not. */
export function renderEngine(result: BenchResult): string {
  const engine = engineOf(result);
  if (!engine) return '';
  const cores = result.provenance.host.cpus;
  const r = engine.resources;
  const figures = r
    ? `<div class="scroll"><table class="numbers">
<thead><tr><th></th><th>CPU cores, mean / max</th><th>memory, max (RSS)</th><th>processes</th></tr></thead>
<tbody><tr><th>${esc(engine.name)} (measured)</th><td>${esc(formatFixed(r.cpuCoresMean, 2))} / ${esc(formatFixed(r.cpuCoresMax, 2))} <span class="muted">of ${esc(formatInt(cores))}</span></td><td>${esc(formatBytes(r.rssMaxBytes))}</td><td>${esc(formatInt(r.processes))}</td></tr></tbody>
</table></div>
<p class="muted small">Taken from ${esc(r.method)}.</p>`
    : `<p class="engine-unmeasured"><strong>CPU and memory:</strong> <span class="muted">${esc(unmeasuredReason(result, engine))}</span></p>`;
  return `<section aria-labelledby="engine"><h2 id="engine">Engine</h2>
<p class="explain">The pipeline under test: <strong>${esc(engine.name)}</strong> — ${esc(engine.description)}.${r ? ' Its CPU (in cores: 1 = one core busy all second) and resident memory while measured, all its processes together.' : ''}</p>
${figures}
</section>`;
}

function unmeasuredReason(result: BenchResult, engine: EngineSummary): string {
  if (engine.name === 'external') return 'not measured (its processes are not started by gapipe)';
  if (result.config.target === 'embedded')
    return "not measured separately (on the embedded target the consumers run in the bench's own process: see the bench process CPU under Instrument)";
  return "not measured (its processes' figures could not be read on this system)";
}
