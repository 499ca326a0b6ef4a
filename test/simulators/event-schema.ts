/**
 * Validation against templates/schema/event.schema.json for the tests. There is no JSON Schema
 * library in the project, so this implements just the keywords that schema uses (type, const, enum,
 * pattern, min/maxLength, minimum, required, properties, additionalProperties, $ref, allOf with
 * if/then) — and fails loudly on any other keyword, so a schema change cannot silently pass.
 */
import { readFileSync } from 'node:fs';

type Json = Record<string, unknown>;

export const eventSchema = JSON.parse(
  readFileSync(new URL('../../templates/schema/event.schema.json', import.meta.url), 'utf8'),
) as Json;

const SUPPORTED = new Set([
  '$schema',
  '$id',
  '$defs',
  '$ref',
  'title',
  'description',
  'format',
  'type',
  'const',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'properties',
  'required',
  'additionalProperties',
  'allOf',
  'if',
  'then',
]);

const patterns = new Map<string, RegExp>();
const checkedNodes = new WeakSet<Json>();
const refs = new Map<string, Json>();

function typeOk(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value);
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (type === 'array') return Array.isArray(value);
  if (type === 'null') return value === null;
  return typeof value === type;
}

function check(schema: Json, value: unknown, path: string, errors: string[]): void {
  if (!checkedNodes.has(schema)) {
    for (const keyword of Object.keys(schema)) {
      if (!SUPPORTED.has(keyword))
        throw new Error(`event-schema.ts does not implement '${keyword}' (at ${path})`);
    }
    checkedNodes.add(schema);
  }
  if (typeof schema.$ref === 'string') {
    let target = refs.get(schema.$ref);
    if (!target) {
      target = schema.$ref
        .slice(2)
        .split('/')
        .reduce<unknown>((node, key) => (node as Json)[key], eventSchema) as Json;
      refs.set(schema.$ref, target);
    }
    check(target, value, path, errors);
  }
  if ('const' in schema && value !== schema.const)
    errors.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: not in enum`);
  if (typeof schema.type === 'string' && !typeOk(value, schema.type)) {
    errors.push(`${path}: must be ${schema.type}`);
    return;
  }
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string') {
      let pattern = patterns.get(schema.pattern);
      if (!pattern) {
        pattern = new RegExp(schema.pattern, 'u');
        patterns.set(schema.pattern, pattern);
      }
      if (!pattern.test(value)) errors.push(`${path}: does not match pattern`);
    }
    // Code points, as JSON Schema counts them (surrogate pairs are one character).
    const length = /[\uD800-\uDFFF]/.test(value) ? [...value].length : value.length;
    if (typeof schema.minLength === 'number' && length < schema.minLength) errors.push(`${path}: too short`);
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) errors.push(`${path}: too long`);
  }
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) {
    errors.push(`${path}: below minimum`);
  }
  if (typeOk(value, 'object')) {
    const object = value as Json;
    const properties = (schema.properties ?? {}) as Json;
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in object)) errors.push(`${path}: missing ${name}`);
    }
    for (const [name, child] of Object.entries(object)) {
      if (name in properties) check(properties[name] as Json, child, `${path}.${name}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected ${name}`);
    }
  }
  for (const rule of (schema.allOf ?? []) as Json[]) {
    if (rule.if !== undefined) {
      const matches: string[] = [];
      check(rule.if as Json, value, path, matches);
      if (matches.length === 0 && rule.then) check(rule.then as Json, value, path, errors);
    } else {
      check(rule, value, path, errors);
    }
  }
}

/** Problems of a parsed event against the schema; empty when valid. */
export function validateEvent(event: unknown): string[] {
  const errors: string[] = [];
  check(eventSchema, event, 'event', errors);
  return errors;
}

/** Problems of raw record bytes: not UTF-8 JSON, or not a valid event. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function validateRecord(value: string | Buffer): string[] {
  const text = typeof value === 'string' ? value : utf8.decode(value);
  return validateEvent(JSON.parse(text));
}

/** True when the bytes are a valid event. */
export function isValidRecord(value: string | Buffer): boolean {
  try {
    return validateRecord(value).length === 0;
  } catch {
    return false;
  }
}
