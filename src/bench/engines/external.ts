/**
 * An engine the user runs: their own Spark, Flink or Kafka Streams job (or gapipe's Spark job started
 * by hand). The bench creates the run's topic and index, writes where they are to the terminal and to
 * engine.json in the results folder, and waits until the job has written the run's probe events — then
 * the load starts, and the job is measured from outside like any engine.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { PhaseReporter } from '../endpoints.js';
import { PROBE_WINDOW_START, sendProbes, waitForProbes } from './probe.js';
import type { BenchEngine, EngineReading, EngineRun } from './types.js';

/** What the user's job must read and write (engine.json). */
export interface ExternalEngineSpec {
  brokers: string;
  topic: string;
  partitions: number;
  lateTopic: string;
  deadLetterTopic: string;
  esUrl: string;
  index: string;
  /** The probe's window, which the bench leaves out of verify. */
  probeWindowStart: string;
  contract: string;
}

export function externalEngineSpec(run: EngineRun): ExternalEngineSpec {
  return {
    brokers: run.brokers.join(','),
    topic: run.topic,
    partitions: run.partitions,
    lateTopic: `${run.topic}-late`,
    deadLetterTopic: `${run.topic}-dlq`,
    esUrl: run.esUrl,
    index: run.index,
    probeWindowStart: PROBE_WINDOW_START,
    contract: 'docs/engines.md',
  };
}

export class ExternalEngine implements BenchEngine {
  readonly name = 'external' as const;
  readonly description = 'your engine';
  readonly reportsProgress = false;

  constructor(
    private readonly run: EngineRun,
    private readonly es: Client,
    private readonly context: {
      runId: string;
      outDir: string;
      startTimeoutMs: number;
      phase: PhaseReporter;
      signal?: AbortSignal | undefined;
    },
  ) {}

  async start(): Promise<void> {
    const { run, context } = this;
    const spec = externalEngineSpec(run);
    const file = join(context.outDir, 'engine.json');
    await writeFile(file, `${JSON.stringify(spec, null, 2)}\n`);
    await sendProbes(run.brokers, run.topic, run.partitions, context.runId);
    const limit = Math.round(context.startTimeoutMs / 1000);
    const tell = (waitedMs?: number) =>
      context.phase(
        'starting',
        `start your engine: read topic ${run.topic} (Kafka ${spec.brokers}) from the earliest offset and write index ${run.index} (Elasticsearch ${run.esUrl}), as docs/engines.md says; the same in ${file}. Waiting for its first documents${waitedMs === undefined ? '' : ` (${Math.round(waitedMs / 1000)}s`} of at most ${limit}s${waitedMs === undefined ? '' : ')'}`,
      );
    tell();
    await waitForProbes({
      es: this.es,
      index: run.index,
      topic: run.topic,
      partitions: run.partitions,
      timeoutMs: context.startTimeoutMs,
      signal: context.signal,
      onWaiting: (waited) => tell(waited),
    });
  }

  loadStarting(): void {}

  async read(): Promise<EngineReading> {
    return { consumed: undefined, consumers: [], consumedPerSecond: undefined, snapshots: [] };
  }

  async stop(): Promise<void> {}

  /** The user's processes are theirs: their CPU and memory are not measured here. */
  pids(): number[] {
    return [];
  }

  snapshots() {
    return [];
  }

  failure(): string | undefined {
    return undefined;
  }
}
