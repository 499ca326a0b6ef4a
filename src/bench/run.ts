import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { Histogram } from 'hdr-histogram-js';
import type { Kafka } from 'kafkajs';
import { type Clock, systemClock } from '../clock.js';
import { GapipeError, toGapipeError } from '../errors.js';
import { DockerodeFacade } from '../lab/docker.js';
import { Lab } from '../lab/lab.js';
import type { Logger } from '../log.js';
import { packageVersion } from '../paths.js';
import type { ConsumeOptions } from '../pipeline/options.js';
import { MemoryStore, STATE_INDEX } from '../pipeline/store.js';
import { hasRecordFacts } from '../simulators/manifest.js';
import type { SimulateOptions } from '../simulators/options.js';
import { simulate } from '../simulators/simulate.js';
import { KafkaSink } from '../simulators/sinks/kafka.js';
import type { SinkRecord } from '../simulators/sinks/types.js';
import type { SimulateSummary } from '../simulators/summary.js';
import { ElasticsearchAggregateReader, MemoryAggregateReader } from '../verify/reader.js';
import { verify } from '../verify/verify.js';
import { type Assertion, evaluateAssertions } from './assertions.js';
import { DeliveryTapThread } from './delivery-tap-thread.js';
import { MemoryBroker, MemoryBrokerSink } from './embedded.js';
import {
  connectElasticsearch,
  connectKafka,
  createRunIndex,
  createRunTopics,
  endOffsetReader,
  type PhaseReporter,
  resolveTarget,
} from './endpoints.js';
import { ExternalEngine } from './engines/external.js';
import { GapipeEngine } from './engines/gapipe.js';
import { PROBE_WINDOW_START } from './engines/probe.js';
import { EngineResourceProbe } from './engines/resources.js';
import { SparkEngine } from './engines/spark.js';
import { type BenchEngine, describeEngine, type EngineName, type EngineRun } from './engines/types.js';
import { encodeHistogram } from './histograms.js';
import { InstrumentMeter, ProcessCpuProbe, summarizeInstrument, ThreadLoadProbe } from './instrument.js';
import { Meter, type Reading, totalsOf } from './meter.js';
import { renderReport } from './report/index.js';
import { type ResultFiles, writeResultFiles } from './results.js';
import { CountingSink, consumerLag, SecondTicker } from './sampling.js';
import { LatencyTaps } from './taps.js';
import {
  type BenchProgress,
  type BenchReporter,
  type BenchResult,
  type BenchStart,
  LATENCY_KINDS,
  type LatencyKind,
  type MeasuredSummary,
  RESULT_FORMAT,
  type SeriesPoint,
  type VerifySummary,
} from './types.js';
import { keptSchedule, withVerdict } from './verdict.js';
import {
  DocumentCellCounts,
  ElasticsearchCellCounts,
  VisibilityPoller,
  VisibilityTracker,
} from './visibility.js';

export type BenchTarget = 'auto' | 'lab' | 'embedded';

export interface BenchOptions {
  /** The pipeline under test: gapipe's consumers, gapipe's Spark job, or the user's own. */
  engine: EngineName;
  /** The Spark engine: a cluster's master URL (default local[sparkThreads]). */
  sparkMaster?: string | undefined;
  sparkThreads: number;
  /** How long an engine gapipe did not write gets to start reading and writing (the probe). */
  engineTimeoutMs: number;
  /** The load: players, rate, stages, seed… (sink and topic are set by the bench). */
  simulate: SimulateOptions;
  warmupMs: number;
  /** Measured time after the warm-up. */
  durationMs: number;
  consumers: number;
  target: BenchTarget;
  outDir: string;
  assertions: Assertion[];
  assertionTexts: string[];
  keep: boolean;
  ephemeral: boolean;
  partitions: number;
  labName: string;
  /** Explicit endpoints: use them instead of looking for a lab. */
  brokers: string[] | undefined;
  esUrl: string | undefined;
  /** Consumer settings (window, lateness, flush interval) for the run's consumers. */
  consume: Pick<
    ConsumeOptions,
    'windowing' | 'flushIntervalMs' | 'idleTimeoutMs' | 'maxUnflushedRecords' | 'maxBackoffMs'
  >;
  /** How long to wait for the consumers to catch up after the load. */
  drainTimeoutMs: number;
  command: string;
}

