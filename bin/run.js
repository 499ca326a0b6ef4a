#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { execute } from '@oclif/core';

// oclif prints --version as plain text before any command runs; --version --json is answered here.
const { versionJson } = await import('../dist/cli/version.js');
const json = versionJson(
  process.argv.slice(2),
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')),
);
if (json) process.stdout.write(json);
else await execute({ dir: import.meta.url });
