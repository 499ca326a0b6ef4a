/**
 * The verdict of a bench run, decided once: which checks passed, why the run failed (each reason
 * with its figure), and — when it failed — whether gapipe's own load generator or the pipeline under
 * test set the limit. The summary, the exit code, result.json, junit.xml and report.html render this
 * value; none of them decides anything itself.
 *
 * Who limited a failed run:
 * - instrument: the load fell behind its schedule while the generator was saturated (its thread ≥ 90%
 *   busy or using ≥ 90% of the CPU it can use); or records waited long for Kafka's acknowledgement at
 *   the producer while the consumers were idle; or, on the embedded target, the thread the generator
 *   shares with the pipeline was saturated. The pipeline was then never offered the load, so nothing
 *   is said about it: a limit gapipe sets is never reported as the pipeline's.
 * - pipeline: the generator kept its schedule with room to spare, and the pipeline failed a check
 *   (latency or throughput gates, consumer lag, wrong results).
 * - neither (undefined): a run that was stopped, lost records, or fell behind for a reason these
 *   figures do not show; the evidence says what is known.
 */
import { isSaturated, measuredInstrumentPoints, SCHEDULE_TOLERANCE_MS } from './instrument.js';
import type {
  BenchConfig,
  BenchSummary,
  InstrumentPoint,
  InstrumentSummary,
  LimitedBy,
  SeriesPoint,
  Verdict,
  VerdictCheck,
} from './types.js';

export interface VerdictInput {
  summary: Omit<BenchSummary, 'status' | 'failures' | 'verdict'>;
  series: SeriesPoint[];
  config: Pick<BenchConfig, 'durationMs' | 'warmupMs' | 'target'>;
  /** Why verification could not run, when it did not. */
  verifyError?: string | undefined;
  /**
   * Generator threads in use and the most the machine allows, when the bench can spread its load
   * over threads (--workers); absent, the advice does not mention it.
   */
  workers?: { current: number; max: number } | undefined;
}

/** Produce→ack p99 from which waiting for Kafka's acknowledgement counts as slow, ms. */
export const SLOW_ACK_MS = 100;
/** Consumers count as idle below this event-loop utilisation (where they report it). */
const IDLE_CONSUMER_ELU = 0.5;

/** Whether the load kept its schedule: judged on the measured seconds when they were measured. */
export function keptSchedule(instrument: InstrumentSummary, simulatorKeptUp: boolean): boolean {
  return instrument.measuredSeconds > 0 ? instrument.secondsBehind === 0 : simulatorKeptUp;
}

/** The one verdict of a run. */
export function decideVerdict(input: VerdictInput): Verdict {
  const { summary } = input;
  const checks: VerdictCheck[] = [
    completionCheck(input),
    scheduleCheck(input),
    acknowledgedCheck(input),
    keepsUpCheck(input),
    verifyCheck(input),
    ...summary.assertions.map(
      (a): VerdictCheck => ({
        name: a.expression,
        group: 'assertion',
        outcome: a.passed ? 'passed' : 'failed',
        message: a.message,
      }),
    ),
  ];
  const failures = checks.filter((c) => c.outcome === 'failed').map((c) => c.message);
  const status = failures.length === 0 ? 'passed' : 'failed';
  const limit = status === 'failed' ? whoLimited(input, checks) : { evidence: [] };
  return {
    status,
    exitCode: status === 'passed' ? 0 : 1,
    checks,
    failures,
    ...(limit.limitedBy ? { limitedBy: limit.limitedBy, limit: limit.headline } : {}),
    evidence: limit.evidence,
    warnings: status === 'passed' ? nearLimitWarnings(input) : [],
  };
}

/** The summary with the verdict decided and its copies (`status`, `failures`) filled in. */
export function withVerdict(input: VerdictInput): BenchSummary {
  const verdict = decideVerdict(input);
  return { ...input.summary, status: verdict.status, failures: verdict.failures, verdict };
}

// ——— checks ———

