/**
 * Shared shapes of the aggregation pipeline: the decoded event, the documents the consumer writes to
 * Elasticsearch, its per-partition checkpoint, and the live figures it reports.
 *
 * Aggregate documents (index `gapipe-aggregates` by default), one per
 * (window, region, event_type, partition) — plus player_id for session windows — with a deterministic
 * id (see `aggregateDocId`). Partitions never share a player (records are keyed by player_id), so
 * summing a cell's documents over partitions gives exact totals, unique players included.
 */

export const WINDOW_KINDS = ['tumbling', 'hopping', 'session'] as const;
export type WindowKind = (typeof WINDOW_KINDS)[number];

/** A valid event, reduced to what the aggregation needs. */
export interface DecodedEvent {
  /** Event time (`ts`), epoch ms. */
  tsMs: number;
  region: string;
  eventType: string;
  playerId: string;
  /** 64-bit fingerprint of event_id (dedupe), as two unsigned 32-bit halves. */
  eventHi: number;
  eventLo: number;
  /** 64-bit fingerprint of player_id (unique players). */
  playerHi: number;
  playerLo: number;
  /** price_usd in whole cents (item_purchase), else 0. */
  priceCents: number;
}

/** Why a record went to the dead-letter topic. */
export interface DecodeFailure {
  /** A short, stable category: empty, invalid_utf8, invalid_json, schema, bad_timestamp, bad_price. */
  kind: string;
  /** Human-readable reason, e.g. "/region must be equal to one of the allowed values (got \"MARS\")". */
  reason: string;
}

export type DecodeResult = { ok: true; event: DecodedEvent } | { ok: false; failure: DecodeFailure };

/** One document of the aggregates index, as written (`_source`). */
export interface AggregateDoc {
  window_start: string;
  window_end: string;
  window_kind: WindowKind;
  region: string;
  event_type: string;
  partition: number;
  topic: string;
  /** Session windows only. */
  player_id?: string;
  /** Distinct events accepted into the window (duplicates and late events not counted). */
  events: number;
  unique_players: number;
  /** revenue_cents / 100. */
  revenue_usd: number;
  /** Exact sum of price_usd over the accepted events, in cents. */
  revenue_cents: number;
  /** Distinct events of this cell that arrived after the window was closed (sent to the late topic). */
  late_events: number;
  late_revenue_cents: number;
  /** Records repeating an event_id already seen in this cell (accepted or late). */
  duplicates: number;
  /** True once the partition's watermark has passed window_end. */
  final: boolean;
  /** Offset of the last record that changed this document. */
  last_offset: number;
  /** Run id (record header gapipe-run-id) of the first record of this cell, when present. */
  run_id?: string;
  /** Wall-clock time of the write; the only field that differs between two runs over the same records. */
  updated_at: string;
}

/** The deterministic `_id` of an aggregate document. */
export function aggregateDocId(doc: {
  topic: string;
  partition: number;
  window_kind: WindowKind;
  window_start: string;
  region: string;
  event_type: string;
  player_id?: string | undefined;
}): string {
  const base = `${doc.topic}:${doc.partition}:${doc.window_kind}:${doc.window_start}:${doc.region}:${doc.event_type}`;
  return doc.player_id === undefined ? base : `${base}:${doc.player_id}`;
}

/** Live figures of one consumer process, for the terminal view and the Prometheus endpoint. */
export interface ConsumeSnapshot {
  /** Epoch ms when taken. */
  atMs: number;
  elapsedMs: number;
  group: string;
  topic: string;
  /** Totals since start (records replayed to restore state are not counted as consumed). */
  consumed: number;
  accepted: number;
  duplicates: number;
  late: number;
  deadLettered: number;
  /** Aggregate documents acknowledged by Elasticsearch. */
  written: number;
  /** Raw events indexed (--index-raw). */
  rawWritten: number;
  /** Records re-read after a restart or rebalance to rebuild open windows. */
  replayed: number;
  /** Rates over the last second. */
  consumedPerSec: number;
  writtenPerSec: number;
  /** Consumer watermark: min over active partitions, epoch ms; undefined before any event. */
  watermarkMs: number | undefined;
  openWindows: number;
  /** Cells (documents) held in memory. */
  openCells: number;
  /** Partitions this member owns (after the last rebalance). */
  assigned: number[];
  partitions: PartitionSnapshot[];
  /** True while fetching is paused because Elasticsearch is behind or unreachable. */
  backpressure: boolean;
  /** Last sink error message while retrying, cleared on success. */
  sinkError: string | undefined;
  /** What is wrong with Kafka while it does not answer (or refuses side outputs); absent when fine. */
  kafkaError?: string;
  flushes: number;
  failedFlushes: number;
  rssBytes: number;
}

export interface PartitionSnapshot {
  partition: number;
  /** Next offset to read. */
  position: number;
  /** Broker high watermark (end offset) at the last check. */
  highWatermark: number;
  /** highWatermark − position, ≥ 0. */
  lag: number;
  /** Offset committed to Kafka (the replay point). */
  committed: number;
  watermarkMs: number | undefined;
  idle: boolean;
}
