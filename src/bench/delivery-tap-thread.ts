/**
 * The bench's side of the delivery tap's thread (delivery-tap-worker.ts). The tap reads and times every
 * record of the run, about a microsecond of CPU each; in the bench's main thread that was taken from
 * the load generator, which runs there. In a thread of its own it costs the generator a message per
 * tick: the thread keeps its own latency taps and hands over each interval encoded, as the consumer
 * processes do, and the bench adds it to its meter at its tick.
 *
 * Delivery times are read in that thread with Date.now, the system clock the bench's intended send
 * times come from on the lab target.
 */
import type { Worker } from 'node:worker_threads';
import { GapipeError, toGapipeError } from '../errors.js';
import type { GroupConsumerTuning } from '../kafka/consumer.js';
import { type Logger, silentLogger } from '../log.js';
import { deserializeError } from '../simulators/worker-protocol.js';
import { startWorkerThread } from '../threads.js';
import { type DeliveryTapReading, tellError } from './delivery-tap.js';
import {
  combineIntervals,
  type EncodedIntervals,
  TAP_THREAD_KIND,
  type TapControlMessage,
  type TapTake,
  type TapThreadInit,
  type TapThreadMessage,
} from './delivery-tap-protocol.js';

/** The thread as this side uses it; a worker_threads Worker is the real one. */
export interface TapThreadHandle {
  postMessage(message: TapControlMessage): void;
  on(event: 'message', listener: (message: TapThreadMessage) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'exit', listener: (exitCode: number) => void): unknown;
  terminate(): Promise<unknown>;
}

export interface DeliveryTapThreadOptions {
  brokers: readonly string[];
  /** The run's topic: new, so the tap reads it from the beginning. */
  topic: string;
  /** The tap's own group (the bench passes `<run group>-tap`). */
  group: string;
  /** Told the tap's log lines, which its thread sends over. */
  logger?: Logger;
  /** How long `start` waits for the group to hand the tap every partition (the tap's default otherwise). */
  readyTimeoutMs?: number;
  /** Fetch and retry settings of the tap's consumer. */
  tuning?: Partial<GroupConsumerTuning>;
  /** Told of the error that ended the tap after `start` resolved. */
  onError?: (error: GapipeError) => void;
  /** Starts the thread: a worker thread by default (tests run the thread's code in theirs). */
  spawn?: (init: TapThreadInit) => TapThreadHandle;
}

/**
 * How long `take` waits for the thread's answer. The thread answers between two batches (a few ms);
 * an answer that comes later is not lost but handed over with the next take.
 */
const TAKE_BUDGET_MS = 1000;
/** How long `stop` waits for the tap to leave its group (it gives up itself after 2 s) before ending the thread. */
const STOP_BUDGET_MS = 3000;

export class DeliveryTapThread {
  private readonly log: Logger;
  private thread: TapThreadHandle | undefined;
  private ready: { resolve: () => void; reject: (error: GapipeError) => void } | undefined;
  private nextId = 0;
  /** Takes waiting for the thread's answer. */
  private readonly waiting = new Map<number, () => void>();
  /** Intervals the thread sent and no take has handed over yet. */
  private received: EncodedIntervals[] = [];
  private reading: DeliveryTapReading = { consumed: 0, untimed: 0, positions: new Map() };
  private measureFromMs: number | undefined;
  private failure: GapipeError | undefined;
  private exited = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private tapStopped: (() => void) | undefined;

  constructor(private readonly options: DeliveryTapThreadOptions) {
    this.log = options.logger ?? silentLogger;
  }

