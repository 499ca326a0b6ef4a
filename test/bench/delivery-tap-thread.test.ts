import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  combineIntervals,
  type TapThreadInit,
  type TapThreadMessage,
} from '../../src/bench/delivery-tap-protocol.js';
import {
  DeliveryTapThread,
  type DeliveryTapThreadOptions,
  spawnTapThread,
  type TapThreadHandle,
} from '../../src/bench/delivery-tap-thread.js';
import { runTapThread } from '../../src/bench/delivery-tap-worker.js';
import { createLatencyHistogram, decodeHistogram, encodeHistogram } from '../../src/bench/histograms.js';
import { GapipeError } from '../../src/errors.js';
import { KafkaBrokerError } from '../../src/kafka/protocol.js';
import { KafkaTransportError } from '../../src/kafka/transport.js';
import { createRecordingLogger } from '../../src/log.js';
import { FakeConsumer, fetched, timedSpecs } from './helpers/tap-consumer.js';

/**
 * The tap's thread code run in this thread over a MessageChannel, with a fake consumer underneath:
 * every message still crosses by structured clone, as between threads.
 */
class InThisThread implements TapThreadHandle {
  consumer: FakeConsumer | undefined;
  terminated = false;
  /** Holds the thread's answers to `take` until `release` (an answer that comes late). */
  holdTakes = false;
  private held: TapThreadMessage[] = [];
  private readonly events = new EventEmitter();
  private readonly port;

  constructor(
    readonly init: TapThreadInit,
    prepare: (consumer: FakeConsumer) => void,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    runTapThread(port2, init, {
      createConsumer: (options) => {
        this.consumer = new FakeConsumer(options);
        prepare(this.consumer);
        return this.consumer;
      },
    });
    port1.on('message', (message: TapThreadMessage) => {
      if (this.holdTakes && message.type === 'taken') this.held.push(message);
      else this.events.emit('message', message);
    });
  }

  postMessage(message: unknown): void {
    this.port.postMessage(message);
  }

  on(event: string, listener: (value: never) => void): this {
    this.events.on(event, listener as (value: unknown) => void);
    return this;
  }

  async terminate(): Promise<number> {
    if (!this.terminated) {
      this.terminated = true;
      this.port.close();
      this.events.emit('exit', 1);
    }
    return 1;
  }

  release(): void {
    this.holdTakes = false;
    for (const message of this.held.splice(0)) this.events.emit('message', message);
  }

  /** The thread threw and ended, as a worker does on an uncaught exception. */
  crash(error: Error): void {
    this.events.emit('error', error);
    this.terminated = true;
    this.port.close();
    this.events.emit('exit', 1);
  }
}

const taps: DeliveryTapThread[] = [];

/** A tap on a thread in this one; `prepare` sets up the fake consumer before the tap starts it. */
function setup(
  options: Partial<DeliveryTapThreadOptions> = {},
  prepare: (consumer: FakeConsumer) => void = () => {},
) {
  let thread: InThisThread | undefined;
  const tap = new DeliveryTapThread({
    brokers: ['127.0.0.1:9092'],
    topic: 'gapipe-bench-1234',
    group: 'gapipe-bench-1234-tap',
    spawn: (init) => {
      thread = new InThisThread(init, prepare);
      return thread;
    },
    ...options,
  });
  taps.push(tap);
  return { tap, thread: () => thread as InThisThread };
}

async function consumerOf(thread: () => InThisThread): Promise<FakeConsumer> {
  await vi.waitFor(() => expect(thread()?.consumer?.handlers).toBeDefined());
  return thread().consumer as FakeConsumer;
}

/** A tap whose thread owns its three partitions. */
async function startedTap(options: Partial<DeliveryTapThreadOptions> = {}) {
  const t = setup(options);
  const started = t.tap.start();
  const consumer = await consumerOf(t.thread);
  consumer.assign([0, 1, 2]);
  await started;
  return { ...t, consumer };
}

