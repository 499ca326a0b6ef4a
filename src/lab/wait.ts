/**
 * Readiness checks ("wait strategies"): each service has a check and an explicit time budget.
 * `waitUntilReady` polls the check until it passes, the container dies, or the budget runs out;
 * the error names the service, the check and the budget, and carries the container's last log lines.
 */
import { Client as ElasticsearchClient } from '@elastic/elasticsearch';
import { Kafka, logLevel } from 'kafkajs';
import { type Clock, systemClock } from '../clock.js';
import { describeCause, GapipeError } from '../errors.js';

export interface CheckResult {
  ready: boolean;
  /** Why it is not ready yet (shown when the budget runs out). */
  detail?: string;
}

export interface WaitStrategy {
  /** What is checked, in words: "a Kafka metadata request to 127.0.0.1:9092". */
  readonly description: string;
  check(): Promise<CheckResult>;
}

export interface WaitOptions {
  service: string;
  budgetMs: number;
  intervalMs?: number;
  clock?: Clock;
  /** Returns false when the container has stopped: no point waiting out the budget then. */
  isAlive?: () => Promise<boolean>;
  /** Log lines to attach to the error. */
  lastLogs?: () => Promise<string[]>;
}

export async function waitUntilReady(strategy: WaitStrategy, options: WaitOptions): Promise<number> {
  const clock = options.clock ?? systemClock;
  const interval = options.intervalMs ?? 1000;
  const started = clock.now();
  let lastDetail = 'no check completed';
  for (;;) {
    try {
      const result = await strategy.check();
      if (result.ready) return clock.now() - started;
      lastDetail = result.detail ?? 'not ready';
    } catch (error) {
      lastDetail = describeCause(error) ?? 'check failed';
    }
    if (options.isAlive && !(await options.isAlive())) {
      throw await notReady(options, strategy, `its container stopped (last check: ${lastDetail})`);
    }
    if (clock.now() - started + interval > options.budgetMs) {
      throw await notReady(
        options,
        strategy,
        `not ready within ${formatBudget(options.budgetMs)} (last check: ${lastDetail})`,
      );
    }
    await clock.sleep(interval);
  }
}

async function notReady(options: WaitOptions, strategy: WaitStrategy, why: string): Promise<GapipeError> {
  const logs = options.lastLogs ? await options.lastLogs().catch(() => []) : [];
  return new GapipeError(
    'SERVICE_NOT_READY',
    `${options.service} did not become ready: ${strategy.description} — ${why}`,
    {
      details: logs.length > 0 ? [`last log lines of ${options.service}:`, ...logs.map((l) => `  ${l}`)] : [],
      nextSteps: `Read the log lines above; \`gapipe lab logs ${options.service}\` shows more. A slow machine may need a larger budget (--ready-timeout)`,
    },
  );
}

export function formatBudget(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Kafka is ready when it answers a metadata request and has an active controller. */
export function kafkaMetadataStrategy(bootstrap: string): WaitStrategy {
  return {
    description: `a Kafka metadata request to ${bootstrap}`,
    async check() {
      const kafka = new Kafka({
        clientId: 'gapipe-wait',
        brokers: [bootstrap],
        logLevel: logLevel.NOTHING,
        connectionTimeout: 2000,
        requestTimeout: 3000,
        retry: { retries: 0 },
      });
      const admin = kafka.admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length === 0) return { ready: false, detail: 'no brokers in metadata' };
        if (cluster.controller === null || cluster.controller < 0)
          return { ready: false, detail: 'no active controller' };
        return { ready: true };
      } finally {
        await admin.disconnect().catch(() => {});
      }
    },
  };
}

/** Elasticsearch is ready at cluster health yellow or green. */
export function elasticsearchHealthStrategy(url: string): WaitStrategy {
  return {
    description: `Elasticsearch cluster health at ${url}`,
    async check() {
      const client = new ElasticsearchClient({ node: url, requestTimeout: 3000, maxRetries: 0 });
      try {
        const health = await client.cluster.health({ wait_for_status: 'yellow', timeout: '1s' });
        if (health.status === 'red' || health.timed_out)
          return { ready: false, detail: `cluster health ${health.status}` };
        return { ready: true };
      } finally {
        await client.close().catch(() => {});
      }
    },
  };
}

/** Kibana is ready when its status API reports the overall level "available". */
export function kibanaStatusStrategy(url: string, fetchImpl: typeof fetch = fetch): WaitStrategy {
  return {
    description: `Kibana status API at ${url}/api/status`,
    async check() {
      const response = await fetchImpl(`${url}/api/status`, { signal: AbortSignal.timeout(3000) });
      if (!response.ok) return { ready: false, detail: `HTTP ${response.status}` };
      const body = (await response.json()) as { status?: { overall?: { level?: string; state?: string } } };
      const level = body.status?.overall?.level ?? body.status?.overall?.state;
      if (level === 'available' || level === 'green') return { ready: true };
      return { ready: false, detail: `overall status ${level ?? 'unknown'}` };
    },
  };
}
