/**
 * Live view of `gapipe bench` in a terminal (ink, drawn on stderr so stdout keeps the summary): the
 * banner once, then elapsed time, latency per kind with a log-scale bar, throughput and lag with
 * sparklines of the last minute, watermark and rejects, redrawn about once per second. `q` (or
 * Ctrl-C) asks the run to stop early. Plain lines are used instead off a terminal.
 */
import { Box, Static, Text, useInput, useStdin } from 'ink';
import { useState } from 'react';
import {
  type BenchPhase,
  type BenchProgress,
  INSIDE_ONLY_KINDS,
  LATENCY_KINDS,
  type LatencySummary,
} from '../bench/types.js';
import {
  type BenchReporter,
  type BenchStart,
  createPlainBenchReporter,
  formatDocsRate,
  formatElapsed,
  formatLatencyMs,
  formatPercent,
  formatScheduleLag,
  renderBenchBanner,
} from './bench.js';
import { formatEventTime } from './consume.js';
import { chooseReporter, type ReporterOutput, startLiveView } from './live.js';
import { formatCount, formatDuration, formatRate } from './simulate.js';

/** Seconds of history drawn in the sparklines. */
export const SPARKLINE_SECONDS = 60;
const SPARK_LEVELS = '▁▂▃▄▅▆▇█';
/** The p99 bars share one fixed log scale, so kinds and moments compare at a glance. */
export const LATENCY_BAR_MIN_MS = 0.1;
export const LATENCY_BAR_MAX_MS = 100_000;
const LATENCY_BAR_SCALE = '0.1ms–100s';
const LATENCY_BAR_WIDTH = 24;
const PARTIAL_BLOCKS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const MAX_ERROR_CHARS = 86;
/** Below this share of the target rate the produced rate is shown in yellow. */
const BEHIND_FRACTION = 0.9;
/** The generator row turns yellow from this busy share, or this far behind its schedule. */
const GENERATOR_BUSY = 0.9;
const GENERATOR_BEHIND_MS = 1000;

/**
 * One character per value, ▁ for 0 (so a stall stands out) and ▂ to █ for anything up to `max`
 * (default: the largest value). Values above `max` are drawn as █.
 */
export function sparkline(values: number[], max = Math.max(0, ...values)): string {
  return values
    .map((v) => {
      if (max <= 0 || v <= 0) return SPARK_LEVELS[0];
      const level = Math.max(1, Math.round((Math.min(v, max) / max) * (SPARK_LEVELS.length - 1)));
      return SPARK_LEVELS[level];
    })
    .join('');
}

/**
 * A horizontal bar for a latency on the fixed log scale LATENCY_BAR_MIN_MS..LATENCY_BAR_MAX_MS, in
 * eighths of a character; at least a sliver for any measured value.
 */
export function latencyBar(ms: number, width = LATENCY_BAR_WIDTH): string {
  const low = Math.log10(LATENCY_BAR_MIN_MS);
  const high = Math.log10(LATENCY_BAR_MAX_MS);
  const fraction = ms > 0 ? (Math.log10(ms) - low) / (high - low) : 0;
  const eighths = Math.max(1, Math.round(Math.max(0, Math.min(1, fraction)) * width * 8));
  return `${'█'.repeat(Math.floor(eighths / 8))}${PARTIAL_BLOCKS[eighths % 8]}`;
}