  /**
   * Starts the thread and its tap; resolves once the tap owns every partition of the topic, and rejects
   * with the tap's GapipeError (Kafka unreachable, no such topic, another member in the group) as it
   * gave it. Resolves early when `stop` is called meanwhile.
   */
  start(): Promise<void> {
    if (this.thread) throw new Error('the delivery tap was started already');
    const init: TapThreadInit = {
      kind: TAP_THREAD_KIND,
      brokers: [...this.options.brokers],
      topic: this.options.topic,
      group: this.options.group,
      readyTimeoutMs: this.options.readyTimeoutMs,
      tuning: this.options.tuning,
      measureFromMs: this.measureFromMs,
      log: this.options.logger !== undefined,
    };
    return new Promise<void>((resolve, reject) => {
      this.ready = { resolve, reject };
      let thread: TapThreadHandle;
      try {
        thread = (this.options.spawn ?? spawnTapThread)(init);
      } catch (error) {
        this.ready = undefined;
        this.stopping = true;
        reject(toGapipeError(error));
        return;
      }
      this.thread = thread;
      thread.on('message', (message) => this.onMessage(message));
      thread.on('error', (error) =>
        this.fail(
          new GapipeError('INTERNAL', `The delivery tap's thread failed: ${error.message}`, {
            cause: error,
            nextSteps: 'This is a bug in gapipe. Re-run with GAPIPE_DEBUG=1 and report the output.',
          }),
        ),
      );
      thread.on('exit', (exitCode) => this.onExit(exitCode));
    });
  }

  /** Records intended before `atMs` (epoch ms) are warm-up: the tap does not time them. */
  setMeasureFrom(atMs: number): void {
    this.measureFromMs = atMs;
    this.post({ type: 'measure-from', atMs });
  }

  /**
   * The delivery intervals recorded since the last take (encoded, for Meter.add), and what the tap has
   * read so far. Once the thread is gone, whatever it sent last and was not handed over yet.
   */
  take(): Promise<TapTake> {
    const thread = this.thread;
    if (!thread || this.exited || this.stopping) return Promise.resolve(this.handOver());
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(this.handOver());
      }, TAKE_BUDGET_MS);
      this.waiting.set(id, () => {
        clearTimeout(timer);
        resolve(this.handOver());
      });
      thread.postMessage({ type: 'take', id });
    });
  }

  /** Leaves the group, closes the connections and ends the thread; bounded in time. */
  stop(): Promise<void> {
    this.stopping = true;
    const ready = this.ready;
    this.ready = undefined;
    ready?.resolve();
    this.stopped ??= this.endThread();
    return this.stopped;
  }

  private async endThread(): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    if (!this.exited) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_BUDGET_MS);
        this.tapStopped = () => {
          clearTimeout(timer);
          resolve();
        };
        thread.postMessage({ type: 'stop' });
      });
    }
    await thread.terminate();
  }

  private onMessage(message: TapThreadMessage): void {
    switch (message.type) {
      case 'ready': {
        const ready = this.ready;
        this.ready = undefined;
        ready?.resolve();
        break;
      }
      case 'start-failed':
      case 'failed':
        this.fail(toGapipeError(deserializeError(message.error)));
        break;
      case 'log':
        this.log[message.level](message.message);
        break;
      case 'taken':
        this.reading = message.reading;
        this.received.push(message.intervals);
        this.waiting.get(message.id)?.();
        this.waiting.delete(message.id);
        break;
      case 'stopped':
        this.tapStopped?.();
        break;
    }
  }

  private onExit(exitCode: number): void {
    this.exited = true;
    this.tapStopped?.();
    for (const answer of this.waiting.values()) answer();
    this.waiting.clear();
    if (!this.stopping)
      this.fail(new GapipeError('INTERNAL', `The delivery tap's thread ended (exit code ${exitCode})`));
  }

  /** Ends the tap: `start` rejects with the error, or, once started, `onError` is told. */
  private fail(error: GapipeError): void {
    if (this.failure || this.stopping) return;
    this.failure = error;
    const ready = this.ready;
    this.ready = undefined;
    if (ready) ready.reject(error);
    else tellError(this.options.onError, error, this.log);
    // The tap has ended in its thread; the thread goes too.
    void this.stop();
  }

  private handOver(): TapTake {
    const intervals = combineIntervals(this.received);
    this.received = [];
    return { intervals, reading: this.reading };
  }

  private post(message: TapControlMessage): void {
    if (this.thread && !this.exited) this.thread.postMessage(message);
  }
}

/** The tap's thread: a worker thread on delivery-tap-worker (`spawn`'s default). */
export function spawnTapThread(init: TapThreadInit): Worker {
  return startWorkerThread(import.meta.url, './delivery-tap-worker', { workerData: init });
}
