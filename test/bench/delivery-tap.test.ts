import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeliveryTap, type DeliveryTapOptions } from '../../src/bench/delivery-tap.js';
import { GapipeError } from '../../src/errors.js';
import { KafkaConnectionError } from '../../src/kafka/connection.js';
import { KafkaBrokerError } from '../../src/kafka/protocol.js';
import {
  FetchedRecord as FetchedRecordClass,
  UnsupportedBatchError,
} from '../../src/kafka/record-batch-reader.js';
import { KafkaTransportError } from '../../src/kafka/transport.js';
import { FakeConsumer, fetched, timedSpecs } from './helpers/tap-consumer.js';

interface Call {
  intended: number[];
  count: number;
  nowMs: number;
  array: ArrayLike<number>;
}

function setup(options: Partial<DeliveryTapOptions> = {}) {
  let consumer: FakeConsumer | undefined;
  const calls: Call[] = [];
  let nowMs = 1_700_000_000_500;
  const tap = new DeliveryTap(
    {
      brokers: ['127.0.0.1:9092'],
      topic: 'gapipe-bench-1234',
      group: 'gapipe-bench-1234-tap',
      now: () => nowMs,
      createConsumer: (o) => {
        consumer = new FakeConsumer(o);
        return consumer;
      },
      ...options,
    },
    (intended, count, now) =>
      calls.push({ intended: Array.from(intended).slice(0, count), count, nowMs: now, array: intended }),
  );
  return {
    tap,
    calls,
    consumer: consumer as unknown as FakeConsumer,
    setNow: (ms: number) => {
      nowMs = ms;
    },
  };
}

/** A tap that owns its three partitions. */
async function startedTap(options: Partial<DeliveryTapOptions> = {}) {
  const t = setup(options);
  const started = t.tap.start();
  await vi.waitFor(() => expect(t.consumer.handlers).toBeDefined());
  t.consumer.assign([0, 1, 2]);
  await started;
  return t;
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('DeliveryTap: joining', () => {
  it('consumes in its own group from the beginning, as gapipe-bench-tap', () => {
    const { consumer } = setup();
    expect(consumer.options).toMatchObject({
      topic: 'gapipe-bench-1234',
      group: 'gapipe-bench-1234-tap',
      clientId: 'gapipe-bench-tap',
      fromBeginning: true,
      brokers: ['127.0.0.1:9092'],
    });
  });

  it('start resolves only once the group gave it every partition', async () => {
    const { tap, consumer } = setup();
    let resolved = false;
    const started = tap.start().then(() => {
      resolved = true;
    });
    await vi.waitFor(() => expect(consumer.handlers).toBeDefined());
    consumer.assign([0, 1]);
    await new Promise((r) => setTimeout(r, 20));
    expect(resolved).toBe(false);
    consumer.assign([0, 1, 2]);
    await started;
    expect(resolved).toBe(true);
  });

  it('start rejects naming the group when it never gets every partition', async () => {
    const { tap, consumer } = setup({ readyTimeoutMs: 50 });
    const started = tap.start();
    await vi.waitFor(() => expect(consumer.handlers).toBeDefined());
    consumer.assign([1]);
    const error = await started.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('KAFKA_UNREACHABLE');
    expect((error as GapipeError).message).toContain('all 3 partitions of gapipe-bench-1234');
    expect((error as GapipeError).message).toContain('gapipe-bench-1234-tap');
    expect((error as GapipeError).message).toContain('[1]');
    expect(consumer.stops).toBe(1);
  });

  it('a missing topic and an unreachable Kafka are GapipeErrors that say what to do', async () => {
    const missing = setup();
    missing.consumer.startError = new KafkaTransportError('unknown-topic', 'gapipe-bench-1234');
    const error = (await missing.tap.start().catch((e: unknown) => e)) as GapipeError;
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('gapipe-bench-1234');
    expect(error.nextSteps).toBeDefined();
    expect(missing.consumer.stops).toBe(1);

    const down = setup();
    down.consumer.startError = new KafkaTransportError('unreachable', 'no answer');
    const downError = (await down.tap.start().catch((e: unknown) => e)) as GapipeError;
    expect(downError.code).toBe('KAFKA_UNREACHABLE');
    expect(downError.message).toContain('127.0.0.1:9092');
    expect(downError.nextSteps).toContain('--brokers');

    const lost = setup();
    lost.consumer.partitionCount = () => Promise.reject(new KafkaConnectionError('connection closed'));
    const lostError = (await lost.tap.start().catch((e: unknown) => e)) as GapipeError;
    expect(lostError).toBeInstanceOf(GapipeError);
    expect(lostError.code).toBe('KAFKA_UNREACHABLE');
    expect(lost.consumer.stops).toBe(1);
  });

  it('a fatal consumer error before it owns its partitions rejects start', async () => {
    const { tap, consumer } = setup();
    const started = tap.start();
    await vi.waitFor(() => expect(consumer.handlers).toBeDefined());
    consumer.handlers?.onFatal(new KafkaBrokerError(30) /* GROUP_AUTHORIZATION_FAILED */);
    const error = (await started.catch((e: unknown) => e)) as GapipeError;
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.message).toContain('gapipe-bench-1234-tap');
    expect(tap.error).toBe(error);
  });

  it('stop during start ends start without an error', async () => {
    const { tap, consumer } = setup();
    const started = tap.start();
    await vi.waitFor(() => expect(consumer.handlers).toBeDefined());
    await tap.stop();
    await expect(started).resolves.toBeUndefined();
    expect(tap.error).toBeUndefined();
  });
});

