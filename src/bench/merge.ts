/**
 * `gapipe bench merge`: several result.json files of runs that measured together — the shards of a
 * run spread over machines, or load hosts driving one pipeline at the same time — as one result.
 *
 * - Histograms are merged (the same as one histogram having recorded every sample), and the latency
 *   summaries are computed again from them.
 * - Counts and rates add up: totals, throughput, target and achieved rates, consumers.
 * - Series are summed per second of each run (t = 1 is every run's first second): produced,
 *   acknowledged, consumed, written, target rate, errors. The consumer lag and each kind's per-second
 *   p99 take the largest value of any run (a per-second p99 cannot be recovered from p99s; the
 *   merged histograms give the exact figures for the whole run); the watermark the lowest.
 * - Instrument figures per second: the busiest generator thread, the worst schedule lag, CPU,
 *   backlog and in-flight records summed, every thread listed.
 * - Verification: correct only if every run verified; the assertions are evaluated again on the
 *   merged figures, and the verdict decided again (verdict.ts), as for a single run.
 * Which files went in is kept in config.extra.mergedFrom.
 */
import { createHash } from 'node:crypto';
import { GapipeError } from '../errors.js';
import { evaluateAssertions, parseAssertions } from './assertions.js';
import { encodeHistogram, mergeHistograms, summarize } from './histograms.js';
import { summarizeInstrument } from './instrument.js';
import { renderReport } from './report/index.js';
import { type ResultFiles, readResult, writeResultFiles } from './results.js';
import {
  type BenchResult,
  type BenchSummary,
  type InstrumentPoint,
  LATENCY_KINDS,
  type LatencyKind,
  type MeasuredSummary,
  type PipelineLoadPoint,
  RESULT_FORMAT,
  type SeriesPoint,
  type VerifySummary,
} from './types.js';
import { keptSchedule, withVerdict } from './verdict.js';

/** One result and where it came from (a path, for messages and mergedFrom). */
export interface MergeSource {
  source: string;
  result: BenchResult;
}

export interface MergeOutcome {
  result: BenchResult;
  files: ResultFiles;
}

/** Reads the results at `paths` (result.json files or their directories), merges them, writes the result files into `outDir`. */
export async function mergeResultFiles(paths: readonly string[], outDir: string): Promise<MergeOutcome> {
  const sources = await Promise.all(
    paths.map(async (source) => ({ source, result: await readResult(source) })),
  );
  const result = mergeResults(sources);
  const files = await writeResultFiles(outDir, result, { html: renderReport(result) });
  return { result, files };
}

/** Differences kept in a merged verify summary (as a single run keeps the first few). */
const MAX_DIFFERENCES = 20;

