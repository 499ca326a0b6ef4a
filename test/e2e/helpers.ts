/** Shared helpers of the end-to-end tests: the stand-in environment, running the CLI, free ports. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

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

/** Runs the built CLI (bin/run.js) as a user would, with CI=true and no stdin. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 600_000,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/run.js`, ...args], {
      cwd: ROOT,
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
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
): Promise<{ brokers: string; esUrl: string }> {
  const [kafkaPort, esPort] = [await freePort(), await freePort()];
  const args = ['lab', 'up', '--name', name, '--services', services];
  const up = await runCli(
    [...args, '--kafka-port', String(kafkaPort), '--es-port', String(esPort), '--json'],
    env,
  );
  if (up.code !== 0) throw new Error(`gapipe lab up failed (exit ${up.code}):\n${up.stderr}`);
  return { brokers: `127.0.0.1:${kafkaPort}`, esUrl: `http://127.0.0.1:${esPort}` };
}
