/**
 * The "delivery" latency, measured from outside the engine: a consumer of its own group reads the
 * run's topic from the start and times each record from its intended send time (the
 * `gapipe-intended-ts` header) to the moment the record could be read. Any consumer — the engine's
 * included — could have read it then; the engine's own group is never touched.
 *
 * The bench runs it in a thread of its own (delivery-tap-thread.ts), beside the load generator's, and
 * it is kept cheap: it is gapipe's group consumer (records stay bytes in the fetch response), the
 * header's digits are read straight from those bytes, values are never decoded, and the intended times
 * of a batch go to the callback in one reused Float64Array. It never commits offsets: it is a measurement, not a pipeline. Its place in each
 * partition is kept in memory instead, so that a rebalance (the group dropped it during a Kafka
 * outage) does not read and time the topic a second time from the start.
 */
import { GapipeError, toGapipeError } from '../errors.js';
import { KafkaConnectionError } from '../kafka/connection.js';
import {
  type FetchedBatch,
  type FetchedRecord,
  type GroupConsumerHandlers,
  type GroupConsumerOptions,
  type GroupConsumerTuning,
  KafkaGroupConsumer,
} from '../kafka/consumer.js';
import { KafkaBrokerError } from '../kafka/protocol.js';
import { UnsupportedBatchError } from '../kafka/record-batch-reader.js';
import { KafkaTransportError } from '../kafka/transport.js';
import { type Logger, silentLogger } from '../log.js';

/** The header the producer writes: the record's intended send time, epoch ms as decimal digits. */
export const INTENDED_TS_HEADER = 'gapipe-intended-ts';

/**
 * Told the intended send times (epoch ms) of the timed records of one batch, read at `nowMs`: the first
 * `count` entries of `intendedMs`, a buffer the tap reuses, so valid only during the call.
 */
export type DeliveredCallback = (intendedMs: ArrayLike<number>, count: number, nowMs: number) => void;

/** The group consumer as the tap uses it; KafkaGroupConsumer is the real one. */
export interface TapConsumer {
  start(handlers: GroupConsumerHandlers): Promise<void>;
  partitionCount(): Promise<number>;
  stop(leaveTimeoutMs?: number): Promise<void>;
}

export interface DeliveryTapOptions {
  brokers: readonly string[];
  /** The run's topic: new, so the tap reads it from the beginning. */
  topic: string;
  /** The tap's own group (the bench passes `<run group>-tap`). */
  group: string;
  logger?: Logger;
  /** The clock the delivery times are read from; Date.now by default. */
  now?: () => number;
  /** How long `start` waits for the group to hand the tap every partition. */
  readyTimeoutMs?: number;
  /** Told of the error that ended the tap after `start` resolved (also kept in `error`). */
  onError?: (error: GapipeError) => void;
  /**
   * Fetch and retry settings of the consumer underneath; its own defaults otherwise (1 MiB per partition
   * fetch measured as cheap per record as 256 KiB and 4 MiB: bench/delivery-tap.ts --partition-kib).
   */
  tuning?: Partial<GroupConsumerTuning>;
  /** The consumer underneath (tests pass a fake); gapipe's group consumer by default. */
  createConsumer?: (options: GroupConsumerOptions, tuning: Partial<GroupConsumerTuning>) => TapConsumer;
}

/** What the tap has read so far. */
export interface DeliveryTapReading {
  /** Records read, timed or not. */
  consumed: number;
  /** Records read without a usable `gapipe-intended-ts` header. */
  untimed: number;
  /** Per partition, the offset after the last record read (partitions not read from yet are absent). */
  positions: ReadonlyMap<number, number>;
}

export const DELIVERY_TAP_DEFAULTS = {
  readyTimeoutMs: 30_000,
  // A member of a group no one else joins: a short session lets Kafka forget it soon after a crash.
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1000,
  rebalanceTimeoutMs: 10_000,
};

/** How long `stop` waits for Kafka to take the tap out of its group before closing anyway. */
const LEAVE_TIMEOUT_MS = 500;
/** The most `stop` takes, even while Kafka does not answer. */
const STOP_TIMEOUT_MS = 2000;
const INITIAL_CAPACITY = 4096;

type BatchResult = { seekTo?: number };
/** One settled answer for every batch read in order: no object or promise per batch. */
const MOVE_ON: Promise<BatchResult> = Promise.resolve(Object.freeze({}));