describe('DeliveryTap: timing records', () => {
  it('passes the intended times of a batch with one clock reading, without decoding values', async () => {
    const value = vi.spyOn(FetchedRecordClass.prototype, 'value', 'get');
    const headers = vi.spyOn(FetchedRecordClass.prototype, 'headers', 'get');
    const { consumer, calls, setNow } = await startedTap();
    setNow(1_700_000_009_000);
    await consumer.deliver(1, fetched(timedSpecs(0, 3)));
    expect(calls).toEqual([
      {
        intended: [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002],
        count: 3,
        nowMs: 1_700_000_009_000,
        array: expect.any(Float64Array),
      },
    ]);
    expect(value).not.toHaveBeenCalled();
    expect(headers).not.toHaveBeenCalled();
  });

  it('skips records without a usable header and counts them as untimed', async () => {
    const { tap, consumer, calls } = await startedTap();
    const records = fetched([
      { offset: 0, intended: 1_700_000_000_100 },
      { offset: 1 }, // no header
      { offset: 2, intended: '12a4' },
      { offset: 3, intended: 'not a time' },
      { offset: 4, intended: '' },
      { offset: 5, intended: '-5' },
      { offset: 6, intended: '1700000000200' },
      { offset: 7, intended: '1700000000300.5' }, // not digits only: read as Number() reads it
      { offset: 8, intended: 'Infinity' },
    ]);
    await consumer.deliver(0, records);
    expect(calls.map((c) => c.intended)).toEqual([
      [1_700_000_000_100, 1_700_000_000_200, 1_700_000_000_300.5],
    ]);
    expect(tap.read()).toMatchObject({ consumed: 9, untimed: 6 });
  });

  it('does not call back for a batch with nothing to time', async () => {
    const { tap, consumer, calls } = await startedTap();
    await consumer.deliver(0, fetched([{ offset: 0 }, { offset: 1, intended: 'x' }]));
    await consumer.deliver(0, []);
    expect(calls).toHaveLength(0);
    expect(tap.read()).toMatchObject({ consumed: 2, untimed: 2 });
  });

  it('reuses one buffer across batches, growing it only for a larger batch', async () => {
    const { consumer, calls } = await startedTap();
    await consumer.deliver(0, fetched(timedSpecs(0, 3, 1000)));
    await consumer.deliver(1, fetched(timedSpecs(0, 2, 2000)));
    await consumer.deliver(2, fetched(timedSpecs(0, 5000, 3000)));
    await consumer.deliver(0, fetched(timedSpecs(3, 7, 4000)));
    await consumer.deliver(1, fetched(timedSpecs(2, 4500, 5000)));
    expect(calls.map((c) => c.count)).toEqual([3, 2, 5000, 7, 4500]);
    const [a, b, c, d, e] = calls as [Call, Call, Call, Call, Call];
    expect(b.array).toBe(a.array);
    expect(c.array).not.toBe(a.array);
    expect(d.array).toBe(c.array);
    expect(e.array).toBe(c.array);
    expect(a.intended).toEqual([1000, 1001, 1002]);
    expect(b.intended).toEqual([2000, 2001]);
    expect(c.intended[0]).toBe(3000);
    expect(c.intended[4999]).toBe(7999);
    expect(d.intended).toEqual([4000, 4001, 4002, 4003, 4004, 4005, 4006]);
    expect(e.intended[4499]).toBe(9499);
  });

  it('read() gives the counts and the next offset per partition, as a snapshot', async () => {
    const { tap, consumer } = await startedTap();
    expect(tap.read()).toEqual({ consumed: 0, untimed: 0, positions: new Map() });
    await consumer.deliver(0, fetched(timedSpecs(0, 10)));
    await consumer.deliver(2, fetched([...timedSpecs(0, 4), { offset: 4 }]));
    const first = tap.read();
    expect(first).toEqual({
      consumed: 15,
      untimed: 1,
      positions: new Map([
        [0, 10],
        [2, 5],
      ]),
    });
    await consumer.deliver(0, fetched(timedSpecs(10, 5)));
    expect(first.positions.get(0)).toBe(10);
    expect(tap.read().positions.get(0)).toBe(15);
    expect(tap.read().consumed).toBe(20);
  });

  it('does not time records twice when a partition comes back after a rebalance', async () => {
    const { tap, consumer, calls } = await startedTap();
    expect(await consumer.deliver(0, fetched(timedSpecs(0, 10)))).toEqual({});
    // Nothing was committed: the group hands the partition back and the consumer starts over.
    consumer.handlers?.onRebalancing?.();
    consumer.assign([0, 1, 2]);
    expect(await consumer.deliver(0, fetched(timedSpecs(0, 6)))).toEqual({ seekTo: 10 });
    expect(await consumer.deliver(0, fetched(timedSpecs(6, 8, 1_700_000_000_006)))).toEqual({});
    expect(calls.map((c) => c.count)).toEqual([10, 4]);
    expect(calls[1]?.intended[0]).toBe(1_700_000_000_010);
    expect(tap.read()).toMatchObject({ consumed: 14, positions: new Map([[0, 14]]) });
  });

  it('never commits: the consumer it runs on is given no offsets to commit', async () => {
    const { consumer } = await startedTap();
    const commit = vi.fn();
    (consumer as unknown as { commit: typeof commit }).commit = commit;
    await consumer.deliver(0, fetched(timedSpecs(0, 10)));
    await consumer.deliver(1, fetched(timedSpecs(0, 10)));
    expect(commit).not.toHaveBeenCalled();
  });
});

