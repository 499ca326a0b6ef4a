/**
 * The sink of one generator of a run — the single-threaded run's, or one worker thread's — with the
 * run's hooks wired in: every Kafka-writing thread has a producer of its own; with --workers, the
 * stdout and file sinks are written by the main thread (one stream, one writer), which the worker
 * reaches through a ForwardedRecordsSink.
 */

import type { SimulateOptions } from './options.js';
import type { SinkRecord } from './sinks/index.js';
import { createSink, KafkaSink, type SinkEnvironment } from './sinks/index.js';
import type { Sink, SinkStats } from './sinks/types.js';

/** Callbacks a run gives its sinks. */
export interface SinkHooks {
  /** Acknowledged records' intended send times, in batches, and when they were acknowledged. */
  onAcknowledged?: ((intendedMs: readonly number[], nowMs: number) => void) | undefined;
  /** Records the sink finally gave up on (after its retries): taken out of the ground truth. */
  onFailed?: ((records: readonly SinkRecord[]) => void) | undefined;
}

/** Creates and opens the sink for `options.sink`; `worker` tells threads' Kafka clients apart. */
export async function createShardSink(
  options: Pick<SimulateOptions, 'sink' | 'out' | 'brokers' | 'topic' | 'kafka'>,
  runId: string,
  hooks: SinkHooks,
  environment: SinkEnvironment = {},
  worker?: number,
): Promise<Sink> {
  if (options.sink !== 'kafka') {
    return createSink(
      { kind: options.sink, out: options.out, brokers: options.brokers, topic: options.topic, runId },
      environment,
    );
  }
  const kafkaOptions: ConstructorParameters<typeof KafkaSink>[0] & SinkHooks = {
    brokers: options.brokers,
    topic: options.topic,
    clientId: `gapipe-simulate-${runId.slice(0, 8)}${worker === undefined ? '' : `-${worker}`}`,
    ...options.kafka,
    ...definedHooks(hooks),
  };
  const sink = new KafkaSink(kafkaOptions);
  await sink.open();
  return sink;
}

function definedHooks(hooks: SinkHooks): SinkHooks {
  const out: SinkHooks = {};
  if (hooks.onAcknowledged) out.onAcknowledged = hooks.onAcknowledged;
  if (hooks.onFailed) out.onFailed = hooks.onFailed;
  return out;
}

const NEWLINE = 10;

/**
 * A worker thread's stand-in for the stdout or file sink: each batch becomes one buffer of lines
 * (what the stream sink would write), transferred to the main thread, which writes it and says so.
 * Until then the records count as in flight, so the run's in-flight budget bounds what waits there.
 */
export class ForwardedRecordsSink implements Sink {
  readonly description = 'the main thread';
  private sent = 0;
  private acknowledged = 0;
  private failed = 0;
  private bytes = 0;
  private fatal: Error | undefined;
  private readerGone = false;
  private readonly idle: Array<() => void> = [];

  /** `post` hands the lines (without the last newline) and their count to the main thread. */
  constructor(private readonly post: (data: Uint8Array, count: number) => void) {}

  async open(): Promise<void> {}

  send(records: readonly SinkRecord[]): void {
    const count = records.length;
    if (count === 0) return;
    if (this.fatal || this.readerGone) {
      this.failed += count;
      return;
    }
    let length = count - 1;
    for (const record of records) {
      length += typeof record.value === 'string' ? Buffer.byteLength(record.value) : record.value.length;
    }
    // Its own ArrayBuffer (never a slice of Buffer's shared pool), so it can be transferred.
    const data = new Uint8Array(length);
    const view = Buffer.from(data.buffer, 0, length);
    let at = 0;
    for (const [i, record] of records.entries()) {
      if (i > 0) data[at++] = NEWLINE;
      if (typeof record.value === 'string') at += view.write(record.value, at, 'utf8');
      else {
        data.set(record.value, at);
        at += record.value.length;
      }
    }
    this.bytes += length + 1;
    this.sent += count;
    this.post(data, count);
  }

  /** The main thread wrote `count` records (`failed` of them could not be). */
  written(count: number, failed: number): void {
    this.acknowledged += count - failed;
    this.failed += failed;
    if (this.inFlight() === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  /** The main thread's sink failed for good: nothing more will be written. */
  fail(error: Error): void {
    this.fatal ??= error;
    this.release();
  }

  /** The reader of stdout went away: the run stops quietly. */
  closeByReader(): void {
    this.readerGone = true;
    this.release();
  }

  inFlight(): number {
    return this.sent - this.acknowledged - this.failed;
  }

  stats(): SinkStats {
    return { acknowledged: this.acknowledged, failed: this.failed, bytes: this.bytes };
  }

  async flush(): Promise<void> {
    if (this.inFlight() === 0 || this.fatal || this.readerGone) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    await this.flush();
  }

  fatalError(): Error | undefined {
    return this.fatal;
  }

  closedByReader(): boolean {
    return this.readerGone;
  }

  private release(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
