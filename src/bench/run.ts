/**
 * `gapipe bench` as a service: the whole pipeline under a chosen load, measured.
 *
 * 1. Target: a running lab, a lab started on request (--target lab), explicit endpoints
 *    (--brokers/--es), or the embedded pipeline (memory broker, memory store — same generator,
 *    aggregator and consumer code) when there is no running lab.
 * 2. A fresh topic (with -late and -dlq) and aggregates index named after the run id.
 * 3. N consumers in one group: `gapipe consume --bench-ipc` processes against the lab, in-process
 *    consumers on the memory broker. The simulator runs here (produce-ack); the consumers' latency
 *    taps give delivery, sink and visible. Records intended during the warm-up are not measured.
 * 4. Every second, on the clock, the bench reads its counters and the consumer lag (sampling.ts).
 * 5. After the load: the consumers drain what is left, the results are verified against the
 *    manifest, the consumers stop.
 * 6. Summary, assertions, the verdict and the result files; the run's topic and index are removed
 *    unless `keep`. The reporter hears of each phase, so a view is never left on a finished load.
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
import type { SimulateSummary } from '../simulators/summary.js';
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
import {
  InstrumentMeter,
  type InstrumentSample,
  ProcessCpuProbe,
  summarizeInstrument,
  ThreadLoadProbe,
} from './instrument.js';
import { renderReport } from './report.js';
import { type ResultFiles, writeResultFiles } from './results.js';
import {
  type ConsumerReading,
  type Counters,
  CountingSink,
  consumerLag,
  ratesBetween,
  SecondTicker,
} from './sampling.js';
import { LatencyTaps } from './taps.js';
import {
  type BenchPhaseName,
  type BenchProgress,
  type BenchReporter,
  type BenchResult,
  type BenchStart,
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

interface Endpoints {
  target: 'lab' | 'embedded';
  brokers?: string[];
  esUrl?: string;
  /** The lab the endpoints came from; absent for --brokers/--es and the embedded target. */
  labName?: string;
  labStarted: boolean;
  images: Record<string, { name: string; id: string }>;
}

type PhaseReporter = (name: BenchPhaseName, text: string) => void;

const CLI = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

/**
 * How long a per-second reading waits for a consumer process before using its last answer. A busy
 * consumer answers between two batches, which can take a second or two on a loaded machine; its
 * answer is then dated when it came.
 */
const CONSUMER_READING_BUDGET_MS = 2500;
/** How long a per-second reading waits for Kafka's end offsets before using the last ones. */
const OFFSETS_READING_BUDGET_MS = 800;
/** Kafka and Elasticsearch get this long to answer the set-up requests, so a wrong endpoint fails fast. */
const SETUP_CONNECT_TIMEOUT_MS = 3000;
/** How long the consumers get to join their group and own every partition. */
const CONSUMERS_START_BUDGET_MS = 90_000;

/** Finds (or starts) the lab, or falls back to the embedded pipeline. */
async function resolveTarget(
  options: BenchOptions,
  logger: Logger | undefined,
  phase: PhaseReporter,
): Promise<Endpoints> {
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
    phase(
      'preparing',
      `starting lab '${options.labName}' (Kafka and Elasticsearch) — this can take a minute`,
    );
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
    labName: options.labName,
    labStarted,
    images,
  };
}

/** What to do about an endpoint that does not answer: the lab's status, or the flag that named it. */
function endpointAdvice(endpoints: Endpoints, flag: '--brokers' | '--es'): string {
  if (endpoints.labName) {
    return `\`gapipe lab status --name ${endpoints.labName}\` shows the lab's services; \`gapipe lab up --name ${endpoints.labName}\` starts them`;
  }
  return `Check ${flag}: is the service running there and reachable from this machine?`;
}

interface ConsumerHandle {
  latest: ConsumeSnapshot | undefined;
  done: Promise<void>;
  /**
   * The consumer's figures now, and when they were taken: a consumer process answers when its thread
   * is free (its last answer after CONSUMER_READING_BUDGET_MS).
   */
  read(): Promise<DatedReading>;
  stop(): Promise<void>;
  measureFrom(atMs: number): void;
  /** Why it stopped, when it stopped early (its last error lines). */
  exitReason(): string | undefined;
}

type DatedReading = ConsumerReading & { atMs: number };

/** One reading of everything the per-second figures come from. */
interface Reading {
  atMs: number;
  counters: Counters;
  /**
   * Records received per second since the previous reading, each consumer over the time between its
   * own two answers (a consumer busy with a batch answers late, and its count is of that moment).
   */
  consumedPerSecond: number;
  lag: number;
  watermarkMs: number | undefined;
  snapshots: ConsumeSnapshot[];
}