afterEach(async () => {
  await Promise.all(taps.splice(0).map((tap) => tap.stop()));
});

const MEASURE_FROM = 1_700_000_000_000;

/** Messages to the thread arrive in order: once a take is answered, the thread has what came before. */
async function measureFrom(tap: DeliveryTapThread, atMs: number): Promise<void> {
  tap.setMeasureFrom(atMs);
  await tap.take();
}

/** The delivery interval a take handed over, decoded. */
function delivery(intervals: Partial<Record<string, string>>) {
  const text = intervals.delivery;
  return text === undefined ? undefined : decodeHistogram(text);
}

describe('DeliveryTapThread: starting', () => {
  it('starts the tap in its thread on the run’s topic and group; start resolves once it owns every partition', async () => {
    const { tap, thread } = setup();
    let resolved = false;
    const started = tap.start().then(() => {
      resolved = true;
    });
    const consumer = await consumerOf(thread);
    expect(consumer.options).toMatchObject({
      brokers: ['127.0.0.1:9092'],
      topic: 'gapipe-bench-1234',
      group: 'gapipe-bench-1234-tap',
      fromBeginning: true,
    });
    consumer.assign([0, 1]);
    await new Promise((r) => setTimeout(r, 30));
    expect(resolved).toBe(false);
    consumer.assign([0, 1, 2]);
    await started;
    expect(resolved).toBe(true);
  });

  it('start rejects with the tap’s GapipeError, its code, message and next steps intact, and ends the thread', async () => {
    const { tap, thread } = setup({}, (consumer) => {
      consumer.startError = new KafkaTransportError('unknown-topic', 'gapipe-bench-1234');
    });
    const error = (await tap.start().catch((e: unknown) => e)) as GapipeError;
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(
      'The delivery tap cannot read topic gapipe-bench-1234: it does not exist on 127.0.0.1:9092',
    );
    expect(error.nextSteps).toBe('Create gapipe-bench-1234 before starting the tap');
    await vi.waitFor(() => expect(thread().terminated).toBe(true));
  });

  it('a group that never hands over every partition rejects start as the tap says it', async () => {
    const { tap, thread } = setup({ readyTimeoutMs: 50 });
    const started = tap.start();
    (await consumerOf(thread)).assign([1]);
    const error = (await started.catch((e: unknown) => e)) as GapipeError;
    expect(thread().init.readyTimeoutMs).toBe(50);
    expect(error.code).toBe('KAFKA_UNREACHABLE');
    expect(error.message).toContain('all 3 partitions of gapipe-bench-1234');
    expect(error.nextSteps).toContain('nothing else consumes in group gapipe-bench-1234-tap');
  });

  it('a thread that fails while starting rejects start as a bug', async () => {
    const { tap, thread } = setup();
    const started = tap.start();
    await consumerOf(thread);
    thread().crash(new Error('out of memory'));
    const error = (await started.catch((e: unknown) => e)) as GapipeError;
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain('out of memory');
  });

  it('stop during start ends start without an error, and ends the thread', async () => {
    const { tap, thread } = setup();
    const started = tap.start();
    const consumer = await consumerOf(thread);
    await tap.stop();
    await expect(started).resolves.toBeUndefined();
    expect(consumer.stops).toBe(1);
    expect(thread().terminated).toBe(true);
  });

  it('sends the tap’s log lines to the logger', async () => {
    const logger = createRecordingLogger();
    await startedTap({ logger });
    await vi.waitFor(() =>
      expect(logger.lines).toContain(
        'debug delivery tap: group gapipe-bench-1234-tap gave it partitions [0,1,2] of gapipe-bench-1234',
      ),
    );
  });
});

