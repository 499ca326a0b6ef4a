/**
 * The Spark engine: gapipe's PySpark Structured Streaming job (templates/engines/spark/job.py), set up
 * on first use (a cached venv and the connector jars) and submitted with spark-submit — on local[N]
 * by default, or to a cluster with --spark-master. The bench sees it as any engine it did not write:
 * it is ready once it has written the run's probe events, and everything is measured from outside.
 */
import { join } from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import { type SparkRuntime, setupSpark, sparkSoftware } from '../../engines/spark/setup.js';
import {
  readDriverLog,
  type SparkJobExit,
  type SparkJobHandle,
  sparkJobFailure,
  submitSparkJob,
} from '../../engines/spark/submit.js';
import { GapipeError } from '../../errors.js';
import type { PhaseReporter } from '../endpoints.js';
import { sendProbes, waitForProbes } from './probe.js';
import { type BenchEngine, describeEngine, type EngineReading, type EngineRun } from './types.js';

export interface SparkEngineOptions {
  /** A cluster's master URL; default local[threads] on this machine. */
  master?: string | undefined;
  /** N of local[N]. */
  threads: number;
  /** How long the job gets to write the probe events (start-up included). */
  startTimeoutMs: number;
}

/** How long the job gets to stop on SIGTERM before SIGKILL. */
const STOP_BUDGET_MS = 20_000;

export class SparkEngine implements BenchEngine {
  readonly name = 'spark' as const;
  readonly description: string;
  readonly reportsProgress = false;
  private job: SparkJobHandle | undefined;
  private runtime: SparkRuntime | undefined;
  private exit: SparkJobExit | undefined;
  private stopping = false;

  constructor(
    private readonly run: EngineRun,
    private readonly spark: SparkEngineOptions,
    private readonly es: Client,
    private readonly context: { runId: string; phase: PhaseReporter; signal?: AbortSignal | undefined },
  ) {
    this.description = describeEngine(
      { engine: 'spark', consumers: 0, sparkMaster: spark.master, sparkThreads: spark.threads },
      'lab',
    );
  }

  /** The job's process group (spark-submit's pid), for its CPU and memory. */
  pids(): number[] {
    return this.job && this.exit === undefined ? [this.job.pid] : [];
  }

  get logFile(): string {
    return join(this.run.workDir, 'spark-driver.log');
  }

  async start(): Promise<void> {
    const { run, context } = this;
    const runtime = await setupSpark({ reporter: { step: (line) => context.phase('starting', line) } });
    this.runtime = runtime;
    await sendProbes(run.brokers, run.topic, run.partitions, context.runId);
    context.phase('starting', `starting ${this.description} (driver log ${this.logFile})`);
    this.job = await submitSparkJob(runtime, {
      brokers: run.brokers.join(','),
      topic: run.topic,
      esUrl: run.esUrl,
      index: run.index,
      checkpointDir: join(run.workDir, 'spark-checkpoint'),
      deadLetterTopic: `${run.topic}-dlq`,
      startingOffsets: 'earliest',
      localThreads: this.spark.threads,
      ...(this.spark.master ? { master: this.spark.master } : {}),
      logFile: this.logFile,
    });
    void this.job.wait().then((exit) => {
      this.exit = exit;
    });
    const started = Date.now();
    await waitForProbes({
      es: this.es,
      index: run.index,
      topic: run.topic,
      partitions: run.partitions,
      timeoutMs: this.spark.startTimeoutMs,
      signal: context.signal,
      failed: () => this.jobFailure(),
      onWaiting: () =>
        context.phase(
          'starting',
          `waiting for the Spark job to read the run's topic and write its index (${Math.round((Date.now() - started) / 1000)}s; driver log ${this.logFile})`,
        ),
    }).catch((error) => {
      // A job that died says why better than a timeout does.
      throw this.jobFailure() ?? error;
    });
  }

  loadStarting(): void {}

  software(): Record<string, string> | undefined {
    return this.runtime ? sparkSoftware(this.runtime) : undefined;
  }

  async read(): Promise<EngineReading> {
    return { consumed: undefined, consumers: [], consumedPerSecond: undefined, snapshots: [] };
  }

  async stop(): Promise<void> {
    const job = this.job;
    if (!job || this.exit) return;
    this.stopping = true;
    job.kill('SIGTERM');
    const killer = setTimeout(() => job.kill('SIGKILL'), STOP_BUDGET_MS);
    this.exit = await job.wait();
    clearTimeout(killer);
  }

  snapshots() {
    return [];
  }

  failure(): string | undefined {
    return this.jobFailure()?.message;
  }

  private jobFailure(): GapipeError | undefined {
    if (!this.exit || this.stopping) return undefined;
    return (
      sparkJobFailure(this.exit, readDriverLog(this.logFile), this.logFile) ??
      // A streaming job never ends on its own: a clean exit before the run ended is a failure too.
      new GapipeError('ENGINE_FAILED', 'The Spark job ended before the run did', {
        nextSteps: `The driver log is ${this.logFile}`,
      })
    );
  }
}
