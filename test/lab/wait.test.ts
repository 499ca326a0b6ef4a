import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { GapipeError } from '../../src/errors.js';
import {
  type CheckResult,
  elasticsearchHealthStrategy,
  formatBudget,
  kafkaMetadataStrategy,
  kibanaStatusStrategy,
  type WaitStrategy,
  waitUntilReady,
} from '../../src/lab/wait.js';

/** A strategy that answers from a script, one entry per poll (the last one repeats). */
function scripted(
  answers: Array<CheckResult | Error>,
  description = 'a scripted check',
): WaitStrategy & {
  polls: number;
} {
  const strategy = {
    description,
    polls: 0,
    async check(): Promise<CheckResult> {
      const answer = answers[Math.min(strategy.polls, answers.length - 1)];
      strategy.polls++;
      if (answer instanceof Error) throw answer;
      if (!answer) throw new Error('empty script');
      return answer;
    },
  };
  return strategy;
}

async function notReadyError(promise: Promise<unknown>): Promise<GapipeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GapipeError);
  expect((error as GapipeError).code).toBe('SERVICE_NOT_READY');
  return error as GapipeError;
}

describe('waitUntilReady', () => {
  it('returns at once, with no time spent, when the first check passes', async () => {
    const clock = new ManualClock(50_000);
    const strategy = scripted([{ ready: true }]);
    expect(await waitUntilReady(strategy, { service: 'kafka', budgetMs: 10_000, clock })).toBe(0);
    expect(strategy.polls).toBe(1);
    expect(clock.now()).toBe(50_000);
  });

  it('polls at the interval until ready and returns the elapsed clock time', async () => {
    const clock = new ManualClock(1_000);
    const strategy = scripted([
      { ready: false, detail: 'starting' },
      { ready: false, detail: 'starting' },
      { ready: false },
      { ready: true },
    ]);
    const elapsed = await waitUntilReady(strategy, {
      service: 'elasticsearch',
      budgetMs: 60_000,
      intervalMs: 250,
      clock,
    });
    expect(strategy.polls).toBe(4);
    expect(elapsed).toBe(750);
    expect(clock.now()).toBe(1_750);
  });

  it('waits one second between polls when no interval is given', async () => {
    const clock = new ManualClock();
    const strategy = scripted([{ ready: false }, { ready: true }]);
    expect(await waitUntilReady(strategy, { service: 'kafka', budgetMs: 10_000, clock })).toBe(1_000);
  });

  it('gives up within the budget, naming service, check, budget and last detail, with the last log lines', async () => {
    const clock = new ManualClock();
    const strategy = scripted(
      [{ ready: false, detail: 'cluster health red' }],
      'Elasticsearch cluster health',
    );
    const error = await notReadyError(
      waitUntilReady(strategy, {
        service: 'elasticsearch',
        budgetMs: 5_000,
        intervalMs: 1_000,
        clock,
        isAlive: async () => true,
        lastLogs: async () => ['starting node', 'ERROR: disk full'],
      }),
    );
    expect(error.message).toBe(
      'elasticsearch did not become ready: Elasticsearch cluster health — not ready within 5s (last check: cluster health red)',
    );
    expect(error.details).toEqual([
      'last log lines of elasticsearch:',
      '  starting node',
      '  ERROR: disk full',
    ]);
    expect(error.nextSteps).toContain('gapipe lab logs elasticsearch');
    expect(error.nextSteps).toContain('--ready-timeout');
    // Polled at 0, 1s, ..., 5s, and never slept past the budget.
    expect(strategy.polls).toBe(6);
    expect(clock.now()).toBe(5_000);
  });

  it('says "not ready" when the check gives no detail, and shows a budget under a second in ms', async () => {
    const error = await notReadyError(
      waitUntilReady(scripted([{ ready: false }]), {
        service: 'kibana',
        budgetMs: 1_500,
        intervalMs: 500,
        clock: new ManualClock(),
      }),
    );
    expect(error.message).toContain('not ready within 1500ms (last check: not ready)');
    expect(error.details).toEqual([]);
  });

  it('fails fast when the container dies, without waiting out the budget', async () => {
    const clock = new ManualClock();
    let aliveChecks = 0;
    const strategy = scripted([{ ready: false, detail: 'connection refused' }], 'a Kafka metadata request');
    const error = await notReadyError(
      waitUntilReady(strategy, {
        service: 'kafka',
        budgetMs: 120_000,
        intervalMs: 1_000,
        clock,
        isAlive: async () => ++aliveChecks < 3,
        lastLogs: async () => ['Exception in thread "main"', 'java.lang.OutOfMemoryError'],
      }),
    );
    expect(error.message).toBe(
      'kafka did not become ready: a Kafka metadata request — its container stopped (last check: connection refused)',
    );
    expect(error.details).toEqual([
      'last log lines of kafka:',
      '  Exception in thread "main"',
      '  java.lang.OutOfMemoryError',
    ]);
    expect(strategy.polls).toBe(3);
    expect(clock.now()).toBe(2_000);
  });

  it('counts a check that throws as not ready and reports its message', async () => {
    const clock = new ManualClock();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9200'), { code: 'ECONNREFUSED' });
    const strategy = scripted([refused, refused, { ready: true }]);
    expect(
      await waitUntilReady(strategy, { service: 'elasticsearch', budgetMs: 10_000, intervalMs: 100, clock }),
    ).toBe(200);

    const error = await notReadyError(
      waitUntilReady(scripted([refused]), {
        service: 'elasticsearch',
        budgetMs: 300,
        intervalMs: 100,
        clock: new ManualClock(),
      }),
    );
    expect(error.message).toContain('(last check: connect ECONNREFUSED 127.0.0.1:9200 (ECONNREFUSED))');
  });

  it('still fails with SERVICE_NOT_READY when reading the logs fails', async () => {
    const error = await notReadyError(
      waitUntilReady(scripted([{ ready: false }]), {
        service: 'kafka',
        budgetMs: 1_000,
        clock: new ManualClock(),
        isAlive: async () => false,
        lastLogs: async () => {
          throw new Error('container gone');
        },
      }),
    );
    expect(error.message).toContain('its container stopped');
    expect(error.details).toEqual([]);
  });
});

