/**
 * The optional config file: `gapipe.config.json` in the working directory, or the file named by
 * `--config` / GAPIPE_CONFIG. Flags and environment variables override what it says.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GapipeError } from './errors.js';
import { type LabOptionsInput, SERVICE_NAMES } from './lab/options.js';

export const DEFAULT_CONFIG_FILE = 'gapipe.config.json';

export interface GapipeConfigFile {
  lab?: LabOptionsInput;
}

type ValueKind = 'string' | 'number' | 'string[]' | 'per-service-number' | 'per-service-string';

const LAB_KEYS: Record<string, ValueKind> = {
  name: 'string',
  services: 'string[]',
  partitions: 'number',
  bind: 'string',
  topic: 'string',
  ports: 'per-service-number',
  images: 'per-service-string',
  readyBudgetMs: 'per-service-number',
  elasticsearchHeapMb: 'number',
  kafkaHeapMb: 'number',
};

/** Loads the config file; a missing default file is fine, a missing named file is an error. */
export function loadConfigFile(explicitPath?: string, cwd = process.cwd()): GapipeConfigFile {
  const named = explicitPath ?? (process.env.GAPIPE_CONFIG || undefined);
  const path = resolve(cwd, named ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (named) {
      throw new GapipeError('INVALID_CONFIG', `Config file ${path} does not exist`, {
        nextSteps: 'Check the --config flag or the GAPIPE_CONFIG variable',
      });
    }
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GapipeError('INVALID_CONFIG', `Config file ${path} is not valid JSON`, {
      cause: error,
      nextSteps: 'Fix the JSON syntax (the error below says where)',
    });
  }
  return validateConfig(parsed, path);
}

export function validateConfig(parsed: unknown, path: string): GapipeConfigFile {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GapipeError('INVALID_CONFIG', `Config file ${path} must hold a JSON object`, {
      nextSteps: 'Start from {"lab": {"images": {"kafka": "apache/kafka:4.4.0"}}}',
    });
  }
  const config = parsed as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (key !== 'lab' && key !== '$schema') {
      throw new GapipeError('INVALID_CONFIG', `Config file ${path} has an unknown key '${key}'`, {
        nextSteps: "The known top-level key is 'lab'",
      });
    }
  }
  const lab = config.lab;
  if (lab === undefined) return {};
  if (typeof lab !== 'object' || lab === null || Array.isArray(lab)) {
    throw new GapipeError('INVALID_CONFIG', `Config file ${path}: 'lab' must be an object`);
  }
  for (const [key, value] of Object.entries(lab)) {
    const expected = LAB_KEYS[key];
    if (!expected) {
      throw new GapipeError('INVALID_CONFIG', `Config file ${path} has an unknown key 'lab.${key}'`, {
        nextSteps: `Known keys under 'lab': ${Object.keys(LAB_KEYS).join(', ')}`,
      });
    }
    checkType(path, `lab.${key}`, value, expected);
  }
  return { lab: lab as LabOptionsInput };
}

function checkType(path: string, key: string, value: unknown, expected: ValueKind): void {
  const fail = (what: string) =>
    new GapipeError('INVALID_CONFIG', `Config file ${path}: '${key}' must be ${what}`, {
      nextSteps: `Fix '${key}' in ${path}`,
    });
  switch (expected) {
    case 'string':
      if (typeof value !== 'string') throw fail('a string');
      return;
    case 'number':
      if (typeof value !== 'number') throw fail('a number');
      return;
    case 'string[]':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw fail('a list of strings');
      return;
    case 'per-service-number':
    case 'per-service-string': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw fail(`an object with keys ${SERVICE_NAMES.join(', ')}`);
      }
      for (const [service, v] of Object.entries(value)) {
        if (!(SERVICE_NAMES as readonly string[]).includes(service)) {
          throw new GapipeError(
            'INVALID_CONFIG',
            `Config file ${path} has an unknown key '${key}.${service}'`,
            {
              nextSteps: `Known keys under '${key}': ${SERVICE_NAMES.join(', ')}`,
            },
          );
        }
        checkType(path, `${key}.${service}`, v, expected === 'per-service-number' ? 'number' : 'string');
      }
    }
  }
}
