/**
 * The Kafka sink over its producer transport: what reaches Kafka (through gapipe's producer and the
 * in-process broker), what the sink reports for acknowledged and failed records (through a transport
 * that the test drives), and the errors a user sees.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { GapipeError } from '../../src/errors.js';
import {
  KafkaTransportError,
  type ProducerTransport,
  type ProducerTransportOptions,
} from '../../src/kafka/transport.js';
import { KafkaSink, type KafkaSinkOptions } from '../../src/simulators/sinks/kafka.js';
import type { SinkRecord } from '../../src/simulators/sinks/types.js';
import { FakeBroker } from '../kafka/fake-broker.js';

function record(n: number, intendedMs = 1_790_000_000_000 + n): SinkRecord {
  return {
    key: `p-${String(n % 50).padStart(4, '0')}`,
    value: Buffer.from(`{"n":${n}}`),
    intendedMs,
    headers: { 'gapipe-intended-ts': String(Math.round(intendedMs)), 'gapipe-run-id': 'run-42' },
  };
}

/** A transport the test settles by hand. */
class ScriptedTransport implements ProducerTransport<SinkRecord> {
  static last: ScriptedTransport | undefined;
  readonly sent: SinkRecord[] = [];
  openError: Error | undefined;
  fatal: Error | undefined;
  constructor(readonly options: ProducerTransportOptions<SinkRecord>) {
    ScriptedTransport.last = this;
  }
  async open(): Promise<void> {
    if (this.openError) throw this.openError;
  }
  send(records: readonly SinkRecord[]): void {
    this.sent.push(...records);
  }
  pending(): number {
    return this.sent.length;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  fatalError(): Error | undefined {
    return this.fatal;
  }
  acknowledge(count: number, nowMs: number): void {
    this.options.onAcknowledged(this.sent.splice(0, count), nowMs);
  }
  fail(count: number, message: string): void {
    this.options.onFailed(this.sent.splice(0, count), new Error(message));
  }
}

function scriptedSink(options: Partial<KafkaSinkOptions> = {}): {
  sink: KafkaSink;
  transport: ScriptedTransport;
} {
  const sink = new KafkaSink({
    brokers: ['127.0.0.1:9'],
    topic: 'events',
    createTransport: ((o: ProducerTransportOptions<SinkRecord>) => new ScriptedTransport(o)) as never,
    ...options,
  });
  return { sink, transport: ScriptedTransport.last as ScriptedTransport };
}

const brokers: FakeBroker[] = [];
afterEach(async () => {
  for (const broker of brokers.splice(0)) await broker.stop();
});

describe('KafkaSink', () => {
  it('sends key, value and the measurement headers as each record carries them', async () => {
    const broker = new FakeBroker('events', 3);
    await broker.start();
    brokers.push(broker);
    const sink = new KafkaSink({ brokers: [broker.address], topic: 'events', lingerMs: 1 });
    await sink.open();
    const records = Array.from({ length: 300 }, (_, i) => record(i, 1_790_000_000_000.4 + i * 0.5));
    sink.send(records);
    await sink.flush();
    expect(sink.stats()).toMatchObject({ acknowledged: 300, failed: 0 });
    const stored = broker.logs.flat();
    expect(stored).toHaveLength(300);
    const byValue = new Map(stored.map((r) => [r.value, r]));
    for (const sent of records) {
      const got = byValue.get(sent.value.toString());
      expect(got?.key).toBe(sent.key);
      expect(got?.headers).toEqual(sent.headers);
    }
    await sink.close();
  });

  it('records produce→ack latency from the intended send time and tells onAcknowledged', () => {
    const told: Array<{ intended: readonly number[]; now: number }> = [];
    const { sink, transport } = scriptedSink({
      onAcknowledged: (intended, now) => told.push({ intended, now }),
    });
    sink.send([record(1, 1000), record(2, 1010), record(3, 1020)]);
    expect(sink.inFlight()).toBe(3);
    transport.acknowledge(2, 1030);
    const stats = sink.stats();
    expect(stats.acknowledged).toBe(2);
    expect(stats.produceAckLatencyUs?.totalCount).toBe(2);
    expect(stats.produceAckLatencyUs?.maxValue).toBeGreaterThanOrEqual(30_000 * 0.999);
    expect(stats.produceAckLatencyUs?.minNonZeroValue).toBeLessThanOrEqual(20_000 * 1.001);
    expect(told).toEqual([{ intended: [1000, 1010], now: 1030 }]);
    expect(sink.inFlight()).toBe(1);
  });

  it('counts failed records, keeps the reason, and hands them to onFailed', () => {
    const failed: SinkRecord[] = [];
    const { sink, transport } = scriptedSink({ onFailed: (records) => failed.push(...records) });
    const records = [record(1), record(2), record(3), record(4)];
    sink.send(records);
    transport.fail(1, 'not acknowledged within the delivery timeout (120s)');
    transport.acknowledge(2, Date.now());
    transport.fail(1, 'not acknowledged within the delivery timeout (120s)');
    expect(failed).toEqual([records[0], records[3]]);
    expect(sink.stats()).toMatchObject({
      acknowledged: 2,
      failed: 2,
      errors: ['not acknowledged within the delivery timeout (120s)'],
    });
  });

  it('has no latency histogram with acks=0', () => {
    const { sink, transport } = scriptedSink({ acks: '0' });
    sink.send([record(1)]);
    transport.acknowledge(1, Date.now());
    expect(sink.stats().produceAckLatencyUs).toBeUndefined();
    expect(transport.options.acks).toBe(0);
  });

  it('is idempotent by default with acks=all, not with acks=1, and refuses idempotent with acks=1', () => {
    expect(scriptedSink().transport.options).toMatchObject({ acks: -1, idempotent: true });
    expect(scriptedSink({ acks: '1' }).transport.options).toMatchObject({ acks: 1, idempotent: false });
    expect(scriptedSink({ idempotent: false }).transport.options.idempotent).toBe(false);
    expect(() => scriptedSink({ acks: '1', idempotent: true })).toThrow(/--idempotent needs --acks all/);
  });

  it('passes the delivery timeout and batching settings on', () => {
    const clock = new ManualClock(5);
    const { transport } = scriptedSink({ deliveryTimeoutMs: 7000, lingerMs: 3, batchSize: 10, clock });
    expect(transport.options).toMatchObject({
      deliveryTimeoutMs: 7000,
      lingerMs: 3,
      batchRecords: 10,
      clock,
    });
    expect(scriptedSink().transport.options.deliveryTimeoutMs).toBe(120_000);
  });

  it('names an unreachable broker at open() within seconds, with next steps', async () => {
    const broker = new FakeBroker('events', 1);
    await broker.start();
    await broker.stop();
    const sink = new KafkaSink({ brokers: [broker.address], topic: 'events' });
    const started = Date.now();
    const error = await sink.open().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('KAFKA_UNREACHABLE');
    expect((error as GapipeError).message).toBe(`Kafka is not reachable at ${broker.address}`);
    expect((error as GapipeError).nextSteps).toContain('gapipe lab up');
  });

  it('names a missing topic and how to create it', async () => {
    const broker = new FakeBroker('events', 1);
    await broker.start();
    brokers.push(broker);
    const sink = new KafkaSink({ brokers: [broker.address], topic: 'nope' });
    const error = (await sink.open().catch((e: unknown) => e)) as GapipeError;
    expect(error.code).toBe('INVALID_FLAG');
    expect(error.message).toBe(`Topic 'nope' does not exist on ${broker.address}`);
    expect(error.nextSteps).toContain('gapipe lab up --topic nope');
  });

  it('reports a transport that gave up as a fatal GapipeError with next steps', () => {
    const { sink, transport } = scriptedSink();
    expect(sink.fatalError()).toBeUndefined();
    transport.fatal = new KafkaTransportError(
      'unreachable',
      'Kafka at 127.0.0.1:9 acknowledged nothing for 120s',
    );
    const fatal = sink.fatalError() as GapipeError;
    expect(fatal.code).toBe('KAFKA_UNREACHABLE');
    expect(fatal.message).toBe('Kafka at 127.0.0.1:9 acknowledged nothing for 120s');
    expect(fatal.nextSteps).toContain('gapipe lab status');
  });
});