/** Merges the results (at least two) into one; see the header for the rules. */
export function mergeResults(sources: readonly MergeSource[]): BenchResult {
  if (sources.length < 2) {
    throw new GapipeError('INVALID_ARGUMENT', 'bench merge needs at least two results to merge', {
      nextSteps: 'Pass two or more results directories (or result.json files)',
    });
  }
  const results = sources.map((s) => s.result);
  const first = results[0] as BenchResult;
  const histograms = {} as Record<LatencyKind, string>;
  for (const kind of LATENCY_KINDS) {
    try {
      histograms[kind] = encodeHistogram(mergeHistograms(results.map((r) => r.histograms[kind] ?? '')));
    } catch (error) {
      throw new GapipeError(
        'INVALID_ARGUMENT',
        `The ${kind} histograms cannot be merged: ${(error as Error).message}`,
        {
          cause: error,
          nextSteps: 'Pass result.json files written by `gapipe bench`',
        },
      );
    }
  }
  const latency = Object.fromEntries(
    LATENCY_KINDS.map((kind) => [kind, summarize(mergeHistograms([histograms[kind]]))]),
  ) as BenchSummary['latency'];

  const series = mergeSeries(results.map((r) => r.series));
  const sum = (pick: (s: BenchSummary) => number) => results.reduce((n, r) => n + pick(r.summary), 0);
  const max = (pick: (s: BenchSummary) => number) => Math.max(0, ...results.map((r) => pick(r.summary)));
  const summaries = results.map((r) => r.summary);
  const config = {
    ...first.config,
    targetRate: results.reduce((n, r) => n + r.config.targetRate, 0),
    consumers: results.reduce((n, r) => n + r.config.consumers, 0),
    partitions: Math.max(...results.map((r) => r.config.partitions)),
    durationMs: Math.max(...results.map((r) => r.config.durationMs)),
    warmupMs: Math.max(...results.map((r) => r.config.warmupMs)),
    extra: {
      ...first.config.extra,
      mergedFrom: sources.map(({ source, result }) => ({
        source,
        runId: result.runId,
        host: result.provenance?.host?.hostname ?? null,
        status: result.summary.status,
      })),
    },
  };
  const lastSecond = Math.ceil((config.warmupMs + config.durationMs) / 1000);
  const instrument = summarizeInstrument({
    series,
    lastSecond,
    sharedWithPipeline: summaries.some((s) => s.instrument?.sharedWithPipeline === true),
    generatorThreads: summaries.reduce((n, s) => n + (s.instrument?.generatorThreads ?? 1), 0),
    cpus: summaries.reduce((n, s) => n + (s.instrument?.cpus ?? 0), 0),
  });
  const verifies = summaries.map((s) => s.verify);
  const correct = summaries.some((s) => s.correct === false)
    ? false
    : summaries.every((s) => s.correct === true)
      ? true
      : null;
  const measured: MeasuredSummary = {
    stopReason: summaries.some((s) => s.stopReason === 'failed')
      ? 'failed'
      : summaries.some((s) => s.stopReason === 'stopped')
        ? 'stopped'
        : 'completed',
    durationMs: max((s) => s.durationMs),
    measuredMs: max((s) => s.measuredMs),
    targetRate: sum((s) => s.targetRate),
    achievedRate: sum((s) => s.achievedRate),
    keptUp: keptSchedule(
      instrument,
      summaries.every((s) => s.keptUp),
    ),
    throughput: {
      produced: sum((s) => s.throughput.produced),
      acknowledged: sum((s) => s.throughput.acknowledged),
      consumed: sum((s) => s.throughput.consumed),
      written: sum((s) => s.throughput.written),
    },
    totals: {
      produced: sum((s) => s.totals.produced),
      acknowledged: sum((s) => s.totals.acknowledged),
      failed: sum((s) => s.totals.failed),
      consumed: sum((s) => s.totals.consumed),
      written: sum((s) => s.totals.written),
      late: sum((s) => s.totals.late),
      deadLettered: sum((s) => s.totals.deadLettered),
      duplicates: sum((s) => s.totals.duplicates),
    },
    maxLag: max((s) => s.maxLag),
    latency,
    correct,
    verify: mergeVerify(verifies),
    errors: sources.flatMap(({ source, result }) => result.summary.errors.map((e) => `${source}: ${e}`)),
    instrument,
  };
  const assertionTexts = first.config.assertions ?? [];
  const summary = withVerdict({
    summary: { ...measured, assertions: evaluateAssertions(parseAssertions(assertionTexts), measured) },
    series,
    config: { durationMs: config.durationMs, warmupMs: config.warmupMs, target: config.target },
  });

  const runIds = [...new Set(results.map((r) => r.runId))];
  return {
    format: RESULT_FORMAT,
    runId: runIds.length === 1 ? (runIds[0] as string) : mergedRunId(runIds),
    startedAt: results.map((r) => r.startedAt).sort()[0] as string,
    finishedAt: results
      .map((r) => r.finishedAt)
      .sort()
      .at(-1) as string,
    config,
    provenance: first.provenance,
    summary,
    series,
    histograms,
  };
}