/** Per-second figures, the merged latency histograms, and the counters at each tick. */
class Meter {
  readonly cumulative = new Map<LatencyKind, Histogram>();
  private interval = new Map<LatencyKind, Histogram>();
  readonly series: SeriesPoint[] = [];
  /** The counters at each tick (by t), and at the start of the load (t = 0). */
  readonly readings = new Map<number, { atMs: number; counters: Counters }>();
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

  error(message: string): void {
    if (!this.errors.includes(message)) this.errors.push(message);
  }

  /** The second that ended at this reading. */
  tick(
    t: number,
    warmup: boolean,
    targetRate: number,
    reading: Reading,
    load: { instrument: InstrumentPoint; pipeline: PipelineLoadPoint | undefined },
  ): SeriesPoint {
    const p99Ms: SeriesPoint['p99Ms'] = {};
    for (const [kind, h] of this.interval) {
      if (h.totalCount > 0) p99Ms[kind] = h.getValueAtPercentile(99) / 1000;
      h.reset();
    }
    const previous = [...this.readings].reduce<{ atMs: number; counters: Counters } | undefined>(
      (last, [at, r]) => (at < t && (last === undefined || r.atMs > last.atMs) ? r : last),
      undefined,
    );
    const rates = previous
      ? { ...ratesBetween(previous, reading), consumed: reading.consumedPerSecond }
      : { produced: 0, acknowledged: 0, consumed: 0, written: 0 };
    const point: SeriesPoint = {
      t,
      warmup,
      targetRate,
      ...rates,
      lag: reading.lag,
      ...(reading.watermarkMs !== undefined ? { watermarkMs: reading.watermarkMs } : {}),
      p99Ms,
      errors: this.errors.length,
      instrument: load.instrument,
      ...(load.pipeline ? { pipeline: load.pipeline } : {}),
    };
    this.readings.set(t, { atMs: reading.atMs, counters: reading.counters });
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

  /**
   * Per-second rates over the measured window — from the tick that ended the warm-up to the last
   * measured tick — and the window's length: counters read at its two ends, not a sum of rounded
   * seconds.
   */
  measuredRates(warmupSeconds: number, lastMeasured: number): { rates: Counters; measuredMs: number } {
    // A tick can be folded into a later one (a held-up thread): start from the last one not after the warm-up.
    const startAt = Math.max(-1, ...[...this.readings.keys()].filter((t) => t <= warmupSeconds));
    const from = this.readings.get(startAt);
    const to = this.readings.get(lastMeasured);
    if (!from || !to || to.atMs <= from.atMs)
      return { rates: { produced: 0, acknowledged: 0, consumed: 0, written: 0 }, measuredMs: 0 };
    const seconds = (to.atMs - from.atMs) / 1000;
    const rate = (field: keyof Counters) =>
      Math.max(0, (to.counters[field] - from.counters[field]) / seconds);
    return {
      rates: {
        produced: rate('produced'),
        acknowledged: rate('acknowledged'),
        consumed: rate('consumed'),
        written: rate('written'),
      },
      measuredMs: to.atMs - from.atMs,
    };
  }
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
  const consumers: ConsumerHandle[] = [];
  let kafkaAdmin: ReturnType<Kafka['admin']> | undefined;
  let es: Client | undefined;
  // What exists, so cleaning up touches nothing that was never created.
  let topicsCreated = false;
  let ticker: SecondTicker | undefined;

  try {
    // ——— the run's topic and consumers ———
    const [one, many] =
      endpoints.target === 'lab' ? ['consumer process', 'consumer processes'] : ['consumer', 'consumers'];
    const consumerWord = options.consumers === 1 ? one : many;
    const consumerNoun = `${count(options.consumers)} ${consumerWord}`;
    if (endpoints.target === 'lab') {
      phase('starting', "checking Kafka and Elasticsearch, creating the run's topics");
      kafkaAdmin = await connectKafka(endpoints);
      es = await connectElasticsearch(endpoints);
      await createRunTopics(kafkaAdmin, endpoints, topic, options.partitions);
      topicsCreated = true;
      phase(
        'starting',
        `starting ${consumerNoun}; waiting for the group to own all ${plural(options.partitions, 'partition')}`,
      );
      for (let i = 0; i < options.consumers; i++)
        consumers.push(forkConsumer(options, endpoints, topic, group, index, meter, instrument));
    } else {
      phase(
        'starting',
        `starting ${consumerNoun}; waiting for the group to own all ${plural(options.partitions, 'partition')}`,
      );
      broker.createTopic(topic, options.partitions);
      broker.createTopic(`${topic}-late`, 1);
      broker.createTopic(`${topic}-dlq`, 1);
      const committed = new Map<string, number>();
      for (let i = 0; i < options.consumers; i++) {
        consumers.push(embeddedConsumer(options, broker, store, committed, topic, group, taps));
      }
    }
    await consumersReady(consumers, options);

    // ——— the load ———
    // Only now is there a run whose results are worth a folder.
    await mkdir(options.outDir, { recursive: true });
    const produceAck = (intended: readonly number[], now: number) =>
      taps.recordMany('produce-ack', intended, intended.length, now);
    // Records that finally fail are taken out of the ground truth, through the run's hook.
    let onFailed: KafkaSinkFailedHook;
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

    // Each consumer's previous answer, for its rate.
    const previousAnswers = new Map<ConsumerHandle, DatedReading>();
    const read = async (): Promise<Reading> => {
      const atMs = clock.now();
      const produced = counting.sent;
      const acknowledged = counting.stats().acknowledged;
      const readings = await Promise.all(consumers.map((c) => c.read()));
      // End offsets after the consumers' positions, so the lag is never under-counted.
      const ends = await endOffsets();
      let consumedPerSecond = 0;
      consumers.forEach((c, i) => {
        const now = readings[i] as DatedReading;
        const before = previousAnswers.get(c);
        if (before && now.atMs > before.atMs)
          consumedPerSecond += ((now.consumed - before.consumed) * 1000) / (now.atMs - before.atMs);
        if (!before || now.atMs > before.atMs) previousAnswers.set(c, now);
      });
      const snapshots = readings.map((r) => r.snapshot).filter((s): s is ConsumeSnapshot => s !== undefined);
      const watermarks = snapshots.map((s) => s.watermarkMs).filter((w): w is number => w !== undefined);
      return {
        atMs,
        counters: {
          produced,
          acknowledged,
          consumed: readings.reduce((n, r) => n + r.consumed, 0),
          written: snapshots.reduce((n, s) => n + s.written, 0),
        },
        consumedPerSecond: Math.max(0, Math.round(consumedPerSecond)),
        lag: consumerLag(ends, readings),
        watermarkMs: watermarks.length ? Math.min(...watermarks) : undefined,
        snapshots,
      };
    };

    const onTick = async (t: number) => {
      const reading = await read();
      latest = reading;
      meter.add(taps.takeIntervals());
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
    for (const c of consumers) c.measureFrom(measureFromMs);
    meter.readings.set(0, {
      atMs: loadStart,
      counters: { produced: 0, acknowledged: 0, consumed: 0, written: 0 },
    });
    // Nothing was consumed before the load (the run's topic is new): each consumer's rate starts here.
    for (const c of consumers)
      previousAnswers.set(c, { consumed: 0, snapshot: undefined, consumedSinceSnapshot: 0, atMs: loadStart });
    ticker = new SecondTicker(loadStart, onTick);
    ticker.start();
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
        `draining: the consumers catch up with ${plural(latest?.lag ?? 0, 'record')} (at most ${Math.round(options.drainTimeoutMs / 1000)}s)`,
      );
      while (clock.now() - drainStart < options.drainTimeoutMs && !deps.signal?.aborted) {
        const caughtUp =
          latest !== undefined &&
          latest.atMs > loadEndAtMs &&
          latest.lag === 0 &&
          latest.counters.consumed >= summary.acknowledged;
        if (caughtUp) break;
        await Promise.race([ticker.nextTick(), clock.sleep(1500)]);
      }
      // Two flush intervals more, so the last windows are written.
      await clock.sleep(options.consume.flushIntervalMs * 2 + 500);
    }
    await ticker.stop();
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
        const verified = await verify({ manifestPath, index, topic, waitMs }, { reader, clock });
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

    // ——— stop the consumers ———
    phase('stopping', `stopping the ${consumerWord}`);
    await Promise.all(consumers.map((c) => c.stop()));
    phase('writing', `writing the results to ${options.outDir}`);
    const snapshots = consumers.map((c) => c.latest).filter((s): s is ConsumeSnapshot => s !== undefined);
    const totals = totalsOf(
      {
        produced: summary.produced,
        acknowledged: summary.acknowledged,
        consumed: snapshots.reduce((n, s) => n + s.consumed, 0),
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
    await ticker?.stop();
    await Promise.all(consumers.map((c) => c.stop().catch(() => {})));
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
    await kafkaAdmin?.disconnect().catch(() => {});
    await es?.close().catch(() => {});
    if (removeLab) {
      await new Lab({ docker: new DockerodeFacade() })
        .down(options.labName, { volumes: true })
        .catch(() => {});
    }
  }
}

type KafkaSinkFailedHook = ConstructorParameters<typeof KafkaSink>[0]['onFailed'];

/**
 * A client for the run's Elasticsearch that has answered once: a wrong --es fails here, in seconds,
 * before anything is created.
 */
async function connectElasticsearch(endpoints: Endpoints): Promise<Client> {
  const url = endpoints.esUrl ?? '';
  const fail = (cause: unknown) =>
    new GapipeError('ELASTICSEARCH_UNREACHABLE', `no answer from ${url}`, {
      cause,
      nextSteps: endpointAdvice(endpoints, '--es'),
    });
  let probe: Client;
  try {
    probe = new Client({ node: url, requestTimeout: SETUP_CONNECT_TIMEOUT_MS, maxRetries: 1 });
  } catch (error) {
    throw fail(error);
  }
  try {
    await probe.cluster.health({ timeout: `${SETUP_CONNECT_TIMEOUT_MS}ms` });
  } catch (error) {
    // Any HTTP answer means something listens there; the run's own requests will say if it is wrong.
    const status = (error as { meta?: { statusCode?: number | null } }).meta?.statusCode;
    const answered = typeof status === 'number' && status > 0;
    if (!answered) throw fail(error);
  } finally {
    await probe.close().catch(() => {});
  }
  return new Client({ node: url, requestTimeout: 30_000 });
}

/** An admin client that has reached Kafka, with few, quick retries: a wrong --brokers fails in seconds. */
async function connectKafka(endpoints: Endpoints): Promise<ReturnType<Kafka['admin']>> {
  const brokers = endpoints.brokers ?? [];
  const admin = new Kafka({
    clientId: 'gapipe-bench',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: SETUP_CONNECT_TIMEOUT_MS,
    retry: { retries: 2, initialRetryTime: 250, maxRetryTime: 1000 },
  }).admin();
  try {
    await admin.connect();
    return admin;
  } catch (error) {
    await admin.disconnect().catch(() => {});
    throw new GapipeError('KAFKA_UNREACHABLE', `no answer from ${brokers.join(',')}`, {
      cause: error,
      nextSteps: endpointAdvice(endpoints, '--brokers'),
    });
  }
}

/** The run's topic, with its -late and -dlq. */
async function createRunTopics(
  admin: ReturnType<Kafka['admin']>,
  endpoints: Endpoints,
  topic: string,
  partitions: number,
): Promise<void> {
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: partitions, replicationFactor: 1 },
        { topic: `${topic}-late`, numPartitions: 1, replicationFactor: 1 },
        { topic: `${topic}-dlq`, numPartitions: 1, replicationFactor: 1 },
      ],
    });
  } catch (error) {
    throw new GapipeError(
      'KAFKA_UNREACHABLE',
      `${(endpoints.brokers ?? []).join(',')} did not create the run's topics (${topic} and its -late and -dlq)`,
      { cause: error, nextSteps: endpointAdvice(endpoints, '--brokers') },
    );
  }
}

