import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closestKey, configProblems, DEFAULT_CONFIG_FILE, loadConfigFile } from '../src/config.js';
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
    expect(error.message).toBe(
      `Config file ${path}: the file must hold a JSON object like {"lab": {"partitions": 12}}`,
    );
    expect(error.nextSteps).toContain('"lab"');
  });

  it('fails for a directory, saying so rather than "not valid JSON"', () => {
    const error = loadError(dir);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${dir} is a directory`);
    expect(error.nextSteps).toContain(join(dir, DEFAULT_CONFIG_FILE));
  });

  it('names the closest known key for an unknown top-level key', async () => {
    const path = await write('top.json', { labs: {} });
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path}: unknown key 'labs'`);
    expect(error.nextSteps).toMatch(
      /^Did you mean 'lab'\? Known top-level keys: lab \(the schema is .*gapipe\.config\.schema\.json\)$/,
    );
  });

  it.each([
    ['partition', 'partitions'],
    ['Partitions', 'partitions'],
    ['kafkaHeap', 'kafkaHeapMb'],
    ['readyBudget', 'readyBudgetMs'],
    ['service', 'services'],
  ])('names the closest known key for lab.%s: %s', async (typo, closest) => {
    const path = await write('inner.json', { lab: { [typo]: 3 } });
    const error = loadError(path);
    expect(error.message).toBe(`Config file ${path}: unknown key 'lab.${typo}'`);
    expect(error.nextSteps).toContain(`Did you mean '${closest}'?`);
    // And every key that would be accepted there.
    expect(error.nextSteps).toContain(
      "Known keys under 'lab': name, services, partitions, bind, topic, ports, images, readyBudgetMs, elasticsearchHeapMb, kafkaHeapMb",
    );
  });

  it('finds unknown keys under the per-service objects too', async () => {
    const path = await write('ports.json', { lab: { ports: { kafak: 19092 } } });
    const error = loadError(path);
    expect(error.message).toBe(`Config file ${path}: unknown key 'lab.ports.kafak'`);
    expect(error.nextSteps).toContain(
      "Did you mean 'kafka'? Known keys under 'lab.ports': kafka, elasticsearch, kibana",
    );
  });

  it.each([
    ['an array', []],
    ['a string', 'kafka'],
    ['null', null],
  ])('fails when lab is %s', async (_what, lab) => {
    const path = await write('lab.json', { lab });
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(
      `Config file ${path}: 'lab' must be an object like {"partitions": 12}, got ${JSON.stringify(lab)}`,
    );
    expect(error.nextSteps).toContain("Change 'lab' to an object");
  });

  it.each([
    [{ partitions: 0 }, "'lab.partitions' must be a whole number from 1 to 1000, like 12, got 0"],
    [{ partitions: 2.5 }, "'lab.partitions' must be a whole number from 1 to 1000, like 12, got 2.5"],
    [{ partitions: '12' }, '\'lab.partitions\' must be a whole number from 1 to 1000, like 12, got "12"'],
    [
      { ports: { kafka: 70000 } },
      "'lab.ports.kafka' must be a port number from 1 to 65535, like 19092, got 70000",
    ],
    [
      { images: { kafka: '' } },
      '\'lab.images.kafka\' must be an image reference, like "apache/kafka:4.4.0", got ""',
    ],
    [
      { name: 'My Lab' },
      "'lab.name' must be 1-31 lowercase letters, digits, '-' or '_', starting with a letter or digit, like \"ci\", got \"My Lab\"",
    ],
    [{ topic: 'a b' }, '\'lab.topic\' must be 1-200 of a-z A-Z 0-9 . _ -, like "game-events", got "a b"'],
    [
      { services: ['kafka', 'zookeeper'] },
      '\'lab.services[1]\' must be one of "kafka", "elasticsearch", "kibana", got "zookeeper"',
    ],
    [
      { services: [] },
      '\'lab.services\' must be a list of services from kafka, elasticsearch, kibana, like ["kafka", "elasticsearch"], got []',
    ],
    [{ kafkaHeapMb: 100 }, "'lab.kafkaHeapMb' must be a number of MiB from 256 to 32768, like 1024, got 100"],
    [
      { readyBudgetMs: { kibana: 5 } },
      "'lab.readyBudgetMs.kibana' must be a number of milliseconds, at least 1000, like 120000, got 5",
    ],
    [
      { bind: 'localhost' },
      '\'lab.bind\' must be an IP address such as "127.0.0.1" or "0.0.0.0", got "localhost"',
    ],
  ])('reports %j against the file, with what was expected', async (lab, problem) => {
    const path = await write('value.json', { lab });
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path}: ${problem}`);
    expect(error.nextSteps).toBeTruthy();
  });

  it('reports every problem at once, one line each', async () => {
    const path = await write('many.json', {
      lab: { partiton: 3, ports: { kafka: '19092', es: 19200 }, services: 'kafka', kafkaHeapMb: 10 },
    });
    const error = loadError(path);
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toBe(`Config file ${path} has 5 problems`);
    expect(error.details).toHaveLength(5);
    const text = error.details.join('\n');
    expect(text).toContain("unknown key 'lab.partiton' — did you mean 'partitions'?");
    expect(text).toContain("unknown key 'lab.ports.es' — did you mean ");
    expect(text).toContain(
      '\'lab.ports.kafka\' must be a port number from 1 to 65535, like 19092, got "19092"',
    );
    expect(text).toContain("'lab.services' must be a list of services");
    expect(text).toContain("'lab.kafkaHeapMb' must be a number of MiB from 256 to 32768");
    // A value's line says what it must be once, not again as a fix.
    expect(text).not.toContain('— change');
    expect(error.nextSteps).toContain(`Fix each key listed above in ${path}`);
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

describe('closestKey', () => {
  it('picks the nearest by edit distance, ignoring case', () => {
    expect(closestKey('kafkaheapmb', ['elasticsearchHeapMb', 'kafkaHeapMb'])).toBe('kafkaHeapMb');
    expect(closestKey('prots', ['ports', 'images', 'partitions'])).toBe('ports');
    expect(closestKey('x', [])).toBeUndefined();
  });
});

describe('the shipped schema', () => {
  it('accepts the README example', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const block = /## Configuration[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect(configProblems(JSON.parse(block as string))).toEqual([]);
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