function completionCheck({ summary, config }: VerdictInput): VerdictCheck {
  const check = { name: 'run completes', group: 'run' as const };
  const planned = formatSeconds(config.durationMs);
  const measured = formatSeconds(summary.measuredMs);
  if (summary.stopReason === 'completed')
    return { ...check, outcome: 'passed', message: `ran the planned ${planned} after the warm-up` };
  if (summary.stopReason === 'stopped')
    return {
      ...check,
      outcome: 'failed',
      message: `stopped early: ${measured} of the planned ${planned} measured`,
    };
  return {
    ...check,
    outcome: 'failed',
    message: `ended by an error after ${measured} of the planned ${planned} measured${
      summary.errors[0] ? `: ${summary.errors[0]}` : ''
    }`,
    detail: summary.errors.join('\n'),
  };
}

function scheduleCheck(input: VerdictInput): VerdictCheck {
  const { summary } = input;
  const check = { name: 'load keeps the schedule', group: 'run' as const };
  const inst = summary.instrument;
  const points = measuredPoints(input);
  if (points.length === 0) {
    return summary.keptUp
      ? { ...check, outcome: 'passed', message: 'kept the schedule' }
      : {
          ...check,
          outcome: 'failed',
          message: `fell more than ${formatSeconds(SCHEDULE_TOLERANCE_MS)} behind the schedule`,
        };
  }
  if (summary.keptUp) {
    return {
      ...check,
      outcome: 'passed',
      message: `at most ${formatLag(inst.maxScheduleLagMs)} behind the schedule; the load generator's busiest second: ${generatorLoad(
        [maxBy(points, (p) => p.instrument.elu)],
        inst,
      )}`,
    };
  }
  const behind = points.filter((p) => p.instrument.scheduleLagMs > SCHEDULE_TOLERANCE_MS);
  const saturated = behind.filter((p) => isSaturated(p.instrument, inst.generatorThreads, inst.cpus));
  const at = inst.maxScheduleLagAtS === null ? '' : ` at ${inst.maxScheduleLagAtS} s`;
  const backlog = inst.maxBacklog > 0 ? ` (backlog ${formatInt(inst.maxBacklog)} events)` : '';
  const load = generatorLoad(behind, inst);
  return {
    ...check,
    outcome: 'failed',
    message: `fell ${formatLag(inst.maxScheduleLagMs)} behind the schedule${at}${backlog}; ${load} — ${advice(
      input,
      behind,
      saturated.length > 0,
    )}`,
  };
}

function acknowledgedCheck({ summary }: VerdictInput): VerdictCheck {
  const check = { name: 'records are acknowledged', group: 'run' as const };
  const { produced, acknowledged, failed } = summary.totals;
  if (failed > 0)
    return {
      ...check,
      outcome: 'failed',
      message: `${formatInt(failed)} of ${formatInt(produced)} records failed to send`,
    };
  return {
    ...check,
    outcome: 'passed',
    message: `${formatInt(acknowledged)} of ${formatInt(produced)} records acknowledged`,
  };
}

function verifyCheck({ summary, verifyError }: VerdictInput): VerdictCheck {
  const check = { name: 'results verify', group: 'run' as const };
  const verify = summary.verify;
  if (summary.correct === true)
    return {
      ...check,
      outcome: 'passed',
      message: `results verify (${formatInt(verify?.cellsCompared ?? 0)} cells match)`,
    };
  if (summary.correct === false) {
    const count = verify
      ? `: ${formatInt(verify.cellsDiffering)} of ${formatInt(verify.cellsCompared)} cells differ`
      : '';
    return {
      ...check,
      outcome: 'failed',
      message: `results do not verify${count}`,
      detail: (verify?.differences ?? [])
        .map(
          (d) =>
            `${d.window_start} ${d.region} ${d.event_type} ${d.field}: expected ${d.expected}, found ${d.actual}`,
        )
        .join('\n'),
    };
  }
  if (summary.stopReason === 'stopped')
    return { ...check, outcome: 'skipped', message: 'not verified: the run was stopped early' };
  if (summary.totals.produced === 0)
    return { ...check, outcome: 'failed', message: 'results could not be verified: nothing was produced' };
  return {
    ...check,
    outcome: 'failed',
    message: `results could not be verified${verifyError ? `: ${verifyError}` : ''}`,
  };
}