export class DeliveryTap {
  private readonly consumer: TapConsumer;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly readyTimeoutMs: number;
  private intended = new Float64Array(INITIAL_CAPACITY);
  private consumed = 0;
  private untimed = 0;
  /** Next offset per partition: kept here, never committed. */
  private readonly positions = new Map<number, number>();
  private owned: readonly number[] = [];
  private partitionTotal: number | undefined;
  private ready: { resolve: () => void; reject: (error: GapipeError) => void } | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private failure: GapipeError | undefined;

  constructor(
    private readonly options: DeliveryTapOptions,
    private readonly onDelivered: DeliveredCallback,
  ) {
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.readyTimeoutMs = options.readyTimeoutMs ?? DELIVERY_TAP_DEFAULTS.readyTimeoutMs;
    const consumerOptions: GroupConsumerOptions = {
      brokers: options.brokers,
      topic: options.topic,
      group: options.group,
      clientId: 'gapipe-bench-tap',
      fromBeginning: true,
      sessionTimeoutMs: DELIVERY_TAP_DEFAULTS.sessionTimeoutMs,
      heartbeatIntervalMs: DELIVERY_TAP_DEFAULTS.heartbeatIntervalMs,
      rebalanceTimeoutMs: DELIVERY_TAP_DEFAULTS.rebalanceTimeoutMs,
      logger: this.log,
    };
    const tuning = options.tuning ?? {};
    this.consumer = (options.createConsumer ?? ((o, t) => new KafkaGroupConsumer(o, t)))(
      consumerOptions,
      tuning,
    );
  }

  /** The error that ended the tap, if one did. */
  get error(): GapipeError | undefined {
    return this.failure;
  }

  /**
   * Joins the tap's group and resolves once it owns every partition of the topic; rejects with a
   * GapipeError naming the problem (Kafka unreachable, no such topic, another member in the group).
   * Resolves early when `stop` is called meanwhile.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('the delivery tap was started already');
    this.started = true;
    const ready = new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject };
    });
    // Rejections are taken by the await below, or dropped when start failed before it.
    ready.catch(() => {});
    this.readyTimer = setTimeout(() => this.notReady(), this.readyTimeoutMs);
    try {
      await this.consumer.start({
        onAssignment: (partitions) => this.assigned(partitions),
        onRebalancing: () => this.log.debug(`delivery tap: group ${this.options.group} is rebalancing`),
        onBatch: (batch) => this.onBatch(batch),
        onFatal: (error) => this.fail(this.explainFatal(error)),
        onConnectionError: (error) => this.log.debug(`delivery tap: ${error.message}; retrying`),
      });
      if (this.stopping) return;
      this.partitionTotal = await this.consumer.partitionCount();
      this.checkReady();
    } catch (error) {
      this.fail(this.explainStart(error));
    }
    await ready;
  }

  /** Records read so far, and the next offset per partition (a copy). */
  read(): DeliveryTapReading {
    return { consumed: this.consumed, untimed: this.untimed, positions: new Map(this.positions) };
  }

  /** Leaves the group and closes the connections; bounded in time even while Kafka does not answer. */
  stop(): Promise<void> {
    this.stopping = true;
    this.settleReady();
    this.stopped ??= within(this.consumer.stop(LEAVE_TIMEOUT_MS), STOP_TIMEOUT_MS);
    return this.stopped;
  }

  private onBatch(batch: FetchedBatch): Promise<BatchResult> {
    const records = batch.records;
    const length = records.length;
    if (this.stopping || length === 0) return MOVE_ON;
    const partition = batch.partition;
    // Records before the tap's place are a second reading (the partition came back after a
    // rebalance, and nothing was committed): skip them, and have the consumer jump past them.
    let first = 0;
    const position = this.positions.get(partition);
    if (position !== undefined) {
      while (first < length && (records[first] as FetchedRecord).offset < position) first++;
      if (first === length) return Promise.resolve({ seekTo: position });
    }
    if (this.intended.length < length - first) {
      let capacity = this.intended.length;
      while (capacity < length - first) capacity *= 2;
      this.intended = new Float64Array(capacity);
    }
    const intended = this.intended;
    const nowMs = this.now();
    let timed = 0;
    for (let i = first; i < length; i++) {
      const value = (records[i] as FetchedRecord).headerNumber(INTENDED_TS_HEADER);
      // Missing, empty, negative or not a number: the record cannot be timed.
      if (value !== undefined && value > 0 && value < Number.POSITIVE_INFINITY) intended[timed++] = value;
    }
    const read = length - first;
    this.consumed += read;
    this.untimed += read - timed;
    this.positions.set(partition, (records[length - 1] as FetchedRecord).offset + 1);
    if (timed > 0) this.onDelivered(intended, timed, nowMs);
    return MOVE_ON;
  }