/**
 * Reads the end offset of each partition of the run's topic: the memory broker's log lengths, or
 * Kafka's latest offsets (the last answer when Kafka is slower than the reading budget).
 */
function endOffsetReader(
  endpoints: Endpoints,
  broker: MemoryBroker,
  topic: string,
  admin: ReturnType<Kafka['admin']> | undefined,
): () => Promise<Map<number, number>> {
  if (endpoints.target === 'embedded' || !admin) return async () => broker.endOffsets(topic);
  let last = new Map<number, number>();
  return async () => {
    const fetched = admin
      .fetchTopicOffsets(topic)
      .then((offsets) => new Map(offsets.map((o) => [o.partition, Number(o.high)] as [number, number])))
      .catch(() => undefined);
    const answer = await Promise.race([fetched, sleep(OFFSETS_READING_BUDGET_MS).then(() => undefined)]);
    if (answer) last = answer;
    return last;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** Waits until the group owns every partition (joining is not part of the measurement). */
async function consumersReady(consumers: ConsumerHandle[], options: BenchOptions): Promise<void> {
  const owned = () => new Set(consumers.flatMap((c) => c.latest?.assigned ?? [])).size;
  const allAssigned = () =>
    owned() >= options.partitions &&
    consumers.every((c) => (c.latest?.assigned.length ?? 0) > 0 || options.consumers > options.partitions);
  const outcome = await Promise.race([
    waitUntil(allAssigned, CONSUMERS_START_BUDGET_MS).then((ok) => (ok ? 'ready' : 'timeout')),
    ...consumers.map((c) => c.done.then(() => 'stopped' as const)),
  ]);
  if (outcome === 'ready') return;
  const reasons = consumers.map((c) => c.exitReason()).filter((r): r is string => r !== undefined);
  throw new GapipeError(
    'SERVICE_NOT_READY',
    reasons.length > 0
      ? `the run's consumers did not start: ${reasons[0]}`
      : `the run's consumers owned ${owned()} of ${options.partitions} partitions after ${CONSUMERS_START_BUDGET_MS / 1000}s`,
    {
      ...(reasons.length > 1 ? { details: reasons.slice(1) } : {}),
      nextSteps:
        'Run `gapipe consume` against the same Kafka and Elasticsearch to see why it does not start; on a busy machine, try fewer --consumers',
    },
  );
}

function totalsOf(counters: Counters, snapshots: ConsumeSnapshot[]): BenchSummary['totals'] {
  const sum = (f: (s: ConsumeSnapshot) => number) => snapshots.reduce((n, s) => n + f(s), 0);
  return {
    produced: counters.produced,
    acknowledged: counters.acknowledged,
    failed: 0,
    consumed: counters.consumed,
    written: counters.written,
    late: sum((s) => s.late),
    deadLettered: sum((s) => s.deadLettered),
    duplicates: sum((s) => s.duplicates),
  };
}

/** Polls `condition` every 100 ms: true once it holds, false when `timeoutMs` passed first. */
function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const check = () => {
      if (condition()) return resolve(true);
      if (Date.now() - started > timeoutMs) return resolve(false);
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
  let exitCode: number | null | undefined;
  let nextId = 0;
  const pending = new Map<number, (reading: DatedReading) => void>();
  // Until a sample comes back, a reading is the last snapshot with nothing received since.
  let last: DatedReading = { consumed: 0, snapshot: undefined, consumedSinceSnapshot: 0, atMs: 0 };
  const handle: ConsumerHandle = {
    latest: undefined,
    done: new Promise<void>((resolve) => child.on('exit', () => resolve())),
    read() {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected)
        return Promise.resolve(last);
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(last);
        }, CONSUMER_READING_BUDGET_MS);
        pending.set(id, (reading) => {
          clearTimeout(timer);
          resolve(reading);
        });
        child.send?.({ type: 'sample', id } satisfies BenchMessage);
      });
    },
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
    exitReason() {
      if (exitCode === undefined) return undefined;
      const lines = stderr.trim().split('\n').slice(-3).join(' ');
      return `consumer process ${child.pid} exited with ${exitCode}${lines ? `: ${lines}` : ''}`;
    },
  };
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'tick') {
      handle.latest = message.snapshot;
      // A snapshot newer than the last sample: its positions already include what that sample counted.
      if (message.snapshot.atMs > (last.snapshot?.atMs ?? 0))
        last = {
          consumed: message.snapshot.consumed,
          snapshot: message.snapshot,
          consumedSinceSnapshot: 0,
          atMs: message.snapshot.atMs,
        };
    } else if (message.type === 'sample') {
      meter.add(message.intervals);
      instrument.consumer({ ...message.load, thread: `consumer-${child.pid}` } satisfies InstrumentSample);
      last = { ...message.sample, atMs: Date.now() };
      if (message.sample.snapshot) handle.latest = message.sample.snapshot;
      pending.get(message.id)?.(last);
      pending.delete(message.id);
    } else {
      handle.latest = message.result;
      last = {
        consumed: message.result.consumed,
        snapshot: message.result,
        consumedSinceSnapshot: 0,
        atMs: message.result.atMs,
      };
      meter.add(message.intervals);
    }
  });
  child.on('exit', (code, signal) => {
    exitCode = code ?? (signal ? null : 0);
    for (const resolve of pending.values()) resolve(last);
    pending.clear();
    if (code !== 0 && code !== null)
      meter.error(`consumer process exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
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
  let failure: string | undefined;
  const handle: ConsumerHandle = {
    latest: undefined,
    done: consumer.done.catch((error) => {
      failure = toGapipeError(error).message;
    }),
    // In process: the snapshot is taken now, so its positions and counts are exact at the reading.
    async read() {
      const snapshot = consumer.snapshot();
      handle.latest = snapshot;
      return { consumed: snapshot.consumed, snapshot, consumedSinceSnapshot: 0, atMs: snapshot.atMs };
    },
    async stop() {
      clearInterval(ticker);
      await consumer.stop().catch(() => {});
      handle.latest = consumer.snapshot();
    },
    measureFrom() {
      // In-process consumers share the bench's taps.
    },
    exitReason: () => failure,
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
