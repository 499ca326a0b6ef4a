/**
 * What the bench's main thread and the delivery tap's thread say to each other. It crosses a thread
 * boundary by structured clone, so it is plain data: errors travel as SerializedError (code, message,
 * next steps and details kept), latency intervals as compressed base64, as consumer processes send them.
 */
import type { GroupConsumerTuning } from '../kafka/consumer.js';
import type { SerializedError } from '../simulators/worker-protocol.js';
import type { DeliveryTapReading } from './delivery-tap.js';
import { encodeHistogram, mergeHistograms } from './histograms.js';
import type { LatencyKind } from './types.js';

/** Marks workerData as a delivery tap thread's. */
export const TAP_THREAD_KIND = 'gapipe-bench-delivery-tap';

/** workerData of the tap's thread. */
export interface TapThreadInit {
  kind: typeof TAP_THREAD_KIND;
  brokers: readonly string[];
  topic: string;
  group: string;
  readyTimeoutMs?: number | undefined;
  tuning?: Partial<GroupConsumerTuning> | undefined;
  /** Records intended before this (epoch ms) are warm-up; nothing is timed until it is set. */
  measureFromMs?: number | undefined;
  /** Send the tap's log lines to the main thread (it has a logger). */
  log: boolean;
}

/** Encoded latency intervals, per kind (only `delivery` here). */
export type EncodedIntervals = Partial<Record<LatencyKind, string>>;

/** What the tap recorded since the last take, and what it has read so far, at one moment. */
export interface TapTake {
  intervals: EncodedIntervals;
  reading: DeliveryTapReading;
}

/** From the tap's thread. */
export type TapThreadMessage =
  /** The tap owns every partition of the topic. */
  | { type: 'ready' }
  /** `start` failed. */
  | { type: 'start-failed'; error: SerializedError }
  /** The tap ended after it was ready. */
  | { type: 'failed'; error: SerializedError }
  | { type: 'log'; level: 'info' | 'warn' | 'debug'; message: string }
  | ({ type: 'taken'; id: number } & TapTake)
  /** The tap left its group and closed its connections. */
  | { type: 'stopped' };

/** To the tap's thread: `measure-from` (records intended before `atMs` are warm-up), `take`, `stop`. */
export type TapControlMessage =
  | { type: 'measure-from'; atMs: number }
  | { type: 'take'; id: number }
  | { type: 'stop' };

/**
 * Several takes' intervals as one: each kind's histograms merged. Only answers that came after their
 * take had given up waiting need it, so the usual single interval passes through undecoded.
 */
export function combineIntervals(all: readonly EncodedIntervals[]): EncodedIntervals {
  if (all.length === 1) return all[0] as EncodedIntervals;
  const texts = new Map<LatencyKind, string[]>();
  for (const intervals of all)
    for (const [kind, text] of Object.entries(intervals) as Array<[LatencyKind, string]>)
      texts.set(kind, [...(texts.get(kind) ?? []), text]);
  const out: EncodedIntervals = {};
  for (const [kind, list] of texts)
    out[kind] = list.length === 1 ? (list[0] as string) : encodeHistogram(mergeHistograms(list));
  return out;
}