export interface BenchDeps {
  reporter?: BenchReporter;
  signal?: AbortSignal;
  logger?: Logger;
  clock?: Clock;
  /**
   * The embedded target's store (tests pass a slow one to make the pipeline fall behind on purpose);
   * a fresh MemoryStore by default.
   */
  embeddedStore?: MemoryStore;
}

export interface BenchOutcome {
  result: BenchResult;
  files: ResultFiles;
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

export async function runBench(options: BenchOptions, deps: BenchDeps = {}): Promise<BenchOutcome> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const reporter = deps.reporter;
  const phase: PhaseReporter = (name, text) => reporter?.phase({ name, text, startedAtMs: clock.now() });
  phase(
    'preparing',
    options.target === 'embedded'
      ? 'preparing the embedded pipeline'
      : options.brokers && options.esUrl
        ? `using Kafka ${options.brokers.join(',')} and Elasticsearch ${options.esUrl}`
        : `looking for a running lab '${options.labName}'`,
  );
  const runId = randomUUID();
  const short = runId.slice(0, 8);
  const topic = `gapipe-bench-${short}`;
  const index = `gapipe-aggregates-bench-${short}`;
  const group = `gapipe-bench-${short}`;
  const startedAt = new Date(clock.now()).toISOString();
  const endpoints = await resolveTarget(options, logger, phase);
  const manifestPath = join(options.outDir, 'manifest.json');
  const totalMs = options.warmupMs + options.durationMs;
  const simulateOptions: SimulateOptions = {
    ...options.simulate,
    sink: 'kafka',
    topic,
    durationMs: totalMs,
    events: undefined,
    manifestPath,
    pace: true,
    ...(endpoints.brokers ? { brokers: endpoints.brokers } : {}),
  };

  const start: BenchStart = {
    target: endpoints.target,
    engine: options.engine,
    engineDescription: describeEngine(options, endpoints.target),
    ...(endpoints.labName ? { labName: endpoints.labName } : {}),
    ...(endpoints.brokers ? { brokers: endpoints.brokers.join(',') } : {}),
    ...(endpoints.esUrl ? { esUrl: endpoints.esUrl } : {}),
    topic,
    index,
    partitions: options.partitions,
    players: simulateOptions.players,
    rateDescription: simulateOptions.rateDescription,
    targetRate: simulateOptions.startRate,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    consumers: options.consumers,
    seed: simulateOptions.seed,
    outDir: options.outDir,
    assertions: options.assertionTexts,
    allowedLatenessMs: options.consume.windowing.allowedLatenessMs,
  };
  reporter?.started(start);

  const meter = new Meter();
  // The generator runs on this thread; on the embedded target the consumers do too.
  const processCpu = new ProcessCpuProbe();
  const instrument = new InstrumentMeter({
    mainThread: new ThreadLoadProbe('main'),
    processCpu: () => processCpu.sample(),
    sharedWithPipeline: endpoints.target === 'embedded',
  });
  const taps = new LatencyTaps(['produce-ack', 'delivery', 'sink', 'visible']);
  const broker = new MemoryBroker();
  const store = deps.embeddedStore ?? new MemoryStore();
  let engine: BenchEngine | undefined;
  let tap: DeliveryTapThread | undefined;
  let kafkaAdmin: ReturnType<Kafka['admin']> | undefined;
  let es: Client | undefined;
  // What exists, so cleaning up touches nothing that was never created.
  let topicsCreated = false;
  let ticker: SecondTicker | undefined;
  // CPU and memory of the engine's processes (the lab's engines; not the embedded one, which is this process).
  let resources: EngineResourceProbe | undefined;

