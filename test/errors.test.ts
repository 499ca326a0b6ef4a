import { stripVTControlCharacters } from 'node:util';
import chalk, { type ColorSupportLevel } from 'chalk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeCause,
  ERROR_CODES,
  type ErrorCode,
  GapipeError,
  invalidFlag,
  isGapipeError,
  toGapipeError,
} from '../src/errors.js';
import { renderError } from '../src/ui/errors.js';

/**
 * The exit code each error code must give. Written out here rather than read from ERROR_CODES, so
 * changing an exit code (which scripts depend on) or adding a code without a decision fails a test.
 */
const EXPECTED_EXIT_CODES: Record<ErrorCode, number> = {
  INVALID_FLAG: 2,
  INVALID_ARGUMENT: 2,
  INVALID_CONFIG: 2,
  DOCKER_UNREACHABLE: 3,
  DOCKER_OPERATION_FAILED: 3,
  PORT_IN_USE: 4,
  IMAGE_MISSING: 4,
  INSUFFICIENT_MEMORY: 4,
  SERVICE_NOT_READY: 5,
  LAB_NOT_FOUND: 6,
  UNKNOWN_SERVICE: 2,
  PROVISIONING_FAILED: 5,
  KAFKA_UNREACHABLE: 5,
  ELASTICSEARCH_UNREACHABLE: 5,
  KIBANA_UNREACHABLE: 5,
  SINK_FAILED: 7,
  ENGINE_SETUP_FAILED: 9,
  ENGINE_FAILED: 10,
  KAFKA_RECORDS_GONE: 8,
  INTERNAL: 70,
};

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

function plain(text: string): string {
  return stripVTControlCharacters(text);
}

let savedLevel: ColorSupportLevel;
beforeAll(() => {
  // Render with colours on, so stripping them is part of what is tested.
  savedLevel = chalk.level;
  chalk.level = 1;
});
afterAll(() => {
  chalk.level = savedLevel;
});