const KEEPS_UP = 'pipeline keeps up';

/** Seconds of load the consumers may be behind at the end of the measured window. */
export const KEEP_UP_SECONDS = 2;
/** How far the floor of an outside engine's backlog may rise over the measured window, in seconds of load. */
export const KEEP_UP_GROWTH_SECONDS = 1;

/**
 * The pipeline kept up with the load: at the end of the measured window its consumers were at most
 * KEEP_UP_SECONDS of load behind (or no further behind than when measuring began). A pipeline that
 * verifies only after a long drain did not take the rate it was offered.
 */
function keepsUpCheck(input: VerdictInput): VerdictCheck {
  const { summary } = input;
  const check = { name: KEEPS_UP, group: 'run' as const };
  const measured = input.series.filter(
    (p) => !p.warmup && p.t <= Math.ceil((input.config.warmupMs + input.config.durationMs) / 1000),
  );
  const last = measured.at(-1);
  const first = measured[0];
  if (summary.stopReason !== 'completed')
    return { ...check, outcome: 'skipped', message: 'not judged: the run did not complete' };
  if (!last || !first)
    return { ...check, outcome: 'skipped', message: 'no measured second to judge the consumer lag by' };
  const rate = last.targetRate > 0 ? last.targetRate : summary.targetRate;
  const allowed = Math.max(1000, rate * KEEP_UP_SECONDS);
  const seconds = rate > 0 ? ` (${formatSeconds((last.lag / rate) * 1000)} of load)` : '';
  const w = lagWords(summary);
  if (summary.engine && summary.engine.name !== 'gapipe') return outsideKeepsUp(check, measured, rate, w);
  if (last.lag <= allowed || last.lag <= first.lag) {
    return {
      ...check,
      outcome: 'passed',
      message: `${w.lag} ${formatInt(last.lag)} records at the end of the measured window${seconds}, at most ${formatInt(
        summary.maxLag,
      )}`,
    };
  }
  return {
    ...check,
    outcome: 'failed',
    message: `the pipeline fell behind: ${formatInt(last.lag)} records ${w.notYet} at the end of the measured window${seconds}, up from ${formatInt(
      first.lag,
    )} at ${first.t} s; ${w.it} ${formatInt(summary.throughput.consumed)}/s of ${formatInt(
      summary.throughput.produced,
    )}/s produced`,
  };
}

/**
 * An engine read from outside: its "lag" is the records not yet counted in its documents, which holds
 * its whole visible latency — a micro-batch engine is always seconds of load behind, in a sawtooth
 * that rises during a batch and drops when the batch is written. Whether it keeps up shows in the
 * floor of that sawtooth: the lowest backlog in the second half of the measured window against the
 * lowest in the first half (each half spanning at least one batch). It fell behind when the floor rose
 * by more than KEEP_UP_GROWTH_SECONDS of load (at least 1,000 records).
 */
function outsideKeepsUp(
  check: { name: string; group: 'run' },
  measured: SeriesPoint[],
  rate: number,
  w: ReturnType<typeof lagWords>,
): VerdictCheck {
  const half = Math.floor(measured.length / 2);
  if (half < 2)
    return { ...check, outcome: 'skipped', message: 'too few measured seconds to tell a growing backlog' };
  const floor = (points: SeriesPoint[]) => Math.min(...points.map((p) => p.lag));
  const before = floor(measured.slice(0, half));
  const after = floor(measured.slice(measured.length - half));
  const growth = after - before;
  const allowed = Math.max(1000, rate * KEEP_UP_GROWTH_SECONDS);
  if (growth <= allowed)
    return {
      ...check,
      outcome: 'passed',
      message: `records ${w.notYet}: at least ${formatInt(before)} in the first ${half} measured seconds, at least ${formatInt(after)} in the last ${half} — not growing`,
    };
  return {
    ...check,
    outcome: 'failed',
    message: `the pipeline fell behind: records ${w.notYet} never fell below ${formatInt(after)} in the last ${half} measured seconds, up from ${formatInt(before)} in the first ${half} (allowed: ${formatInt(allowed)} more)`,
  };
}

