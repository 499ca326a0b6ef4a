/**
 * The one place that turns `--sink` into a Sink. Add a transport here (the Kafka sink plugs in as one
 * more case) and every caller — the simulate command, bench, tests — can use it.
 */
import type { Writable } from 'node:stream';
import { invalidFlag } from '../../errors.js';
import type { KafkaProducerOptions, SinkKind } from '../options.js';
import { KafkaSink } from './kafka.js';
import { MemorySink } from './memory.js';
import { NullSink } from './null.js';
import { openFileSink, StreamSink } from './stream.js';
import type { Sink } from './types.js';

export type { RecordHeaders, Sink, SinkRecord, SinkStats } from './types.js';
export { KafkaSink, MemorySink, NullSink, StreamSink };

export interface SinkConfig {
  kind: SinkKind;
  /** --out, for the file sink. */
  out?: string | undefined;
  /** Kafka bootstrap servers, host:port. */
  brokers: string[];
  topic: string;
  runId: string;
  /** Producer settings for --sink kafka (defaults when absent). */
  kafka?: KafkaProducerOptions | undefined;
}

export interface SinkEnvironment {
  /** Where the stdout sink writes (tests pass a stream of their own). */
  stdout?: Writable;
}

/** Creates and opens the sink for a run. */
export async function createSink(config: SinkConfig, environment: SinkEnvironment = {}): Promise<Sink> {
  let sink: Sink;
  switch (config.kind) {
    case 'null':
      sink = new NullSink();
      break;
    case 'stdout':
      sink = new StreamSink(environment.stdout ?? process.stdout, 'stdout', false);
      break;
    case 'file':
      if (!config.out) throw invalidFlag('--sink file needs --out FILE', 'Add --out events.ndjson');
      sink = await openFileSink(config.out);
      break;
    case 'kafka':
      sink = new KafkaSink({
        brokers: config.brokers,
        topic: config.topic,
        clientId: `gapipe-simulate-${config.runId.slice(0, 8)}`,
        ...(config.kafka ?? {}),
      });
      break;
  }
  await sink.open();
  return sink;
}

/** A sink kept in memory (tests, embedded runs). */
export function createMemorySink(options?: ConstructorParameters<typeof MemorySink>[0]): MemorySink {
  return new MemorySink(options);
}