describe('DeliveryTap: failures and stopping', () => {
  it('a fatal error after start is kept in error and told to onError, and stops the consumer', async () => {
    const onError = vi.fn();
    const { tap, consumer } = await startedTap({ onError });
    consumer.handlers?.onFatal(
      new UnsupportedBatchError('the record batch at offset 7 is compressed with lz4'),
    );
    expect(tap.error).toBeInstanceOf(GapipeError);
    expect(tap.error?.code).toBe('INVALID_FLAG');
    expect(tap.error?.message).toContain('lz4');
    expect(tap.error?.nextSteps).toContain('--compression');
    expect(onError).toHaveBeenCalledWith(tap.error);
    expect(consumer.stops).toBe(1);
    await tap.stop();
    expect(consumer.stops).toBe(1);
  });

  it('a callback that throws ends the tap as a bug', async () => {
    let consumer: FakeConsumer | undefined;
    const tap = new DeliveryTap(
      {
        brokers: ['b:9092'],
        topic: 't',
        group: 'g',
        createConsumer: (o) => {
          consumer = new FakeConsumer(o);
          return consumer;
        },
      },
      () => {
        throw new Error('histogram broke');
      },
    );
    const fake = consumer as unknown as FakeConsumer;
    const started = tap.start();
    await vi.waitFor(() => expect(fake.handlers).toBeDefined());
    fake.assign([0, 1, 2]);
    await started;
    // The consumer hands what its handler threw to onFatal.
    const thrown = await fake.deliver(0, fetched(timedSpecs(0, 1))).catch((e: unknown) => e);
    fake.handlers?.onFatal(thrown as Error);
    expect(tap.error?.code).toBe('INTERNAL');
    expect(tap.error?.message).toBe('histogram broke');
  });

  it('stop is bounded even when Kafka does not answer, and batches after it are not counted', async () => {
    const { tap, consumer, calls } = await startedTap();
    consumer.stopHangs = true;
    vi.useFakeTimers();
    let stopped = false;
    const stopping = tap.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(stopped).toBe(true);
    await consumer.deliver(0, fetched(timedSpecs(0, 5)));
    expect(calls).toHaveLength(0);
    expect(tap.read().consumed).toBe(0);
  });
});
