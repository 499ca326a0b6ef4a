/**
 * `gapipe consume` as a service: wires the Kafka transport, the Elasticsearch store, the consumer,
 * the optional Prometheus endpoint and a reporter, runs until stopped (signal, `exitIdleMs`, or a
 * fatal error), then flushes and returns the final figures.
 */
import { type Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { AggregationConsumer, type ConsumerObserver } from './consumer.js';
import { type MetricsServer, startMetricsServer } from './metrics.js';
import type { ConsumeOptions } from './options.js';
import { type AggregateStore, ElasticsearchStore, STORE_DEFAULTS } from './store.js';
import { type ConsumerTransport, KafkaTransport } from './transport.js';
import type { ConsumeSnapshot } from './types.js';
import type { WindowingOptions } from './windows.js';

export type ConsumeStopReason = 'interrupted' | 'idle';

/** What the consumer is about to do, for the banner. */
export interface ConsumeStart {
  brokers: string[];
  topic: string;
  group: string;
  esUrl: string;
  /** Aggregates index. */
  index: string;
  /** The windows and the allowed lateness; the reporter puts them in words. */
  windowing: WindowingOptions;
  flushIntervalMs: number;
  lateTopic: string;
  deadLetterTopic: string;
  indexRaw: boolean;
  /** Scrape URL of the Prometheus endpoint, when enabled. */
  metricsUrl?: string;
}

/**
 * Receives the consumer's figures. The terminal view (src/ui) and the bench's consumer processes
 * implement it; the service never draws anything itself.
 */
export interface ConsumeReporter {
  started(start: ConsumeStart): void;
  /** Called with each snapshot (about once per second). */
  update(snapshot: ConsumeSnapshot): void;
  /** Stops live drawing; safe to call more than once. */
  done(): void;
}

export interface ConsumeResult extends ConsumeSnapshot {
  stopReason: ConsumeStopReason;
}

export interface ConsumeDeps {
  reporter?: ConsumeReporter;
  signal?: AbortSignal;
  logger?: Logger;
  clock?: Clock;
  observer?: ConsumerObserver;
  /** Replace the real transport and store (tests, the embedded bench). */
  transport?: ConsumerTransport;
  store?: AggregateStore;
}

export function describeConsume(options: ConsumeOptions, metricsUrl?: string): ConsumeStart {
  return {
    brokers: options.brokers,
    topic: options.topic,
    group: options.group,
    esUrl: options.esUrl,
    index: options.index,
    windowing: options.windowing,
    flushIntervalMs: options.flushIntervalMs,
    lateTopic: options.lateTopic,
    deadLetterTopic: options.deadLetterTopic,
    indexRaw: options.indexRaw,
    ...(metricsUrl ? { metricsUrl } : {}),
  };
}

export async function consume(options: ConsumeOptions, deps: ConsumeDeps = {}): Promise<ConsumeResult> {
  const clock = deps.clock ?? systemClock;
  const transport =
    deps.transport ??
    new KafkaTransport({
      brokers: options.brokers,
      topic: options.topic,
      group: options.group,
      fromBeginning: options.fromBeginning,
      sessionTimeoutMs: options.sessionTimeoutMs,
      requiredTopics: [options.lateTopic, options.deadLetterTopic],
      client: options.kafkaClient,
      ...(deps.logger ? { logger: deps.logger } : {}),
    });
  const store =
    deps.store ??
    new ElasticsearchStore({
      url: options.esUrl,
      index: options.index,
      rawIndex: options.rawIndex,
      requestTimeoutMs: STORE_DEFAULTS.requestTimeoutMs,
    });
  const consumer = new AggregationConsumer(options, {
    transport,
    store,
    clock,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.observer ? { observer: deps.observer } : {}),
  });
  let metrics: MetricsServer | undefined;
  let latest: ConsumeSnapshot | undefined;
  if (options.metricsPort !== undefined) {
    metrics = await startMetricsServer({ port: options.metricsPort, snapshot: () => latest, clock });
  }
  let ticker: NodeJS.Timeout | undefined;
  try {
    deps.reporter?.started(describeConsume(options, metrics?.url));
    const interrupted = new Promise<'interrupted'>((resolve) => {
      if (deps.signal?.aborted) resolve('interrupted');
      deps.signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
    });
    // Connecting can take a while when Kafka is down: a signal meanwhile ends it at once.
    const starting = consumer.start();
    starting.catch(() => {});
    if ((await Promise.race([starting, interrupted])) === 'interrupted') {
      await consumer.stop();
      return { ...consumer.snapshot(), stopReason: 'interrupted' };
    }
    const stopReason = await new Promise<ConsumeStopReason>((resolve, reject) => {
      let quietSince: number | undefined;
      void interrupted.then(resolve);
      consumer.done.catch(reject);
      ticker = setInterval(() => {
        latest = consumer.snapshot();
        deps.reporter?.update(latest);
        if (options.exitIdleMs === undefined) return;
        // While Kafka does not answer, "no new records" says nothing about the topic.
        const quiet =
          latest.partitions.length > 0 &&
          latest.partitions.every((p) => p.idle || p.lag === 0) &&
          latest.kafkaError === undefined;
        const recent = latest.consumedPerSec > 0;
        if (quiet && !recent) {
          quietSince ??= clock.now();
          if (clock.now() - quietSince >= options.exitIdleMs) resolve('idle');
        } else quietSince = undefined;
      }, 1000);
    });
    clearInterval(ticker);
    await consumer.stop();
    latest = consumer.snapshot();
    deps.reporter?.update(latest);
    return { ...latest, stopReason };
  } catch (error) {
    await consumer.stop().catch(() => {});
    throw error;
  } finally {
    clearInterval(ticker);
    deps.reporter?.done();
    await metrics?.close();
  }
}
