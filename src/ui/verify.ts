/** Rendering of `gapipe verify`: progress lines while waiting, and the result (header, differences, summary). */
import chalk from 'chalk';
import type { VerifyDifference } from '../verify/compare.js';
import type { VerifyAttempt, VerifyResult } from '../verify/verify.js';
import { formatCount, formatDuration } from './simulate.js';
import { renderTable } from './table.js';

/** Rows of the differences table; `--json` lists them all. */
export const MAX_DIFFERENCE_ROWS = 50;

/** Whole cents as dollars, without going through floating point: 123456 → "$1,234.56". */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const dollars = Math.floor(abs / 100);
  return `${sign}$${formatCount(dollars)}.${String(abs % 100).padStart(2, '0')}`;
}

/** One line per read while `--wait` keeps trying (stderr). */
export function renderVerifyAttempt(attempt: VerifyAttempt): string {
  const { cells } = attempt.comparison;
  const state = attempt.comparison.ok
    ? `${formatCount(cells.compared)} cells match`
    : `${formatCount(cells.differing)} of ${formatCount(cells.compared)} cells differ`;
  const next = attempt.last ? '' : `; reading again, for up to ${formatDuration(attempt.remainingMs)} more`;
  return `read ${attempt.attempt}: ${state}${next}`;
}

/** The result for people: what was compared, the differences (at most `maxRows`), and a verdict. */
export function renderVerifyResult(result: VerifyResult, options: { maxRows?: number } = {}): string {
  const maxRows = options.maxRows ?? MAX_DIFFERENCE_ROWS;
  const lines: string[] = [];
  const reads =
    result.attempts > 1 ? ` (${result.attempts} reads in ${formatDuration(result.waitedMs)})` : '';
  lines.push(
    `Compared ${formatCount(result.docs)} documents of topic ${result.topic} in ${result.index} with ${result.manifest}${reads}`,
  );
  const { expected, actual } = result.totals;
  const late = actual.lateEvents > 0 ? ` (${formatCount(actual.lateEvents)} of them late)` : '';
  const omitted = result.omittedFields ?? [];
  const duplicates = omitted.includes('duplicates')
    ? `duplicates not reported / ${formatCount(expected.duplicates)}`
    : `duplicates ${formatCount(actual.duplicates)} / ${formatCount(expected.duplicates)}`;
  lines.push(
    `  found / expected: events ${formatCount(actual.events)} / ${formatCount(expected.events)}${late} · revenue ${formatCents(actual.revenueCents)} / ${formatCents(expected.revenueCents)} · ${duplicates}`,
  );
  const failed = result.producerFailed;
  if (failed && failed.records > 0) {
    const cells = result.producerFailures?.length ?? 0;
    lines.push(
      chalk.yellow(
        `  the producer gave up on ${formatCount(failed.records)} records (${formatCount(failed.events)} events lost, in ${formatCount(cells)} cells): taken out of the expected counts — the producer's failures, not the pipeline's`,
      ),
    );
  }
  if (result.docs === 0) {
    lines.push(
      chalk.yellow(
        `  no documents for topic ${result.topic} in ${result.index} yet: is \`gapipe consume\` reading that topic?`,
      ),
    );
  }
  for (const note of result.notes ?? []) lines.push(chalk.dim(`  note: ${note}`));
  // An engine that never writes `final` has every document "not final": its note says so already.
  if (result.notFinal > 0 && !omitted.includes('final')) {
    lines.push(
      chalk.dim(
        `  ${formatCount(result.notFinal)} documents not final yet (a window stays open until the watermark passes it, by default 10 minutes of event time later)`,
      ),
    );
  }

  if (result.differences.length > 0) {
    const shown = result.differences.slice(0, maxRows);
    lines.push('');
    lines.push(
      renderTable(
        ['window', 'region', 'type', 'field', 'expected', 'actual', 'kind'],
        shown.map(differenceRow),
      ),
    );
    const more = result.differences.length - shown.length;
    if (more > 0) lines.push(`… and ${formatCount(more)} more differences (--json lists them all)`);
    lines.push('');
  }

  if (!result.ok && result.otherRuns) lines.push(...renderOtherRuns(result));
  lines.push(renderVerdict(result));
  return `${lines.join('\n')}\n`;
}

function documents(n: number): string {
  return `${formatCount(n)} ${n === 1 ? 'document' : 'documents'}`;
}

/** Why cells may differ when another run's documents are in the index, and what to do about it. */
function renderOtherRuns(result: VerifyResult): string[] {
  const other = result.otherRuns;
  if (!other) return [];
  const found: string[] = [];
  if (other.docs > 0) {
    const runs = other.runs
      .slice(0, 3)
      .map((r) => `${r.runId} (${formatCount(r.docs)})`)
      .join(', ');
    const more = other.runs.length > 3 ? ` and ${formatCount(other.runs.length - 3)} more` : '';
    found.push(`${documents(other.docs)} hold events of another run: ${runs}${more}`);
  }
  if (other.outsideWindows > 0 && other.windows) {
    const span = `${other.windows.from.slice(11, 16)}–${other.windows.to.slice(11, 16)}`;
    found.push(
      `${documents(other.outsideWindows)} ${other.outsideWindows === 1 ? 'lies' : 'lie'} outside this run's windows (${span} UTC)`,
    );
  }
  return [
    chalk.yellow(
      `! Another run's events are in topic ${result.topic} and index ${result.index}: ${found.join('; ')}. The differences above are likely theirs, not the pipeline's.`,
    ),
    `${chalk.cyan('→')} Give each run a topic of its own (\`gapipe lab up --topic NAME\` creates it; then \`simulate --topic NAME\` and \`consume --topic NAME\`), or start from an empty topic and index (\`gapipe lab down --volumes\`, then \`gapipe lab up\`)`,
  ];
}

function differenceRow(d: VerifyDifference): string[] {
  let actual = formatCount(d.actual);
  if (d.kind === 'bound' && d.actualMax !== undefined) actual = `${actual}..${formatCount(d.actualMax)}`;
  else if (d.late) actual = `${actual} (${formatCount(d.late)} late)`;
  const kind = d.kind === 'bound' ? 'outside bound' : d.kind;
  const expected =
    d.expectedMin !== undefined && d.expectedMin !== d.expected
      ? `${formatCount(d.expectedMin)}..${formatCount(d.expected)}`
      : formatCount(d.expected);
  return [d.window_start, d.region, d.event_type, d.field, expected, actual, kind];
}

function renderVerdict(result: VerifyResult): string {
  const { cells } = result;
  if (result.ok) {
    const bounded = cells.bounded > 0 ? ` (${formatCount(cells.bounded)} bounded by late events)` : '';
    const noun = cells.compared === 1 ? 'cell matches' : 'cells match';
    return chalk.green(`✔ ${formatCount(cells.compared)} ${noun} the manifest${bounded}`);
  }
  const detail = [
    cells.missing > 0 ? `${formatCount(cells.missing)} missing` : '',
    cells.unexpected > 0 ? `${formatCount(cells.unexpected)} unexpected` : '',
  ].filter(Boolean);
  const verb = cells.differing === 1 ? 'differs' : 'differ';
  return chalk.red(
    `✘ ${formatCount(cells.differing)} of ${formatCount(cells.compared)} cells ${verb}${
      detail.length > 0 ? ` (${detail.join(', ')})` : ''
    }`,
  );
}
