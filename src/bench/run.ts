/**
 * `gapipe bench` as a service: the whole pipeline under a chosen load, measured.
 *
 * 1. Target: the lab (reused, or started when Docker is there) or, with no lab and no Docker, the
 *    embedded pipeline (memory broker, memory store — same generator, aggregator and consumer code).
 * 2. A fresh topic (with -late and -dlq) and aggregates index named after the run id.
 * 3. N consumers in one group: `gapipe consume --bench-ipc` processes against the lab, in-process
 *    consumers on the memory broker. They report latency intervals every second (delivery, sink,
 *    visible); the simulator runs here (produce-ack). Records intended during the warm-up are not
 *    measured.
 * 4. After the load: wait for the consumers to catch up, verify against the manifest, stop them.
 * 5. Summary, assertions, result files; the run's topic and index are removed unless `keep`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@elastic/elasticsearch';
import type { Histogram } from 'hdr-histogram-js';
import { Kafka, logLevel } from 'kafkajs';
import { type Clock, systemClock } from '../clock.js';
import { GapipeError, toGapipeError } from '../errors.js';
import { DockerodeFacade } from '../lab/docker.js';
import { Lab } from '../lab/lab.js';
import { type LabOptions, labInputFromEnv, resolveLabOptions } from '../lab/options.js';
import type { Logger } from '../log.js';
import { packageVersion } from '../paths.js';
import { AggregationConsumer } from '../pipeline/consumer.js';
import type { ConsumeOptions } from '../pipeline/options.js';
import { MemoryStore, STATE_INDEX } from '../pipeline/store.js';
import type { ConsumeSnapshot } from '../pipeline/types.js';
import type { SimulateOptions } from '../simulators/options.js';
import { simulate } from '../simulators/simulate.js';
import { KafkaSink } from '../simulators/sinks/kafka.js';
import type { Sink } from '../simulators/sinks/types.js';
import type { SimulateSummary } from '../simulators/summary.js';
import type { BenchReporter, BenchStart } from '../ui/bench.js';
import { ElasticsearchAggregateReader, MemoryAggregateReader } from '../verify/reader.js';
import { verify } from '../verify/verify.js';
import { type Assertion, evaluateAssertions } from './assertions.js';
import { MemoryBroker, MemoryBrokerSink, MemoryConsumerTransport } from './embedded.js';
import {
  createLatencyHistogram,
  decodeHistogram,
  emptySummary,
  encodeHistogram,
  summarize,
} from './histograms.js';
import { InstrumentMeter, ProcessCpuProbe, summarizeInstrument, ThreadLoadProbe } from './instrument.js';
import { renderReport } from './report.js';
import { type ResultFiles, writeResultFiles } from './results.js';
import { LatencyTaps } from './taps.js';
import {
  type BenchProgress,
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
import type { BenchMessage, WorkerMessage } from './worker.js';

export type BenchTarget = 'auto' | 'lab' | 'embedded';

export interface BenchOptions {
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
}

export interface BenchOutcome {
  result: BenchResult;
  files: ResultFiles;
}

interface Endpoints {
  target: 'lab' | 'embedded';
  brokers?: string[];
  esUrl?: string;
  labStarted: boolean;
  images: Record<string, { name: string; id: string }>;
}

const CLI = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

/** Finds (or starts) the lab, or falls back to the embedded pipeline. */
async function resolveTarget(options: BenchOptions, logger: Logger | undefined): Promise<Endpoints> {
  if (options.target === 'embedded') return { target: 'embedded', labStarted: false, images: {} };
  if (options.brokers && options.esUrl) {
    return { target: 'lab', brokers: options.brokers, esUrl: options.esUrl, labStarted: false, images: {} };
  }
  const docker = new DockerodeFacade(logger ? { logger } : {});
  const lab = new Lab({ docker });
  let status: Awaited<ReturnType<Lab['status']>>;
  try {
    status = await lab.status(options.labName);
  } catch (error) {
    if (options.target === 'auto') {
      logger?.info(
        'No lab and no Docker here: running the embedded pipeline (in-process, no Kafka or Elasticsearch).',
      );
      return { target: 'embedded', labStarted: false, images: {} };
    }
    throw error;
  }
  const healthy = (service: string) => status.services.find((s) => s.service === service && s.healthy);
  let kafka = healthy('kafka');
  let es = healthy('elasticsearch');
  let labStarted = false;
  if ((!kafka || !es) && options.target === 'auto') {
    // Starting a lab may mean pulling gigabytes: only on request (--target lab).
    logger?.info(
      `No running lab '${options.labName}': running the embedded pipeline. \`gapipe lab up\` (or --target lab) benches the real one.`,
    );
    return { target: 'embedded', labStarted: false, images: {} };
  }
  if (!kafka || !es) {
    logger?.info(`Starting lab '${options.labName}' (Kafka and Elasticsearch)…`);
    const labOptions: LabOptions = resolveLabOptions(
      { name: options.labName, services: ['kafka', 'elasticsearch'] },
      labInputFromEnv(),
    );
    await lab.up(labOptions);
    labStarted = !status.exists;
    status = await lab.status(options.labName);
    kafka = healthy('kafka');
    es = healthy('elasticsearch');
    if (!kafka?.endpoint || !es?.endpoint) {
      throw new GapipeError(
        'SERVICE_NOT_READY',
        `Lab '${options.labName}' is not healthy after starting it`,
        {
          nextSteps: '`gapipe lab status` and `gapipe lab logs kafka` show why',
        },
      );
    }
  }
  const images: Record<string, { name: string; id: string }> = {};
  for (const service of status.services) {
    if (service.service === 'kibana' || !service.container) continue;
    const info = await docker.inspectContainer(service.container).catch(() => undefined);
    images[service.service] = { name: service.image ?? info?.image ?? '', id: info?.imageId ?? '' };
  }
  return {
    target: 'lab',
    brokers: [kafka?.endpoint ?? ''],
    esUrl: es?.endpoint ?? '',
    labStarted,
    images,
  };
}

