/**
 * The bench's delivery tap in its own thread against the lab's real Kafka: records intended before the
 * warm-up's end are read and not timed, those after it are timed once each on the clock of their
 * intended send times, the positions reach the topic's end offsets, stop leaves the group and ends the
 * thread, and a missing topic comes back across the thread boundary as the tap's GapipeError.
 */
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TapTake } from '../../src/bench/delivery-tap-protocol.js';
import { DeliveryTapThread, spawnTapThread } from '../../src/bench/delivery-tap-thread.js';
import { decodeHistogram, mergeHistograms } from '../../src/bench/histograms.js';
import { GapipeError } from '../../src/errors.js';
import { DockerodeFacade } from '../../src/lab/docker.js';
import { Lab } from '../../src/lab/lab.js';
import { infraEnv, labUp, parseJson, randomName, runCli, sleep } from './helpers.js';

const env = infraEnv();
process.env.DOCKER_HOST = env.DOCKER_HOST;
const labName = randomName('e2e-tap-thread');
let brokers = '';
let admin: Admin | undefined;

beforeAll(async () => {
  ({ brokers } = await labUp(labName, env, 'kafka'));
  admin = new Kafka({ clientId: 'e2e-admin', brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect().catch(() => {});
  await new Lab({ docker: new DockerodeFacade() }).down(labName, { volumes: true }).catch(() => {});
});

function kafkaAdmin(): Admin {
  if (!admin) throw new Error('the lab is not up');
  return admin;
}

async function simulate(topic: string, events: number, extra: string[]): Promise<number> {
  const result = await runCli(
    [
      'simulate',
      '--brokers',
      brokers,
      '--topic',
      topic,
      '--events',
      String(events),
      '--players',
      '500',
      '--json',
      ...extra,
    ],
    env,
  );
  expect(result.code, result.stderr).toBe(0);
  const summary = parseJson<{ acknowledged: number; failed: number }>(result);
  expect(summary.failed).toBe(0);
  return summary.acknowledged;
}

/** Takes as the bench does at its ticks, until the tap has read `total` records. */
async function takeUntil(tap: DeliveryTapThread, total: number, takes: TapTake[]): Promise<TapTake> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const take = await tap.take();
    takes.push(take);
    if (take.reading.consumed >= total) return take;
    if (Date.now() > deadline) throw new Error(`timed out: ${take.reading.consumed} of ${total} records`);
    await sleep(200);
  }
}

describe('the delivery tap in its own thread against real Kafka', () => {
  it('times every record after the warm-up once, on the clock of the intended send times, and leaves no trace', async () => {
    const topic = randomName('e2e-tap-thread');
    const group = `${topic}-tap`;
    await kafkaAdmin().createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    });
    // The warm-up: a backlog, unpaced, every record intended before the measured part begins.
    const warmup = await simulate(topic, 5000, ['--no-pace', '--rate', '1000000/s']);
    const measureFromMs = Date.now() + 1;
    let exited = false;
    const errors: GapipeError[] = [];
    const tap = new DeliveryTapThread({
      brokers: [brokers],
      topic,
      group,
      onError: (error) => errors.push(error),
      spawn: (init) => {
        const worker = spawnTapThread(init);
        worker.on('exit', () => {
          exited = true;
        });
        return worker;
      },
    });
    const takes: TapTake[] = [];
    try {
      await tap.start();
      tap.setMeasureFrom(measureFromMs);
      await takeUntil(tap, warmup, takes);
      // The measured part: live records, paced, read as they arrive.
      const measured = await simulate(topic, 2000, ['--rate', '4000/s']);
      const total = warmup + measured;
      await takeUntil(tap, total, takes);
      await sleep(1000); // anything read twice would show now
      const last = await tap.take();
      takes.push(last);

      expect(errors).toEqual([]);
      expect(last.reading).toEqual({
        consumed: total,
        untimed: 0,
        positions: new Map(
          (await kafkaAdmin().fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]),
        ),
      });
      const intervals = takes.map((t) => t.intervals.delivery).filter((d): d is string => d !== undefined);
      expect(intervals.length).toBeGreaterThan(0);
      for (const text of intervals) expect(decodeHistogram(text).totalCount).toBeGreaterThan(0);
      const delivery = mergeHistograms(intervals);
      expect(delivery.totalCount).toBe(measured);
      // Read with the system clock the intended times come from: positive milliseconds, not clamped
      // to the 1 µs floor (a clock behind) nor minutes long (a clock ahead).
      expect(delivery.minNonZeroValue).toBeGreaterThan(10);
      expect(delivery.maxValue).toBeLessThan(60_000_000);
    } finally {
      await tap.stop();
    }
    expect(exited).toBe(true);
    // A measurement, not a pipeline: the group holds no offsets, and the tap left it.
    const committed = await kafkaAdmin().fetchOffsets({ groupId: group, topics: [topic] });
    expect(committed[0]?.partitions.map((p) => p.offset)).toEqual(['-1', '-1', '-1']);
    const { groups } = await kafkaAdmin().describeGroups([group]);
    expect(groups[0]?.members).toEqual([]);
  });

  it('start rejects with the tap’s GapipeError, across the thread, for a topic that does not exist', async () => {
    const topic = randomName('e2e-tap-thread-missing');
    const tap = new DeliveryTapThread({ brokers: [brokers], topic, group: `${topic}-tap` });
    const error = (await tap.start().catch((e: unknown) => e)) as GapipeError;
    await tap.stop();
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(
      `The delivery tap cannot read topic ${topic}: it does not exist on ${brokers}`,
    );
    expect(error.nextSteps).toBe(`Create ${topic} before starting the tap`);
  });
});
