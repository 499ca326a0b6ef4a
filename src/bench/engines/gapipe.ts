/**
 * The gapipe engine: `gapipe consume` processes in one consumer group (the lab), or in-process
 * consumers on the memory broker (the embedded target). They report what they received and their read
 * positions, so the bench shows their consumption and lag as they tell it, and their inside latencies
 * (sink: flush acknowledged) as extra kinds.
 */
import type { MemoryStore } from '../../pipeline/store.js';
import type { ConsumeSnapshot } from '../../pipeline/types.js';
import {
  type ConsumerHandle,
  consumersReady,
  type DatedReading,
  embeddedConsumer,
  forkConsumer,
} from '../consumers.js';
import type { MemoryBroker } from '../embedded.js';
import type { Endpoints } from '../endpoints.js';
import type { InstrumentMeter } from '../instrument.js';
import type { Meter } from '../meter.js';
import type { BenchOptions } from '../run.js';
import type { LatencyTaps } from '../taps.js';
import { type BenchEngine, describeEngine, type EngineReading, type EngineRun } from './types.js';

export class GapipeEngine implements BenchEngine {
  readonly name = 'gapipe' as const;
  readonly description: string;
  readonly reportsProgress = true;
  private readonly consumers: ConsumerHandle[] = [];
  /** Each consumer's previous answer, for its rate. */
  private readonly previous = new Map<ConsumerHandle, DatedReading>();

  constructor(
    private readonly options: BenchOptions,
    private readonly run: EngineRun,
    private readonly on:
      | {
          target: 'lab';
          endpoints: Endpoints;
          meter: Meter;
          instrument: InstrumentMeter;
          /** The bench times delivery with its own tap: the consumers' inside delivery is left out. */
          tapTimesDelivery: boolean;
        }
      | {
          target: 'embedded';
          broker: MemoryBroker;
          store: MemoryStore;
          taps: LatencyTaps;
        },
  ) {
    this.description = describeEngine(options, on.target);
  }

  async start(): Promise<void> {
    const { options, run, on } = this;
    if (on.target === 'lab') {
      for (let i = 0; i < options.consumers; i++)
        this.consumers.push(
          forkConsumer(options, on.endpoints, run.topic, run.group, run.index, on.meter, on.instrument, {
            delivery: !on.tapTimesDelivery,
          }),
        );
    } else {
      on.broker.createTopic(run.topic, options.partitions);
      on.broker.createTopic(`${run.topic}-late`, 1);
      on.broker.createTopic(`${run.topic}-dlq`, 1);
      const committed = new Map<string, number>();
      for (let i = 0; i < options.consumers; i++)
        this.consumers.push(
          embeddedConsumer(options, on.broker, on.store, committed, run.topic, run.group, on.taps),
        );
    }
    await consumersReady(this.consumers, options);
  }

  loadStarting(loadStartMs: number, measureFromMs: number): void {
    for (const c of this.consumers) {
      c.measureFrom(measureFromMs);
      // Nothing was consumed before the load (the run's topic is new): each consumer's rate starts here.
      this.previous.set(c, { consumed: 0, snapshot: undefined, consumedSinceSnapshot: 0, atMs: loadStartMs });
    }
  }

  async read(): Promise<EngineReading> {
    const readings = await Promise.all(this.consumers.map((c) => c.read()));
    let perSecond = 0;
    this.consumers.forEach((c, i) => {
      const now = readings[i] as DatedReading;
      const before = this.previous.get(c);
      if (before && now.atMs > before.atMs)
        perSecond += ((now.consumed - before.consumed) * 1000) / (now.atMs - before.atMs);
      if (!before || now.atMs > before.atMs) this.previous.set(c, now);
    });
    return {
      consumed: readings.reduce((n, r) => n + r.consumed, 0),
      consumers: readings,
      consumedPerSecond: Math.max(0, Math.round(perSecond)),
      snapshots: readings.map((r) => r.snapshot).filter((s): s is ConsumeSnapshot => s !== undefined),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.stop().catch(() => {})));
  }

  /** The consumer processes (none in process: the embedded consumers are the bench's own process). */
  pids(): number[] {
    return this.consumers.map((c) => c.pid).filter((pid): pid is number => pid !== undefined);
  }

  snapshots(): ConsumeSnapshot[] {
    return this.consumers.map((c) => c.latest).filter((s): s is ConsumeSnapshot => s !== undefined);
  }

  failure(): string | undefined {
    return this.consumers.map((c) => c.exitReason()).find((r) => r !== undefined);
  }
}