/**
 * An engine gapipe reads from outside (spark, external) has no consumer lag the bench can see: its lag
 * is the records sent and not yet counted in its documents, and the words say so.
 */
function lagWords(summary: VerdictInput['summary']): {
  who: string;
  lag: string;
  peak: (n: string) => string;
  rate: string;
  notYet: string;
  it: string;
} {
  if (summary.engine && summary.engine.name !== 'gapipe')
    return {
      who: 'the engine',
      lag: "not yet counted in the engine's documents:",
      peak: (n) => `records not yet counted in its documents reached ${n}`,
      rate: 'its documents counted',
      notYet: "not yet counted in the engine's documents",
      it: 'its documents counted',
    };
  return {
    who: 'the consumers',
    lag: 'consumer lag',
    peak: (n) => `lag reached ${n} records`,
    rate: 'consumed',
    notYet: 'not yet consumed',
    it: 'it consumed',
  };
}

// ——— who limited the run ———

interface LimitFinding {
  limitedBy?: LimitedBy;
  headline?: string;
  evidence: string[];
}

function whoLimited(input: VerdictInput, checks: VerdictCheck[]): LimitFinding {
  const { summary } = input;
  const inst = summary.instrument;
  const points = measuredPoints(input);
  const evidence = evidenceLines(input, points);
  const behind = points.filter((p) => p.instrument.scheduleLagMs > SCHEDULE_TOLERANCE_MS);
  const saturatedBehind = behind.filter((p) => isSaturated(p.instrument, inst.generatorThreads, inst.cpus));
  const ackBound = !inst.sharedWithPipeline && producerWaitedForAcks(input) && consumersIdle(input);
  const instrument = (headline: string): LimitFinding => ({
    limitedBy: 'instrument',
    headline: `instrument-bound: ${headline}`,
    evidence,
  });
  const pipeline = (headline: string): LimitFinding => ({
    limitedBy: 'pipeline',
    headline: `pipeline-bound: ${headline}`,
    evidence,
  });

  // The generator's speed cannot make aggregates wrong: wrong results are the pipeline's, at any load.
  if (summary.correct === false) return pipeline(checkMessage(checks, 'results verify'));

  if (!summary.keptUp && behind.length > 0) {
    if (saturatedBehind.length * 2 >= behind.length) return instrument(generatorLoad(saturatedBehind, inst));
    if (ackBound) return instrument(ackHeadline(input));
    return {
      evidence: [
        ...evidence,
        `the load fell behind its schedule while the generator had room (${generatorLoad(behind, inst)}) and the consumers were not idle: these figures do not show why`,
      ],
    };
  }
  if (!summary.keptUp) {
    // Behind by the simulator's account, with no per-second figures to say more.
    return { evidence };
  }

  const pipelineChecks = checks.filter(
    (c) =>
      c.outcome === 'failed' &&
      (c.group === 'assertion' || c.name === 'results verify' || c.name === KEEPS_UP),
  );
  if (pipelineChecks.length === 0) return { evidence };
  if (ackBound) return instrument(ackHeadline(input));
  if (inst.sharedWithPipeline && points.length > 0) {
    const saturated = points.filter((p) => isSaturated(p.instrument, inst.generatorThreads, inst.cpus));
    if (saturated.length * 2 >= points.length) return instrument(generatorLoad(saturated, inst));
  }
  return pipeline(pipelineSymptom(input, pipelineChecks));
}

function producerWaitedForAcks({ summary }: VerdictInput): boolean {
  const ack = summary.latency['produce-ack'];
  const delivery = summary.latency.delivery;
  if (!ack || ack.count === 0 || ack.p99Ms < SLOW_ACK_MS) return false;
  return !delivery || delivery.count === 0 || ack.p99Ms >= 0.5 * delivery.p99Ms;
}

/** The consumers kept up: lag stayed under half a second of load, and they were not busy (where known). */
function consumersIdle({ summary }: VerdictInput): boolean {
  const lagLimit = Math.max(1000, summary.targetRate * 0.5);
  if (summary.maxLag > lagLimit) return false;
  const elu = summary.instrument.pipelineEluMax;
  return elu === undefined || elu < IDLE_CONSUMER_ELU;
}

