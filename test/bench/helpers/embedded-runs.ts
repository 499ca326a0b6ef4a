/**
 * Real bench runs on the embedded target, in this process, for tests that check what the bench shows:
 * one whose pipeline keeps up, and one made to fall behind on purpose — its store takes seconds per
 * write and its consumer may hold few unflushed records, so it pauses fetching (backpressure, as with
 * a slow Elasticsearch) and the lag grows while the generator keeps its schedule.
 */
import { resolveBenchOptions } from '../../../src/bench/options.js';
import { type BenchOutcome, runBench } from '../../../src/bench/run.js';
import type { BenchPhase, BenchProgress, BenchReporter, BenchStart } from '../../../src/bench/types.js';
import type { FlushBatch } from '../../../src/pipeline/aggregator.js';
import { MemoryStore, type RawEvent, type WriteStats } from '../../../src/pipeline/store.js';

/** A memory store that takes `delayMs` for every write, like an overloaded Elasticsearch. */
export class SlowStore extends MemoryStore {
  constructor(private readonly delayMs: number) {
    super();
  }

  override async writeDocuments(
    batches: readonly FlushBatch[],
    raw: readonly RawEvent[],
  ): Promise<WriteStats> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    return super.writeDocuments(batches, raw);
  }
}

/** Everything a reporter was told, in order. */
export interface Heard {
  start: BenchStart | undefined;
  phases: BenchPhase[];
  updates: BenchProgress[];
}

export function recordingReporter(): { reporter: BenchReporter; heard: Heard } {
  const heard: Heard = { start: undefined, phases: [], updates: [] };
  return {
    heard,
    reporter: {
      started: (start) => {
        heard.start = start;
      },
      phase: (phase) => void heard.phases.push(phase),
      update: (progress) => void heard.updates.push(progress),
      done: () => {},
    },
  };
}

export interface EmbeddedRun extends BenchOutcome {
  heard: Heard;
  /** When runBench was called (epoch ms). */
  calledAtMs: number;
}

export const EMBEDDED_RATE = 5000;

/**
 * `gapipe bench --target embedded --rate 5000/s --duration 6s --warmup 1s --seed 11`, with `behind`
 * a consumer held back by a slow store.
 */
export async function embeddedRun(out: string, options: { behind: boolean }): Promise<EmbeddedRun> {
  const bench = resolveBenchOptions(
    {
      load: { rate: `${EMBEDDED_RATE}/s`, seed: '11' },
      scenario: {},
      scenarioName: undefined,
      duration: '6s',
      warmup: '1s',
      target: 'embedded',
      out,
      assert: ['correct'],
    },
    { nowMs: Date.now(), fallbackSeed: 1, command: 'gapipe bench (test)' },
  );
  if (options.behind) bench.consume.maxUnflushedRecords = 2000;
  const { reporter, heard } = recordingReporter();
  const calledAtMs = Date.now();
  const outcome = await runBench(bench, {
    reporter,
    ...(options.behind ? { embeddedStore: new SlowStore(1500) } : {}),
  });
  return { ...outcome, heard, calledAtMs };
}

/** Both runs, made once per test file that asks (each takes a few to tens of seconds). */
let both: Promise<{ keptUp: EmbeddedRun; behind: EmbeddedRun }> | undefined;
export function embeddedRuns(dir: string): Promise<{ keptUp: EmbeddedRun; behind: EmbeddedRun }> {
  both ??= (async () => {
    // One after the other: they share this process's thread, and each must have it to itself.
    const keptUp = await embeddedRun(`${dir}/kept-up`, { behind: false });
    const behind = await embeddedRun(`${dir}/behind`, { behind: true });
    return { keptUp, behind };
  })();
  return both;
}
