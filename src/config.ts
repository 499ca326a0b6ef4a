/**
 * The optional config file: `gapipe.config.json` in the working directory, or the file named by
 * `--config` / GAPIPE_CONFIG. Flags and environment variables override what it says.
 *
 * The file is checked against templates/schema/gapipe.config.schema.json (JSON Schema 2020-12, which
 * editors can use too through a "$schema" key). Every problem is reported at once — a user fixing a
 * file should not have to run the command once per typo — each with its key, what was expected and
 * the fix; an unknown key names the closest known one.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { describeCause, GapipeError } from './errors.js';
import type { LabOptionsInput } from './lab/options.js';
import { templatePath } from './paths.js';

export const DEFAULT_CONFIG_FILE = 'gapipe.config.json';
/** Where the schema ships (point "$schema" at it for completion and checks in an editor). */
export const CONFIG_SCHEMA_PATH = templatePath('schema/gapipe.config.schema.json');

export interface GapipeConfigFile {
  lab?: LabOptionsInput;
}

/** One thing wrong with the file. */
export interface ConfigProblem {
  /** An unknown key, or a known key with a value it cannot take. */
  kind: 'unknown-key' | 'value';
  /** Where, as a user writes it: "lab.ports.kafka", "lab.services[1]"; "" for the file itself. */
  key: string;
  /** What is wrong and what was expected. */
  problem: string;
  /** What to do about it. */
  fix: string;
}

/** Loads the config file; a missing default file is fine, a missing named file is an error. */
export function loadConfigFile(explicitPath?: string, cwd = process.cwd()): GapipeConfigFile {
  const named = explicitPath ?? (process.env.GAPIPE_CONFIG || undefined);
  const path = resolve(cwd, named ?? DEFAULT_CONFIG_FILE);
  const kind = fileKind(path);
  if (kind === 'missing') {
    if (named) {
      throw new GapipeError('INVALID_CONFIG', `Config file ${path} does not exist`, {
        nextSteps: 'Check the --config flag or the GAPIPE_CONFIG variable',
      });
    }
    return {};
  }
  if (kind === 'directory') {
    throw new GapipeError('INVALID_CONFIG', `Config file ${path} is a directory`, {
      nextSteps: `Name the file itself, e.g. --config ${resolve(path, DEFAULT_CONFIG_FILE)}`,
    });
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new GapipeError('INVALID_CONFIG', `Config file ${path} cannot be read (${describeCause(error)})`, {
      cause: error,
      nextSteps: 'Check the file’s permissions, or point --config (GAPIPE_CONFIG) at another file',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GapipeError('INVALID_CONFIG', `Config file ${path} is not valid JSON`, {
      cause: error,
      nextSteps: 'Fix the JSON syntax (the error below says where)',
    });
  }
  return validateConfig(parsed, path);
}

function fileKind(path: string): 'missing' | 'directory' | 'file' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'file';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    // Unreadable for another reason: reading it says why.
    return 'file';
  }
}

/** Checks parsed JSON against the schema; throws one INVALID_CONFIG error listing every problem. */
export function validateConfig(parsed: unknown, path: string): GapipeConfigFile {
  const problems = configProblems(parsed);
  if (problems.length > 0) throw configError(problems, path);
  const config = parsed as { lab?: LabOptionsInput };
  return config.lab === undefined ? {} : { lab: config.lab };
}

/** Every problem of a parsed config file, in the file's order; none when it is valid. */
export function configProblems(parsed: unknown): ConfigProblem[] {
  const validate = configValidator();
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  if (!validate(parsed)) {
    for (const error of validate.errors ?? []) {
      const problem = describeError(error);
      // One problem per key: a value that is the wrong type also fails its range, and so on.
      if (seen.has(problem.key)) continue;
      seen.add(problem.key);
      problems.push(problem);
    }
    return problems;
  }
  // What JSON Schema cannot say without format plugins.
  const bind = (parsed as { lab?: { bind?: string } }).lab?.bind;
  if (bind !== undefined && isIP(bind) === 0) {
    problems.push({
      kind: 'value',
      key: 'lab.bind',
      problem: `'lab.bind' must be an IP address such as "127.0.0.1" or "0.0.0.0", got ${shown(bind)}`,
      fix: 'Use "127.0.0.1" (the default) to keep the lab private to this machine',
    });
  }
  return problems;
}

