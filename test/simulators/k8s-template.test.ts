/**
 * templates/k8s: the Indexed Job that runs `gapipe simulate --shard i/N` in N pods. The numbers that
 * must agree (completions, parallelism, the N of --shard) and the flags every shard needs are checked
 * here, and the command each pod runs is parsed by gapipe's own option parser.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { resolveSimulateOptions, type SimulateInput } from '../../src/simulators/options.js';

const TEMPLATE = new URL('../../templates/k8s/simulate-shards.yaml', import.meta.url);

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked by the paths Kubernetes defines
type Json = Record<string, any>;
const documents = parseAllDocuments(readFileSync(TEMPLATE, 'utf8')).map((doc) => {
  expect(doc.errors).toEqual([]);
  return doc.toJSON() as Json;
});
const job = documents.find((d) => d.kind === 'Job') as Json;
const container = job.spec.template.spec.containers[0] as Json;
const script = (container.args as string[]).join(' ');

/** The pod's command line for completion index `index`, as Kubernetes and the shell would pass it. */
function commandLine(index: number): string[] {
  const expanded = script.replaceAll('$(JOB_COMPLETION_INDEX)', String(index)).replaceAll('\\\n', ' ');
  const words = expanded.split(/\s+/).filter(Boolean);
  expect(words.slice(0, 3)).toEqual(['exec', 'gapipe', 'simulate']);
  return words.slice(3, words.indexOf('>'));
}

/** `--flag value` pairs of a command line (gapipe's flags here all take a value, except --json). */
function flagsOf(words: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '--json') continue;
    flags[word.replace(/^--/, '')] = words[++i] as string;
  }
  return flags;
}

describe('templates/k8s/simulate-shards.yaml', () => {
  it('parses as Kubernetes objects: a results volume, an Indexed Job and a pod to collect from', () => {
    expect(documents.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
      'v1 PersistentVolumeClaim',
      'batch/v1 Job',
      'v1 Pod',
    ]);
    expect(job.spec.completionMode).toBe('Indexed');
    // A shard that ran twice would send its records twice.
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    const claim = documents[0]?.metadata.name;
    expect(job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe(claim);
    expect(documents[2]?.spec.volumes[0].persistentVolumeClaim.claimName).toBe(claim);
  });

  it('runs shard $(JOB_COMPLETION_INDEX)/N with N = completions = parallelism', () => {
    const shard = /--shard \$\(JOB_COMPLETION_INDEX\)\/(\d+)\b/.exec(script);
    expect(shard).not.toBeNull();
    const count = Number(shard?.[1]);
    expect(job.spec.completions).toBe(count);
    expect(job.spec.parallelism).toBe(count);
    expect(script.match(/--shard/g)).toHaveLength(1);
  });

  it('gives every pod a command gapipe accepts, the same stream everywhere, and its own output files', () => {
    const context = { nowMs: Date.parse('2026-11-30T00:00:00Z'), fallbackSeed: 1, cores: 64 };
    const count = job.spec.completions as number;
    const runs = Array.from({ length: count }, (_, index) => {
      const flags = flagsOf(commandLine(index));
      const input: SimulateInput = {
        shard: flags.shard,
        workers: flags.workers,
        seed: flags.seed,
        startTime: flags['start-time'],
        players: flags.players,
        rate: flags.rate,
        duration: flags.duration,
        topic: flags.topic,
        late: flags.late,
        duplicates: flags.duplicates,
        manifest: flags.manifest,
        brokers: container.env.find((e: Json) => e.name === 'GAPIPE_BROKERS').value,
      };
      return { flags, options: resolveSimulateOptions(input, {}, context) };
    });
    for (const [index, { flags, options }] of runs.entries()) {
      expect(options.shard).toEqual({ index, count });
      expect(options.seedGiven).toBe(true);
      expect(flags.manifest).toBe(`/results/truth-${index}.json`);
      expect(options.sink).toBe('kafka');
      // Pinned to the CPU limit: Node sees the node's cores, not the pod's limit.
      expect(options.workers).toBe(Number(container.resources.limits.cpu));
    }
    const { shard: _a, manifestPath: _b, ...first } = runs[0]?.options ?? {};
    for (const { options } of runs) {
      const { shard: _c, manifestPath: _d, ...rest } = options;
      expect(rest).toEqual(first);
    }
    expect(script).toMatch(/> \/results\/summary-\$\(JOB_COMPLETION_INDEX\)\.json/);
  });
});
