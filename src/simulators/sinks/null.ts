/**
 * Discards records after measuring them: the generator's own throughput (`--sink null`, bench/). It
 * takes each value's byte length, which makes V8 flatten the concatenated string, as any real sink must.
 */
import type { Sink, SinkRecord, SinkStats } from './types.js';

export class NullSink implements Sink {
  readonly description = 'null (discard)';
  private acknowledged = 0;
  private bytes = 0;

  async open(): Promise<void> {}

  send(records: readonly SinkRecord[]): void {
    let bytes = 0;
    for (const record of records) {
      bytes += typeof record.value === 'string' ? Buffer.byteLength(record.value) : record.value.length;
    }
    this.bytes += bytes;
    this.acknowledged += records.length;
  }

  inFlight(): number {
    return 0;
  }

  stats(): SinkStats {
    return { acknowledged: this.acknowledged, failed: 0, bytes: this.bytes };
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  fatalError(): Error | undefined {
    return undefined;
  }
}