describe('ERROR_CODES', () => {
  it('lists exactly the codes this test knows the exit codes of', () => {
    expect([...codes].sort()).toEqual(Object.keys(EXPECTED_EXIT_CODES).sort());
  });

  it('has a distinct, non-empty title per code', () => {
    const titles = codes.map((code) => ERROR_CODES[code].title);
    for (const title of titles) expect(title.trim().length).toBeGreaterThan(0);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it('never uses exit code 0, or 1 (which `lab status` uses for "unhealthy")', () => {
    for (const code of codes) expect(ERROR_CODES[code].exitCode).toBeGreaterThan(1);
  });
});

describe.each(codes)('GapipeError %s', (code) => {
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const error = new GapipeError(code, `something about ${code} went wrong`, {
    nextSteps: `do the thing that fixes ${code}`,
    details: ['first detail line', 'second detail line'],
    cause,
  });

  it('is a GapipeError and an Error with its code, exit code and title', () => {
    expect(error).toBeInstanceOf(Error);
    expect(isGapipeError(error)).toBe(true);
    expect(error.name).toBe('GapipeError');
    expect(error.code).toBe(code);
    expect(error.exitCode).toBe(EXPECTED_EXIT_CODES[code]);
    expect(error.title).toBe(ERROR_CODES[code].title);
    expect(error.cause).toBe(cause);
  });

  it('serialises to the --json shape', () => {
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      error: {
        code,
        title: ERROR_CODES[code].title,
        message: `something about ${code} went wrong`,
        nextSteps: `do the thing that fixes ${code}`,
        details: ['first detail line', 'second detail line'],
        cause: 'connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)',
      },
    });
  });

  it('serialises without the optional fields when they are not given', () => {
    const bare = new GapipeError(code, 'bare message');
    expect(JSON.parse(JSON.stringify(bare))).toEqual({
      error: { code, title: ERROR_CODES[code].title, message: 'bare message' },
    });
  });

  it('renders title, message, details, cause and next steps', () => {
    const text = plain(renderError(error));
    const lines = text.split('\n');
    expect(lines[0]).toBe(`✖ ${ERROR_CODES[code].title}: something about ${code} went wrong`);
    expect(text).toContain('first detail line\nsecond detail line');
    expect(text).toContain('cause: connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED)');
    expect(text).toContain(`→ do the thing that fixes ${code}`);
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('renderError', () => {
  it('colours its output (and the colours strip away cleanly)', () => {
    const text = renderError(new GapipeError('PORT_IN_USE', 'port 9092 is taken'));
    expect(text).not.toBe(plain(text));
    expect(plain(text)).toBe('✖ Port already in use: port 9092 is taken\n');
  });

  it('does not repeat the title when the message already starts with it', () => {
    const error = new GapipeError('KAFKA_UNREACHABLE', 'Kafka is not reachable at nohost:1');
    expect(plain(renderError(error))).toBe('✖ Kafka is not reachable at nohost:1\n');
    const service = new GapipeError('UNKNOWN_SERVICE', "Unknown service 'zookeeper'");
    expect(plain(renderError(service))).toBe("✖ Unknown service 'zookeeper'\n");
  });

  it('leaves out the cause when the message already says it', () => {
    const cause = new Error('manifest unknown');
    const error = new GapipeError('IMAGE_MISSING', 'pull failed: manifest unknown', { cause });
    expect(plain(renderError(error))).not.toContain('cause:');
  });

  it('has no next-steps line when there are none', () => {
    expect(plain(renderError(new GapipeError('INTERNAL', 'oops')))).not.toContain('→');
  });

  it('adds stacks only in debug mode', () => {
    const error = new GapipeError('DOCKER_OPERATION_FAILED', 'create failed', { cause: new Error('inner') });
    expect(plain(renderError(error))).not.toContain('at ');
    const debug = plain(renderError(error, { debug: true }));
    expect(debug).toContain('Error: inner\n');
    expect(debug).toContain('GapipeError: create failed\n');
  });
});

describe('invalidFlag', () => {
  it('builds an INVALID_FLAG error with optional next steps', () => {
    const withSteps = invalidFlag('--rate is wrong', 'use --rate 5000/s');
    expect(withSteps.code).toBe('INVALID_FLAG');
    expect(withSteps.exitCode).toBe(2);
    expect(withSteps.message).toBe('--rate is wrong');
    expect(withSteps.nextSteps).toBe('use --rate 5000/s');
    expect(invalidFlag('--rate is wrong').nextSteps).toBeUndefined();
  });
});

describe('toGapipeError', () => {
  it('returns a GapipeError unchanged', () => {
    const error = new GapipeError('LAB_NOT_FOUND', 'no lab');
    expect(toGapipeError(error)).toBe(error);
  });

  it('wraps an unexpected Error as INTERNAL, keeps it as the cause and calls it a bug', () => {
    const original = new TypeError("Cannot read properties of undefined (reading 'id')");
    const error = toGapipeError(original);
    expect(error).toBeInstanceOf(GapipeError);
    expect(error.code).toBe('INTERNAL');
    expect(error.exitCode).toBe(70);
    expect(error.message).toBe(original.message);
    expect(error.cause).toBe(original);
    expect(error.nextSteps).toMatch(/bug/i);
    expect(plain(renderError(error))).toContain('Internal error (a bug in gapipe)');
  });

  it('wraps thrown non-errors by their text', () => {
    const error = toGapipeError('plain string thrown');
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toBe('plain string thrown');
    expect(toGapipeError(42).message).toBe('42');
  });
});

describe('describeCause', () => {
  it('is undefined for no cause', () => {
    expect(describeCause(undefined)).toBeUndefined();
    expect(describeCause(null)).toBeUndefined();
  });

  it("gives an error's message, with its errno code when it has one", () => {
    expect(describeCause(new Error('boom'))).toBe('boom');
    const errno = Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' });
    expect(describeCause(errno)).toBe('connect ENOENT /var/run/docker.sock (ENOENT)');
  });

  it('gives the text of anything else', () => {
    expect(describeCause('just text')).toBe('just text');
    expect(describeCause(7)).toBe('7');
  });
});