interface ConsumerHandle {
  latest: ConsumeSnapshot | undefined;
  done: Promise<void>;
  stop(): Promise<void>;
  measureFrom(atMs: number): void;
}

/** Per-second figures and the merged latency histograms. */
class Meter {
  readonly cumulative = new Map<LatencyKind, Histogram>();
  private interval = new Map<LatencyKind, Histogram>();
  readonly series: SeriesPoint[] = [];
  private last = { produced: 0, acknowledged: 0, consumed: 0, written: 0 };
  errors: string[] = [];

  constructor() {
    for (const kind of LATENCY_KINDS) {
      this.cumulative.set(kind, createLatencyHistogram());
      this.interval.set(kind, createLatencyHistogram());
    }
  }

  add(intervals: Partial<Record<LatencyKind, string>>): void {
    for (const [kind, text] of Object.entries(intervals) as Array<[LatencyKind, string]>) {
      const h = decodeHistogram(text);
      this.cumulative.get(kind)?.add(h);
      this.interval.get(kind)?.add(h);
    }
  }

  tick(
    t: number,
    warmup: boolean,
    targetRate: number,
    totals: { produced: number; acknowledged: number; consumed: number; written: number },
    lag: number,
    watermarkMs: number | undefined,
    load?: { instrument: InstrumentPoint; pipeline: PipelineLoadPoint | undefined },
  ): SeriesPoint {
    const p99Ms: SeriesPoint['p99Ms'] = {};
    for (const [kind, h] of this.interval) {
      if (h.totalCount > 0) p99Ms[kind] = h.getValueAtPercentile(99) / 1000;
      h.reset();
    }
    const point: SeriesPoint = {
      t,
      warmup,
      targetRate,
      produced: totals.produced - this.last.produced,
      acknowledged: totals.acknowledged - this.last.acknowledged,
      consumed: totals.consumed - this.last.consumed,
      written: totals.written - this.last.written,
      lag,
      ...(watermarkMs !== undefined ? { watermarkMs } : {}),
      p99Ms,
      errors: this.errors.length,
      ...(load ? { instrument: load.instrument } : {}),
      ...(load?.pipeline ? { pipeline: load.pipeline } : {}),
    };
    this.last = { ...totals };
    this.series.push(point);
    return point;
  }

