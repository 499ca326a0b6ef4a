/**
 * Verify against the manifests of a sharded run: combined into the run's ground truth only when they
 * are the shards of one run, each once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GapipeError } from '../../src/errors.js';
import type { AggregateDoc } from '../../src/pipeline/types.js';
import { TrafficGenerator } from '../../src/simulators/generator.js';
import {
  type GroundTruthManifest,
  GroundTruthRecorder,
  type ManifestWindow,
  serializeManifest,
} from '../../src/simulators/manifest.js';
import type { SinkRecord } from '../../src/simulators/sinks/types.js';
import { combineShardManifests } from '../../src/verify/manifests.js';
import { MemoryAggregateReader } from '../../src/verify/reader.js';
import { verify } from '../../src/verify/verify.js';
import { simulateOptions } from '../simulators/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'gapipe-verify-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOPIC = 'game-events';
const INDEX = 'gapipe-aggregates';
const OPTIONS = simulateOptions({
  events: 8000,
  players: 600,
  disorder: {
    late: 0.01,
    lateByMs: { min: 120_000, max: 900_000 },
    duplicates: 0.02,
    malformed: 0.005,
    outOfOrder: 0.02,
  },
});

/** The manifest `gapipe simulate --shard index/count` writes (run section as simulate fills it in). */
function shardManifest(index: number, count: number, run: Record<string, unknown> = {}): GroundTruthManifest {
  const generator = new TrafficGenerator(OPTIONS, { index, count });
  const recorder = new GroundTruthRecorder(OPTIONS.regions);
  generator.observe(recorder);
  const out: SinkRecord[] = [];
  while (!generator.done) generator.fill(out, Number.POSITIVE_INFINITY, 1000);
  return recorder.toManifest({
    runId: 'run-sharded',
    seed: OPTIONS.seed,
    startTime: new Date(OPTIONS.startTimeMs).toISOString(),
    players: OPTIONS.players,
    regions: OPTIONS.regions,
    topic: TOPIC,
    stopReason: 'completed',
    ...(count > 1 ? { shard: { index, count } } : {}),
    workers: 1,
    ...run,
  });
}

/** Documents a correct consumer writes for these windows: one per cell. */
function docsOf(windows: readonly ManifestWindow[]): AggregateDoc[] {
  return windows.map((w) => ({
    window_start: w.window_start,
    window_end: w.window_end,
    window_kind: 'tumbling',
    region: w.region,
    event_type: w.event_type,
    partition: 0,
    topic: TOPIC,
    events: w.events,
    unique_players: w.unique_players,
    revenue_usd: w.revenue_usd,
    revenue_cents: w.revenue_cents,
    late_events: 0,
    late_revenue_cents: 0,
    duplicates: w.duplicates,
    final: true,
    last_offset: 1,
    updated_at: w.window_start,
  }));
}

let files = 0;
function write(manifest: GroundTruthManifest): string {
  const path = join(dir, `truth-${++files}.json`);
  writeFileSync(path, serializeManifest(manifest));
  return path;
}

const whole = shardManifest(0, 1);
const shards = [0, 1, 2].map((i) => shardManifest(i, 3));

describe('combining the manifests of a sharded run', () => {
  it('adds the shards up to the whole run’s ground truth, cell by cell', () => {
    const combined = combineShardManifests(shards, ['a', 'b', 'c']);
    expect(combined.windows).toEqual(whole.windows);
    expect(combined.totals).toEqual(whole.totals);
    expect(combined.run).toMatchObject({ runId: 'run-sharded', shards: 3, stopReason: 'completed' });
    expect(combined.run.shard).toBeUndefined();
  });

  it('verify --manifest a --manifest b --manifest c: the pipeline matches the combined ground truth', async () => {
    const paths = shards.map(write);
    const reader = new MemoryAggregateReader({ [INDEX]: docsOf(whole.windows) });
    const result = await verify({ manifestPath: paths, index: INDEX, waitMs: 0 }, { reader });
    expect(result.ok).toBe(true);
    expect(result.topic).toBe(TOPIC);
    expect(result.manifests).toEqual(paths);
    expect(result.manifest).toBe(paths.join(', '));
    expect(result.cells.compared).toBe(whole.windows.length);
    // One shard alone is not the run (its cells hold only its players' events): verify says what is missing.
    const alone = await verify(
      { manifestPath: paths[0] as string, index: INDEX, waitMs: 0 },
      { reader },
    ).catch((error: unknown) => error);
    expect((alone as GapipeError).message).toMatch(/^Shards 1\/3, 2\/3 of run run-sharded are missing/);
    expect(reader.reads).toHaveLength(1);
  });

  const problem = (manifests: GroundTruthManifest[]) => {
    try {
      combineShardManifests(
        manifests,
        manifests.map((_, i) => `m${i}.json`),
      );
    } catch (error) {
      expect(error).toBeInstanceOf(GapipeError);
      expect((error as GapipeError).code).toBe('INVALID_FLAG');
      expect((error as GapipeError).nextSteps).toMatch(/--shard|--manifest/);
      return (error as GapipeError).message;
    }
    return 'combined';
  };

  it('refuses manifests that are not the shards of one run, naming the files and what differs', () => {
    const [a, b, c] = shards as [GroundTruthManifest, GroundTruthManifest, GroundTruthManifest];
    expect(problem([a, { ...b, run: { ...b.run, seed: 7 } }, c])).toBe(
      'The manifests are not the shards of one run: m1.json has seed 7, m0.json has 42',
    );
    expect(problem([a, { ...b, run: { ...b.run, runId: 'other' } }, c])).toMatch(/m1.json has runId "other"/);
    expect(problem([a, a, c])).toBe(
      'The manifests are not the shards of one run: m0.json and m1.json are both shard 0/3',
    );
    expect(problem([a, { ...b, run: { ...b.run, shard: { index: 1, count: 4 } } }, c])).toMatch(
      /m1.json is shard 1\/4, m0.json is one of 3/,
    );
    expect(problem([{ ...whole, run: { ...whole.run, runId: 'run-sharded' } }, whole])).toMatch(
      /m0.json is a whole run \(written without --shard\)/,
    );
    expect(problem([a, c])).toBe(
      "Shard 1/3 of run run-sharded is missing: the pipeline received every shard's records, so verify needs every shard's manifest",
    );
  });
});
