/**
 * Knowing that an engine gapipe did not start itself — or cannot see inside — is reading the run's
 * topic and writing its index: before the load, one valid event per partition, all in one window far
 * in the past (2000-01-01T00:00Z, a window no load ever uses), and a wait until the documents of that
 * window sum to one event per partition. Then the engine is reading every partition from the start and
 * its writes are searchable: the load can begin, and the first seconds measure the pipeline, not its
 * start-up. `gapipe verify` is told to leave the probe's window out.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { describeCause, GapipeError } from '../../errors.js';

/** The probe's window: far before any load, so no event of a run can fall into it. */
export const PROBE_WINDOW_START = '2000-01-01T00:00:00.000Z';

/** One schema-valid event (templates/schema/event.schema.json) for a partition. */
export function probeEvent(partition: number, runId: string): { key: string; value: string } {
  const player = `gapipe-probe-${partition}`;
  return {
    key: player,
    value: JSON.stringify({
      schema: 1,
      event_id: randomUUID(),
      event_type: 'level_up',
      ts: PROBE_WINDOW_START,
      player_id: player,
      username: 'gapipe-probe',
      region: 'NA',
      country: 'US',
      platform: 'pc',
      session_id: `gapipe-probe-${runId}`,
      level: 1,
    }),
  };
}

/** Writes one probe event into each partition of the run's topic. */
export async function sendProbes(
  brokers: readonly string[],
  topic: string,
  partitions: number,
  runId: string,
): Promise<void> {
  const producer = new Kafka({
    clientId: 'gapipe-bench-probe',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  }).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: partitions }, (_, partition) => ({
        partition,
        ...probeEvent(partition, runId),
        headers: { 'gapipe-run-id': runId },
      })),
    });
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

/** The probe's events the index counts so far (summed over the probe window's documents). */
export async function probeEventsVisible(es: Client, index: string, topic: string): Promise<number> {
  const response = await es.search(
    {
      index,
      size: 0,
      track_total_hits: false,
      query: {
        bool: {
          filter: [{ term: { topic } }, { term: { window_start: PROBE_WINDOW_START } }],
        },
      },
      aggs: { events: { sum: { field: 'events' } } },
    },
    { ignore: [404] },
  );
  const sum = (response.aggregations?.events as { value?: number } | undefined)?.value;
  return sum ?? 0;
}

export interface ProbeWait {
  es: Client;
  index: string;
  topic: string;
  partitions: number;
  timeoutMs: number;
  /** Told every few seconds while waiting (seconds waited). */
  onWaiting?: (waitedMs: number) => void;
  /** Ends the wait early with the engine's own failure (a job that exited). */
  failed?: () => Error | undefined;
  signal?: AbortSignal | undefined;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Waits until the index counts every probe event; ENGINE_FAILED if it does not within the timeout. */
export async function waitForProbes(wait: ProbeWait): Promise<void> {
  const now = wait.now ?? Date.now;
  const sleep = wait.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  let lastTold = started;
  let seen = 0;
  // A failed search is retried (Elasticsearch busy, the index not refreshed yet); if searches still
  // fail when the time is up, the last failure says more than the count does.
  let searchError: unknown;
  for (;;) {
    const failure = wait.failed?.();
    if (failure) throw failure;
    // Stopped by the user: the run goes on to stop at once, with nothing measured.
    if (wait.signal?.aborted) return;
    try {
      seen = await probeEventsVisible(wait.es, wait.index, wait.topic);
      searchError = undefined;
    } catch (error) {
      searchError = error;
    }
    if (seen >= wait.partitions) return;
    const waited = now() - started;
    if (waited >= wait.timeoutMs) break;
    if (now() - lastTold >= 5000) {
      lastTold = now();
      wait.onWaiting?.(waited);
    }
    await sleep(500);
  }
  throw new GapipeError(
    'ENGINE_FAILED',
    `The engine did not write the run's probe events within ${Math.round(wait.timeoutMs / 1000)}s: ${seen} of ${wait.partitions} counted in index ${wait.index}`,
    {
      nextSteps: `Check that the engine reads topic ${wait.topic} from the earliest offset and writes index ${wait.index} with the document fields of docs/engines.md (topic, window_start, events…); a slow start needs a longer --engine-timeout`,
      ...(searchError === undefined
        ? {}
        : {
            details: [`the last search of index ${wait.index} failed: ${describeCause(searchError)}`],
            cause: searchError,
          }),
    },
  );
}