  latency(): Record<LatencyKind, ReturnType<typeof summarize>> {
    const out = {} as Record<LatencyKind, ReturnType<typeof summarize>>;
    for (const kind of LATENCY_KINDS) {
      const h = this.cumulative.get(kind);
      out[kind] = h ? summarize(h) : emptySummary();
    }
    return out;
  }
}

export async function runBench(options: BenchOptions, deps: BenchDeps = {}): Promise<BenchOutcome> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const runId = randomUUID();
  const short = runId.slice(0, 8);
  const topic = `gapipe-bench-${short}`;
  const index = `gapipe-aggregates-bench-${short}`;
  const group = `gapipe-bench-${short}`;
  const startedAt = new Date(clock.now()).toISOString();
  const endpoints = await resolveTarget(options, logger);
  await mkdir(options.outDir, { recursive: true });
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
    ...(endpoints.target === 'lab' ? { labName: options.labName } : {}),
    ...(endpoints.brokers ? { brokers: endpoints.brokers.join(',') } : {}),
    ...(endpoints.esUrl ? { esUrl: endpoints.esUrl } : {}),
    topic,
    index,
    players: simulateOptions.players,
    rateDescription: simulateOptions.rateDescription,
    targetRate: simulateOptions.startRate,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    consumers: options.consumers,
    seed: simulateOptions.seed,
    outDir: options.outDir,
    assertions: options.assertionTexts,
  };
  deps.reporter?.started(start);

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
  const store = new MemoryStore();
  const consumers: ConsumerHandle[] = [];
  let kafkaAdmin: ReturnType<Kafka['admin']> | undefined;
  let es: Client | undefined;

  try {
    // ——— the run's topic and consumers ———
    if (endpoints.target === 'lab') {
      const kafka = new Kafka({
        clientId: 'gapipe-bench',
        brokers: endpoints.brokers ?? [],
        logLevel: logLevel.NOTHING,
      });
      kafkaAdmin = kafka.admin();
      try {
        await kafkaAdmin.connect();
        await kafkaAdmin.createTopics({
          waitForLeaders: true,
          topics: [
            { topic, numPartitions: options.partitions, replicationFactor: 1 },
            { topic: `${topic}-late`, numPartitions: 1, replicationFactor: 1 },
            { topic: `${topic}-dlq`, numPartitions: 1, replicationFactor: 1 },
          ],
        });
      } catch (error) {
        throw new GapipeError(
          'KAFKA_UNREACHABLE',
          `Cannot create the run's topics on ${endpoints.brokers?.join(',')}`,
          {
            cause: error,
            nextSteps: 'Check the lab with `gapipe lab status`',
          },
        );
      }
      es = new Client({ node: endpoints.esUrl ?? '', requestTimeout: 30_000 });
      for (let i = 0; i < options.consumers; i++)
        consumers.push(forkConsumer(options, endpoints, topic, group, index, meter, instrument));
    } else {
      broker.createTopic(topic, options.partitions);
      broker.createTopic(`${topic}-late`, 1);
      broker.createTopic(`${topic}-dlq`, 1);
      const committed = new Map<string, number>();
      for (let i = 0; i < options.consumers; i++) {
        consumers.push(embeddedConsumer(options, broker, store, committed, topic, group, taps));
      }
    }
    // Load starts once the group owns every partition: joining is not part of the measurement.
    const allAssigned = () =>
      new Set(consumers.flatMap((c) => c.latest?.assigned ?? [])).size >= options.partitions &&
      consumers.every((c) => (c.latest?.assigned.length ?? 0) > 0 || options.consumers > options.partitions);
    await Promise.race([
      waitFor(allAssigned, 90_000),
      ...consumers.map((c) =>
        c.done.then(() => Promise.reject(new Error('a consumer stopped before the run'))),
      ),
    ]);

    // ——— the load ———
    const measureFromMs = clock.now() + options.warmupMs;
    taps.measureFromMs = measureFromMs;
    for (const c of consumers) c.measureFrom(measureFromMs);
    const sink: Sink =
      endpoints.target === 'lab'
        ? new KafkaSink({
            brokers: endpoints.brokers ?? [],
            topic,
            ...simulateOptions.kafka,
            onAcknowledged: (intended, now) => taps.recordMany('produce-ack', intended, intended.length, now),
          })
        : new MemoryBrokerSink(broker, topic, (intended, now) =>
            taps.recordMany('produce-ack', intended, intended.length, now),
          );
    if (endpoints.target === 'lab') await sink.open();
    let produced = { produced: 0, acknowledged: 0, targetRate: simulateOptions.startRate };
    instrument.start();
    const loadStart = clock.now();
    let second = 0;
    const tickOnce = () => {
      second++;
      meter.add(taps.takeIntervals());
      const snapshots = consumers.map((c) => c.latest).filter((s): s is ConsumeSnapshot => s !== undefined);
      const consumed = snapshots.reduce((n, s) => n + s.consumed, 0);
      const written = snapshots.reduce((n, s) => n + s.written, 0);
      const lag = snapshots.reduce((n, s) => n + s.partitions.reduce((m, p) => m + p.lag, 0), 0);
      const watermarks = snapshots.map((s) => s.watermarkMs).filter((w): w is number => w !== undefined);
      const watermarkMs = watermarks.length ? Math.min(...watermarks) : undefined;
      for (const s of snapshots)
        if (s.sinkError && !meter.errors.includes(s.sinkError)) meter.errors.push(s.sinkError);
      const elapsed = clock.now() - loadStart;
      const load = instrument.tick();
      const point = meter.tick(
        second,
        second <= Math.ceil(options.warmupMs / 1000),
        produced.targetRate,
        { produced: produced.produced, acknowledged: produced.acknowledged, consumed, written },
        lag,
        watermarkMs,
        load,
      );
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
        elapsedMs: elapsed,
        totalMs,
        warmup: point.warmup,
        target: endpoints.target,
        targetRate: produced.targetRate,
        rates: {
          produced: point.produced,
          acknowledged: point.acknowledged,
          consumed: point.consumed,
          written: point.written,
        },
        history,
        lag,
        watermarkMs,
        latency: meter.latency(),
        errors: [...meter.errors],
        totals: totalsOf(produced, snapshots),
        instrument: load.instrument,
        instrumentShared: instrument.sharedWithPipeline,
        ...(load.pipeline ? { pipeline: load.pipeline } : {}),
      };
      deps.reporter?.update(progress);
    };
    const ticker = setInterval(tickOnce, 1000);
    let summary: SimulateSummary;
    try {
      summary = await simulate(simulateOptions, {
        sink,
        runId,
        ...(deps.signal ? { signal: deps.signal } : {}),
        reporter: {
          started() {},
          progress(p) {
            produced = { produced: p.produced, acknowledged: p.acknowledged, targetRate: p.targetRate };
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
    } finally {
      clearInterval(ticker);
    }
    produced = {
      produced: summary.produced,
      acknowledged: summary.acknowledged,
      targetRate: summary.targetRate,
    };
    const stopped = summary.stopReason === 'interrupted';
    const measuredMs = Math.max(0, Math.min(clock.now() - loadStart, totalMs) - options.warmupMs);

    // ——— drain: the consumers catch up with everything produced ———
    const drainStart = clock.now();
    while (clock.now() - drainStart < options.drainTimeoutMs && !deps.signal?.aborted) {
      const snapshots = consumers.map((c) => c.latest).filter((s): s is ConsumeSnapshot => s !== undefined);
      const consumed = snapshots.reduce((n, s) => n + s.consumed, 0);
      const lag = snapshots.reduce((n, s) => n + s.partitions.reduce((m, p) => m + p.lag, 0), 0);
      if (consumed >= summary.acknowledged && lag === 0) break;
      await clock.sleep(500);
    }
    // One more flush interval so the last windows are written.
    await clock.sleep(options.consume.flushIntervalMs * 2 + 500);
    tickOnce();

    // ——— verify ———
    let verifySummary: VerifySummary | null = null;
    let correct: boolean | null = null;
    let verifyError: string | undefined;
    if (summary.produced > 0) {
      try {
        const reader =
          endpoints.target === 'lab'
            ? new ElasticsearchAggregateReader(endpoints.esUrl ?? '')
            : new MemoryAggregateReader(() => ({
                [index]: [...store.documents.values()].map((d) => d.source),
              }));
        const verified = await verify(
          { manifestPath, index, topic, waitMs: stopped ? 5000 : 30_000 },
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
        meter.errors.push(`verify: ${verifyError}`);
      }
    }

    // ——— stop the consumers ———
    await Promise.all(consumers.map((c) => c.stop()));
    const snapshots = consumers.map((c) => c.latest).filter((s): s is ConsumeSnapshot => s !== undefined);
    const totals = totalsOf({ produced: summary.produced, acknowledged: summary.acknowledged }, snapshots);
    totals.failed = summary.failed;
    // The measured window: after the warm-up, up to the planned end (the drain afterwards is not load).
    const lastSecond = Math.ceil(totalMs / 1000);
    const measured = meter.series.filter((p) => !p.warmup && p.t <= lastSecond);
    const perSecond = (field: 'produced' | 'acknowledged' | 'consumed' | 'written') =>
      measuredMs > 0 ? measured.reduce((n, p) => n + p[field], 0) / (measuredMs / 1000) : 0;
    const instrumentSummary = summarizeInstrument({
      series: meter.series,
      lastSecond,
      sharedWithPipeline: instrument.sharedWithPipeline,
      generatorThreads: 1,
      cpus: cpus().length,
    });
    const measuredSummary: MeasuredSummary = {
      stopReason: stopped ? 'stopped' : 'completed',
      durationMs: clock.now() - loadStart,
      measuredMs,
      targetRate: summary.targetRate,
      achievedRate: perSecond('produced'),
      keptUp: keptSchedule(instrumentSummary, summary.keptUp),
      throughput: {
        produced: perSecond('produced'),
        acknowledged: perSecond('acknowledged'),
        consumed: perSecond('consumed'),
        written: perSecond('written'),
      },
      totals,
      maxLag: Math.max(0, ...measured.map((p) => p.lag)),
      latency: meter.latency(),
      correct,
      verify: verifySummary,
      errors: [...meter.errors],
      instrument: instrumentSummary,
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
    await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
    if (!options.keep && endpoints.target === 'lab') {
      await kafkaAdmin
        ?.deleteTopics({ topics: [topic, `${topic}-late`, `${topic}-dlq`] })
        .catch((e) => logger?.warn(`could not delete the run's topics: ${(e as Error).message}`));
      await es?.indices.delete({ index, ignore_unavailable: true }).catch(() => {});
      await es
        ?.deleteByQuery({ index: STATE_INDEX, query: { term: { topic } }, refresh: true }, { ignore: [404] })
        .catch(() => {});
    }
    await kafkaAdmin?.disconnect().catch(() => {});
    await es?.close().catch(() => {});
    if (options.ephemeral && endpoints.labStarted) {
      await new Lab({ docker: new DockerodeFacade() })
        .down(options.labName, { volumes: true })
        .catch(() => {});
    }
  }
}

function totalsOf(
  produced: { produced: number; acknowledged: number },
  snapshots: ConsumeSnapshot[],
): BenchSummary['totals'] {
  const sum = (f: (s: ConsumeSnapshot) => number) => snapshots.reduce((n, s) => n + f(s), 0);
  return {
    produced: produced.produced,
    acknowledged: produced.acknowledged,
    failed: 0,
    consumed: sum((s) => s.consumed),
    written: sum((s) => s.written),
    late: sum((s) => s.late),
    deadLettered: sum((s) => s.deadLettered),
    duplicates: sum((s) => s.duplicates),
  };
}

function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (condition()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error('the consumers did not start in time'));
      setTimeout(check, 100);
    };
    check();
  });
}

