#!/usr/bin/env -S node --import tsx
// Runs the TypeScript sources directly (no build step) while developing: the same CLI as bin/run.js,
// with the commands read from src/ instead of dist/ (tsx, loaded above, compiles them on import).
import { readFileSync } from 'node:fs';
import { execute } from '@oclif/core';

const root = new URL('..', import.meta.url).pathname;
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
pjson.oclif.commands = './src/commands';

await execute({ args: process.argv.slice(2), loadOptions: { root, pjson } });
