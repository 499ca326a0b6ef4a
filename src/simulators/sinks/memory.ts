/**
 * Keeps every record, for unit tests and embedded runs. Acknowledges immediately, or — with
 * `manualAcks` — only when told to, which is how tests model a sink that cannot keep up.
 */
import type { Sink, SinkRecord, SinkStats } from './types.js';

export class MemorySink implements Sink {
  readonly description = 'memory';
  readonly records: SinkRecord[] = [];
  /** When each `send` call happened (from the injected clock) and how many records it carried. */
  readonly sends: Array<{ atMs: number; count: number }> = [];
  private sent = 0;
  private acknowledged = 0;
  private failed = 0;
  private bytes = 0;

  constructor(private readonly options: { manualAcks?: boolean; now?: () => number; keep?: boolean } = {}) {}

  async open(): Promise<void> {}

  send(records: readonly SinkRecord[]): void {
    this.sends.push({ atMs: this.options.now?.() ?? 0, count: records.length });
    this.sent += records.length;
    for (const record of records) {
      if (this.options.keep !== false) this.records.push(record);
      this.bytes += typeof record.value === 'string' ? Buffer.byteLength(record.value) : record.value.length;
    }
    if (!this.options.manualAcks) this.acknowledged += records.length;
  }

  /** Acknowledges up to `count` outstanding records (manual mode). */
  ack(count: number): void {
    this.acknowledged += Math.min(count, this.inFlight());
  }

  /** Fails up to `count` outstanding records (manual mode). */
  fail(count: number): void {
    this.failed += Math.min(count, this.inFlight());
  }

  inFlight(): number {
    return this.sent - this.acknowledged - this.failed;
  }

  stats(): SinkStats {
    return { acknowledged: this.acknowledged, failed: this.failed, bytes: this.bytes };
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  fatalError(): Error | undefined {
    return undefined;
  }

  /** The values as text lines, as the stdout sink would write them. */
  lines(): string[] {
    return this.records.map((r) => (typeof r.value === 'string' ? r.value : r.value.toString('latin1')));
  }
}
