/** Shared helpers of the end-to-end tests: the stand-in environment, running the CLI, free ports, a lab of a file's own. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { DockerodeFacade } from '../../src/lab/docker.js';
import { Lab } from '../../src/lab/lab.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The environment that `npm run infra:up` wrote (DOCKER_HOST and the stand-in image names). The e2e
 * suite needs it: without a Docker engine and images there is nothing real to test against.
 */
export function infraEnv(): Record<string, string> {
  const file = `${ROOT}.gapipe-infra.env`;
  if (!existsSync(file)) {
    throw new Error(
      `${file} is missing: run \`npm run infra:up\` first (it starts Docker and builds the stand-in images)`,
    );
  }
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) env[match[1]] = match[2].replace(/^['"]|['"]$/g, '');
  }
  return env;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bin/run.js) as a user would, with CI=true and no stdin; killed after `timeoutMs`. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 600_000,
): Promise<CliResult> {
  const cli = startCli(args, env);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  try {
    return await cli.exited;
  } finally {
    clearTimeout(timer);
  }
}

export function parseJson<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** A port that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export interface RunningCli {
  child: ReturnType<typeof spawn>;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<CliResult>;
  /** Resolves when stderr has a line matching `pattern` (after `from` characters), or rejects after the timeout. */
  waitForStderr(pattern: RegExp, timeoutMs?: number, from?: number): Promise<void>;
}

/** Starts the built CLI in the background (CI=true, no stdin). */
export function startCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, [`${ROOT}bin/run.js`, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStderr(pattern, timeoutMs = 120_000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(stderr.slice(from))) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`no ${pattern} on stderr within ${timeoutMs}ms:\n${stderr.slice(-3000)}`));
        }, timeoutMs);
        waiters.push(check);
        check();
      });
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `gapipe lab up` for a test: the named lab with the given services on free ports, from the stand-in
 * images; fails the test with lab up's own message when it does not come up.
 */
export async function labUp(
  name: string,
  env: Record<string, string>,
  services = 'kafka,elasticsearch',
  flags: string[] = [],
): Promise<{ brokers: string; esUrl: string }> {
  const [kafkaPort, esPort] = [await freePort(), await freePort()];
  const args = ['lab', 'up', '--name', name, '--services', services, ...flags];
  const up = await runCli(
    [...args, '--kafka-port', String(kafkaPort), '--es-port', String(esPort), '--json'],
    env,
  );
  if (up.code !== 0) throw new Error(`gapipe lab up failed (exit ${up.code}):\n${up.stderr}`);
  return { brokers: `127.0.0.1:${kafkaPort}`, esUrl: `http://127.0.0.1:${esPort}` };
}

/** Removes the named lab with its volumes; a lab that is not there is no error. */
export async function labDown(name: string): Promise<void> {
  await new Lab({ docker: new DockerodeFacade() }).down(name, { volumes: true }).catch(() => {});
}

/** A test file's own lab and scratch folder (see labForFile). */
export interface TestLab {
  /** The stand-in environment to run the CLI with (infraEnv). */
  readonly env: Record<string, string>;
  /** `<prefix>-<random>`: no other file's or user's lab. */
  readonly name: string;
  /** A temporary folder, removed with the lab. */
  readonly dir: string;
  /** Where the lab's Kafka and Elasticsearch listen, once it is up. */
  readonly brokers: string;
  readonly esUrl: string;
  /** Brings the lab up: the file's tests that need it call this when the lab is not started in beforeAll. */
  up(): Promise<void>;
}

export interface LabForFileOptions {
  /** What `lab up --services` gets. */
  services?: string;
  /** More `lab up` flags, e.g. --partitions. */
  flags?: string[];
  /** False: the lab comes up only when a test calls `up()` (a file whose other tests need no Docker). */
  upBeforeAll?: boolean;
}

/**
 * Registers this file's set-up and clean-up for a lab named `<prefix>-<random>` with a temporary
 * folder `gapipe-<prefix>-…`: beforeAll makes the folder and brings the lab up (see `upBeforeAll`),
 * afterAll removes both, also when a test failed. Points DOCKER_HOST at the stand-in engine at once,
 * for the file's own Docker calls. vitest runs afterAll hooks last-registered first, so clean-up the
 * file registers after this (killing processes it started) happens before the lab goes.
 */
export function labForFile(prefix: string, options: LabForFileOptions = {}): TestLab {
  const env = infraEnv();
  process.env.DOCKER_HOST = env.DOCKER_HOST;
  const name = randomName(prefix);
  let dir: string | undefined;
  let endpoints: { brokers: string; esUrl: string } | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the lab's ${what} is known only after beforeAll (or up())`);
    return value;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `gapipe-${prefix}-`));
    if (options.upBeforeAll !== false) await lab.up();
  });
  afterAll(async () => {
    await labDown(name);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const lab: TestLab = {
    env,
    name,
    get dir() {
      return ready(dir, 'folder');
    },
    get brokers() {
      return ready(endpoints, 'Kafka').brokers;
    },
    get esUrl() {
      return ready(endpoints, 'Elasticsearch').esUrl;
    },
    async up() {
      endpoints = await labUp(name, env, options.services, options.flags);
    },
  };
  return lab;
}
