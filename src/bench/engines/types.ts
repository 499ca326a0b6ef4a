/**
 * The engine under test, as the bench sees it: something that reads the run's topic and writes the
 * run's aggregates index (docs/engines.md). The bench starts it, reads what figures it offers while the
 * load runs, and stops it; everything else — produce-ack, delivery, visible latency, correctness — is
 * measured from outside, the same way for every engine.
 */
import type { ConsumeSnapshot } from '../../pipeline/types.js';
import type { ConsumerReading } from '../sampling.js';

export const ENGINE_NAMES = ['gapipe', 'spark', 'external'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** The run an engine is started for. */
export interface EngineRun {
  topic: string;
  index: string;
  /** The consumer group of an engine the bench starts (gapipe's own consumers). */
  group: string;
  brokers: readonly string[];
  esUrl: string;
  partitions: number;
  /** Where the engine may keep files for the run (logs, checkpoints). */
  workDir: string;
}

/** What an engine tells of itself at one reading; an engine that tells nothing gives `undefined`s. */
export interface EngineReading {
  /** Records the engine received so far. */
  consumed: number | undefined;
  /** Its read positions, for the consumer lag (end offsets minus positions). */
  consumers: ConsumerReading[];
  /** Records received per second since its previous reading. */
  consumedPerSecond: number | undefined;
  snapshots: ConsumeSnapshot[];
}

export interface BenchEngine {
  readonly name: EngineName;
  /** "1 consumer process", "Spark on local[2]", "your engine": for the bench's lines. */
  readonly description: string;
  /** Whether the engine reports its own consumed count and positions (gapipe's consumers do). */
  readonly reportsProgress: boolean;
  /** Starts the engine; resolves once it reads the run's topic. */
  start(): Promise<void>;
  /** The load starts now; records intended before `measureFromMs` are warm-up. */
  loadStarting(loadStartMs: number, measureFromMs: number): void;
  read(): Promise<EngineReading>;
  /** Stops the engine; an engine that failed says why (a GapipeError) — after stop, never during. */
  stop(): Promise<void>;
  /** The engine's last snapshots (gapipe's consumers), for the totals. */
  snapshots(): ConsumeSnapshot[];
  /** The engine's processes on this machine (their CPU and memory are measured); none if unknown. */
  pids(): number[];
  /** Why the engine stopped on its own, if it did. */
  failure(): string | undefined;
  /** The software the engine ran on and its versions, once started; for the run's provenance. */
  software?(): Record<string, string> | undefined;
}

/** The engine in a few words, for the bench's lines: "1 consumer process", "the Spark job on local[2]". */
export function describeEngine(
  options: { engine: EngineName; consumers: number; sparkMaster?: string | undefined; sparkThreads: number },
  target: 'lab' | 'embedded',
): string {
  if (options.engine === 'spark')
    return `the Spark job on ${options.sparkMaster ?? `local[${options.sparkThreads}]`}`;
  if (options.engine === 'external') return 'your engine';
  const n = options.consumers;
  const word =
    target === 'lab'
      ? n === 1
        ? 'consumer process'
        : 'consumer processes'
      : n === 1
        ? 'consumer'
        : 'consumers';
  return `${n.toLocaleString('en-US')} ${word}`;
}