describe('DeliveryTapThread: taking intervals', () => {
  it('hands over, per take, the delivery interval recorded since the last one and what the tap read', async () => {
    const { tap, consumer } = await startedTap();
    await measureFrom(tap, MEASURE_FROM);
    const now = Date.now();
    // Intended 200 ms and 100 ms ago: the thread reads the delivery time with Date.now.
    await consumer.deliver(0, fetched(timedSpecs(0, 3, now - 200)));
    await consumer.deliver(2, fetched([...timedSpecs(0, 2, now - 100), { offset: 2 }]));
    const first = await tap.take();
    const histogram = delivery(first.intervals);
    expect(histogram?.totalCount).toBe(5);
    expect(histogram?.minNonZeroValue).toBeGreaterThanOrEqual(98_000);
    expect(histogram?.maxValue).toBeLessThan(60_000_000);
    expect(first.reading).toEqual({
      consumed: 6,
      untimed: 1,
      positions: new Map([
        [0, 3],
        [2, 3],
      ]),
    });
    // Nothing new: no interval, the same reading.
    const second = await tap.take();
    expect(second.intervals).toEqual({});
    expect(second.reading.consumed).toBe(6);
    await consumer.deliver(1, fetched(timedSpecs(0, 4, now)));
    expect(delivery((await tap.take()).intervals)?.totalCount).toBe(4);
  });

  it('does not time the warm-up: nothing before setMeasureFrom, nothing intended before its time', async () => {
    const { tap, consumer } = await startedTap();
    const now = Date.now();
    await consumer.deliver(0, fetched(timedSpecs(0, 5, now - 10)));
    expect((await tap.take()).intervals).toEqual({});
    await measureFrom(tap, now);
    // Three intended before the end of the warm-up, two after.
    await consumer.deliver(1, fetched(timedSpecs(0, 5, now - 3)));
    const take = await tap.take();
    expect(delivery(take.intervals)?.totalCount).toBe(2);
    expect(take.reading.consumed).toBe(10);
  });

  it('a measure-from given before start reaches the thread with its start', async () => {
    const { tap, thread } = setup();
    tap.setMeasureFrom(MEASURE_FROM);
    const started = tap.start();
    const consumer = await consumerOf(thread);
    consumer.assign([0, 1, 2]);
    await started;
    expect(thread().init.measureFromMs).toBe(MEASURE_FROM);
    await consumer.deliver(0, fetched(timedSpecs(0, 2, MEASURE_FROM - 2)));
    await consumer.deliver(0, fetched(timedSpecs(2, 3, MEASURE_FROM)));
    expect(delivery((await tap.take()).intervals)?.totalCount).toBe(3);
  });

  it('an answer that comes after its take gave up is handed over with the next take, not lost', async () => {
    const { tap, consumer, thread } = await startedTap();
    await measureFrom(tap, MEASURE_FROM);
    const now = Date.now();
    await consumer.deliver(0, fetched(timedSpecs(0, 3, now)));
    thread().holdTakes = true;
    // The thread does not answer within the budget: the take gives what it has (nothing yet).
    expect((await tap.take()).intervals).toEqual({});
    await consumer.deliver(1, fetched(timedSpecs(0, 4, now)));
    thread().release();
    const next = await tap.take();
    expect(delivery(next.intervals)?.totalCount).toBe(7);
    expect(next.reading.consumed).toBe(7);
  });
});