function configError(problems: ConfigProblem[], path: string): GapipeError {
  const schemaHint = `the schema is ${CONFIG_SCHEMA_PATH}`;
  if (problems.length === 1) {
    const [only] = problems as [ConfigProblem];
    return new GapipeError('INVALID_CONFIG', `Config file ${path}: ${only.problem}`, {
      nextSteps: `${only.fix} (${schemaHint})`,
    });
  }
  return new GapipeError('INVALID_CONFIG', `Config file ${path} has ${problems.length} problems`, {
    // A value's line already says what it must be; an unknown key's needs the known ones.
    details: problems.map(
      (p) => `  • ${p.problem}${p.kind === 'unknown-key' ? ` — ${lowerFirst(p.fix)}` : ''}`,
    ),
    nextSteps: `Fix each key listed above in ${path} (${schemaHint})`,
  });
}

let compiled: ValidateFunction | undefined;

function configValidator(): ValidateFunction {
  if (compiled === undefined) {
    const schema = JSON.parse(readFileSync(CONFIG_SCHEMA_PATH, 'utf8')) as object;
    // allErrors: every problem in one run. verbose: the failing value and schema on each error.
    const ajv = new Ajv2020({ allErrors: true, verbose: true, validateFormats: false });
    // "x-expected": what a key must hold, in words, for the messages (an annotation editors ignore).
    ajv.addVocabulary(['x-expected']);
    compiled = ajv.compile(schema);
  }
  return compiled;
}

interface SchemaNode {
  'x-expected'?: string;
  properties?: Record<string, unknown>;
  enum?: unknown[];
}

function describeError(error: ErrorObject): ConfigProblem {
  const at = keyOf(error.instancePath);
  const parent = (error.parentSchema ?? {}) as SchemaNode;
  if (error.keyword === 'additionalProperties') {
    const name = String((error.params as { additionalProperty: string }).additionalProperty);
    const key = at === '' ? name : `${at}.${name}`;
    const known = Object.keys(parent.properties ?? {}).filter((k) => k !== '$schema');
    const closest = closestKey(name, known);
    const where = at === '' ? 'top-level keys' : `keys under '${at}'`;
    return {
      kind: 'unknown-key',
      key,
      problem: `unknown key '${key}'`,
      fix: `${closest === undefined ? 'Remove it' : `Did you mean '${closest}'?`} Known ${where}: ${known.join(', ')}`,
    };
  }
  const expected =
    parent['x-expected'] ??
    (parent.enum ? `one of ${parent.enum.map((v) => JSON.stringify(v)).join(', ')}` : error.message);
  if (at === '') {
    return {
      kind: 'value',
      key: '',
      problem: `the file must hold ${expected}`,
      fix: 'Start from {"lab": {"images": {"kafka": "apache/kafka:4.4.0"}}}',
    };
  }
  return {
    kind: 'value',
    key: at,
    problem: `'${at}' must be ${expected}, got ${shown(error.data)}`,
    fix: `Change '${at}' to ${expected}`,
  };
}

/** "/lab/ports/kafka" → "lab.ports.kafka"; "/lab/services/1" → "lab.services[1]". */
function keyOf(instancePath: string): string {
  if (instancePath === '') return '';
  let key = '';
  for (const raw of instancePath.slice(1).split('/')) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    key += /^\d+$/.test(part) ? `[${part}]` : key === '' ? part : `.${part}`;
  }
  return key;
}

/** The known key nearest to `name` by edit distance (ignoring case); undefined when none is known. */
export function closestKey(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}

const MAX_SHOWN = 60;

/** A value as it appears in a message: JSON, cut short. */
function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
