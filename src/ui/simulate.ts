/** Rendering of `gapipe simulate`: the start banner, plain progress lines and the final summary. */
import chalk from 'chalk';
import type { SimulationProgress } from '../simulators/runner.js';
import type { SimulateReporter, SimulationStart } from '../simulators/simulate.js';
import type { SimulateSummary } from '../simulators/summary.js';

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatRate(perSecond: number): string {
  const digits = perSecond >= 100 || Number.isInteger(perSecond) ? 0 : 1;
  return `${perSecond.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}/s`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', s ? `${s}s` : ''].filter(Boolean).join('');
}

/** 812.0 KiB, 3.4 MiB, 1.25 GiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function percent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(3))}%`;
}

/** How long the run lasts, in words. */
function describeBound(start: SimulationStart): string {
  if (start.events !== undefined) return `until ${formatCount(start.events)} events`;
  return `for ${formatDuration(start.durationMs ?? 0)}`;
}

/** The start banner: what will be simulated, the resulting target rate, and how to repeat the run. */
export function renderSimulateBanner(start: SimulationStart): string {
  const lines = [
    `Simulating ${formatCount(start.players)} players in ${start.regions.join(', ')} → ${start.sink}${
      start.scenario ? ` (scenario ${start.scenario})` : ''
    }`,
  ];
  if (start.stages.length > 0) {
    const stages = start.stages
      .map((s) => `${formatDuration(s.durationMs)}→${formatRate(s.targetRate)}`)
      .join(', ');
    lines.push(
      `  target rate ${formatRate(start.targetRate)} at start, ramping ${stages} (peak ${formatRate(start.peakTargetRate)}), ${describeBound(start)}`,
    );
  } else {
    // "50,000/s (50000/s in total)" says the same twice: a rate given per player is worth spelling out.
    const given = start.rateGivenAsTotal ? '' : ` (${start.rateDescription})`;
    lines.push(`  target rate ${formatRate(start.targetRate)}${given}, ${describeBound(start)}`);
  }
  lines.push(
    `  seed ${start.seed}${start.seedGiven ? '' : ` (random; add --seed ${start.seed} to repeat this stream)`} · event time from ${start.startTime} · run ${start.runId}`,
  );
  const d = start.disorder;
  const disorder = [
    d.late > 0
      ? `late ${percent(d.late)} (by ${formatDuration(d.lateByMs.min)}..${formatDuration(d.lateByMs.max)})`
      : '',
    d.outOfOrder > 0 ? `out-of-order ${percent(d.outOfOrder)}` : '',
    d.duplicates > 0 ? `duplicates ${percent(d.duplicates)}` : '',
    d.malformed > 0 ? `malformed ${percent(d.malformed)}` : '',
  ].filter(Boolean);
  if (disorder.length > 0) lines.push(`  disorder: ${disorder.join(', ')}`);
  if (!start.paced)
    lines.push(
      '  unpaced (--no-pace): as fast as the sink accepts; intended times still follow the schedule',
    );
  if ((start.workers ?? 1) > 1 || start.shard) {
    const workers = start.workers ?? 1;
    // Each thread has its own shard of the players, so its part of a steady rate is about an equal
    // split; under stages it changes all the time, and unpaced the threads go as fast as they can.
    const steady = start.stages.length === 0 && start.paced;
    const each = steady ? ` (about ${formatRate(start.targetRate / workers)} each)` : '';
    const threads = workers > 1 ? `${workers} generator threads${each}` : '';
    const shard = start.shard ? `shard ${start.shard.index}/${start.shard.count} of the stream` : '';
    lines.push(`  ${[threads, shard].filter(Boolean).join(' · ')}`);
  }
  if (start.manifestPath) lines.push(`  ground truth → ${start.manifestPath}`);
  return `${lines.join('\n')}\n`;
}

/** One progress line for logs and CI. */
export function renderProgressLine(p: SimulationProgress): string {
  const parts = [
    `${formatDuration(p.elapsedMs).padStart(6)}`,
    `produced ${formatCount(p.produced)}`,
    `acked ${formatCount(p.acknowledged)}`,
    p.failed > 0 ? chalk.red(`failed ${formatCount(p.failed)}`) : '',
    `in flight ${formatCount(p.inFlight)}`,
    `rate ${formatRate(p.achievedRate)} (target ${formatRate(p.targetRate)})`,
    p.fraction === undefined ? '' : `${Math.floor(p.fraction * 100)}%`,
  ].filter(Boolean);
  let line = parts.join('  ');
  if (p.lagMs > 1000 || p.atInFlightLimit) {
    line += chalk.yellow(
      `  behind by ${formatDuration(p.lagMs)}, backlog ${formatCount(p.backlog)}${p.atInFlightLimit ? ' (in-flight limit reached)' : ''}`,
    );
  }
  return line;
}

