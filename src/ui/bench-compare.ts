/** Rendering of `gapipe bench compare`: which runs, a table of figures, warnings, and the verdict. */
import chalk from 'chalk';
import { formatNumber } from '../bench/assertions.js';
import { type ComparedRun, type Comparison, type ComparisonRow, describeDelta } from '../bench/compare.js';
import { renderTable } from './table.js';

/** The comparison for people (stdout). Rows that regressed are red, worse ones yellow, better ones green. */
export function renderComparison(comparison: Comparison): string {
  const lines: string[] = [];
  lines.push(`base: ${describeRun(comparison.base)}`);
  lines.push(`new:  ${describeRun(comparison.new)}`);
  lines.push('');

  if (comparison.rows.length > 0) {
    const table = renderTable(['figure', 'base', 'new', 'change', 'verdict'], comparison.rows.map(rowCells));
    const [header, rule, ...body] = table.split('\n');
    lines.push(header ?? '', rule ?? '');
    // Colour whole lines after aligning: colour codes inside cells would break the column widths.
    body.forEach((line, index) => {
      lines.push(colourRow(line, comparison.rows[index]));
    });
    lines.push('');
  }

  for (const warning of comparison.warnings) lines.push(chalk.yellow(`⚠ ${warning}`));
  for (const failure of comparison.failures) lines.push(chalk.red(`✘ ${failure}`));
  lines.push(renderVerdict(comparison));
  return `${lines.join('\n')}\n`;
}

function describeRun(run: ComparedRun): string {
  const source = run.source === undefined ? '' : `${run.source} — `;
  const verified =
    run.correct === true ? 'verified' : run.correct === false ? 'did not verify' : 'not verified';
  return `${source}run ${run.runId}, ${run.startedAt}, ${run.target} at ${run.rate}, ${run.status} (${verified})`;
}

function rowCells(row: ComparisonRow): string[] {
  const verdict = `${row.regressed ? 'worse, regressed' : row.verdict}${row.note ? ` (${row.note})` : ''}`;
  return [
    row.name,
    formatFigure(row.base, row.unit),
    formatFigure(row.new, row.unit),
    describeDelta(row),
    verdict,
  ];
}

function formatFigure(value: number, unit: ComparisonRow['unit']): string {
  if (unit === 'records') return formatNumber(Math.round(value));
  return `${formatNumber(value)}${unit}`;
}

function colourRow(line: string, row: ComparisonRow | undefined): string {
  if (!row) return line;
  if (row.regressed) return chalk.red(line);
  if (row.verdict === 'worse') return chalk.yellow(line);
  if (row.verdict === 'better') return chalk.green(line);
  return line;
}

/** At most this many regressed figures are named in the verdict; the table marks them all. */
const NAMED_REGRESSIONS = 5;

function renderVerdict(comparison: Comparison): string {
  const { regressions } = comparison;
  const threshold = `${comparison.maxRegressionPct}%`;
  if (regressions.length === 0) {
    const line = `no figure regressed by more than ${threshold}`;
    return comparison.ok ? chalk.green(`✔ ${line}`) : chalk.red(`✘ ${line}, but the comparison failed`);
  }
  const noun = regressions.length === 1 ? 'figure' : 'figures';
  const named = regressions.slice(0, NAMED_REGRESSIONS).join(', ');
  const more =
    regressions.length > NAMED_REGRESSIONS ? `, … ${regressions.length - NAMED_REGRESSIONS} more` : '';
  return chalk.red(`✘ ${regressions.length} ${noun} regressed by more than ${threshold}: ${named}${more}`);
}
