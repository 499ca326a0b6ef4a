/**
 * `gapipe simulate` end to end, as a user runs it: a child process through bin/dev.js (the sources,
 * via tsx), CI=true so output is plain lines. No Kafka needed: stdout, file and null sinks.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { validateRecord } from './event-schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gapipe-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gapipe(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bin/dev.js', ...args],
      { cwd: ROOT, env: { ...process.env, CI: 'true', FORCE_COLOR: '0' }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr: stripVTControlCharacters(stderr) });
      },
    );
  });
}

const STREAM = [
  'simulate',
  '--sink',
  'stdout',
  '--events',
  '1000',
  '--seed',
  '1',
  '--start-time',
  '2026-11-21T20:00:00Z',
];

describe('gapipe simulate (child process, CI=true)', () => {
  it('streams 1000 valid events on stdout, the same bytes every run, with banner and summary on stderr', async () => {
    const [first, second] = await Promise.all([gapipe(...STREAM), gapipe(...STREAM)]);
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const lines = first.stdout.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(1000);
    for (const line of lines) expect(validateRecord(line)).toEqual([]);
    const first10 = lines.slice(0, 10).map((line) => JSON.parse(line));
    expect(first10[0].ts.startsWith('2026-11-21T20:00:0')).toBe(true);
    expect(second.stdout).toBe(first.stdout);

    expect(first.stderr).toContain('Simulating 1,000 players in NA, EU, ASIA → stdout');
    expect(first.stderr).toContain('target rate 1,000/s');
    expect(first.stderr).toContain('seed 1');
    expect(first.stderr).toMatch(/Produced 1,000 records in .* → stdout/);
    expect(first.stderr).toMatch(/achieved [\d,.]+\/s of 1,000\/s target/);
  }, 120_000);

  it('prints the summary as JSON with achievedRate and targetRate (--json), and writes the manifest', async () => {
    const manifest = join(dir, 'truth.json');
    const run = await gapipe(
      'simulate',
      '--sink',
      'null',
      '--no-pace',
      '--events',
      '20000',
      '--players',
      '1000',
      '--rate',
      '10ms',
      '--seed',
      '3',
      '--duplicates',
      '0.01',
      '--manifest',
      manifest,
      '--json',
    );
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({
      produced: 20_000,
      acknowledged: 20_000,
      failed: 0,
      targetRate: 100_000,
      seed: 3,
    });
    expect(typeof summary.achievedRate).toBe('number');
    expect(summary.achievedRate).toBeGreaterThan(0);
    expect(summary.events.duplicates).toBeGreaterThan(100);
    expect(JSON.parse(readFileSync(manifest, 'utf8')).totals.records).toBe(20_000);
  }, 120_000);

  it('keeps stdout for the events when --json is combined with --sink stdout', async () => {
    const run = await gapipe(...STREAM.slice(0, 4), '10', '--seed', '1', '--json');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(10);
    for (const line of lines) expect(validateRecord(line)).toEqual([]);
    expect(JSON.parse(run.stderr.slice(run.stderr.indexOf('{')))).toMatchObject({ produced: 10 });
  }, 120_000);

  it('rejects bad flags with the flag, the allowed form and exit code 2', async () => {
    const [rate, acks] = await Promise.all([
      gapipe('simulate', '--sink', 'null', '--rate', '10'),
      gapipe('simulate', '--events', '10', '--acks', '1', '--idempotent'),
    ]);
    expect(rate.code).toBe(2);
    expect(rate.stdout).toBe('');
    expect(rate.stderr).toContain("--rate must be a duration like 10ms or a rate like 5000/s, got '10'");
    expect(acks.code).toBe(2);
    expect(acks.stderr).toContain('--idempotent needs --acks all, got --acks 1');
  }, 120_000);

  it('names an unreachable broker and how to start one, and loses nothing silently', async () => {
    const run = await gapipe('simulate', '--events', '10', '--brokers', '127.0.0.1:1');
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('Kafka is not reachable at 127.0.0.1:1');
    expect(run.stderr).toContain('gapipe lab up');
  }, 120_000);
});
