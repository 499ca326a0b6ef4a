import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadConfigFile } from '../src/config.js';
import { GapipeError } from '../src/errors.js';
import { resolveLabOptions } from '../src/lab/options.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gapipe-config-'));
  // The developer's own GAPIPE_CONFIG must not leak into these tests.
  vi.stubEnv('GAPIPE_CONFIG', undefined);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function loadError(explicitPath?: string): GapipeError {
  try {
    loadConfigFile(explicitPath, dir);
  } catch (error) {
    expect(error).toBeInstanceOf(GapipeError);
    return error as GapipeError;
  }
  throw new Error('expected loadConfigFile to throw');
}

describe('loadConfigFile', () => {
  it('returns nothing when the default file is absent', () => {
    expect(loadConfigFile(undefined, dir)).toEqual({});
  });

  it('reads gapipe.config.json from the working directory', async () => {
    await write(DEFAULT_CONFIG_FILE, { lab: { partitions: 12, images: { kafka: 'my/kafka:1' } } });
    expect(loadConfigFile(undefined, dir)).toEqual({
      lab: { partitions: 12, images: { kafka: 'my/kafka:1' } },
    });
  });

  it('accepts every documented lab key and a $schema key', async () => {
    const lab = {
      name: 'ci',
      services: ['kafka', 'elasticsearch'],
      partitions: 3,
      bind: '127.0.0.1',
      topic: 'events',
      ports: { kafka: 19092 },
      images: { elasticsearch: 'my/es:1' },
      readyBudgetMs: { kafka: 60_000 },
      elasticsearchHeapMb: 1024,
      kafkaHeapMb: 768,
    };
    const path = await write('full.json', { $schema: './schema.json', lab });
    const config = loadConfigFile(path, dir);
    expect(config).toEqual({ lab });
    expect(resolveLabOptions(config.lab ?? {}).ports.kafka).toBe(19092);
  });

  it('returns nothing for a file without a lab section', async () => {
    const path = await write('empty.json', {});
    expect(loadConfigFile(path, dir)).toEqual({});
  });

  it('resolves a relative named path against the working directory', async () => {
    await write('relative.json', { lab: { topic: 'relative' } });
    expect(loadConfigFile('relative.json', dir)).toEqual({ lab: { topic: 'relative' } });
  });

  it('fails for a named file that does not exist, naming the path', () => {
    const error = loadError('nope.json');
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`Config file ${join(dir, 'nope.json')} does not exist`);
    expect(error.nextSteps).toContain('--config');
    expect(error.nextSteps).toContain('GAPIPE_CONFIG');
  });

  it('fails for invalid JSON and keeps the parser error as the cause', async () => {
    const path = await write('bad.json', '{"lab": {"partitions": 3,}}');
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path} is not valid JSON`);
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(error.toJSON()).toMatchObject({ error: { cause: expect.stringMatching(/JSON/) } });
  });

  it.each([
    ['an array', '[1, 2]'],
    ['a number', '42'],
    ['null', 'null'],
    ['a string', '"lab"'],
  ])('fails for %s at the top level', async (_what, content) => {
    const path = await write('shape.json', content);
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path} must hold a JSON object`);
    expect(error.nextSteps).toContain('"lab"');
  });

  it('fails for an unknown top-level key', async () => {
    const path = await write('top.json', { labs: {} });
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path} has an unknown key 'labs'`);
    expect(error.nextSteps).toContain("'lab'");
  });

  it('fails for an unknown key under lab, listing the known ones', async () => {
    const path = await write('inner.json', { lab: { partition: 3 } });
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path} has an unknown key 'lab.partition'`);
    expect(error.nextSteps).toContain('partitions');
    expect(error.nextSteps).toContain('readyBudgetMs');
  });

  it.each([
    ['an array', []],
    ['a string', 'kafka'],
    ['null', null],
  ])('fails when lab is %s', async (_what, lab) => {
    const path = await write('lab.json', { lab });
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path}: 'lab' must be an object`);
  });

  // A wrong type in the file must be reported against the file, not surface later as a confusing
  // flag error (a string "kafka" is iterated letter by letter: "unknown service 'k'").
  it('fails with INVALID_CONFIG when lab.services is not a list', async () => {
    const path = await write('services.json', { lab: { services: 'kafka' } });
    let error: unknown;
    try {
      resolveLabOptions(loadConfigFile(path, dir).lab ?? {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('INVALID_CONFIG');
    expect((error as GapipeError).message).toContain('lab.services');
  });
});

describe('GAPIPE_CONFIG', () => {
  it('names the config file when no path is given', async () => {
    const path = await write('from-env.json', { lab: { name: 'from-env' } });
    vi.stubEnv('GAPIPE_CONFIG', path);
    expect(loadConfigFile(undefined, dir)).toEqual({ lab: { name: 'from-env' } });
  });

  it('is outranked by an explicit path', async () => {
    const envPath = await write('env.json', { lab: { name: 'from-env' } });
    const flagPath = await write('flag.json', { lab: { name: 'from-flag' } });
    vi.stubEnv('GAPIPE_CONFIG', envPath);
    expect(loadConfigFile(flagPath, dir)).toEqual({ lab: { name: 'from-flag' } });
  });

  it('makes a missing file an error, like --config', () => {
    vi.stubEnv('GAPIPE_CONFIG', join(dir, 'missing.json'));
    const error = loadError();
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain('missing.json does not exist');
  });

  it('is preferred over gapipe.config.json in the working directory', async () => {
    await write(DEFAULT_CONFIG_FILE, { lab: { name: 'default-file' } });
    const path = await write('env.json', { lab: { name: 'from-env' } });
    vi.stubEnv('GAPIPE_CONFIG', path);
    expect(loadConfigFile(undefined, dir)).toEqual({ lab: { name: 'from-env' } });
  });

  // An empty variable means "not set" elsewhere in gapipe (GAPIPE_LAB, GAPIPE_*_IMAGE); here it
  // resolves to the working directory itself, which then "is not valid JSON".
  it('treats an empty value as not set', async () => {
    await write(DEFAULT_CONFIG_FILE, { lab: { name: 'default-file' } });
    vi.stubEnv('GAPIPE_CONFIG', '');
    expect(loadConfigFile(undefined, dir)).toEqual({ lab: { name: 'default-file' } });
  });
});
