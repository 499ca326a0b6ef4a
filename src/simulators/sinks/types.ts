/**
 * The sink interface: where generated records go. Small on purpose (OpenMessaging Benchmark's driver
 * model), so a Kafka sink with its own batching, a file and a memory sink plug in alike.
 *
 * Contract:
 * - `send` hands records over and returns at once. It never waits for an acknowledgement, and it does
 *   not throw for a failed record: failures are counted in `stats().failed` (after any retries).
 * - `inFlight()` is how many handed-over records are neither acknowledged nor failed yet. The
 *   simulator stops generating while it is at the in-flight budget (the memory bound) and reports the
 *   resulting backlog; it never slows the schedule.
 * - `flush()` resolves once everything sent so far is acknowledged or failed.
 * - `fatalError()` reports a sink that cannot take records any more (broker unreachable after
 *   retries, disk full): the run stops and the error is shown.
 */
import type { Histogram } from 'hdr-histogram-js';

/** Record headers: measurement metadata travels here, never in the event payload. */
export interface RecordHeaders {
  /** Intended send time from the schedule, epoch milliseconds, as decimal text. */
  'gapipe-intended-ts': string;
  /** Identifies the run (a UUID). */
  'gapipe-run-id': string;
}

export interface SinkRecord {
  /** Kafka key: the player_id, so a player's events stay in one partition. */
  readonly key: string;
  /** The event as sent: JSON text for valid events; arbitrary bytes for some malformed records. */
  readonly value: string | Buffer;
  readonly headers: RecordHeaders;
  /** Intended send time (epoch ms, fractional): latency is measured from here, not from the actual send. */
  readonly intendedMs: number;
}

export interface SinkStats {
  acknowledged: number;
  failed: number;
  /** Payload bytes handed over. */
  bytes: number;
  /**
   * Produce→ack latency from each record's intended send time, in microseconds, when the sink measures
   * it (the Kafka sink does). Summaries report p50/p90/p99/p99.9/max from it.
   */
  produceAckLatencyUs?: Histogram | undefined;
  /** Last few distinct failure messages, for the summary. */
  errors?: string[] | undefined;
}

export interface Sink {
  /** For the banner and the summary, e.g. "stdout", "file events.ndjson", "kafka 127.0.0.1:9092 → game-events". */
  readonly description: string;
  open(): Promise<void>;
  send(records: readonly SinkRecord[]): void;
  inFlight(): number;
  stats(): SinkStats;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Set when the sink can take no more records; the run stops. */
  fatalError(): Error | undefined;
  /**
   * True when the sink ended normally because its reader went away (stdout piped into `head`): the run
   * stops quietly instead of failing.
   */
  closedByReader?(): boolean;
}
