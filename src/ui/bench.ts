/**
 * Rendering of `gapipe bench` without ink: the start banner, plain progress lines (logs, CI, pipes)
 * and the final summary for stdout. The live terminal view is in bench-progress.tsx.
 */
import chalk from 'chalk';
import {
  type BenchPhase,
  type BenchProgress,
  type BenchReporter,
  type BenchResult,
  type BenchStart,
  type BenchSummary,
  type InstrumentPoint,
  LATENCY_KINDS,
  type LatencySummary,
  NOT_MEASURED,
  type VerifySummary,
} from '../bench/types.js';
import { formatCount, formatDuration, formatRate } from './simulate.js';

export type { BenchPhase, BenchReporter, BenchStart } from '../bench/types.js';

/** The result files `renderBenchSummary` points to. */
export const RESULT_FILES = 'result.json, report.html, junit.xml, *.hgrm';

/**
 * A latency in milliseconds with the precision that matters at its size (about three significant
 * digits), without unit: 0.42, 2.10, 12.3, 1,234; "<0.01" for a few microseconds, "-" when there is
 * no value.
 */
export function formatLatencyMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms > 0 && ms < 0.01) return '<0.01';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return formatCount(ms);
}

/** Run time to the whole second, so lines read "5s", not "5.0s", when updates arrive a little late. */
export function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds <= 0 ? '0s' : formatDuration(seconds * 1000);
}

function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** The start banner: what runs where, the load, and where results go. */
export function renderBenchBanner(start: BenchStart): string {
  const lines =
    start.target === 'embedded'
      ? [
          'Bench: embedded pipeline (in-process memory transport and memory sink)',
          chalk.yellow(
            '  no Kafka or Elasticsearch involved — start the lab (`gapipe lab up`) for real numbers',
          ),
        ]
      : [
          `Bench against ${start.labName ? `lab ${start.labName}: ` : ''}Kafka ${start.brokers ?? '-'}, Elasticsearch ${start.esUrl ?? '-'}`,
        ];
  lines.push(
    `  topic ${start.topic} (${plural(start.partitions, 'partition')}) → index ${start.index} · ${
      start.engine === 'gapipe'
        ? start.engineDescription
        : `engine: ${start.engine} (${start.engineDescription})`
    }`,
    // A rate given per player is worth spelling out; "5,000/s (5000/s in total)" would say it twice.
    `  ${formatCount(start.players)} players · target ${formatRate(start.targetRate)}${
      start.rateDescription.includes('per player') ? ` (${start.rateDescription})` : ''
    } · ${
      start.warmupMs > 0 ? `${formatDuration(start.warmupMs)} warm-up, then ` : ''
    }${formatDuration(start.durationMs)} measured · seed ${start.seed}`,
  );
  if (start.assertions.length > 0) lines.push(`  assertions: ${start.assertions.join(', ')}`);
  lines.push(`  results → ${start.outDir}`);
  return `${lines.join('\n')}\n`;
}

/** Aggregate documents per second: "270 docs/s", "36.6 docs/s" (documents, not events). */
export function formatDocsRate(perSecond: number): string {
  return formatRate(perSecond).replace(/\/s$/, ' docs/s');
}

