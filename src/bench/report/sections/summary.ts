/**
 * The top of the report: the verdict as decided (status, who limited the run, failures, warnings)
 * and the run's facts (target, duration, rate, lag, command).
 */
import type { BenchResult } from '../../types.js';
import { esc, formatDate, formatDuration, formatInt } from '../format.js';
import { countedFromOutside, engineFact, engineOf } from './engine.js';
import { drainText, lagPeak } from './lag.js';

/** Said on every embedded run: its numbers are not a broker's or a search cluster's. */
export const EMBEDDED_BANNER = `<div class="banner" role="note"><strong>Embedded run.</strong> No Kafka and no Elasticsearch were involved: an in-memory transport and sink stood in for them, so these numbers measure gapipe's own generator, consumer and aggregation, not a broker, a network or a search cluster.</div>`;

/** The status box: the verdict, its limit, failures and warnings, and why the run stopped early. */
export function renderHeader(result: BenchResult): string {
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

/** The run's facts (the engine beside the target) and its command line. */
export function renderRunFacts(result: BenchResult): string {
  const { config, summary } = result;
  const rateNote = summary.keptUp
    ? '<span class="ok">the load kept its schedule</span>'
    : '<span class="bad">the load fell behind its schedule</span>';
  // How far behind the pipeline was, in records and in seconds of load, when, and how long it took
  // to catch up afterwards: a run can pass and still lag.
  const lagSeconds = summary.targetRate > 0 ? summary.maxLag / summary.targetRate : undefined;
  const peak = lagPeak(result);
  const drain = drainText(result);
  const lag = `${esc(formatInt(summary.maxLag))} records at most${
    lagSeconds !== undefined && summary.maxLag > 0
      ? ` <span class="muted">(${esc(formatDuration(lagSeconds * 1000))} of load${peak ? `, at ${peak.t} s` : ''})</span>`
      : ''
  }${drain ? `; ${esc(drain)}` : ''}`;
  const engine = engineOf(result);
  // An engine read from outside has no consumers of gapipe's: its lag is what its documents lack.
  const outside = countedFromOutside(result);
  const facts: Array<[string, string]> = [
    [
      'Target',
      config.target === 'embedded'
        ? 'embedded (in-memory transport and sink)'
        : `lab <span class="muted">— Kafka ${esc(config.brokers ?? '?')}, Elasticsearch ${esc(config.esUrl ?? '?')}</span>`,
    ],
    ...(engine ? [['Engine', engineFact(engine)] as [string, string]] : []),
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
    [outside ? 'Lag (records not yet counted)' : 'Consumer lag', lag],
    ['Players', esc(formatInt(config.players))],
    // --consumers sets gapipe's own consumers only; another engine's parallelism is its own.
    ...(outside ? [] : [['Consumers', esc(formatInt(config.consumers))] as [string, string]]),
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