  private assigned(partitions: number[]): void {
    this.owned = partitions;
    this.log.debug(
      `delivery tap: group ${this.options.group} gave it partitions [${partitions.join(',')}] of ${this.options.topic}`,
    );
    this.checkReady();
  }

  private checkReady(): void {
    if (this.partitionTotal !== undefined && this.owned.length >= this.partitionTotal) this.settleReady();
  }

  private notReady(): void {
    const total = this.partitionTotal === undefined ? 'the' : `all ${this.partitionTotal}`;
    this.fail(
      new GapipeError(
        'KAFKA_UNREACHABLE',
        `The delivery tap did not get ${total} partitions of ${this.options.topic} from its group ${this.options.group} within ${this.readyTimeoutMs / 1000}s (it has [${this.owned.join(',')}])`,
        {
          nextSteps: `Check that Kafka at ${this.options.brokers.join(',')} answers, and that nothing else consumes in group ${this.options.group}`,
        },
      ),
    );
  }

  private settleReady(error?: GapipeError): void {
    clearTimeout(this.readyTimer);
    const ready = this.ready;
    this.ready = undefined;
    if (!ready) return;
    if (error) ready.reject(error);
    else ready.resolve();
  }

  /** Ends the tap: `start` rejects with the error, or, once started, `error` and `onError` tell it. */
  private fail(error: GapipeError): void {
    if (this.failure || this.stopping) return;
    this.failure = error;
    const starting = this.ready !== undefined;
    this.settleReady(error);
    if (!starting) {
      this.log.warn(`delivery tap stopped: ${error.message}`);
      tellError(this.options.onError, error, this.log);
    }
    // The consumer's loops have ended; its connections are closed here.
    void this.stop();
  }

  private explainStart(error: unknown): GapipeError {
    const brokers = this.options.brokers.join(',');
    if (error instanceof KafkaTransportError && error.reason === 'unknown-topic') {
      return new GapipeError(
        'INVALID_ARGUMENT',
        `The delivery tap cannot read topic ${this.options.topic}: it does not exist on ${brokers}`,
        { cause: error, nextSteps: `Create ${this.options.topic} before starting the tap` },
      );
    }
    // Unreachable, too old, or lost right after answering.
    if (error instanceof KafkaTransportError || error instanceof KafkaConnectionError) {
      return new GapipeError('KAFKA_UNREACHABLE', `The delivery tap could not use Kafka at ${brokers}`, {
        cause: error,
        nextSteps: 'Start the lab with `gapipe lab up`, or point --brokers (GAPIPE_BROKERS) at your cluster',
      });
    }
    return this.explainFatal(error);
  }

  private explainFatal(error: unknown): GapipeError {
    if (error instanceof UnsupportedBatchError) {
      return new GapipeError(
        'INVALID_FLAG',
        `The delivery tap cannot read ${this.options.topic}: ${error.message}`,
        {
          cause: error,
          nextSteps: 'Produce uncompressed or gzip batches (--compression none or gzip)',
        },
      );
    }
    if (error instanceof KafkaBrokerError) {
      return new GapipeError(
        'KAFKA_UNREACHABLE',
        `Kafka refused the delivery tap (group ${this.options.group}, topic ${this.options.topic}): ${error.message}`,
        {
          cause: error,
          nextSteps: `Check that Kafka at ${this.options.brokers.join(',')} lets gapipe consume`,
        },
      );
    }
    // Anything else (the callback threw) is a bug.
    return toGapipeError(error);
  }
}

/**
 * Tells `onError` of the error that ended a tap. It is called from the consumer's loops or a thread's
 * events, which must not end on someone else's exception: one it throws is logged instead.
 */
export function tellError(
  onError: ((error: GapipeError) => void) | undefined,
  error: GapipeError,
  log: Logger,
): void {
  try {
    onError?.(error);
  } catch (thrown) {
    log.warn(`delivery tap: onError threw: ${thrown instanceof Error ? thrown.message : String(thrown)}`);
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}
