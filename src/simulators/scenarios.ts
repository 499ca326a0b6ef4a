/**
 * Scenario presets: traffic shapes kept as data in templates/scenarios/*.json, which a user can copy
 * and edit. A scenario uses the flag names as keys ("rate", "late-by", "start-time", …); flags given on
 * the command line override its values.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { GapipeError, invalidFlag } from '../errors.js';
import { templatePath } from '../paths.js';
import { FLAG_NAMES, type SimulateInput } from './options.js';

/** Keys a scenario file may hold: the traffic flags. Where events go (sink, topic…) is the run's business. */
const SCENARIO_KEYS: ReadonlyArray<keyof SimulateInput> = [
  'players',
  'rate',
  'duration',
  'events',
  'regions',
  'seed',
  'stages',
  'startTime',
  'late',
  'lateBy',
  'duplicates',
  'malformed',
  'outOfOrder',
];
const LIST_KEYS = new Set<keyof SimulateInput>(['regions', 'stages']);

export interface Scenario {
  name: string;
  path: string;
  description: string | undefined;
  input: SimulateInput;
}

export const SCENARIOS_DIR = templatePath('scenarios/');

/** Names of the presets shipped in templates/scenarios/. */
export function scenarioPresets(): string[] {
  if (!existsSync(SCENARIOS_DIR)) return [];
  return readdirSync(SCENARIOS_DIR)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

/** A preset name (steady, evening-peak, launch-day) or a path to a scenario JSON file. */
export function loadScenario(reference: string, cwd = process.cwd()): Scenario {
  const presets = scenarioPresets();
  const isName = /^[a-z0-9-]+$/.test(reference);
  const presetPath = `${SCENARIOS_DIR}${reference}.json`;
  const path = isName && presets.includes(reference) ? presetPath : resolve(cwd, reference);
  if (!existsSync(path)) {
    throw invalidFlag(
      `--scenario must be a preset (${presets.join(', ')}) or a scenario JSON file, got '${reference}' (no such preset or file)`,
      `Copy a preset from ${SCENARIOS_DIR} and pass its path, e.g. --scenario ./my-scenario.json`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GapipeError('INVALID_CONFIG', `Scenario ${path} is not valid JSON`, {
      cause: error,
      nextSteps: 'Fix the JSON syntax (the cause below says where)',
    });
  }
  const name = path === presetPath ? reference : basename(path);
  const { input, description } = parseScenario(parsed, name);
  return { name, path, description, input };
}

/** Checks a scenario's keys and value types; the values themselves are validated with the flags. */
export function parseScenario(
  parsed: unknown,
  name: string,
): { input: SimulateInput; description: string | undefined } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GapipeError('INVALID_CONFIG', `Scenario ${name} must hold a JSON object`, {
      nextSteps: 'Start from a preset, e.g. {"players": 1000, "rate": "10ms", "duration": "1m"}',
    });
  }
  const byFlagName = new Map(SCENARIO_KEYS.map((key) => [FLAG_NAMES[key], key]));
  const input: Record<string, unknown> = {};
  let description: string | undefined;
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'description' || key === 'name' || key === '$comment') {
      if (key === 'description' && typeof value === 'string') description = value;
      continue;
    }
    const inputKey = byFlagName.get(key);
    if (!inputKey) {
      throw new GapipeError('INVALID_CONFIG', `Scenario ${name} has an unknown key '${key}'`, {
        nextSteps: `Known keys: description, ${[...byFlagName.keys()].join(', ')}`,
      });
    }
    const scalar = typeof value === 'string' || typeof value === 'number';
    const list = Array.isArray(value) && value.every((item) => typeof item === 'string');
    if (!(scalar || (LIST_KEYS.has(inputKey) && list))) {
      throw new GapipeError(
        'INVALID_CONFIG',
        `Scenario ${name}: "${key}" must be ${LIST_KEYS.has(inputKey) ? 'a string or a list of strings' : 'a string or a number'}`,
        { nextSteps: `Write it as on the command line, e.g. "${key}": ${exampleFor(key)}` },
      );
    }
    input[inputKey] = value;
  }
  return { input: input as SimulateInput, description };
}

function exampleFor(key: string): string {
  const examples: Record<string, string> = {
    rate: '"10ms"',
    duration: '"2m"',
    stages: '"30s:1000/s,2m:20000/s"',
    regions: '"NA,EU,ASIA"',
    'late-by': '"2m..15m"',
    'start-time': '"2026-11-21T19:00:00Z"',
  };
  return examples[key] ?? '1000';
}