/** The final summary, for people (`--json` prints the summary object instead). */
export function renderSimulateSummary(summary: SimulateSummary): string {
  const icon =
    summary.stopReason === 'completed' && summary.keptUp && summary.failed === 0
      ? chalk.green('✓')
      : chalk.yellow('!');
  const stopped =
    summary.stopReason === 'interrupted'
      ? ' (interrupted)'
      : summary.stopReason === 'sink-closed'
        ? ' (the reader closed the stream)'
        : '';
  const lines = [
    `${icon} Produced ${formatCount(summary.produced)} records in ${formatDuration(summary.producingMs)} → ${summary.sink}${stopped}`,
    `  acknowledged ${formatCount(summary.acknowledged)} · failed ${formatCount(summary.failed)} · ${formatBytes(summary.bytes)}`,
  ];
  const rates = `achieved ${formatRate(summary.achievedRate)} of ${formatRate(summary.targetRate)} target`;
  if (!summary.paced) {
    lines.push(`  ${rates} (unpaced)`);
  } else if (summary.keptUp) {
    lines.push(`  ${rates} — kept up (max lag ${formatDuration(summary.maxLagMs)})`);
  } else {
    lines.push(
      chalk.yellow(
        `  ${rates} — could not keep up: fell ${formatDuration(summary.maxLagMs)} behind schedule, backlog peaked at ${formatCount(summary.maxBacklog)} events`,
      ),
    );
    if (summary.inFlightWaitMs > 0) {
      lines.push(
        chalk.yellow(
          `  waited ${formatDuration(summary.inFlightWaitMs)} at the in-flight limit: the sink acknowledges slower than the target rate`,
        ),
      );
    }
  }
  const ack = summary.produceAck;
  if (ack) {
    lines.push(
      `  produce→ack latency (from intended send time): p50 ${ack.p50}ms · p90 ${ack.p90}ms · p99 ${ack.p99}ms · p99.9 ${ack.p999}ms · max ${ack.max}ms`,
    );
  }
  const e = summary.events;
  const injected = [
    e.late > 0 ? `late ${formatCount(e.late)}` : '',
    e.outOfOrder > 0 ? `out-of-order ${formatCount(e.outOfOrder)}` : '',
    e.duplicates > 0 ? `duplicates ${formatCount(e.duplicates)}` : '',
    e.malformed > 0 ? `malformed ${formatCount(e.malformed)}` : '',
  ].filter(Boolean);
  if (injected.length > 0) lines.push(`  injected: ${injected.join(', ')}`);
  if (summary.manifest) lines.push(`  ground truth: ${summary.manifest}`);
  for (const error of summary.errors ?? []) lines.push(chalk.red(`  error: ${error}`));
  const threads = (summary.workers ?? 1) > 1 ? ` · ${summary.workers} threads` : '';
  const shard = summary.shard ? ` · shard ${summary.shard.index}/${summary.shard.count}` : '';
  lines.push(`  seed ${summary.seed} · run ${summary.runId}${threads}${shard}`);
  return `${lines.join('\n')}\n`;
}

export interface ClosableSimulateReporter extends SimulateReporter {
  /** Stops live drawing; safe to call more than once. */
  done(): void;
}

/** Banner and a progress line every `everyMs` of run time, as plain text (logs, CI, pipes). */
export function createPlainSimulateReporter(
  stream: NodeJS.WritableStream = process.stderr,
  options: { quiet?: boolean; everyMs?: number } = {},
): ClosableSimulateReporter {
  const everyMs = options.everyMs ?? 5000;
  let lastPrintedAt = 0;
  return {
    started(start) {
      if (!options.quiet) stream.write(renderSimulateBanner(start));
    },
    progress(update) {
      if (options.quiet || update.elapsedMs - lastPrintedAt < everyMs) return;
      lastPrintedAt = update.elapsedMs;
      stream.write(`${renderProgressLine(update)}\n`);
    },
    done() {},
  };
}