  try {
    // ——— the run's topic, the engine, the tap ———
    const run: EngineRun = {
      topic,
      index,
      group,
      brokers: endpoints.brokers ?? [],
      esUrl: endpoints.esUrl ?? '',
      partitions: options.partitions,
      workDir: join(options.outDir, 'engine'),
    };
    if (endpoints.target === 'lab') {
      phase('starting', "checking Kafka and Elasticsearch, creating the run's topics");
      kafkaAdmin = await connectKafka(endpoints);
      es = await connectElasticsearch(endpoints);
      await createRunTopics(kafkaAdmin, endpoints, topic, options.partitions);
      topicsCreated = true;
      if (options.engine === 'gapipe') {
        engine = new GapipeEngine(options, run, {
          target: 'lab',
          endpoints,
          meter,
          instrument,
          tapTimesDelivery: true,
        });
      } else {
        // An engine gapipe did not write finds the index ready, with gapipe's mapping.
        await createRunIndex(es, index);
        await mkdir(run.workDir, { recursive: true });
        engine =
          options.engine === 'spark'
            ? new SparkEngine(
                run,
                {
                  master: options.sparkMaster,
                  threads: options.sparkThreads,
                  startTimeoutMs: options.engineTimeoutMs,
                },
                es,
                { runId, phase, signal: deps.signal },
              )
            : new ExternalEngine(run, es, {
                runId,
                outDir: options.outDir,
                startTimeoutMs: options.engineTimeoutMs,
                phase,
                signal: deps.signal,
              });
      }
      phase(
        'starting',
        options.engine === 'gapipe'
          ? `starting ${engine.description}; waiting for the group to own all ${plural(options.partitions, 'partition')}`
          : `starting ${engine.description}`,
      );
      await engine.start();
      // Delivery from outside the engine: a tap consumer in its own group, in a thread of its own so
      // that it takes no CPU from the load generator on this one. It reads the system clock, as the
      // generator's intended send times on the lab target do.
      tap = new DeliveryTapThread({
        brokers: run.brokers,
        topic,
        group: `${group}-tap`,
        ...(logger ? { logger } : {}),
        onError: (error) => meter.error(`delivery tap: ${toGapipeError(error).message}`),
      });
      await tap.start();
      const measured = engine;
      resources = new EngineResourceProbe(() => measured.pids());
    } else {
      if (options.engine !== 'gapipe')
        throw new GapipeError('INVALID_FLAG', `--engine ${options.engine} needs Kafka and Elasticsearch`, {
          nextSteps:
            "Use --target lab (or --brokers with --es); the embedded target runs gapipe's own consumers only",
        });
      engine = new GapipeEngine(options, run, { target: 'embedded', broker, store, taps });
      phase(
        'starting',
        `starting ${engine.description}; waiting for the group to own all ${plural(options.partitions, 'partition')}`,
      );
      await engine.start();
    }
    const theEngine = engine;

    // ——— the load ———
    // Only now is there a run whose results are worth a folder.
    await mkdir(options.outDir, { recursive: true });
    const produceAck = (intended: readonly number[], now: number) =>
      taps.recordMany('produce-ack', intended, intended.length, now);
    // Records that finally fail are taken out of the ground truth, through the run's hook.
    let onFailed: KafkaSinkFailedHook;
    // The visible latency, from outside the pipeline: each counting record's rank in its cell.
    const visibility = new VisibilityTracker();
    const observeSent = (records: readonly SinkRecord[]) => {
      for (const r of records) {
        if (hasRecordFacts(r) && r.recordKind === 'event' && !r.late)
          visibility.sent(r.tsMs, r.regionIndex, r.typeIndex, r.intendedMs);
      }
    };
    const counting = new CountingSink(
      endpoints.target === 'lab'
        ? new KafkaSink({
            brokers: endpoints.brokers ?? [],
            topic,
            ...simulateOptions.kafka,
            onAcknowledged: produceAck,
            onFailed: (records) => onFailed?.(records),
          })
        : new MemoryBrokerSink(broker, topic, produceAck),
      observeSent,
    );
    const visibilityPoller = new VisibilityPoller(
      visibility,
      es
        ? new ElasticsearchCellCounts(es, index, topic, simulateOptions.regions)
        : new DocumentCellCounts(
            () => [...store.documents.values()].map((d) => d.source),
            topic,
            simulateOptions.regions,
          ),
      (intended, count, now) => taps.recordMany('visible', intended, count, now),
      { intervalMs: VISIBILITY_POLL_MS, now: () => clock.now() },
    );
    // Connected before the load starts: connecting is not part of the measurement.
    if (endpoints.target === 'lab') await counting.open();
    const sinkFactory = (hooks: { onFailed?: KafkaSinkFailedHook }) => {
      onFailed = hooks.onFailed;
      return counting;
    };
    let targetRate = simulateOptions.startRate;
    const warmupSeconds = Math.ceil(options.warmupMs / 1000);
    const endOffsets = endOffsetReader(endpoints, broker, topic, kafkaAdmin);
    // When the load ended (simulate returned): readings after it belong to the drain.
    let loadEndAtMs = Number.POSITIVE_INFINITY;
    let latest: Reading | undefined;

    // An engine that does not report its progress is read from outside: the records its documents
    // count so far (consumed), and those sent and not yet counted (lag).
    let previousCounted: { atMs: number; counted: number } | undefined;
    const read = async (): Promise<Reading> => {
      const atMs = clock.now();
      const produced = counting.sent;
      const acknowledged = counting.stats().acknowledged;
      const engineReading = await theEngine.read();
      if (!theEngine.reportsProgress) {
        const counted = visibility.seen();
        const perSecond =
          previousCounted && atMs > previousCounted.atMs
            ? ((counted - previousCounted.counted) * 1000) / (atMs - previousCounted.atMs)
            : 0;
        previousCounted = { atMs, counted };
        return {
          atMs,
          counters: { produced, acknowledged, consumed: counted, written: 0 },
          consumedPerSecond: Math.max(0, Math.round(perSecond)),
          lag: visibility.pending(),
          watermarkMs: undefined,
          snapshots: [],
        };
      }
      // End offsets after the consumers' positions, so the lag is never under-counted.
      const ends = await endOffsets();
      const snapshots = engineReading.snapshots;
      const watermarks = snapshots.map((s) => s.watermarkMs).filter((w): w is number => w !== undefined);
      return {
        atMs,
        counters: {
          produced,
          acknowledged,
          consumed: engineReading.consumed ?? 0,
          written: snapshots.reduce((n, s) => n + s.written, 0),
        },
        consumedPerSecond: engineReading.consumedPerSecond ?? 0,
        lag: consumerLag(ends, engineReading.consumers),
        watermarkMs: watermarks.length ? Math.min(...watermarks) : undefined,
        snapshots,
      };
    };

    const onTick = async (t: number) => {
      const reading = await read();
      latest = reading;
      if (t > warmupSeconds) resources?.measure();
      resources?.sample();
      const failure = theEngine.failure();
      if (failure) meter.error(`engine: ${failure}`);
      meter.add(taps.takeIntervals());
      if (tap) meter.add((await tap.take()).intervals);
      for (const s of reading.snapshots) if (s.sinkError) meter.error(s.sinkError);
      const point = meter.tick(t, t <= warmupSeconds, targetRate, reading, instrument.tick());
      const history = meter.series.slice(-120).map((p) => ({
        produced: p.produced,
        consumed: p.consumed,
        written: p.written,
        lag: p.lag,
        ...(p.instrument
          ? { generatorElu: p.instrument.elu, scheduleLagMs: p.instrument.scheduleLagMs }
          : {}),
      }));
      const progress: BenchProgress = {
        ...(reading.atMs < loadEndAtMs
          ? { phase: 'load' as const, phaseElapsedMs: reading.atMs - loadStart }
          : { phase: 'draining' as const, phaseElapsedMs: reading.atMs - loadEndAtMs }),
        ...(theEngine.reportsProgress ? {} : { outsideEngine: theEngine.name }),
        elapsedMs: reading.atMs - loadStart,
        totalMs,
        warmup: point.warmup,
        target: endpoints.target,
        targetRate,
        rates: {
          produced: point.produced,
          acknowledged: point.acknowledged,
          consumed: point.consumed,
          written: point.written,
        },
        history,
        lag: reading.lag,
        watermarkMs: reading.watermarkMs,
        latency: meter.latency(),
        errors: [...meter.errors],
        totals: totalsOf(reading.counters, reading.snapshots),
        ...(point.instrument ? { instrument: point.instrument } : {}),
        instrumentShared: instrument.sharedWithPipeline,
        ...(point.pipeline ? { pipeline: point.pipeline } : {}),
      };
      reporter?.update(progress);
    };

    phase('load', 'load running');
    instrument.start();
    const loadStart = clock.now();
    // Records intended before this are warm-up, not measured.
    const measureFromMs = loadStart + options.warmupMs;
    taps.measureFromMs = measureFromMs;
    tap?.setMeasureFrom(measureFromMs);
    theEngine.loadStarting(loadStart, measureFromMs);
    meter.readings.set(0, {
      atMs: loadStart,
      counters: { produced: 0, acknowledged: 0, consumed: 0, written: 0 },
    });
    previousCounted = { atMs: loadStart, counted: 0 };
    ticker = new SecondTicker(loadStart, onTick);
    ticker.start();
    visibilityPoller.start();
    const summary: SimulateSummary = await simulate(simulateOptions, {
      sink: sinkFactory,
      runId,
      ...(deps.signal ? { signal: deps.signal } : {}),
      reporter: {
        started() {},
        progress(p) {
          targetRate = p.targetRate;
          instrument.scheduleAt({
            lagMs: p.lagMs,
            backlog: p.backlog,
            inFlight: p.inFlight,
            atInFlightLimit: p.atInFlightLimit,
          });
        },
      },
      progressIntervalMs: 250,
    });
    loadEndAtMs = clock.now();
    const stopped = summary.stopReason === 'interrupted';

    // ——— drain: the consumers catch up with everything produced ———
    if (!stopped) {
      const drainStart = clock.now();
      phase(
        'draining',
        theEngine.reportsProgress
          ? `draining: the consumers catch up with ${plural(latest?.lag ?? 0, 'record')} (at most ${Math.round(options.drainTimeoutMs / 1000)}s)`
          : `draining: waiting for ${plural(latest?.lag ?? 0, 'record')} to show in the engine's documents (at most ${Math.round(options.drainTimeoutMs / 1000)}s)`,
      );
      while (clock.now() - drainStart < options.drainTimeoutMs && !deps.signal?.aborted) {
        // An engine read from outside has caught up when every counting record shows in its documents.
        const caughtUp =
          latest !== undefined &&
          latest.atMs > loadEndAtMs &&
          latest.lag === 0 &&
          (!theEngine.reportsProgress || latest.counters.consumed >= summary.acknowledged);
        if (caughtUp) break;
        await Promise.race([ticker.nextTick(), clock.sleep(1500)]);
      }
      // Two flush intervals more, so the last windows are written.
      await clock.sleep(options.consume.flushIntervalMs * 2 + 500);
    }
    // The last records become searchable after the engine's last flush and the index's refresh: keep
    // polling until every counting record was seen, or the budget is spent (those are then not timed).
    await visibilityPoller.stop();
    if (!stopped) {
      const seenBy = clock.now() + VISIBILITY_DRAIN_MS;
      while (visibility.pending() > 0 && clock.now() < seenBy && !deps.signal?.aborted) {
        await visibilityPoller.pollOnce();
        if (visibility.pending() > 0) await clock.sleep(VISIBILITY_POLL_MS);
      }
      if (visibility.pending() > 0)
        meter.error(
          `visible: ${plural(visibility.pending(), 'record')} not seen in Elasticsearch within ${VISIBILITY_DRAIN_MS / 1000}s after the drain; they are not in the visible latency`,
        );
    }
    await ticker.stop();
    // What the taps recorded after the last tick (the last polls) belongs to the run too.
    meter.add(taps.takeIntervals());
    if (tap) meter.add((await tap.take()).intervals);
    if (ticker.error) meter.error(`reading the figures: ${toGapipeError(ticker.error).message}`);

    // ——— verify ———
    let verifySummary: VerifySummary | null = null;
    let correct: boolean | null = null;
    let verifyError: string | undefined;
    if (summary.produced > 0) {
      const waitMs = stopped ? 5000 : 30_000;
      phase('verifying', `verifying the aggregates against the ground truth (up to ${waitMs / 1000}s)`);
      try {
        const reader =
          endpoints.target === 'lab'
            ? new ElasticsearchAggregateReader(endpoints.esUrl ?? '')
            : new MemoryAggregateReader(() => ({
                [index]: [...store.documents.values()].map((d) => d.source),
              }));
        const verified = await verify(
          {
            manifestPath,
            index,
            topic,
            waitMs,
            // The readiness probe's window is the bench's, not the load's.
            ...(options.engine === 'gapipe' ? {} : { ignoreWindowStarts: [PROBE_WINDOW_START] }),
          },
          { reader, clock },
        );
        await (reader as { close?: () => Promise<void> }).close?.();
        correct = verified.ok;
        verifySummary = {
          ok: verified.ok,
          cellsCompared: verified.cells.compared,
          cellsDiffering: verified.cells.differing,
          differences: verified.differences.slice(0, 20).map((d) => ({
            window_start: d.window_start,
            region: d.region,
            event_type: d.event_type,
            field: d.field,
            expected: d.expected,
            actual: d.actual,
          })),
        };
      } catch (error) {
        verifyError = toGapipeError(error).message;
        meter.error(`verify: ${verifyError}`);
      }
    }

    // ——— stop the engine ———
    phase('stopping', `stopping ${theEngine.description}`);
    const engineFailure = theEngine.failure();
    if (engineFailure) meter.error(`engine: ${engineFailure}`);
    await theEngine.stop();
    await tap?.stop();
    phase('writing', `writing the results to ${options.outDir}`);
    const snapshots = theEngine.snapshots();
    const totals = totalsOf(
      {
        produced: summary.produced,
        acknowledged: summary.acknowledged,
        consumed: theEngine.reportsProgress
          ? snapshots.reduce((n, s) => n + s.consumed, 0)
          : visibility.seen(),
        written: snapshots.reduce((n, s) => n + s.written, 0),
      },
      snapshots,
    );
    totals.failed = summary.failed;
    // The measured window: after the warm-up, up to the planned end — or, for a run stopped early,
    // up to the last tick before it stopped (the drain afterwards is not load).
    const lastSecond = Math.ceil(totalMs / 1000);
    const isMeasured = (p: SeriesPoint) =>
      !p.warmup &&
      p.t <= lastSecond &&
      (!stopped || (meter.readings.get(p.t)?.atMs ?? Number.POSITIVE_INFINITY) <= loadEndAtMs);
    const measured = meter.series.filter(isMeasured);
    const lastMeasured = measured.at(-1)?.t ?? warmupSeconds;
    const window = meter.measuredRates(warmupSeconds, lastMeasured);
    const instrumentSummary = summarizeInstrument({
      series: meter.series,
      lastSecond: lastMeasured,
      sharedWithPipeline: instrument.sharedWithPipeline,
      generatorThreads: 1,
      cpus: cpus().length,
    });
    const measuredSummary: MeasuredSummary = {
      stopReason: stopped ? 'stopped' : 'completed',
      durationMs: clock.now() - loadStart,
      measuredMs: window.measuredMs,
      targetRate: summary.targetRate,
      achievedRate: window.rates.produced,
      keptUp: keptSchedule(instrumentSummary, summary.keptUp),
      throughput: window.rates,
      totals,
      maxLag: Math.max(0, ...measured.map((p) => p.lag)),
      latency: meter.latency(),
      correct,
      verify: verifySummary,
      errors: [...meter.errors],
      instrument: instrumentSummary,
      engine: {
        name: options.engine,
        description: theEngine.description,
        ...(resources?.summary() ? { resources: resources.summary() } : {}),
        measuredBy: measuredBy(options.engine, endpoints.target, `${group}-tap`),
        ...(theEngine.software?.() ? { software: theEngine.software() } : {}),
      },
    };
    const assertions = evaluateAssertions(options.assertions, measuredSummary);
    // The one decision: everything below renders it.
    const benchSummary = withVerdict({
      summary: { ...measuredSummary, assertions },
      series: meter.series,
      config: { durationMs: options.durationMs, warmupMs: options.warmupMs, target: endpoints.target },
      verifyError,
    });

    const histograms = {} as Record<LatencyKind, string>;
    for (const kind of LATENCY_KINDS)
      histograms[kind] = encodeHistogram(meter.cumulative.get(kind) as Histogram);
    const result: BenchResult = {
      format: RESULT_FORMAT,
      runId,
      startedAt,
      finishedAt: new Date(clock.now()).toISOString(),
      config: {
        target: endpoints.target,
        engine: options.engine,
        players: simulateOptions.players,
        rate: simulateOptions.rateDescription,
        targetRate: simulateOptions.startRate,
        stages: simulateOptions.stages.length
          ? simulateOptions.stages.map((s) => `${s.durationMs}ms:${s.targetRate}/s`).join(',')
          : null,
        scenario: simulateOptions.scenario ?? null,
        durationMs: options.durationMs,
        warmupMs: options.warmupMs,
        seed: simulateOptions.seed,
        consumers: options.consumers,
        topic,
        partitions: options.partitions,
        index,
        brokers: endpoints.brokers?.join(',') ?? null,
        esUrl: endpoints.esUrl ?? null,
        assertions: options.assertionTexts,
        extra: {
          regions: simulateOptions.regions,
          disorder: simulateOptions.disorder,
          kafka: simulateOptions.kafka,
          window: options.consume.windowing,
          flushIntervalMs: options.consume.flushIntervalMs,
        },
      },
      provenance: {
        gapipeVersion: packageVersion(),
        node: process.version,
        libraries: libraryVersions(),
        images: endpoints.images,
        host: {
          platform: process.platform,
          arch: process.arch,
          cpuModel: cpus()[0]?.model ?? 'unknown',
          cpus: cpus().length,
          memoryBytes: totalmem(),
          hostname: hostname(),
        },
        command: options.command,
      },
      summary: benchSummary,
      series: meter.series,
      histograms,
    };
    const files = await writeResultFiles(options.outDir, result, { html: renderReport(result) });
    return { result, files };
  } finally {
    await ticker?.stop();
    await engine?.stop().catch(() => {});
    await tap?.stop().catch(() => {});
    const removeRunData = !options.keep && endpoints.target === 'lab' && topicsCreated;
    const removeLab = options.ephemeral && endpoints.labStarted;
    if (removeRunData || removeLab)
      phase(
        'cleaning-up',
        removeLab ? `removing lab '${options.labName}'` : "removing the run's topics and index",
      );
    if (removeRunData) {
      await kafkaAdmin
        ?.deleteTopics({ topics: [topic, `${topic}-late`, `${topic}-dlq`] })
        .catch((e) => logger?.warn(`could not delete the run's topics: ${(e as Error).message}`));
      await es?.indices.delete({ index, ignore_unavailable: true }).catch(() => {});
      await es
        ?.deleteByQuery({ index: STATE_INDEX, query: { term: { topic } }, refresh: true }, { ignore: [404] })
        .catch(() => {});
    }
    // The Spark job's checkpoint belongs to the run's topic, which is gone now; its driver log stays.
    if (removeRunData && options.engine === 'spark')
      await rm(join(options.outDir, 'engine', 'spark-checkpoint'), { recursive: true, force: true });
    await kafkaAdmin?.disconnect().catch(() => {});
    await es?.close().catch(() => {});
    if (removeLab) {
      await new Lab({ docker: new DockerodeFacade() })
        .down(options.labName, { volumes: true })
        .catch(() => {});
    }
  }
}

