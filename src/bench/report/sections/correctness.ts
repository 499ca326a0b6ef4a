/** Correctness: what verify found in the sink, the assertions and any errors. */
import type { AssertionOutcome, BenchResult, VerifySummary } from '../../types.js';
import { esc, formatInt, formatNumber } from '../format.js';

export function renderCorrectness(result: BenchResult): string {
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
