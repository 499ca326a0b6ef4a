/**
 * Records as gapipe's group consumer hands them to the delivery tap, and a fake of that consumer that
 * the tests drive: assignments, batches, fatal errors and a stop that may hang.
 */
import { INTENDED_TS_HEADER, type TapConsumer } from '../../../src/bench/delivery-tap.js';
import type {
  FetchedRecord,
  GroupConsumerHandlers,
  GroupConsumerOptions,
} from '../../../src/kafka/consumer.js';
import { RecordBatch, RecordEncoder } from '../../../src/kafka/record-batch.js';
import { HeaderTextCache, readRecordBatches } from '../../../src/kafka/record-batch-reader.js';

/** A record to put in a batch: its offset and its intended-time header (none when undefined). */
export interface Spec {
  offset: number;
  intended?: string | number;
}

/** Records as the consumer hands them over: encoded by gapipe's producer code, read by its reader. */
export function fetched(specs: Spec[]): FetchedRecord[] {
  const wires: Buffer[] = [];
  let i = 0;
  while (i < specs.length) {
    const first = specs[i] as Spec;
    const timed = first.intended !== undefined;
    let j = i + 1;
    while (
      j < specs.length &&
      ((specs[j] as Spec).intended !== undefined) === timed &&
      (specs[j] as Spec).offset === first.offset + (j - i)
    )
      j++;
    // The run id first: the intended time is found among other headers, as the producer orders them
    // the other way round.
    const encoder = new RecordEncoder<Spec>({
      key: (s) => `player-${s.offset}`,
      value: () => '{"not":"read"}',
      headerNames: timed ? ['gapipe-run-id', INTENDED_TS_HEADER] : ['gapipe-run-id'],
      headerValue: (s, h) => (h === 0 ? 'run-1' : (s.intended as string | number)),
    });
    const batch = new RecordBatch<Spec>(0, 0, 1024, 64 << 20, 100_000);
    for (const spec of specs.slice(i, j)) {
      encoder.prepare(spec);
      batch.tryAppend(encoder, spec, 1_700_000_000_000);
    }
    batch.close('none');
    const wire = Buffer.from(batch.stamp(-1, -1));
    wire.writeBigInt64BE(BigInt(first.offset), 0);
    wires.push(wire);
    i = j;
  }
  return readRecordBatches(Buffer.concat(wires), { fetchOffset: 0, cache: new HeaderTextCache() }).records;
}

export function timedSpecs(from: number, count: number, intendedFrom = 1_700_000_000_000): Spec[] {
  return Array.from({ length: count }, (_, i) => ({ offset: from + i, intended: intendedFrom + i }));
}

export class FakeConsumer implements TapConsumer {
  handlers: GroupConsumerHandlers | undefined;
  startError: unknown;
  partitions = 3;
  stops = 0;
  stopHangs = false;
  committed = false;

  constructor(readonly options: GroupConsumerOptions) {}

  async start(handlers: GroupConsumerHandlers): Promise<void> {
    if (this.startError) throw this.startError;
    this.handlers = handlers;
  }

  async partitionCount(): Promise<number> {
    return this.partitions;
  }

  stop(): Promise<void> {
    this.stops++;
    return this.stopHangs ? new Promise(() => {}) : Promise.resolve();
  }

  assign(partitions: number[]): void {
    this.handlers?.onAssignment(partitions);
  }

  /** Delivers a batch as the consumer does; returns the handler's answer. */
  async deliver(partition: number, records: FetchedRecord[]): Promise<{ seekTo?: number }> {
    const handlers = this.handlers as GroupConsumerHandlers;
    return handlers.onBatch(
      { partition, records, highWatermark: (records.at(-1)?.offset ?? 0) + 1 },
      { heartbeat: () => Promise.resolve(), isActive: () => true },
    );
  }
}