function consumerArgs(
  options: BenchOptions,
  endpoints: Endpoints,
  topic: string,
  group: string,
  index: string,
): string[] {
  const w = options.consume.windowing;
  return [
    'consume',
    '--bench-ipc',
    '--quiet',
    '--brokers',
    (endpoints.brokers ?? []).join(','),
    '--es',
    endpoints.esUrl ?? '',
    '--topic',
    topic,
    '--group',
    group,
    '--index',
    index,
    '--window',
    `${w.sizeMs}ms`,
    '--allowed-lateness',
    `${w.allowedLatenessMs}ms`,
    '--late-retention',
    `${w.lateRetentionMs}ms`,
    '--flush-interval',
    `${options.consume.flushIntervalMs}ms`,
    '--session-timeout',
    '10s',
  ];
}

function forkConsumer(
  options: BenchOptions,
  endpoints: Endpoints,
  topic: string,
  group: string,
  index: string,
  meter: Meter,
  instrument: InstrumentMeter,
): ConsumerHandle {
  const child: ChildProcess = fork(CLI, consumerArgs(options, endpoints, topic, group, index), {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, CI: 'true' },
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const handle: ConsumerHandle = {
    latest: undefined,
    done: new Promise<void>((resolve) => child.on('exit', () => resolve())),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send?.({ type: 'stop' } satisfies BenchMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await handle.done;
      clearTimeout(timer);
    },
    measureFrom(atMs) {
      child.send?.({ type: 'measure-from', atMs } satisfies BenchMessage);
    },
  };
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'tick') handle.latest = message.snapshot;
    else handle.latest = message.result;
    meter.add(message.intervals);
    if (message.type === 'tick' && message.load)
      instrument.consumer({ ...message.load, thread: `consumer-${child.pid}` });
  });
  child.on('exit', (code) => {
    if (code !== 0 && code !== null)
      meter.errors.push(
        `consumer process exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}`,
      );
  });
  return handle;
}

function embeddedConsumer(
  options: BenchOptions,
  broker: MemoryBroker,
  store: MemoryStore,
  committed: Map<string, number>,
  topic: string,
  group: string,
  taps: LatencyTaps,
): ConsumerHandle {
  const transport = new MemoryConsumerTransport(broker, topic, group, committed);
  const consumer = new AggregationConsumer(
    {
      topic,
      group,
      ...options.consume,
      lateTopic: `${topic}-late`,
      deadLetterTopic: `${topic}-dlq`,
      indexRaw: false,
    },
    { transport, store, observer: taps.consumerObserver() },
  );
  let ticker: NodeJS.Timeout | undefined;
  const handle: ConsumerHandle = {
    latest: undefined,
    done: consumer.done.catch(() => {}),
    async stop() {
      clearInterval(ticker);
      await consumer.stop().catch(() => {});
      handle.latest = consumer.snapshot();
    },
    measureFrom() {
      // In-process consumers share the bench's taps.
    },
  };
  void consumer.start().then(() => {
    handle.latest = consumer.snapshot();
    ticker = setInterval(() => {
      handle.latest = consumer.snapshot();
    }, 250);
  });
  return handle;
}

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
