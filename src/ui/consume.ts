/** Rendering of `gapipe consume`: the start banner, plain progress lines and the final summary. */
import chalk from 'chalk';
import type { ConsumeReporter, ConsumeStart } from '../pipeline/consume.js';
import type { ConsumeSnapshot, PartitionSnapshot } from '../pipeline/types.js';
import { describeWindowing } from '../pipeline/windows.js';
import { formatBytes, formatCount, formatDuration, formatRate } from './simulate.js';
import { renderTable } from './table.js';

export { formatBytes };

/**
 * An event time as HH:MM:SS in UTC — the time zone of the documents' window_start — or "-" before any
 * event.
 */
export function formatEventTime(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().slice(11, 19);
}

/** Total lag over the assigned partitions. */
export function totalLag(partitions: PartitionSnapshot[]): number {
  return partitions.reduce((sum, p) => sum + p.lag, 0);
}

/** "PAUSED (Elasticsearch: …)" or "PAUSED (Kafka: …)" while backpressure holds fetching, else "". */
export function describePause(s: ConsumeSnapshot): string {
  if (!s.backpressure) return '';
  if (s.sinkError === undefined && s.kafkaError !== undefined) return `PAUSED (Kafka: ${s.kafkaError})`;
  return `PAUSED (Elasticsearch: ${s.sinkError ?? 'behind, waiting for flushes to finish'})`;
}

/** The start banner: where records come from and go to, the window and where rejects go. */
export function renderConsumeBanner(start: ConsumeStart): string {
  const lines = [
    `Consuming ${start.topic} as group ${start.group} from ${start.brokers.join(',')}`,
    `  → Elasticsearch ${start.esUrl}, index ${start.index}`,
    `  window ${describeWindowing(start.windowing, formatDuration)} · allowed lateness ${formatDuration(start.windowing.allowedLatenessMs)} · flush every ${formatDuration(start.flushIntervalMs)}`,
    `  late events → ${start.lateTopic} · dead letters → ${start.deadLetterTopic}${
      start.indexRaw ? ' · raw events indexed too (--index-raw)' : ''
    }`,
  ];
  if (start.metricsUrl) lines.push(`  Prometheus metrics at ${start.metricsUrl}`);
  return `${lines.join('\n')}\n`;
}

/** One progress line for logs and CI. */
export function formatConsumeLine(s: ConsumeSnapshot): string {
  const line = [
    formatDuration(s.elapsedMs),
    `consumed ${formatCount(s.consumed)} (${formatRate(s.consumedPerSec)})`,
    `written ${formatCount(s.written)} (${formatRate(s.writtenPerSec)})`,
    `lag ${formatCount(totalLag(s.partitions))}`,
    `watermark ${formatEventTime(s.watermarkMs)}`,
    `open ${formatCount(s.openWindows)} windows`,
    `late ${formatCount(s.late)}`,
    `dlq ${formatCount(s.deadLettered)}`,
  ].join(' ');
  return s.backpressure ? `${line} ${chalk.red(describePause(s))}` : line;
}

/** The final summary, for stdout. */
export function renderConsumeSummary(s: ConsumeSnapshot): string {
  const clean = s.failedFlushes === 0 && !s.backpressure && s.sinkError === undefined;
  const icon = clean ? chalk.green('✓') : chalk.yellow('!');
  const lines = [
    `${icon} Consumed ${formatCount(s.consumed)} records from ${s.topic} as group ${s.group} in ${formatDuration(s.elapsedMs)}`,
    `  accepted ${formatCount(s.accepted)} · duplicates ${formatCount(s.duplicates)} · late ${formatCount(s.late)} · dead-lettered ${formatCount(s.deadLettered)}`,
    `  written ${formatCount(s.written)} aggregate documents${
      s.rawWritten > 0 ? ` and ${formatCount(s.rawWritten)} raw events` : ''
    } in ${formatCount(s.flushes)} flushes${s.failedFlushes > 0 ? ` (${formatCount(s.failedFlushes)} failed and retried)` : ''}`,
    `  watermark ${s.watermarkMs === undefined ? '- (no events)' : new Date(s.watermarkMs).toISOString()} · lag ${formatCount(totalLag(s.partitions))} · ${formatCount(s.openWindows)} windows (${formatCount(s.openCells)} cells) still open`,
  ];
  if (s.replayed > 0) lines.push(`  replayed ${formatCount(s.replayed)} records to rebuild open windows`);
  if (s.backpressure) lines.push(chalk.red(`  ${describePause(s)}`));
  else if (s.sinkError !== undefined) lines.push(chalk.red(`  last Elasticsearch error: ${s.sinkError}`));
  if (s.partitions.length > 0) {
    const rows = [...s.partitions]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => [
        String(p.partition),
        String(p.position),
        String(p.committed),
        formatCount(p.lag),
        formatEventTime(p.watermarkMs),
      ]);
    const table = renderTable(['partition', 'position', 'committed', 'lag', 'watermark'], rows);
    lines.push(...table.split('\n').map((line) => `  ${line}`));
    // "committed 0" beside "lag 0" reads like a bug unless it is said what the committed offset is.
    if (s.partitions.some((p) => p.committed < p.position)) {
      lines.push(
        chalk.dim(
          `  committed: the offset Kafka holds for group ${s.group}, the consumer's replay point — the first record of the oldest window still open (windows stay open for the allowed lateness), which a restart reads again; lag counts from the position`,
        ),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Banner and a line every `everyMs` of run time, as plain text (logs, CI, pipes). A change of the
 * backpressure state is printed at once, so a pause shows up in logs when it starts and ends.
 */
export function createPlainConsumeReporter(
  stream: NodeJS.WritableStream = process.stderr,
  options: { quiet?: boolean; everyMs?: number } = {},
): ConsumeReporter {
  const everyMs = options.everyMs ?? 5000;
  let lastPrintedAt = 0;
  let paused = false;
  return {
    started(start) {
      if (!options.quiet) stream.write(renderConsumeBanner(start));
    },
    update(snapshot) {
      if (options.quiet) return;
      const pauseChanged = snapshot.backpressure !== paused;
      paused = snapshot.backpressure;
      if (!pauseChanged && snapshot.elapsedMs - lastPrintedAt < everyMs) return;
      lastPrintedAt = snapshot.elapsedMs;
      stream.write(
        `${formatConsumeLine(snapshot)}${pauseChanged && !paused ? ` ${chalk.green('RESUMED')}` : ''}\n`,
      );
    },
    done() {},
  };
}
