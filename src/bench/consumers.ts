/**
 * The gapipe engine's consumers in a bench run: `gapipe consume --bench-ipc` processes against Kafka
 * and Elasticsearch (their latency taps and load come back over IPC), or in-process consumers on the
 * memory broker for the embedded target.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GapipeError, toGapipeError } from '../errors.js';
import { AggregationConsumer } from '../pipeline/consumer.js';
import type { MemoryStore } from '../pipeline/store.js';
import type { ConsumeSnapshot } from '../pipeline/types.js';
import { type MemoryBroker, MemoryConsumerTransport } from './embedded.js';
import type { Endpoints } from './endpoints.js';
import type { InstrumentMeter, InstrumentSample } from './instrument.js';
import type { Meter } from './meter.js';
import type { BenchOptions } from './run.js';
import type { ConsumerReading } from './sampling.js';
import type { LatencyTaps } from './taps.js';
import type { LatencyKind } from './types.js';
import type { BenchMessage, WorkerMessage } from './worker.js';

const CLI = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

/**
 * How long a per-second reading waits for a consumer process before using its last answer. A busy
 * consumer answers between two batches, which can take a second or two on a loaded machine; its
 * answer is then dated when it came.
 */
const CONSUMER_READING_BUDGET_MS = 2500;
/** How long the consumers get to join their group and own every partition. */
const CONSUMERS_START_BUDGET_MS = 90_000;

/** A consumer's reading and when it was taken. */
export type DatedReading = ConsumerReading & { atMs: number };

export interface ConsumerHandle {
  /** The consumer's process, when it runs in one. */
  pid?: number | undefined;
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

/** Waits until the group owns every partition (joining is not part of the measurement). */
export async function consumersReady(consumers: ConsumerHandle[], options: BenchOptions): Promise<void> {
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

export function forkConsumer(
  options: BenchOptions,
  endpoints: Endpoints,
  topic: string,
  group: string,
  index: string,
  meter: Meter,
  instrument: InstrumentMeter,
  kinds: { delivery: boolean } = { delivery: true },
): ConsumerHandle {
  // With the bench's own delivery tap, the consumer's inside delivery timing is not the figure.
  const take = (intervals: Partial<Record<LatencyKind, string>>) => {
    if (kinds.delivery) return meter.add(intervals);
    const { delivery: _inside, ...rest } = intervals;
    meter.add(rest);
  };
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
    pid: child.pid,
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
      take(message.intervals);
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
      take(message.intervals);
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

export function embeddedConsumer(
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