function ackHeadline({ summary }: VerdictInput): string {
  const ack = summary.latency['produce-ack'];
  return `records waited ${formatMs(ack.p99Ms)} (produce→ack p99) for Kafka's acknowledgement at gapipe's producer while the consumers were idle`;
}

function pipelineSymptom(input: VerdictInput, failed: VerdictCheck[]): string {
  const { summary } = input;
  const lagLimit = Math.max(1000, summary.targetRate * 0.5);
  if (summary.maxLag > lagLimit) {
    const w = lagWords(summary);
    return `${w.who} fell behind: ${w.peak(formatInt(summary.maxLag))} (${w.rate} ${formatInt(
      summary.throughput.consumed,
    )}/s of ${formatInt(summary.throughput.produced)}/s produced)`;
  }
  return failed[0]?.message ?? 'a check failed';
}

function evidenceLines(
  input: VerdictInput,
  points: Array<SeriesPoint & { instrument: InstrumentPoint }>,
): string[] {
  const { summary } = input;
  const inst = summary.instrument;
  const lines: string[] = [];
  if (points.length > 0) {
    const behind = points.filter((p) => p.instrument.scheduleLagMs > SCHEDULE_TOLERANCE_MS);
    const cpu = inst.cpuCoresMean === undefined ? '' : `, CPU ${formatCores(inst.cpuCoresMean)} on average`;
    lines.push(
      `load generator: its thread ${formatPercent(inst.eluMean)} busy on average (${formatPercent(inst.eluMax)} at its busiest second)${cpu}; saturated in ${inst.secondsSaturated} of ${points.length} measured seconds; bench process ${formatCores(inst.processCpuCoresMean)}${
        inst.sharedWithPipeline ? '; the thread is shared with the embedded pipeline' : ''
      }`,
    );
    lines.push(
      `schedule: at most ${formatLag(inst.maxScheduleLagMs)} behind${
        inst.maxScheduleLagAtS === null ? '' : ` (at ${inst.maxScheduleLagAtS} s)`
      }, backlog up to ${formatInt(inst.maxBacklog)} events; ${behind.length} of ${points.length} measured seconds more than ${formatSeconds(SCHEDULE_TOLERANCE_MS)} behind`,
    );
  } else {
    lines.push('load generator: no per-second figures were recorded');
  }
  const ack = summary.latency['produce-ack'];
  const delivery = summary.latency.delivery;
  if (ack.count > 0 || delivery.count > 0) {
    const waited = points.filter((p) => p.instrument.atInFlightLimit).length;
    lines.push(
      `producer: produce→ack p99 ${ack.count > 0 ? formatMs(ack.p99Ms) : '-'}, delivery p99 ${
        delivery.count > 0 ? formatMs(delivery.p99Ms) : '-'
      }${waited > 0 ? `; waited at its in-flight budget in ${waited} s` : ''}`,
    );
  }
  const outside = summary.engine !== undefined && summary.engine.name !== 'gapipe';
  lines.push(
    `${outside ? `engine: at most ${formatInt(summary.maxLag)} records not yet counted in its documents, its documents counted` : `consumers: max lag ${formatInt(summary.maxLag)} records, consumed`} ${formatInt(summary.throughput.consumed)}/s of ${formatInt(
      summary.throughput.produced,
    )}/s produced${
      inst.pipelineEluMax === undefined
        ? inst.sharedWithPipeline
          ? ' (they share the generator’s thread)'
          : ''
        : `; busiest consumer process ${formatPercent(inst.pipelineEluMax)} busy`
    }`,
  );
  return lines;
}

function nearLimitWarnings(input: VerdictInput): string[] {
  const inst = input.summary.instrument;
  const points = measuredPoints(input);
  const saturated = points.filter((p) => isSaturated(p.instrument, inst.generatorThreads, inst.cpus));
  if (saturated.length === 0) return [];
  const busiest = maxBy(saturated, (p) => p.instrument.elu);
  return [
    `the load generator was near its limit in ${saturated.length} of ${points.length} measured seconds (at ${busiest.t} s: ${generatorLoad(
      [busiest],
      inst,
    )}) — at a higher rate the figures would describe gapipe, not the pipeline`,
  ];
}

