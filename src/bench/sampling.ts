/**
 * How the bench reads its per-second figures: by the clock, not by batch. At each one-second tick it
 * reads running counters — records handed to the producer, acknowledged, received by the consumers,
 * documents written — and the consumer lag (the topic's end offsets minus the consumers' read
 * positions), all at that moment. A second's figure is the change between two ticks divided by the
 * time between them, so it neither depends on when the generator sent its batches nor on when a
 * consumer last reported.
 */
import type { ConsumeSnapshot } from '../pipeline/types.js';
import type { Sink, SinkRecord, SinkStats } from '../simulators/sinks/types.js';

/** Running totals read at one moment. */
export interface Counters {
  produced: number;
  acknowledged: number;
  consumed: number;
  written: number;
}

/** A consumer's figures at one moment (see worker.ts for how a consumer process gives them). */
export interface ConsumerReading {
  /** Records received since it started, as of the reading. */
  consumed: number;
  /** Its latest snapshot: read positions per partition, documents written, watermark. */
  snapshot: ConsumeSnapshot | undefined;
  /** Records received after that snapshot was taken (its read positions have moved on by this many). */
  consumedSinceSnapshot: number;
}

/**
 * A sink that counts the records handed to it, so the bench can read "produced" whenever it likes
 * (the simulator's own progress reports come at its own pace). Everything else is the wrapped sink's.
 */
export class CountingSink implements Sink {
  /** Records handed over so far. */
  sent = 0;

  /** `observe` sees every record handed over (the visibility tracker learns each cell's ranks). */
  constructor(
    private readonly inner: Sink,
    private readonly observe?: (records: readonly SinkRecord[]) => void,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  send(records: readonly SinkRecord[]): void {
    this.observe?.(records);
    this.inner.send(records);
    this.sent += records.length;
  }

  inFlight(): number {
    return this.inner.inFlight();
  }

  stats(): SinkStats {
    return this.inner.stats();
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  fatalError(): Error | undefined {
    return this.inner.fatalError();
  }

  closedByReader(): boolean {
    return this.inner.closedByReader?.() ?? false;
  }
}

/**
 * Consumer lag in records: for each partition of the topic, its end offset minus the furthest read
 * position any consumer reported for it (0 when none has read it yet: the run's topic is new), less
 * what the consumers received after their snapshots. Never negative.
 */
export function consumerLag(endOffsets: ReadonlyMap<number, number>, readings: ConsumerReading[]): number {
  const positions = new Map<number, number>();
  let sinceSnapshots = 0;
  for (const reading of readings) {
    sinceSnapshots += reading.consumedSinceSnapshot;
    for (const p of reading.snapshot?.partitions ?? [])
      positions.set(p.partition, Math.max(positions.get(p.partition) ?? 0, p.position));
  }
  let lag = 0;
  for (const [partition, end] of endOffsets) lag += Math.max(0, end - (positions.get(partition) ?? 0));
  return Math.max(0, lag - sinceSnapshots);
}

/** Per-second rates between two readings of the counters, whole records per second. */
export function ratesBetween(
  from: { atMs: number; counters: Counters },
  to: { atMs: number; counters: Counters },
): Counters {
  const seconds = Math.max(1e-3, (to.atMs - from.atMs) / 1000);
  const rate = (field: keyof Counters) =>
    Math.max(0, Math.round((to.counters[field] - from.counters[field]) / seconds));
  return {
    produced: rate('produced'),
    acknowledged: rate('acknowledged'),
    consumed: rate('consumed'),
    written: rate('written'),
  };
}

/** What schedules the ticks; the system's by default, a fake one in tests. */
export interface TickTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const SYSTEM_TIMERS: TickTimers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Calls `onTick(t)` at `startMs + t × 1000` for t = 1, 2, 3, … Each tick is scheduled from the start,
 * not from the previous tick, so the ticks do not drift. A tick that comes late (the thread was busy)
 * is still one call; a tick whose time passed while the previous call was still running is folded into
 * the next due one, so calls never overlap and `t` is the latest second boundary passed.
 */
export class SecondTicker {
  private timer: unknown;
  private last = 0;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly waiters: Array<() => void> = [];
  /** The first error a tick threw (later ticks still run). */
  error: unknown;

  constructor(
    private readonly startMs: number,
    private readonly onTick: (t: number) => Promise<void> | void,
    private readonly timers: TickTimers = SYSTEM_TIMERS,
  ) {}

  start(): void {
    this.schedule();
  }

  /** Resolves after the next tick has been handled. */
  nextTick(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** No more ticks; waits for one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.last + 1;
    const delay = Math.max(0, this.startMs + next * 1000 - this.timers.now());
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.running = this.fire().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, delay);
  }

  private async fire(): Promise<void> {
    if (this.stopped) return;
    const elapsed = this.timers.now() - this.startMs;
    this.last = Math.max(this.last + 1, Math.floor(elapsed / 1000 + 0.001));
    try {
      await this.onTick(this.last);
    } catch (error) {
      this.error ??= error;
    } finally {
      for (const resolve of this.waiters.splice(0)) resolve();
    }
  }
}
