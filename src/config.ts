/**
 * The optional config file: `gapipe.config.json` in the working directory, or the file named by
 * `--config` / GAPIPE_CONFIG. Flags and environment variables override what it says.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GapipeError } from './errors.js';
import type { LabOptionsInput } from './lab/options.js';

export const DEFAULT_CONFIG_FILE = 'gapipe.config.json';

export interface GapipeConfigFile {
  lab?: LabOptionsInput;
}

const LAB_KEYS = new Set([
  'name',
  'services',
  'partitions',
  'bind',
  'topic',
  'ports',
  'images',
  'readyBudgetMs',
  'elasticsearchHeapMb',
  'kafkaHeapMb',
]);

/** Loads the config file; a missing default file is fine, a missing named file is an error. */
export function loadConfigFile(explicitPath?: string, cwd = process.cwd()): GapipeConfigFile {
  const named = explicitPath ?? process.env.GAPIPE_CONFIG;
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
  for (const key of Object.keys(lab)) {
    if (!LAB_KEYS.has(key)) {
      throw new GapipeError('INVALID_CONFIG', `Config file ${path} has an unknown key 'lab.${key}'`, {
        nextSteps: `Known keys under 'lab': ${[...LAB_KEYS].join(', ')}`,
      });
    }
  }
  return { lab: lab as LabOptionsInput };
}
