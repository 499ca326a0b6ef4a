import type { Client } from '@elastic/elasticsearch';
import { describe, expect, it } from 'vitest';
import { PROBE_WINDOW_START, probeEvent, waitForProbes } from '../../../src/bench/engines/probe.js';
import { GapipeError } from '../../../src/errors.js';
import { decodeEvent, decodeEventFull } from '../../../src/pipeline/decode.js';
import { assignWindows, WINDOWING_DEFAULTS } from '../../../src/pipeline/windows.js';

const INDEX = 'gapipe-aggregates-bench-1a2b3c4d';
const TOPIC = 'gapipe-bench-1a2b3c4d';

/**
 * Elasticsearch as the probe sees it: each search answers the next of `answers` (a sum of the probe
 * window's `events`, or an error to throw), the last one over and over.
 */
function fakeElasticsearch(answers: Array<number | Error>) {
  const searches: unknown[] = [];
  const es = {
    search: async (request: unknown) => {
      searches.push(request);
      const answer = answers[Math.min(searches.length, answers.length) - 1];
      if (answer instanceof Error) throw answer;
      return { hits: { hits: [] }, aggregations: { events: { value: answer } } };
    },
  };
  return { es: es as unknown as Client, searches };
}

/** A clock that moves only when the wait sleeps. */
function fakeTime() {
  let nowMs = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => nowMs,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      nowMs += ms;
    },
    sleeps,
  };
}

describe('probeEvent', () => {
  it('is a valid event by the pipeline’s own decoder, on both its paths', () => {
    for (const partition of [0, 5, 999]) {
      const { key, value } = probeEvent(partition, 'run-1');
      const full = decodeEventFull(value);
      expect(full.ok, JSON.stringify(full)).toBe(true);
      const fast = decodeEvent(Buffer.from(value));
      expect(fast).toEqual(full);
      if (!full.ok) continue;
      expect(full.event.playerId).toBe(`gapipe-probe-${partition}`);
      expect(key).toBe(full.event.playerId);
      expect(full.event.region).toBe('NA');
      expect(full.event.eventType).toBe('level_up');
    }
  });

  it('falls at the start of the probe window, a minute-aligned window that toISOString writes alike', () => {
    const decoded = decodeEventFull(probeEvent(0, 'run-1').value);
    if (!decoded.ok) throw new Error(decoded.failure.reason);
    const windowStartMs = Date.parse(PROBE_WINDOW_START);
    expect(assignWindows(decoded.event.tsMs, WINDOWING_DEFAULTS, [])).toEqual([windowStartMs]);
    expect(new Date(windowStartMs).toISOString()).toBe(PROBE_WINDOW_START);
    expect(PROBE_WINDOW_START).toBe('2000-01-01T00:00:00.000Z');
  });

  it('gives every partition its own event, so no engine takes one for another’s duplicate', () => {
    const ids = Array.from({ length: 6 }, (_, p) => JSON.parse(probeEvent(p, 'run-1').value).event_id);
    expect(new Set(ids).size).toBe(6);
  });
});