describe('DeliveryTapThread: failures and stopping', () => {
  it('a failure after start reaches onError with the tap’s code, message and next steps, and ends the thread', async () => {
    const errors: GapipeError[] = [];
    const { consumer, thread } = await startedTap({ onError: (e) => errors.push(e) });
    consumer.handlers?.onFatal(new KafkaBrokerError(30) /* GROUP_AUTHORIZATION_FAILED */);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    const error = errors[0] as GapipeError;
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('KAFKA_UNREACHABLE');
    expect(error.message).toContain('Kafka refused the delivery tap (group gapipe-bench-1234-tap');
    expect(error.nextSteps).toBe('Check that Kafka at 127.0.0.1:9092 lets gapipe consume');
    await vi.waitFor(() => expect(thread().terminated).toBe(true));
  });

  it('a thread that ends on its own after start is told to onError as a bug', async () => {
    const errors: GapipeError[] = [];
    const { tap, thread } = await startedTap({ onError: (e) => errors.push(e) });
    thread().crash(new Error('worker died'));
    expect(errors.map((e) => e.code)).toEqual(['INTERNAL']);
    expect(errors[0]?.message).toContain('worker died');
    // Takes after it answer at once, with nothing.
    expect((await tap.take()).intervals).toEqual({});
  });

  it('stop leaves the group and ends the thread; bounded even when Kafka does not answer', async () => {
    const { tap, consumer, thread } = await startedTap();
    consumer.stopHangs = true;
    const startedAt = Date.now();
    await tap.stop();
    // The tap gives up on leaving its group after 2 s; the thread is ended then.
    expect(Date.now() - startedAt).toBeLessThan(3500);
    expect(consumer.stops).toBe(1);
    expect(thread().terminated).toBe(true);
    await tap.stop();
    expect(consumer.stops).toBe(1);
  });
});

describe('combineIntervals', () => {
  const encoded = (...latenciesUs: number[]) => {
    const histogram = createLatencyHistogram();
    for (const us of latenciesUs) histogram.recordValue(us);
    return encodeHistogram(histogram);
  };

  it('passes a single take’s intervals through as they are, and nothing as nothing', () => {
    const one = { delivery: encoded(1000, 2000) };
    expect(combineIntervals([one])).toBe(one);
    expect(combineIntervals([])).toEqual({});
  });

  it('merges several takes’ histograms per kind', () => {
    const combined = combineIntervals([
      { delivery: encoded(1000) },
      {},
      { delivery: encoded(2000, 3000), sink: encoded(5000) },
    ]);
    expect(decodeHistogram(combined.delivery as string).totalCount).toBe(3);
    expect(decodeHistogram(combined.delivery as string).maxValue).toBeGreaterThanOrEqual(2999);
    expect(decodeHistogram(combined.sink as string).totalCount).toBe(1);
  });
});

describe('DeliveryTapThread in a worker thread', () => {
  /** A port on this machine that nothing listens on. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  /** A tap in a real worker thread, against a port nothing listens on; `exited` settles when the thread ends. */
  async function tapWithoutKafka(openTimeoutMs: number) {
    const port = await closedPort();
    let exited: Promise<unknown> | undefined;
    const tap = new DeliveryTapThread({
      brokers: [`127.0.0.1:${port}`],
      topic: 'gapipe-bench-1234',
      group: 'gapipe-bench-1234-tap',
      tuning: { openTimeoutMs, connectTimeoutMs: 200, retryBackoffMs: 50 },
      spawn: (init) => {
        const worker = spawnTapThread(init);
        exited = new Promise((resolve) => worker.on('exit', resolve));
        return worker;
      },
    });
    taps.push(tap);
    const threadEnded = () => {
      if (!exited) throw new Error('no thread was started');
      return exited;
    };
    return { tap, port, exited: threadEnded };
  }

  it('start rejects with the tap’s GapipeError across the thread boundary when Kafka is not there, and the thread ends', async () => {
    const { tap, port, exited } = await tapWithoutKafka(300);
    const error = (await tap.start().catch((e: unknown) => e)) as GapipeError;
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('KAFKA_UNREACHABLE');
    expect(error.message).toBe(`The delivery tap could not use Kafka at 127.0.0.1:${port}`);
    expect(error.nextSteps).toBe(
      'Start the lab with `gapipe lab up`, or point --brokers (GAPIPE_BROKERS) at your cluster',
    );
    await exited();
  });

  it('answers takes while it starts, and stop ends start and the thread', async () => {
    const { tap, exited } = await tapWithoutKafka(60_000);
    const started = tap.start();
    tap.setMeasureFrom(MEASURE_FROM);
    expect(await tap.take()).toEqual({
      intervals: {},
      reading: { consumed: 0, untimed: 0, positions: new Map() },
    });
    await tap.stop();
    await expect(started).resolves.toBeUndefined();
    await exited();
  });
});
