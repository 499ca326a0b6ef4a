/**
 * The Prometheus endpoint of `gapipe consume`: GET /metrics on a small node:http server, with the
 * consumer's figures read from its latest `ConsumeSnapshot` at scrape time, plus the default process
 * metrics. Each server has its own registry, so several consumers (or tests) in one process never
 * share or double-register metrics.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { type Clock, systemClock } from '../clock.js';
import { GapipeError } from '../errors.js';
import type { ConsumeSnapshot } from './types.js';

export const DEFAULT_METRICS_HOST = '127.0.0.1';
export const METRICS_PATH = '/metrics';
const PREFIX = 'gapipe_consumer_';

export interface MetricsServerOptions {
  /** 0 picks a free port; the returned server reports the one actually bound. */
  port: number;
  /** Interface to listen on; default 127.0.0.1 so the endpoint is not exposed beyond the machine. */
  host?: string;
  /** The consumer's latest figures; undefined before it has any (only process metrics are served then). */
  snapshot: () => ConsumeSnapshot | undefined;
  /** Reference for `watermark_delay_seconds`; the system clock unless a test injects one. */
  clock?: Clock;
}

export interface MetricsServer {
  /** Full scrape URL, e.g. http://127.0.0.1:9464/metrics. */
  url: string;
  port: number;
  /** Stops listening and drops open connections; safe to call more than once. */
  close(): Promise<void>;
}

type Labels = 'topic' | 'group';
type PartitionLabels = Labels | 'partition';

/**
 * Builds the registry for one consumer. Every value comes from `snapshot()` inside a `collect`
 * callback, so a scrape always sees the latest snapshot and nothing has to be pushed.
 */
