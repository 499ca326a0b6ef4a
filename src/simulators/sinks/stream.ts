/**
 * stdout and file sinks: one event per line, the value only (headers and keys are Kafka concepts; the
 * stream stays what a game would send, so `gapipe simulate --sink stdout | jq` works). Writes are
 * batched per `send` call; a record counts as acknowledged once its chunk has been written.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { GapipeError } from '../../errors.js';
import type { Sink, SinkRecord, SinkStats } from './types.js';

const NEWLINE = Buffer.from('\n');

export class StreamSink implements Sink {
  private acknowledged = 0;
  private failed = 0;
  private bytes = 0;
  private pending = 0;
  private fatal: Error | undefined;
  private readerGone = false;
  private readonly idle: Array<() => void> = [];
  private readonly errors: string[] = [];

  /**
   * @param stream where to write.
   * @param description for the banner and summary.
   * @param ownsStream end the stream on close (a file), or leave it open (stdout).
   */
  constructor(
    private readonly stream: Writable,
    readonly description: string,
    private readonly ownsStream: boolean,
  ) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' && !ownsStream) {
        // The reader went away (`| head`): stop quietly, like other command-line tools.
        this.readerGone = true;
        return;
      }
      this.fatal ??= new GapipeError('SINK_FAILED', `Writing to ${description} failed: ${error.message}`, {
        cause: error,
        nextSteps: ownsStream ? 'Check that the disk has space and the file is writable' : undefined,
      });
    });
  }

  async open(): Promise<void> {}

  send(records: readonly SinkRecord[]): void {
    const count = records.length;
    if (count === 0) return;
    if (this.readerGone || this.fatal) {
      this.failed += count;
      return;
    }
    let chunk: string | Buffer;
    if (records.every((r) => typeof r.value === 'string')) {
      let text = '';
      for (const record of records) text += `${record.value as string}\n`;
      chunk = text;
    } else {
      const parts: Buffer[] = [];
      for (const record of records) {
        parts.push(typeof record.value === 'string' ? Buffer.from(record.value) : record.value, NEWLINE);
      }
      chunk = Buffer.concat(parts);
    }
    this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    this.pending += count;
    this.stream.write(chunk, (error) => {
      this.pending -= count;
      if (error) {
        this.failed += count;
        if (this.errors.length < 5 && !this.errors.includes(error.message)) this.errors.push(error.message);
      } else {
        this.acknowledged += count;
      }
      if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  inFlight(): number {
    return this.pending;
  }

  stats(): SinkStats {
    return {
      acknowledged: this.acknowledged,
      failed: this.failed,
      bytes: this.bytes,
      errors: this.errors.length > 0 ? [...this.errors] : undefined,
    };
  }

  async flush(): Promise<void> {
    if (this.pending === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    await this.flush();
    if (!this.ownsStream) return;
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }

  fatalError(): Error | undefined {
    return this.fatal;
  }

  closedByReader(): boolean {
    return this.readerGone;
  }
}

/** A sink writing one event per line into `path` (created or truncated). */
export async function openFileSink(path: string): Promise<StreamSink> {
  const stream = createWriteStream(path, { flags: 'w' });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new GapipeError('SINK_FAILED', `Cannot write events to ${path}: ${error.message}`, {
          cause: error,
          nextSteps: 'Check that the directory exists and is writable, or choose another --out',
        }),
      ),
    );
  });
  return new StreamSink(stream, `file ${path}`, true);
}