function progressBar(fraction: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const KIND_WIDTH = 12;
const VALUE_WIDTH = 8;
const LABEL_WIDTH = 10;
const RATE_WIDTH = 13;

/** Like formatLatencyMs, but in seconds ("1,235s") from 1,000 s up, so a column never overflows. */
function latencyCell(ms: number): string {
  return ms < 1_000_000 ? formatLatencyMs(ms) : `${formatCount(ms / 1000)}s`;
}

function latencyCells(l: LatencySummary): string {
  return [l.p50Ms, l.p90Ms, l.p99Ms, l.p999Ms, l.maxMs]
    .map((ms) => latencyCell(ms).padStart(VALUE_WIDTH))
    .join(' ');
}

function Header({ progress: p, warmupMs }: { progress: BenchProgress; warmupMs: number | undefined }) {
  const fraction = p.totalMs > 0 ? p.elapsedMs / p.totalMs : 0;
  const remainingMs = Math.max(0, p.totalMs - p.elapsedMs);
  const measuringInMs = warmupMs === undefined ? undefined : Math.max(0, warmupMs - p.elapsedMs);
  return (
    <Text>
      <Text bold>{p.target}</Text> · {formatElapsed(Math.min(p.elapsedMs, p.totalMs))} /{' '}
      {formatDuration(p.totalMs)} {progressBar(fraction)} {Math.floor(Math.min(1, fraction) * 100)}%
      {p.warmup ? (
        <Text color="yellow">
          {' '}
          · warming up
          {measuringInMs !== undefined && measuringInMs > 0
            ? `, measuring in ${formatElapsed(measuringInMs)}`
            : ''}
        </Text>
      ) : null}{' '}
      · {remainingMs > 0 ? `${formatElapsed(remainingMs)} left` : 'finishing: the last records in flight'}
    </Text>
  );
}

/**
 * What the run is doing when it is not running the load: starting up before it, draining, verifying,
 * stopping, writing and cleaning up after it — each with the time spent in it, so the view never
 * sits on a finished load.
 */
export function describePhase(phase: BenchPhase, progress: BenchProgress | undefined): string {
  if (phase.name !== 'draining' || progress === undefined) return phase.text;
  return progress.lag > 0
    ? `draining: the consumers are ${formatCount(progress.lag)} record${progress.lag === 1 ? '' : 's'} behind`
    : 'draining: caught up, waiting for the last flush';
}

function PhaseLine({
  phase,
  progress,
  nowMs,
}: {
  phase: BenchPhase;
  progress: BenchProgress | undefined;
  nowMs: number;
}) {
  const inPhaseMs = Math.max(0, nowMs - phase.startedAtMs);
  const load =
    progress === undefined ? null : (
      <Text>
        <Text bold>{progress.target}</Text> · load{' '}
        {formatElapsed(Math.min(progress.elapsedMs, progress.totalMs))} / {formatDuration(progress.totalMs)}{' '}
        done ·{' '}
      </Text>
    );
  return (
    <Text>
      {load}
      <Text color="cyan">› {describePhase(phase, progress)}</Text>{' '}
      <Text dimColor>
        {inPhaseMs < 60_000 ? `${Math.floor(inPhaseMs / 1000)}s` : formatElapsed(inPhaseMs)}
      </Text>
    </Text>
  );
}

function LatencyRows({ progress: p }: { progress: BenchProgress }) {
  const header = `${'latency ms'.padEnd(KIND_WIDTH)}${['p50', 'p90', 'p99', 'p99.9', 'max']
    .map((h) => h.padStart(VALUE_WIDTH))
    .join(' ')} p99 on a log scale, ${LATENCY_BAR_SCALE}`;
  return (
    <Box flexDirection="column">
      <Text dimColor>{header}</Text>
      {LATENCY_KINDS.map((kind) => {
        const l = p.latency[kind];
        return (
          <Text key={kind}>
            {kind.padEnd(KIND_WIDTH)}
            {l.count > 0 ? (
              <>
                {latencyCells(l)} <Text color="cyan">{latencyBar(l.p99Ms)}</Text>
              </>
            ) : p.outsideEngine && INSIDE_ONLY_KINDS.has(kind) ? (
              <Text dimColor>not measured for this engine</Text>
            ) : (
              <Text dimColor>no samples yet{p.warmup ? ' (warm-up is not measured)' : ''}</Text>
            )}
          </Text>
        );
      })}
    </Box>
  );
}

function ThroughputRows({ progress: p }: { progress: BenchProgress }) {
  const history = p.history.slice(-SPARKLINE_SECONDS);
  // Produced and consumed share one scale that includes the target, so a shortfall shows as a dip.
  const recordScale = Math.max(p.targetRate, ...history.map((h) => Math.max(h.produced, h.consumed)));
  const behind = p.rates.produced < p.targetRate * BEHIND_FRACTION;
  const row = (label: string, value: string, spark: string, color?: string) => (
    <Text>
      {label.padEnd(LABEL_WIDTH)}
      <Text color={color}>{value.padStart(RATE_WIDTH)}</Text> <Text color="cyan">{spark}</Text>
    </Text>
  );
  return (
    <Box flexDirection="column">
      <Text dimColor>
        {'throughput'.padEnd(LABEL_WIDTH)}
        {'now'.padStart(RATE_WIDTH)} last {SPARKLINE_SECONDS}s · target {formatRate(p.targetRate)}
        {p.instrumentShared ? ' · generator and pipeline share a thread' : ''}
      </Text>
      {row(
        'produced',
        formatRate(p.rates.produced),
        sparkline(
          history.map((h) => h.produced),
          recordScale,
        ),
        behind ? 'yellow' : undefined,
      )}
      {row(
        p.outsideEngine ? 'counted' : 'consumed',
        formatRate(p.rates.consumed),
        sparkline(
          history.map((h) => h.consumed),
          recordScale,
        ),
      )}
      {/* An engine read from outside: its documents written are not known. */}
      {p.outsideEngine
        ? null
        : row('written', formatDocsRate(p.rates.written), sparkline(history.map((h) => h.written)))}
      {row(p.outsideEngine ? 'not counted' : 'lag', formatCount(p.lag), sparkline(history.map((h) => h.lag)))}
      <InstrumentRows progress={p} />
    </Box>
  );
}

/**
 * The instrument measuring itself: how busy the load generator's thread was each second (and the
 * consumer processes, where they report it), and how far behind its schedule the load is.
 */
function InstrumentRows({ progress: p }: { progress: BenchProgress }) {
  const i = p.instrument;
  if (!i) return null;
  const history = p.history.slice(-SPARKLINE_SECONDS);
  const strained = i.elu >= GENERATOR_BUSY || i.scheduleLagMs > GENERATOR_BEHIND_MS;
  return (
    <>
      <Text>
        {'generator'.padEnd(LABEL_WIDTH)}
        <Text color={strained ? 'yellow' : undefined}>
          {`${formatPercent(i.elu)} busy`.padStart(RATE_WIDTH)}
        </Text>{' '}
        <Text color="cyan">
          {sparkline(
            history.map((h) => h.generatorElu ?? 0),
            1,
          )}
        </Text>{' '}
        <Text color={i.scheduleLagMs > GENERATOR_BEHIND_MS ? 'yellow' : undefined}>
          {formatScheduleLag(i.scheduleLagMs)}
        </Text>
      </Text>
      {p.pipeline ? (
        <Text>
          {'consumers'.padEnd(LABEL_WIDTH)}
          {`${formatPercent(p.pipeline.elu)} busy`.padStart(RATE_WIDTH)}{' '}
          <Text dimColor>
            busiest of {formatCount(p.pipeline.processes)} process{p.pipeline.processes === 1 ? '' : 'es'}
          </Text>
        </Text>
      ) : null}
    </>
  );
}

function Totals({ progress: p, allowedLatenessMs }: { progress: BenchProgress; allowedLatenessMs?: number }) {
  const t = p.totals;
  const lastError = p.errors.at(-1);
  // The watermark trails the newest event time by the allowed lateness on purpose: say so.
  const why =
    allowedLatenessMs === undefined
      ? ''
      : ` (event time − ${formatDuration(allowedLatenessMs)} allowed lateness)`;
  const failedAndErrors = (
    <>
      {t.failed > 0 ? <Text color="red">failed {formatCount(t.failed)}</Text> : 'failed 0'} ·{' '}
      {p.errors.length > 0 ? <Text color="red">errors {formatCount(p.errors.length)}</Text> : 'errors 0'}
    </>
  );
  // An engine read from outside keeps its watermark, late and dead-lettered records and documents to
  // itself: the bench sees only what its documents count.
  if (p.outsideEngine) {
    return (
      <Box flexDirection="column">
        <Text>
          {failedAndErrors}
          <Text dimColor> · watermark, late and dead-lettered records: inside the engine, not measured</Text>
        </Text>
        <Text dimColor>
          total produced {formatCount(t.produced)} · acknowledged {formatCount(t.acknowledged)} · counted{' '}
          {formatCount(t.consumed)}
        </Text>
        <LastError error={lastError} />
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text>
        watermark {formatEventTime(p.watermarkMs)}
        {p.watermarkMs === undefined ? '' : ' UTC'}
        <Text dimColor>{why}</Text>
      </Text>
      <Text>
        {t.late > 0 ? <Text color="yellow">late {formatCount(t.late)}</Text> : 'late 0'} ·{' '}
        {t.deadLettered > 0 ? (
          <Text color="yellow">dead-lettered {formatCount(t.deadLettered)}</Text>
        ) : (
          'dead-lettered 0'
        )}{' '}
        · {failedAndErrors}
      </Text>
      <Text dimColor>
        total produced {formatCount(t.produced)} · acknowledged {formatCount(t.acknowledged)} · consumed{' '}
        {formatCount(t.consumed)} · written {formatCount(t.written)} docs
      </Text>
      <LastError error={lastError} />
    </Box>
  );
}

function LastError({ error }: { error: string | undefined }) {
  return error === undefined ? null : (
    <Text color="red" wrap="truncate-end">
      last error: {truncate(error, MAX_ERROR_CHARS)}
    </Text>
  );
}

/**
 * The live part (at most 22 lines, 100 columns). `q` or Ctrl-C calls `onStop` (each time pressed),
 * but only where stdin can be put in raw mode; elsewhere Ctrl-C stays an ordinary SIGINT.
 */
export function BenchView({
  progress,
  phase,
  nowMs,
  warmupMs,
  allowedLatenessMs,
  onStop,
}: {
  progress: BenchProgress | undefined;
  /** The run's current phase; the load's own header replaces it while the load runs. */
  phase?: BenchPhase | undefined;
  /** Now, for the time spent in the phase (the reporter redraws every second). */
  nowMs?: number;
  /** From the start, to say when measuring begins. */
  warmupMs?: number | undefined;
  /** For the watermark's label. */
  allowedLatenessMs?: number | undefined;
  onStop?: (() => void) | undefined;
}) {
  const { isRawModeSupported } = useStdin();
  const [stopping, setStopping] = useState(false);
  const keys = isRawModeSupported && onStop !== undefined;
  useInput(
    (input, key) => {
      if (input.toLowerCase() === 'q' || (key.ctrl && input === 'c')) {
        setStopping(true);
        onStop?.();
      }
    },
    { isActive: keys },
  );
  const afterLoad =
    phase !== undefined && !['preparing', 'starting', 'load'].includes(phase.name) && progress !== undefined;
  const footer =
    stopping && !afterLoad ? (
      <Text color="yellow">stopping early — finishing up and writing results…</Text>
    ) : afterLoad ? null : (
      <Text dimColor>{keys ? 'press q' : 'Ctrl-C'} to stop early (results are still written)</Text>
    );
  const now = nowMs ?? Date.now();
  const header =
    phase && (phase.name !== 'load' || progress === undefined) ? (
      <PhaseLine phase={phase} progress={progress} nowMs={now} />
    ) : progress ? (
      <Header progress={progress} warmupMs={warmupMs} />
    ) : (
      <Text color="cyan">› starting…</Text>
    );
  if (progress === undefined) {
    return (
      <Box flexDirection="column">
        {header}
        {footer}
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      {header}
      <Box marginTop={1}>
        <LatencyRows progress={progress} />
      </Box>
      <Box marginTop={1}>
        <ThroughputRows progress={progress} />
      </Box>
      <Box marginTop={1}>
        <Totals progress={progress} {...(allowedLatenessMs === undefined ? {} : { allowedLatenessMs })} />
      </Box>
      {footer ? <Box marginTop={1}>{footer}</Box> : null}
    </Box>
  );
}

/** The banner, printed once above the live view, then the live view. */
export function BenchProgressView({
  start,
  progress,
  phase,
  nowMs,
  onStop,
}: {
  start: BenchStart | undefined;
  progress: BenchProgress | undefined;
  phase?: BenchPhase | undefined;
  nowMs?: number;
  onStop?: (() => void) | undefined;
}) {
  return (
    <>
      <Static items={start ? [start] : []}>
        {(item) => <Text key="banner">{renderBenchBanner(item).trimEnd()}</Text>}
      </Static>
      <BenchView
        progress={progress}
        phase={phase}
        nowMs={nowMs ?? Date.now()}
        warmupMs={start?.warmupMs}
        allowedLatenessMs={start?.allowedLatenessMs}
        onStop={onStop}
      />
    </>
  );
}

/**
 * The reporter for a bench run: live ink output on a terminal, plain lines otherwise (not a TTY,
 * --json, CI), nothing but errors with --quiet. Only the live view reads keys (from `stdin`,
 * process.stdin by default, and only when it is a TTY); plain output never touches stdin.
 */
export function createBenchReporter(options: ReporterOutput & { onStop?: () => void }): BenchReporter {
  return chooseReporter(options, {
    plain: (stream, quiet) => createPlainBenchReporter(stream, { quiet }),
    live(stream) {
      let start: BenchStart | undefined;
      let latest: BenchProgress | undefined;
      let phase: BenchPhase | undefined;
      const live = startLiveView(
        () => (
          <BenchProgressView
            start={start}
            progress={latest}
            phase={phase}
            nowMs={Date.now()}
            onStop={options.onStop}
          />
        ),
        // The time in a phase moves on between updates (starting up, verifying): redraw every second.
        { stream, stdin: options.stdin, tickMs: 1000 },
      );
      return {
        started(info) {
          start = info;
          live.redraw();
        },
        phase(next) {
          phase = next;
          live.redraw();
        },
        update(progress) {
          latest = progress;
          live.redraw();
        },
        done: live.stop,
      };
    },
  });
}