// ——— phrases ———

/**
 * How loaded the generator was over some seconds, in words and figures: "the load generator used
 * 98% of a core", or — when its thread was busy but did not get the CPU — that other processes
 * held the machine's cores. The CPU counted is the bench process's where that is more than the
 * generator thread's own: the garbage collector's helper threads work for the generator too.
 */
function generatorLoad(points: Array<{ instrument: InstrumentPoint }>, inst: InstrumentSummary): string {
  const elu = mean(points.map((p) => p.instrument.elu));
  const threads = Math.max(1, inst.generatorThreads);
  const cpu = mean(points.map((p) => Math.max(p.instrument.cpuCores ?? 0, p.instrument.processCpuCores)));
  const perThread = cpu / threads;
  const starved = perThread < 0.8 * elu;
  const heldBy = `other processes held the machine's ${inst.cpus} ${inst.cpus === 1 ? 'core' : 'cores'}`;
  if (inst.sharedWithPipeline) {
    return `the load generator shares one thread with the embedded pipeline, and it was ${formatPercent(elu)} busy${
      starved ? ` on ${formatPercent(perThread)} of a core — ${heldBy}` : ''
    }`;
  }
  if (starved)
    return `the load generator's thread was ${formatPercent(elu)} busy but got only ${formatPercent(perThread)} of a core — ${heldBy}`;
  return threads === 1
    ? `the load generator used ${formatPercent(Math.min(1, cpu))} of a core`
    : `the load generator's ${threads} threads used ${formatCores(cpu)} (the busiest ${formatPercent(elu)} busy)`;
}

/**
 * What to try: four fifths of the rate the generator managed while flat out (below the saturation
 * line, with room for the rest of the thread's work), and more threads where they would help.
 */
function advice(input: VerdictInput, behind: SeriesPoint[], saturated: boolean): string {
  const managed = mean(behind.map((p) => p.produced));
  const rate = floorTwoDigits(
    0.8 * Math.min(managed > 0 ? managed : input.summary.targetRate, input.summary.targetRate),
  );
  const workers = input.workers;
  const more = saturated && workers && workers.current < workers.max ? ` or --workers ${workers.max}` : '';
  return rate > 0 ? `try --rate ${rate}/s${more}` : `try a lower --rate${more}`;
}

function checkMessage(checks: VerdictCheck[], name: string): string {
  return checks.find((c) => c.name === name)?.message ?? name;
}

function measuredPoints(input: VerdictInput): Array<SeriesPoint & { instrument: InstrumentPoint }> {
  const lastSecond = Math.ceil((input.config.warmupMs + input.config.durationMs) / 1000);
  return measuredInstrumentPoints(input.series, lastSecond);
}

function maxBy<T>(items: T[], key: (item: T) => number): T {
  return items.reduce((top, item) => (key(item) > key(top) ? item : top));
}

function mean(values: number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

/** 8,437 → 8,400; 123 → 120: a rate to suggest, rounded down. */
function floorTwoDigits(x: number): number {
  if (!(x >= 1)) return 0;
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(x)) - 1);
  return Math.floor(x / magnitude) * magnitude;
}

// ——— numbers (no locale: the same result reads the same everywhere) ———

function formatInt(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const rounded = Math.round(n);
  return `${rounded < 0 ? '-' : ''}${String(Math.abs(rounded)).replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
}

function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

function formatCores(cores: number): string {
  return `${cores.toFixed(2)} ${cores === 1 ? 'core' : 'cores'}`;
}

/** 1.4 s, 60 s, 2 min 5 s. */
function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${Number(seconds.toFixed(seconds < 10 ? 1 : 0))} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return rest > 0 ? `${minutes} min ${rest} s` : `${minutes} min`;
}

/** A lag: "12 ms" under a second, "1.4 s" above. */
function formatLag(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : formatSeconds(ms);
}

function formatMs(ms: number): string {
  return ms < 10 ? `${Number(ms.toFixed(2))} ms` : `${formatInt(ms)} ms`;
}