/** Per second of the runs: counts summed, lag and p99 the largest, the watermark the lowest. */
export function mergeSeries(all: ReadonlyArray<readonly SeriesPoint[]>): SeriesPoint[] {
  const byT = new Map<number, SeriesPoint[]>();
  for (const series of all) {
    for (const point of series) {
      const list = byT.get(point.t) ?? [];
      list.push(point);
      byT.set(point.t, list);
    }
  }
  return [...byT.keys()]
    .sort((a, b) => a - b)
    .map((t) => {
      const points = byT.get(t) as SeriesPoint[];
      const sum = (pick: (p: SeriesPoint) => number) => points.reduce((n, p) => n + pick(p), 0);
      const p99Ms: SeriesPoint['p99Ms'] = {};
      for (const kind of LATENCY_KINDS) {
        const values = points.map((p) => p.p99Ms[kind]).filter((v): v is number => v !== undefined);
        if (values.length > 0) p99Ms[kind] = Math.max(...values);
      }
      const watermarks = points.map((p) => p.watermarkMs).filter((w): w is number => w !== undefined);
      const merged: SeriesPoint = {
        t,
        warmup: points.some((p) => p.warmup),
        targetRate: sum((p) => p.targetRate),
        produced: sum((p) => p.produced),
        acknowledged: sum((p) => p.acknowledged),
        consumed: sum((p) => p.consumed),
        written: sum((p) => p.written),
        lag: Math.max(...points.map((p) => p.lag)),
        ...(watermarks.length > 0 ? { watermarkMs: Math.min(...watermarks) } : {}),
        p99Ms,
        errors: sum((p) => p.errors),
      };
      const instruments = points
        .map((p) => p.instrument)
        .filter((i): i is InstrumentPoint => i !== undefined);
      if (instruments.length > 0) merged.instrument = mergeInstrumentPoints(instruments);
      const pipelines = points.map((p) => p.pipeline).filter((p): p is PipelineLoadPoint => p !== undefined);
      if (pipelines.length > 0) merged.pipeline = mergePipelinePoints(pipelines);
      return merged;
    });
}

function mergeInstrumentPoints(points: readonly InstrumentPoint[]): InstrumentPoint {
  const sum = (pick: (p: InstrumentPoint) => number) => points.reduce((n, p) => n + pick(p), 0);
  const cpu = points.map((p) => p.cpuCores);
  return {
    elu: Math.max(...points.map((p) => p.elu)),
    ...(cpu.every((c) => c !== undefined) ? { cpuCores: sum((p) => p.cpuCores ?? 0) } : {}),
    processCpuCores: sum((p) => p.processCpuCores),
    scheduleLagMs: Math.max(...points.map((p) => p.scheduleLagMs)),
    backlog: sum((p) => p.backlog),
    inFlight: sum((p) => p.inFlight),
    atInFlightLimit: points.some((p) => p.atInFlightLimit),
    threads: points.flatMap((p) => p.threads),
  };
}

function mergePipelinePoints(points: readonly PipelineLoadPoint[]): PipelineLoadPoint {
  const cpu = points.map((p) => p.cpuCores);
  return {
    elu: Math.max(...points.map((p) => p.elu)),
    ...(cpu.every((c) => c !== undefined) ? { cpuCores: cpu.reduce((n: number, c) => n + (c ?? 0), 0) } : {}),
    processes: points.reduce((n, p) => n + p.processes, 0),
  };
}

function mergeVerify(verifies: ReadonlyArray<VerifySummary | null>): VerifySummary | null {
  const known = verifies.filter((v): v is VerifySummary => v !== null);
  if (known.length === 0) return null;
  return {
    ok: known.length === verifies.length && known.every((v) => v.ok),
    cellsCompared: known.reduce((n, v) => n + v.cellsCompared, 0),
    cellsDiffering: known.reduce((n, v) => n + v.cellsDiffering, 0),
    differences: known.flatMap((v) => v.differences).slice(0, MAX_DIFFERENCES),
  };
}

/** A run id for a merge of several runs: the same runs give the same id. */
function mergedRunId(runIds: readonly string[]): string {
  const hex = createHash('sha256')
    .update([...runIds].sort().join('\n'))
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
