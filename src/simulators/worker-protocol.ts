/**
 * What the main thread and the generator worker threads of `gapipe simulate --workers N` say to each
 * other. Everything here crosses a thread boundary by structured clone, so it is plain data: errors
 * travel as SerializedError, histograms as compressed base64, event batches as transferred bytes.
 */
import { GapipeError, isGapipeError } from '../errors.js';
import type { GeneratorStats } from './generator.js';
import type { GroundTruthManifest } from './manifest.js';
import type { SimulateOptions } from './options.js';
import type { PacingResult, SimulationProgress } from './runner.js';
import type { ShardSpec } from './shard.js';

/** Marks workerData as a generator thread's. */
export const WORKER_KIND = 'gapipe-simulate-generator';

/** workerData of a generator thread. */
export interface WorkerInit {
  kind: typeof WORKER_KIND;
  options: SimulateOptions;
  /** The players this thread owns. */
  shard: ShardSpec;
  /** Which worker of the run (0-based), for client ids and messages. */
  worker: number;
  runId: string;
  progressIntervalMs: number;
  /** Send records to the main thread, which writes them (stdout and file sinks). */
  forwardRecords: boolean;
  /** Report acknowledged intended times to the main thread in batches. */
  forwardAcks: boolean;
  /** Count the records for a ground-truth manifest. */
  manifest: boolean;
  /** Unpaced runs with several threads: the shared offsets that keep them together (lockstep.ts). */
  lockstep?: SharedArrayBuffer | undefined;
}

export interface SerializedError {
  message: string;
  name?: string;
  code?: string;
  nextSteps?: string;
  details?: string[];
  stack?: string;
  cause?: string;
}

/** Sink figures of one thread's run, clonable. */
export interface ShardSinkStats {
  acknowledged: number;
  failed: number;
  bytes: number;
  /** Produce→ack latency (µs), compressed base64, when the sink measures it. */
  produceAckHistogram?: string | undefined;
  errors?: string[] | undefined;
}

/** What one generator thread (or the single-threaded run) produced. */
export interface ShardOutcome {
  result: Omit<PacingResult, 'fatalError'> & { fatalError?: SerializedError | undefined };
  events: GeneratorStats;
  sink: ShardSinkStats;
  /** The shard's ground truth (its `run` section is filled in by the main thread). */
  manifest?: GroundTruthManifest | undefined;
}

export type WorkerMessage =
  | { type: 'ready'; sinkDescription: string }
  | { type: 'progress'; progress: SimulationProgress }
  /** Encoded events, one per line without the last newline (forwardRecords). */
  | { type: 'records'; data: Uint8Array; count: number }
  /** Acknowledged records: `intendedMs` in batches of `counts[i]` records acknowledged at `atMs[i]`. */
  | { type: 'acks'; intendedMs: Float64Array; counts: number[]; atMs: number[] }
  | { type: 'done'; outcome: ShardOutcome }
  | { type: 'failed'; error: SerializedError };

export type MainMessage =
  | { type: 'start'; startAtMs: number }
  | { type: 'stop' }
  /** The main thread wrote (or failed to write) `count` forwarded records. */
  | { type: 'written'; count: number; failed: number }
  /** The main thread's sink failed for good, or its reader went away. */
  | { type: 'sink-failed'; error: SerializedError }
  | { type: 'sink-closed' };

export function serializeError(error: unknown): SerializedError {
  if (isGapipeError(error)) {
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      ...(error.nextSteps === undefined ? {} : { nextSteps: error.nextSteps }),
      details: error.details,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(error.cause === undefined ? {} : { cause: describe(error.cause) }),
    };
  }
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(error.cause === undefined ? {} : { cause: describe(error.cause) }),
    };
  }
  return { message: String(error) };
}

/** The error again, as a GapipeError when it was one (its code, next steps and details kept). */
export function deserializeError(serialized: SerializedError): Error {
  const cause = serialized.cause === undefined ? undefined : new Error(serialized.cause);
  let error: Error;
  if (serialized.code !== undefined) {
    error = new GapipeError(serialized.code as GapipeError['code'], serialized.message, {
      ...(serialized.nextSteps === undefined ? {} : { nextSteps: serialized.nextSteps }),
      ...(serialized.details === undefined ? {} : { details: serialized.details }),
      ...(cause === undefined ? {} : { cause }),
    });
  } else {
    error = new Error(serialized.message, cause === undefined ? undefined : { cause });
    if (serialized.name) error.name = serialized.name;
  }
  if (serialized.stack) error.stack = serialized.stack;
  return error;
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
