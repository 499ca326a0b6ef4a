import { describe, expect, it } from 'vitest';
import { SideOutputQueue, SideOutputsPendingError } from '../../src/pipeline/side-outputs.js';
import type { OutgoingRecord } from '../../src/pipeline/transport.js';
import { StepClock, settle } from './step-clock.js';

function records(n: number, from = 0): OutgoingRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: null,
    value: Buffer.from(String(from + i)),
    headers: {},
  }));
}

/** A Kafka that refuses sends while `down`, as kafkajs does once its producer lost the broker. */
function fakeKafka() {
  const kafka = {
    down: false,
    attempts: [] as Array<{ atMs: number; topic: string; count: number }>,
    acknowledged: [] as Array<{ topic: string; values: string[] }>,
  };
  return {
    kafka,
    produce(clock: StepClock) {
      return async (topic: string, batch: OutgoingRecord[]) => {
        kafka.attempts.push({ atMs: clock.now(), topic, count: batch.length });
        if (kafka.down) throw new Error('The producer is disconnected');
        kafka.acknowledged.push({ topic, values: batch.map((r) => String(r.value)) });
      };
    },
  };
}

function setup() {
  const clock = new StepClock(0);
  const { kafka, produce } = fakeKafka();
  const failures: string[] = [];
  const queue = new SideOutputQueue({
    produce: produce(clock),
    clock,
    maxBackoffMs: 5000,
    onFailure: (error) => failures.push(error.message),
  });
  return { clock, kafka, queue, failures };
}

describe('SideOutputQueue', () => {
  it('retries through an outage with growing backoff, then delivers everything in order', async () => {
    const { clock, kafka, queue, failures } = setup();
    kafka.down = true;
    queue.enqueue('dlq', records(2, 0));
    queue.enqueue('late', records(1, 100));
    queue.enqueue('dlq', records(1, 2));
    await settle();
    expect(queue.failingSinceMs).toBe(0);
    await clock.advance(30_000);
    const gaps = kafka.attempts.slice(1).map((a, i) => a.atMs - (kafka.attempts[i]?.atMs ?? 0));
    // 250 ms, doubling, at most the 5 s backoff limit: the loop waits, it does not spin.
    expect(gaps.slice(0, 6)).toEqual([300, 500, 1000, 2000, 4000, 5000]);
    expect(kafka.attempts.length).toBeLessThan(15);
    expect(failures[0]).toBe('The producer is disconnected');
    expect(queue.size).toBe(4);

    kafka.down = false;
    await clock.advance(5000);
    expect(kafka.acknowledged).toEqual([
      { topic: 'dlq', values: ['0', '1'] },
      { topic: 'late', values: ['100'] },
      { topic: 'dlq', values: ['2'] },
    ]);
    expect(queue.size).toBe(0);
    expect(queue.failingSinceMs).toBeUndefined();
    await queue.drain(0);
  });

  it('drains what was handed over before, and gives up waiting after the given time', async () => {
    const { clock, kafka, queue } = setup();
    queue.enqueue('dlq', records(3));
    await queue.drain(1000);
    expect(kafka.acknowledged).toHaveLength(1);

    kafka.down = true;
    queue.enqueue('dlq', records(2));
    let error: unknown;
    const drained = queue.drain(2000).catch((e) => {
      error = e;
    });
    await clock.advance(1900);
    expect(error).toBeUndefined();
    await clock.advance(200);
    await drained;
    expect(error).toBeInstanceOf(SideOutputsPendingError);
    expect((error as Error).message).toBe(
      '2 late/dead-letter records not yet acknowledged by Kafka: The producer is disconnected',
    );
  });

  it('lets a waiting drain go at once when told to, and stops retrying when closed', async () => {
    const { clock, kafka, queue } = setup();
    kafka.down = true;
    queue.enqueue('dlq', records(1));
    const drained = queue.drain(60_000);
    await clock.advance(500);
    queue.cancelWaits();
    await expect(drained).rejects.toBeInstanceOf(SideOutputsPendingError);
    // A drain started after the cancel waits again.
    const again = queue.drain(60_000);
    queue.close();
    await expect(again).rejects.toBeInstanceOf(SideOutputsPendingError);
    const attempts = kafka.attempts.length;
    await clock.advance(60_000);
    expect(kafka.attempts.length).toBe(attempts);
    queue.enqueue('dlq', records(1));
    await clock.advance(1000);
    expect(kafka.attempts.length).toBe(attempts);
  });

  it('sends consecutive records for one topic together, at most 5000 per request', async () => {
    const { clock, kafka, queue } = setup();
    kafka.down = true;
    for (let i = 0; i < 7; i++) queue.enqueue('dlq', records(1000, i * 1000));
    queue.enqueue('late', records(10));
    await settle();
    kafka.down = false;
    await clock.advance(1000);
    expect(kafka.acknowledged.map((a) => [a.topic, a.values.length])).toEqual([
      ['dlq', 5000],
      ['dlq', 2000],
      ['late', 10],
    ]);
    expect(kafka.acknowledged[1]?.values[0]).toBe('5000');
  });

  it('keeps each send under the broker’s message size limit, splitting a large hand-over', async () => {
    const { clock, kafka, queue } = setup();
    const big = (n: number, from: number) =>
      records(n, from).map((r) => ({ ...r, value: Buffer.from(`${r.value}:`.padEnd(2000, 'x')) }));
    kafka.down = true;
    queue.enqueue('late', big(400, 0));
    queue.enqueue('late', big(300, 400));
    await settle();
    kafka.down = false;
    await clock.advance(1000);
    const sizes = kafka.acknowledged.map((a) => a.values.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(700);
    expect(Math.max(...sizes) * 2032).toBeLessThanOrEqual(512 * 1024);
    expect(sizes.length).toBe(3);
    const order = kafka.acknowledged.flatMap((a) => a.values.map((v) => Number(v.split(':')[0])));
    expect(order).toEqual(Array.from({ length: 700 }, (_, i) => i));
    expect(queue.size).toBe(0);
    await queue.drain(0);
  });
});
