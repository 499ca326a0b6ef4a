/**
 * Starting a worker thread on a module of gapipe's own, from the build and from the sources alike.
 *
 * From the build (dist/) the entry is the `.js` file next to the caller. From the TypeScript sources
 * (vitest, bin/dev.js) a worker does not inherit tsx's loader before its entry loads, so a two-line
 * bootstrap registers tsx first and then imports the `.ts` entry.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on `entry` (a path relative to `from`, without its extension, such as
 * `./worker`); `from` is the caller's `import.meta.url`.
 */
export function startWorkerThread(from: string, entry: string, options: WorkerOptions = {}): Worker {
  if (!from.endsWith('.ts')) return new Worker(new URL(`${entry}.js`, from), options);
  const source = new URL(`${entry}.ts`, from).href;
  const bootstrap = `import(${JSON.stringify(tsxApiUrl(from))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** tsx's ESM API (its `register`), found from `from` rather than from the working directory. */
function tsxApiUrl(from: string): string {
  const manifest = createRequire(from).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    exports: Record<string, { import: { default: string } }>;
  };
  return pathToFileURL(join(dirname(manifest), exports['./esm/api']?.import.default ?? '')).href;
}