/** How each figure of a run was taken, for the result and the report. */
function measuredBy(
  engine: EngineName,
  target: 'lab' | 'embedded',
  tapGroup: string,
): NonNullable<MeasuredSummary['engine']>['measuredBy'] {
  const inside = engine === 'gapipe';
  // The embedded target has an in-memory broker and store in this process, no Kafka or Elasticsearch.
  const lab = target === 'lab';
  const store = lab ? 'Elasticsearch' : 'the in-memory store';
  return {
    'produce-ack': lab
      ? "gapipe's producer: from the intended send time to the broker's acknowledgement"
      : 'from the intended send time to the in-memory broker taking the record',
    delivery: lab
      ? `a tap consumer in its own group (${tapGroup}): from the intended send time to the record's arrival there`
      : "inside gapipe's consumer (the embedded target has no Kafka to tap)",
    ...(inside
      ? {
          sink: `inside gapipe's consumer: from the intended send time to its aggregate acknowledged by ${store}`,
        }
      : {}),
    visible: `${lab ? 'polling Elasticsearch' : "reading the in-memory store's documents"} every ${VISIBILITY_POLL_MS} ms for each (window, region, event_type) cell: from the intended send time to the first reading whose count covers the record's rank in its cell`,
    consumed: inside
      ? "the consumers' own counts"
      : "records the engine's documents count (each cell's events against each sent record's rank in it)",
    lag: inside
      ? lab
        ? "the topic's end offsets minus the consumers' read positions"
        : "the in-memory topic's end offsets minus the consumers' read positions"
      : "records sent and not yet counted in the engine's documents",
  };
}

/** How often the bench asks Elasticsearch for the open cells' counts (the visible latency's resolution). */
const VISIBILITY_POLL_MS = 250;
/** How long after the drain the bench still waits for records to show in Elasticsearch. */
const VISIBILITY_DRAIN_MS = 15_000;

type KafkaSinkFailedHook = ConstructorParameters<typeof KafkaSink>[0]['onFailed'];

function libraryVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['kafkajs', '@elastic/elasticsearch', 'hdr-histogram-js', '@faker-js/faker', 'ink']) {
    try {
      const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
      out[name] = (JSON.parse(requireText(url)) as { version: string }).version;
    } catch {
      out[name] = 'unknown';
    }
  }
  return out;
}

function requireText(url: URL): string {
  return readFileSync(url, 'utf8');
}