/** A share of the time or of a core, 0–1, as a whole percentage. */
export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** A lag behind the schedule: "12ms", "1.4s". */
function formatLag(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** How far behind its schedule the load is: "on schedule" within 10ms, else "1.4s behind". */
export function formatScheduleLag(ms: number): string {
  return ms <= 10 ? 'on schedule' : `${formatLag(ms)} behind`;
}

/** The generator's last second in a few words: "generator 45% busy, on schedule". */
export function formatInstrument(instrument: InstrumentPoint | undefined): string {
  if (!instrument) return '';
  return `generator ${formatPercent(instrument.elu)} busy, ${formatScheduleLag(instrument.scheduleLagMs)}`;
}

/** One progress line for logs and CI: the last second's rates, the lag now, latency so far. */
export function formatBenchLine(p: BenchProgress): string {
  const delivery = p.latency.delivery;
  const draining = p.phase === 'draining';
  const parts = [
    draining
      ? `draining ${formatElapsed(p.phaseElapsedMs)} after the load:`
      : `${formatElapsed(Math.min(p.elapsedMs, p.totalMs))}/${formatDuration(p.totalMs)}`,
    p.warmup && !draining ? chalk.yellow('warm-up') : '',
    draining ? '' : `produced ${formatRate(p.rates.produced)} (target ${formatRate(p.targetRate)})`,
    ...(p.outsideEngine
      ? [`counted ${formatRate(p.rates.consumed)}`, `not yet counted ${formatCount(p.lag)}`]
      : [
          `consumed ${formatRate(p.rates.consumed)}`,
          `written ${formatDocsRate(p.rates.written)}`,
          `lag ${formatCount(p.lag)}`,
        ]),
    `delivery p99 ${delivery.count > 0 ? `${formatLatencyMs(delivery.p99Ms)}ms` : '-'}`,
    draining ? '' : formatInstrument(p.instrument),
    p.errors.length > 0 ? chalk.red(`errors ${formatCount(p.errors.length)}`) : 'errors 0',
  ];
  return parts.filter(Boolean).join(' ');
}

/** A phase in one line, for logs and CI: "› verifying the aggregates against the ground truth". */
export function formatBenchPhase(phase: BenchPhase): string {
  return `› ${phase.text}`;
}

/** Right-aligned numeric columns after a left-aligned first column; text only. */
function alignedTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

function latencyCell(summary: LatencySummary, ms: number): string {
  return summary.count > 0 ? `${formatLatencyMs(ms)}ms` : '-';
}

function describeCorrectness(correct: boolean | null, verify: VerifySummary | null): string[] {
  if (correct === null) {
    return [chalk.yellow('Correctness: not verified (the run ended before there was anything to compare)')];
  }
  const compared = verify ? ` (${formatCount(verify.cellsCompared)} cells compared)` : '';
  if (correct) return [`Correctness: ${chalk.green('✔')} aggregates match the expected values${compared}`];
  const lines = [
    `Correctness: ${chalk.red('✘')} ${
      verify
        ? `${formatCount(verify.cellsDiffering)} of ${formatCount(verify.cellsCompared)} cells differ from the expected values`
        : 'aggregates differ from the expected values'
    }`,
  ];
  for (const d of verify?.differences ?? []) {
    lines.push(
      `  ${d.window_start} ${d.region} ${d.event_type} ${d.field}: expected ${formatCount(d.expected)}, got ${formatCount(d.actual)}`,
    );
  }
  const unshown = (verify?.cellsDiffering ?? 0) - (verify?.differences.length ?? 0);
  if (unshown > 0) lines.push(`  … and ${formatCount(unshown)} more`);
  return lines;
}

/**
 * The instrument measuring itself: how busy the load generator was and how closely it kept the
 * schedule; for a failed run, the verdict's evidence for who limited it.
 */
function instrumentLines(s: BenchSummary): string[] {
  const i = s.instrument;
  const title = `Instrument: the load generator${i.sharedWithPipeline ? ' (sharing its thread with the embedded pipeline)' : ''}`;
  if (s.verdict.status === 'failed' && s.verdict.evidence.length > 0) {
    return [title, ...s.verdict.evidence.map((line) => `  ${line}`)];
  }
  if (i.measuredSeconds === 0) return [title, '  no per-second figures were recorded'];
  const cpu = i.cpuCoresMean === undefined ? '' : ` · CPU ${i.cpuCoresMean.toFixed(2)} core on average`;
  const consumers =
    i.pipelineEluMax === undefined
      ? ''
      : ` · busiest consumer process ${formatPercent(i.pipelineEluMax)} busy`;
  return [
    title,
    `  thread ${formatPercent(i.eluMean)} busy on average, ${formatPercent(i.eluMax)} at its busiest second${cpu} · at most ${formatLag(i.maxScheduleLagMs)} behind the schedule${consumers}`,
  ];
}

/** An engine gapipe did not write: what it cost, and how the figures above were taken. */
function engineLines(engine: NonNullable<BenchSummary['engine']>): string[] {
  const r = engine.resources;
  return [
    `Engine: ${engine.name} (${engine.description})`,
    r
      ? `  CPU ${r.cpuCoresMean.toFixed(2)} cores on average, ${r.cpuCoresMax.toFixed(2)} at most · memory ${(r.rssMaxBytes / 2 ** 30).toFixed(2)} GiB at most (${r.processes === 1 ? '1 process' : `${r.processes} processes`})`
      : '  CPU and memory: not measured (its processes are not started by gapipe)',
    ...(engine.software
      ? [
          `  software: ${Object.entries(engine.software)
            .map(([name, version]) => `${name} ${version}`)
            .join(', ')}`,
        ]
      : []),
    `  consumed: ${engine.measuredBy.consumed ?? '-'}`,
    `  lag: ${engine.measuredBy.lag ?? '-'}`,
  ];
}

/** The most errors listed in the summary; the rest are counted (result.json has them all). */
const MAX_SUMMARY_ERRORS = 5;

/**
 * The final summary, for stdout: pass/fail with reasons, throughput, a latency table, correctness,
 * assertions and where the result files are (when `files` is given).
 */
export function renderBenchSummary(result: BenchResult, files?: { dir: string }): string {
  const s = result.summary;
  const c = result.config;
  const stopped =
    s.stopReason === 'stopped' ? ' (stopped early)' : s.stopReason === 'failed' ? ' (aborted)' : '';
  const what = `${c.target} · ${formatDuration(s.durationMs)}, ${formatDuration(s.measuredMs)} measured · run ${result.runId}`;
  const verdict = s.verdict;
  const lines =
    verdict.status === 'passed'
      ? [`${chalk.green.bold('✔ PASSED')} ${what}${stopped}`]
      : [
          `${chalk.red.bold('✘ FAILED')} ${what}${stopped}`,
          ...(verdict.limit
            ? [
                (verdict.limitedBy === 'instrument' ? chalk.yellow.bold : chalk.red.bold)(
                  `  ${verdict.limit}`,
                ),
              ]
            : []),
          ...verdict.failures.map((failure) => chalk.red(`  - ${failure}`)),
        ];
  for (const warning of verdict.warnings) lines.push(chalk.yellow(`  ! ${warning}`));
  lines.push('');

  const tp = s.throughput;
  const outside = s.engine !== undefined && s.engine.name !== 'gapipe';
  lines.push(
    `Throughput: target ${formatRate(s.targetRate)} · achieved ${formatRate(s.achievedRate)} ${
      s.keptUp
        ? chalk.green('— the load kept its schedule')
        : chalk.yellow('— the load fell behind its schedule')
    }`,
    outside
      ? `  per second: produced ${formatRate(tp.produced)} · acknowledged ${formatRate(tp.acknowledged)} · counted in the engine's documents ${formatRate(tp.consumed)} · at most ${plural(s.maxLag, 'record')} not yet counted`
      : `  per second: produced ${formatRate(tp.produced)} · acknowledged ${formatRate(tp.acknowledged)} · consumed ${formatRate(tp.consumed)} · written ${formatDocsRate(tp.written)} · max consumer lag ${plural(s.maxLag, 'record')}`,
  );
  const t = s.totals;
  const produced = `  totals: produced ${formatCount(t.produced)} · acknowledged ${formatCount(t.acknowledged)} · ${
    t.failed > 0 ? chalk.red(`failed ${formatCount(t.failed)}`) : 'failed 0'
  }`;
  lines.push(
    outside
      ? // The engine's documents written, late, dead-lettered and duplicate records are its own.
        `${produced} · counted in the engine's documents ${formatCount(t.consumed)} · written, late, dead-lettered and duplicates: ${NOT_MEASURED}`
      : `${produced} · consumed ${formatCount(t.consumed)} · written ${formatCount(t.written)} docs · late ${formatCount(t.late)} · dead-lettered ${formatCount(t.deadLettered)} · duplicates ${formatCount(t.duplicates)}`,
  );
  lines.push('');

  lines.push(...instrumentLines(s));
  lines.push('');
  if (s.engine && (s.engine.name !== 'gapipe' || s.engine.resources))
    lines.push(...engineLines(s.engine), '');

  lines.push('Latency from intended send time (warm-up excluded):');
  // Kinds an engine read from outside cannot have (timed inside gapipe's consumer) get a line of their own.
  const unmeasured = LATENCY_KINDS.filter(
    (kind) => outside && s.latency[kind].count === 0 && s.engine?.measuredBy[kind] === undefined,
  );
  const rows = LATENCY_KINDS.filter((kind) => !unmeasured.includes(kind)).map((kind) => {
    const l = s.latency[kind];
    return [
      kind,
      latencyCell(l, l.p50Ms),
      latencyCell(l, l.p90Ms),
      latencyCell(l, l.p99Ms),
      latencyCell(l, l.p999Ms),
      latencyCell(l, l.maxMs),
      formatCount(l.count),
    ];
  });
  for (const line of alignedTable(['kind', 'p50', 'p90', 'p99', 'p99.9', 'max', 'count'], rows)) {
    lines.push(`  ${line}`);
  }
  for (const kind of unmeasured)
    lines.push(`  ${kind}: ${NOT_MEASURED} (timed only inside gapipe's own consumer)`);
  lines.push('');

  lines.push(...describeCorrectness(s.correct, s.verify));
  if (s.assertions.length > 0) {
    lines.push('Assertions:');
    for (const a of s.assertions) {
      lines.push(
        a.passed
          ? `  ${chalk.green('✔')} ${a.expression} — ${a.message}`
          : chalk.red(`  ✘ ${a.expression} — ${a.message}`),
      );
    }
  }
  if (s.errors.length > 0) {
    lines.push(chalk.red(`Errors (${formatCount(s.errors.length)}):`));
    for (const error of s.errors.slice(0, MAX_SUMMARY_ERRORS)) lines.push(chalk.red(`  ${error}`));
    if (s.errors.length > MAX_SUMMARY_ERRORS) {
      lines.push(
        chalk.red(`  … and ${formatCount(s.errors.length - MAX_SUMMARY_ERRORS)} more in result.json`),
      );
    }
  }
  if (files) lines.push('', `Results: ${files.dir} (${RESULT_FILES})`);
  return `${lines.join('\n')}\n`;
}

/**
 * Each phase as a line when it begins (the load's own lines say it runs), the banner once, then a
 * progress line for the first update and whenever run time passes a multiple of `everyMs` (1s, 5s,
 * 10s, …), as plain text (logs, CI, pipes).
 */
export function createPlainBenchReporter(
  stream: NodeJS.WritableStream = process.stderr,
  options: { quiet?: boolean; everyMs?: number } = {},
): BenchReporter {
  const everyMs = options.everyMs ?? 5000;
  let lastPrinted: { phase: BenchProgress['phase']; step: number } | undefined;
  return {
    started(start) {
      if (!options.quiet) stream.write(renderBenchBanner(start));
    },
    phase(phase) {
      if (options.quiet || phase.name === 'load') return;
      stream.write(`${formatBenchPhase(phase)}\n`);
    },
    update(progress) {
      if (options.quiet) return;
      const step = Math.floor(progress.phaseElapsedMs / everyMs);
      if (lastPrinted && lastPrinted.phase === progress.phase && step <= lastPrinted.step) return;
      lastPrinted = { phase: progress.phase, step };
      stream.write(`${formatBenchLine(progress)}\n`);
    },
    done() {},
  };
}
