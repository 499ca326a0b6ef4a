/**
 * The CLI as a user meets it: a child process, its exit code, stdout and stderr. It runs the current
 * sources through oclif with tsx (the package's oclif settings, with commands read from src/), so
 * no build is needed and a stale dist/ cannot hide a change. DOCKER_HOST points at a socket that
 * does not exist, so no test can reach a real Docker engine.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const require = createRequire(join(ROOT, 'package.json'));
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;
const OCLIF_CORE = pathToFileURL(require.resolve('@oclif/core')).href;
const UNREACHABLE_DOCKER = 'unix:///nonexistent.sock';
const TIMEOUT_MS = 60_000;

const LOAD = `
import { readFileSync } from 'node:fs';
const { execute } = await import(${JSON.stringify(OCLIF_CORE)});
const root = ${JSON.stringify(ROOT)};
const pjson = JSON.parse(readFileSync(root + 'package.json', 'utf8'));
pjson.oclif.commands = './src/commands';
`;

/** What bin/run.js does, but with the commands taken from src/ instead of dist/. */
const LAUNCHER = `${LOAD}
await execute({ args: process.argv.slice(1), loadOptions: { root, pjson } });
`;

/**
 * Several help screens from one process (loading every command costs a second or two per process);
 * each screen is preceded by a line "::: <args>".
 */
const HELP_LAUNCHER = `${LOAD}
for (const args of JSON.parse(process.argv[1])) {
  process.stdout.write('\\n::: ' + args.join(' ') + '\\n');
  await execute({ args, loadOptions: { root, pjson } });
}
`;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let cwd: string;

beforeAll(async () => {
  // An empty working directory: no gapipe.config.json of the developer's is picked up.
  cwd = await mkdtemp(join(tmpdir(), 'gapipe-cli-'));
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

function gapipe(args: string[], env: Record<string, string> = {}, launcher = LAUNCHER): Promise<CliResult> {
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('GAPIPE_') && !key.startsWith('DOCKER_')),
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX_LOADER, '--input-type=module', '-e', launcher, '--', ...args],
      {
        cwd,
        env: {
          ...baseEnv,
          CI: 'true',
          NODE_ENV: 'production',
          DOCKER_HOST: UNREACHABLE_DOCKER,
          ...env,
        },
        timeout: TIMEOUT_MS,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape sequences on purpose
const ESCAPE = /\u001b/;

describe.concurrent('gapipe CLI', { timeout: TIMEOUT_MS }, () => {
  it('--help lists the lab topic, and every lab command has an EXAMPLES section', async () => {
    const commands = ['up', 'down', 'status', 'logs'];
    const invocations = [['--help'], ...commands.map((command) => ['lab', command, '--help'])];
    const { code, stdout, stderr } = await gapipe([JSON.stringify(invocations)], {}, HELP_LAUNCHER);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const screens = new Map(
      stdout
        .split(/^::: /m)
        .slice(1)
        .map((screen) => [screen.slice(0, screen.indexOf('\n')), screen] as const),
    );
    expect([...screens.keys()]).toEqual(invocations.map((args) => args.join(' ')));

    const top = screens.get('--help') ?? '';
    expect(top).toMatch(/^TOPICS$/m);
    expect(top).toMatch(/^\s+lab\s+Start, inspect and remove the local Kafka/m);

    for (const command of commands) {
      const help = screens.get(`lab ${command} --help`) ?? '';
      expect(help, command).toMatch(/^USAGE$/m);
      expect(help, command).toMatch(/^EXAMPLES$/m);
      expect(help.slice(help.indexOf('EXAMPLES')), command).toContain(`$ gapipe lab ${command}`);
    }
  });

  it('lab up --partitions 0 exits 2 with the message on stderr and nothing on stdout', async () => {
    const { code, stdout, stderr } = await gapipe(['lab', 'up', '--partitions', '0']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain("Invalid flag: --partitions must be a whole number from 1 to 1000, got '0'");
  });

  it('lab up --partitions 0 --json prints the error as JSON on stdout', async () => {
    const { code, stdout } = await gapipe(['lab', 'up', '--partitions', '0', '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toEqual({
      error: {
        code: 'INVALID_FLAG',
        title: 'Invalid flag',
        message: "--partitions must be a whole number from 1 to 1000, got '0'",
      },
    });
  });

  it('an unknown flag exits 2 and points at the help', async () => {
    const { code, stdout, stderr } = await gapipe(['lab', 'up', '--bogus']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('--bogus');
    expect(stderr).toContain('gapipe lab up --help');
  });

  it('lab logs without its SERVICE argument calls it an argument, not a flag', async () => {
    const { code, stderr } = await gapipe(['lab', 'logs']);
    expect(code).toBe(2);
    expect(stderr).toContain('✖ Invalid argument: Missing 1 required arg');
    expect(stderr).not.toContain('Invalid flag');
    expect(stderr).toContain('gapipe lab logs --help');
  });

  it('lab logs with an unknown service exits 2 with UNKNOWN_SERVICE', async () => {
    const { code, stderr } = await gapipe(['lab', 'logs', 'nope']);
    expect(code).toBe(2);
    expect(stderr).toContain("✖ Unknown service 'nope'");
    expect(stderr).not.toContain('Unknown service: ');
    expect(stderr).toContain('→ Choose one of kafka, elasticsearch, kibana');
  });

  it('lab status exits 3 when Docker is not reachable, saying where and what to do', async () => {
    const { code, stdout, stderr } = await gapipe(['lab', 'status']);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toContain(`Docker is not reachable at ${UNREACHABLE_DOCKER}`);
    expect(stderr).toMatch(/^→ .*DOCKER_HOST/m);
  });

  it('lab status --json reports DOCKER_UNREACHABLE as JSON', async () => {
    const { code, stdout } = await gapipe(['lab', 'status', '--json']);
    expect(code).toBe(3);
    const { error } = JSON.parse(stdout) as { error: Record<string, string> };
    expect(error.code).toBe('DOCKER_UNREACHABLE');
    expect(error.message).toBe(`Docker is not reachable at ${UNREACHABLE_DOCKER}`);
    expect(error.nextSteps).toContain('DOCKER_HOST');
  });

  it('lab up under CI writes plain lines, no terminal drawing, and exits 3 without Docker', async () => {
    const { code, stdout, stderr } = await gapipe(['lab', 'up', '--services', 'kafka']);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toContain(`Docker is not reachable at ${UNREACHABLE_DOCKER}`);
    expect(stderr).not.toMatch(ESCAPE);
  });
});