describe('formatBudget', () => {
  it('shows whole seconds as seconds and anything else in milliseconds', () => {
    expect(formatBudget(120_000)).toBe('120s');
    expect(formatBudget(1_000)).toBe('1s');
    expect(formatBudget(1_500)).toBe('1500ms');
    expect(formatBudget(250)).toBe('250ms');
  });
});

/** A real local HTTP server whose answer each test sets. */
class StubServer {
  respond: (request: IncomingMessage, response: ServerResponse) => void = (_req, res) => res.end();
  readonly paths: string[] = [];
  private readonly server: Server = createServer((request, response) => {
    this.paths.push(request.url ?? '');
    this.respond(request, response);
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

describe('kibanaStatusStrategy against a local HTTP server', () => {
  const server = new StubServer();
  let url: string;
  beforeAll(async () => {
    url = await server.start();
  });
  afterAll(() => server.stop());

  it('describes the status API it calls', () => {
    expect(kibanaStatusStrategy(url).description).toBe(`Kibana status API at ${url}/api/status`);
  });

  it('is ready when the overall level is available', async () => {
    server.respond = (_req, res) => json(res, 200, { status: { overall: { level: 'available' } } });
    expect(await kibanaStatusStrategy(url).check()).toEqual({ ready: true });
    expect(server.paths.at(-1)).toBe('/api/status');
  });

  it('is not ready while degraded, and says so', async () => {
    server.respond = (_req, res) => json(res, 200, { status: { overall: { level: 'degraded' } } });
    expect(await kibanaStatusStrategy(url).check()).toEqual({
      ready: false,
      detail: 'overall status degraded',
    });
  });

  it('understands the older "state: green" answer', async () => {
    server.respond = (_req, res) => json(res, 200, { status: { overall: { state: 'green' } } });
    expect(await kibanaStatusStrategy(url).check()).toEqual({ ready: true });
  });

  it('is not ready with an unknown status when the body has none', async () => {
    server.respond = (_req, res) => json(res, 200, {});
    expect(await kibanaStatusStrategy(url).check()).toEqual({
      ready: false,
      detail: 'overall status unknown',
    });
  });

  it('is not ready on an HTTP error, reporting the status code', async () => {
    server.respond = (_req, res) => json(res, 500, { message: 'Kibana server is not ready yet' });
    expect(await kibanaStatusStrategy(url).check()).toEqual({ ready: false, detail: 'HTTP 500' });
  });

  it('drives waitUntilReady from not ready to ready', async () => {
    let requests = 0;
    server.respond = (_req, res) => {
      requests++;
      if (requests < 3) json(res, 503, {});
      else json(res, 200, { status: { overall: { level: 'available' } } });
    };
    const elapsed = await waitUntilReady(kibanaStatusStrategy(url), {
      service: 'kibana',
      budgetMs: 60_000,
      intervalMs: 2_000,
      clock: new ManualClock(),
    });
    expect(elapsed).toBe(4_000);
    expect(requests).toBe(3);
  });
});

describe('elasticsearchHealthStrategy against a local HTTP server', () => {
  const server = new StubServer();
  let url: string;
  const health =
    (status: string, timedOut = false) =>
    (_req: IncomingMessage, res: ServerResponse) =>
      json(res, 200, { status, timed_out: timedOut }, { 'x-elastic-product': 'Elasticsearch' });
  beforeAll(async () => {
    url = await server.start();
  });
  afterAll(() => server.stop());

  it('asks cluster health to wait for yellow', async () => {
    server.respond = health('green');
    expect(await elasticsearchHealthStrategy(url).check()).toEqual({ ready: true });
    expect(server.paths.at(-1)).toMatch(/^\/_cluster\/health\?/);
    expect(server.paths.at(-1)).toContain('wait_for_status=yellow');
  });

  it('is ready at yellow', async () => {
    server.respond = health('yellow');
    expect(await elasticsearchHealthStrategy(url).check()).toEqual({ ready: true });
  });

  it('is not ready at red or when the health request timed out', async () => {
    server.respond = health('red');
    expect(await elasticsearchHealthStrategy(url).check()).toEqual({
      ready: false,
      detail: 'cluster health red',
    });
    server.respond = health('yellow', true);
    expect(await elasticsearchHealthStrategy(url).check()).toEqual({
      ready: false,
      detail: 'cluster health yellow',
    });
  });
});

describe('kafkaMetadataStrategy', () => {
  it('fails its check when nothing listens at the bootstrap address', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));

    const strategy = kafkaMetadataStrategy(`127.0.0.1:${port}`);
    expect(strategy.description).toBe(`a Kafka metadata request to 127.0.0.1:${port}`);
    await expect(strategy.check()).rejects.toThrow();
  });
});
