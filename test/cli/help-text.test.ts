/**
 * Help text is wrapped by oclif to the terminal's width. A newline inside a sentence survives that
 * wrapping and leaves ragged lines ("…across regions with⏎daily activity curves…"), so texts may
 * break lines only between paragraphs (a blank line) or before list items ("- ").
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '@oclif/core';
import { describe, expect, it } from 'vitest';

const COMMANDS_DIR = fileURLToPath(new URL('../../src/commands/', import.meta.url));

function commandFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? commandFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

type CommandClass = typeof Command & {
  flags?: Record<string, { description?: string; summary?: string; env?: string }>;
  args?: Record<string, { description?: string }>;
  examples?: Array<string | { description: string; command: string }>;
};

/** Every help text of a command, named by where it is shown. */
function helpTexts(command: CommandClass): Array<[string, string]> {
  const texts: Array<[string, string]> = [];
  if (command.summary) texts.push(['summary', command.summary]);
  if (command.description) texts.push(['description', command.description]);
  for (const [name, flag] of Object.entries(command.flags ?? {})) {
    if (flag.description) texts.push([`--${name}`, flag.description]);
    if (flag.summary) texts.push([`--${name} summary`, flag.summary]);
  }
  for (const [name, arg] of Object.entries(command.args ?? {})) {
    if (arg.description) texts.push([name, arg.description]);
  }
  for (const example of command.examples ?? []) {
    if (typeof example !== 'string') texts.push(['example', example.description]);
  }
  return texts;
}

/** Lines broken inside a paragraph: a newline not next to a blank line and not before a list item. */
function raggedBreaks(text: string): string[] {
  const lines = text.split('\n');
  const bad: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const previous = lines[i - 1] as string;
    const line = lines[i] as string;
    if (previous.trim() === '' || line.trim() === '' || line.startsWith('- ')) continue;
    bad.push(`…${previous.slice(-30)}⏎${line.slice(0, 30)}…`);
  }
  return bad;
}

const files = commandFiles(COMMANDS_DIR);
const commands = await Promise.all(
  files.map(async (file) => {
    const module = (await import(file)) as { default: CommandClass };
    return [relative(COMMANDS_DIR, file), module.default] as const;
  }),
);

describe('help texts', () => {
  it('finds every command', () => {
    expect(commands.map(([file]) => file).sort()).toEqual(
      expect.arrayContaining(['consume.ts', 'simulate.ts', 'verify.ts', 'bench/index.ts', 'lab/up.ts']),
    );
  });

  it.each(commands)('%s breaks lines only between paragraphs and list items', (_file, command) => {
    for (const [where, text] of helpTexts(command)) {
      expect(raggedBreaks(text), `${where}`).toEqual([]);
    }
  });

  // oclif prints the summary unwrapped as the first line of --help (and in the command list).
  it.each(commands)('%s has a summary that fits an 80-column terminal', (_file, command) => {
    expect(command.summary?.length ?? 0).toBeLessThanOrEqual(80);
  });

  it.each(commands)('%s names each flag’s environment variable once', (_file, command) => {
    // oclif adds "[env: NAME]" itself for a flag with `env`.
    for (const [name, flag] of Object.entries(command.flags ?? {})) {
      if (flag.env) expect(flag.description ?? '', `--${name}`).not.toContain(`[env: ${flag.env}]`);
    }
  });
});