export function createConsumeRegistry(
  snapshot: () => ConsumeSnapshot | undefined,
  clock: Clock = systemClock,
): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: 'gapipe_' });

  const labelsOf = (s: ConsumeSnapshot) => ({ topic: s.topic, group: s.group });

  /*
   * Totals are exposed as Counters, not Gauges named `_total`: the TYPE line then says `counter`, which
   * is what rate()/increase(), Grafana and OpenMetrics parsers expect of a `_total` series. A Counter
   * cannot be set, so each collect resets it and increments it by the consumer's own total — the same
   * as setting it. That is simpler than tracking deltas and stays right if the snapshot provider
   * changes (a new consumer starts again from 0, which Prometheus handles as an ordinary counter reset).
   */
  const counter = (name: string, help: string, value: (s: ConsumeSnapshot) => number) =>
    new Counter<Labels>({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['topic', 'group'],
      registers: [register],
      collect() {
        this.reset();
        const s = snapshot();
        if (s) this.inc(labelsOf(s), Math.max(0, value(s)));
      },
    });

  const gauge = (name: string, help: string, value: (s: ConsumeSnapshot) => number | undefined) =>
    new Gauge<Labels>({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['topic', 'group'],
      registers: [register],
      collect() {
        this.reset();
        const s = snapshot();
        const v = s === undefined ? undefined : value(s);
        // An undefined value (no watermark yet) leaves the series out rather than reporting a made-up 0.
        if (s !== undefined && v !== undefined) this.set(labelsOf(s), v);
      },
    });

  // Label sets are rebuilt on every collect, so partitions revoked in a rebalance disappear.
  const partitionGauge = (
    name: string,
    help: string,
    value: (p: ConsumeSnapshot['partitions'][number]) => number | undefined,
  ) =>
    new Gauge<PartitionLabels>({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['topic', 'group', 'partition'],
      registers: [register],
      collect() {
        this.reset();
        const s = snapshot();
        if (!s) return;
        for (const p of s.partitions) {
          const v = value(p);
          if (v !== undefined) this.set({ ...labelsOf(s), partition: String(p.partition) }, v);
        }
      },
    });

  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

  counter(
    'records_consumed_total',
    'Records consumed since start (replayed records excluded)',
    (s) => s.consumed,
  );
  counter('records_accepted_total', 'Distinct events accepted into windows', (s) => s.accepted);
  counter(
    'duplicates_total',
    'Records repeating an event_id already seen in their cell',
    (s) => s.duplicates,
  );
  counter(
    'late_events_total',
    'Events that arrived after their window closed (sent to the late topic)',
    (s) => s.late,
  );
  counter('dead_letter_total', 'Records sent to the dead-letter topic', (s) => s.deadLettered);
  counter('documents_written_total', 'Aggregate documents acknowledged by Elasticsearch', (s) => s.written);
  counter('raw_events_written_total', 'Raw events indexed (--index-raw)', (s) => s.rawWritten);
  counter(
    'records_replayed_total',
    'Records re-read to rebuild open windows after a restart or rebalance',
    (s) => s.replayed,
  );
  counter('flushes_total', 'Flushes of open windows to Elasticsearch', (s) => s.flushes);
  counter('failed_flushes_total', 'Flushes that failed and were retried', (s) => s.failedFlushes);

  gauge('consumed_per_second', 'Records consumed per second over the last second', (s) => s.consumedPerSec);
  gauge(
    'written_per_second',
    'Aggregate documents written per second over the last second',
    (s) => s.writtenPerSec,
  );
  gauge('watermark_seconds', 'Consumer watermark (min over active partitions), epoch seconds', (s) =>
    seconds(s.watermarkMs),
  );
  gauge('watermark_delay_seconds', 'How far the watermark is behind now, in seconds', (s) =>
    s.watermarkMs === undefined ? undefined : (clock.now() - s.watermarkMs) / 1000,
  );
  gauge('open_windows', 'Windows held open in memory', (s) => s.openWindows);
  gauge('open_cells', 'Aggregate cells (documents) held in memory', (s) => s.openCells);
  gauge('backpressure', '1 while fetching is paused because Elasticsearch is behind or unreachable', (s) =>
    s.backpressure ? 1 : 0,
  );

  partitionGauge('partition_lag', 'High watermark minus position', (p) => p.lag);
  partitionGauge('partition_position', 'Next offset to read', (p) => p.position);
  partitionGauge(
    'partition_committed_offset',
    'Offset committed to Kafka (the replay point)',
    (p) => p.committed,
  );
  partitionGauge('partition_watermark_seconds', 'Partition watermark, epoch seconds', (p) =>
    seconds(p.watermarkMs),
  );
  partitionGauge('partition_idle', '1 while the partition is idle (excluded from the watermark)', (p) =>
    p.idle ? 1 : 0,
  );

  return register;
}

/** Serves GET /metrics from a fresh registry fed by `snapshot`; rejects with PORT_IN_USE if the port is taken. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? DEFAULT_METRICS_HOST;
  const register = createConsumeRegistry(options.snapshot, options.clock);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== METRICS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Not found; metrics are at ${METRICS_PATH}\n`);
      return;
    }
    try {
      const body = await register.metrics();
      res.writeHead(200, { 'content-type': register.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`Collecting metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  };
  const server = createServer((req, res) => {
    void handle(req, res);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(listenError(error, host, options.port));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(options.port, host);
  });

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}${METRICS_PATH}`,
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // A scraper's keep-alive connection would otherwise hold the port until it times out.
        server.closeAllConnections();
      }).finally(() => register.clear());
      return closing;
    },
  };
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new GapipeError(
      'PORT_IN_USE',
      `Port ${port} on ${host} is already in use, so the metrics endpoint cannot listen there`,
      {
        cause: error,
        nextSteps: `Stop what listens there (see \`ss -ltnp 'sport = :${port}'\`) or choose another port with --metrics-port (0 picks a free one)`,
      },
    );
  }
  if (error.code === 'EACCES') {
    return new GapipeError('INVALID_FLAG', `Not allowed to listen on port ${port} on ${host} for metrics`, {
      cause: error,
      nextSteps: 'Choose a port above 1023 with --metrics-port',
    });
  }
  return error;
}