describe('waitForProbes', () => {
  const base = { index: INDEX, topic: TOPIC, partitions: 6, timeoutMs: 60_000 };

  it('returns once the probe window’s documents count one event per partition', async () => {
    const { es, searches } = fakeElasticsearch([0, 2, 6]);
    const time = fakeTime();
    await waitForProbes({ ...base, es, now: time.now, sleep: time.sleep });
    expect(searches).toHaveLength(3);
    expect(time.sleeps).toEqual([500, 500]);
    // The search asks for the run's topic and the probe's window only.
    expect(JSON.stringify(searches[0])).toContain(`"index":"${INDEX}"`);
    expect(JSON.stringify(searches[0])).toContain(`{"term":{"topic":"${TOPIC}"}}`);
    expect(JSON.stringify(searches[0])).toContain(`{"term":{"window_start":"${PROBE_WINDOW_START}"}}`);
  });

  it('after the timeout, fails with ENGINE_FAILED naming the index, the count seen and the topic', async () => {
    const { es } = fakeElasticsearch([1, 2]);
    const time = fakeTime();
    const error = await waitForProbes({
      ...base,
      es,
      timeoutMs: 10_000,
      now: time.now,
      sleep: time.sleep,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GapipeError);
    const gapipe = error as GapipeError;
    expect(gapipe.code).toBe('ENGINE_FAILED');
    expect(gapipe.exitCode).toBe(10);
    expect(gapipe.message).toBe(
      `The engine did not write the run's probe events within 10s: 2 of 6 counted in index ${INDEX}`,
    );
    expect(gapipe.nextSteps).toContain(`reads topic ${TOPIC} from the earliest offset`);
    expect(gapipe.nextSteps).toContain('--engine-timeout');
    expect(gapipe.details).toEqual([]);
    // It waited the whole budget, not a poll less.
    expect(time.sleeps.reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('ends the wait with the engine’s own failure when it reports one', async () => {
    const { es, searches } = fakeElasticsearch([0]);
    const time = fakeTime();
    const exited = new GapipeError('ENGINE_FAILED', 'The Spark job exited with code 1');
    let asked = 0;
    const failed = () => (++asked >= 3 ? exited : undefined);
    await expect(waitForProbes({ ...base, es, failed, now: time.now, sleep: time.sleep })).rejects.toBe(
      exited,
    );
    expect(searches).toHaveLength(2);
  });

  it('returns without searching when the run was already stopped', async () => {
    const { es, searches } = fakeElasticsearch([0]);
    const time = fakeTime();
    const stop = new AbortController();
    stop.abort();
    await waitForProbes({ ...base, es, signal: stop.signal, now: time.now, sleep: time.sleep });
    expect(searches).toHaveLength(0);
  });

  it('returns when the run is stopped while it waits, long before the timeout', async () => {
    const { es, searches } = fakeElasticsearch([0]);
    const time = fakeTime();
    const stop = new AbortController();
    const sleep = async (ms: number) => {
      await time.sleep(ms);
      if (time.sleeps.length === 4) stop.abort();
    };
    await waitForProbes({ ...base, es, signal: stop.signal, now: time.now, sleep });
    expect(searches).toHaveLength(4);
  });

  it('retries a search that fails, and counts what the next one sees', async () => {
    const { es, searches } = fakeElasticsearch([3, new Error('socket hang up'), 6]);
    const time = fakeTime();
    await waitForProbes({ ...base, es, now: time.now, sleep: time.sleep });
    expect(searches).toHaveLength(3);
  });

  it('keeps the count of the last search that answered when a later one fails', async () => {
    const { es } = fakeElasticsearch([4, new Error('socket hang up')]);
    const time = fakeTime();
    const error = (await waitForProbes({
      ...base,
      es,
      timeoutMs: 3000,
      now: time.now,
      sleep: time.sleep,
    }).catch((e: unknown) => e)) as GapipeError;
    expect(error.message).toContain(`4 of 6 counted in index ${INDEX}`);
  });

  it('says why when every search failed until the timeout', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9200'), { code: 'ECONNREFUSED' });
    const { es, searches } = fakeElasticsearch([refused]);
    const time = fakeTime();
    const error = (await waitForProbes({
      ...base,
      es,
      timeoutMs: 5000,
      now: time.now,
      sleep: time.sleep,
    }).catch((e: unknown) => e)) as GapipeError;
    expect(searches.length).toBeGreaterThan(1);
    expect(error.code).toBe('ENGINE_FAILED');
    expect(error.message).toContain(`0 of 6 counted in index ${INDEX}`);
    expect(error.details).toEqual([
      `the last search of index ${INDEX} failed: connect ECONNREFUSED 127.0.0.1:9200 (ECONNREFUSED)`,
    ]);
    expect(error.cause).toBe(refused);
  });

  it('tells the caller about every 5 s how long it has waited', async () => {
    const { es } = fakeElasticsearch([0]);
    const time = fakeTime();
    const told: number[] = [];
    await expect(
      waitForProbes({
        ...base,
        es,
        timeoutMs: 20_000,
        onWaiting: (waited) => told.push(waited),
        now: time.now,
        sleep: time.sleep,
      }),
    ).rejects.toMatchObject({ code: 'ENGINE_FAILED' });
    expect(told).toEqual([5000, 10_000, 15_000]);
  });
});
