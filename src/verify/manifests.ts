/**
 * Several manifests as one ground truth: the shards of one run (`gapipe simulate --shard I/N` on N
 * machines) each write the manifest of their players; together they are the run's. They combine
 * only if they are shards of one run — the same run id, seed, event-time start, players and
 * regions, the same split N, each shard once and none missing — else verify would compare the
 * pipeline with a ground truth that never existed. Cells add up exactly, unique players too (a
 * player belongs to one shard).
 */
import { GapipeError } from '../errors.js';
import { type GroundTruthManifest, mergeManifests } from '../simulators/manifest.js';

/** What identifies the stream a manifest is part of. */
const SAME_RUN_FIELDS = ['runId', 'seed', 'startTime', 'players', 'regions', 'topic'] as const;

interface Shard {
  index: number;
  count: number;
}

/** The run's shard of a manifest (a whole run is shard 0 of 1). */
export function manifestShard(manifest: GroundTruthManifest): Shard {
  const shard = manifest.run.shard as Partial<Shard> | undefined;
  if (shard && Number.isSafeInteger(shard.index) && Number.isSafeInteger(shard.count)) {
    return { index: shard.index as number, count: shard.count as number };
  }
  return { index: 0, count: 1 };
}

/**
 * One manifest from the shards' manifests (in `paths` order, for messages). A whole run's single
 * manifest comes back as it is; a shard's alone is not enough (the pipeline received every shard's
 * records). Throws INVALID_FLAG, naming the files, when they are not all the shards of one run.
 */
export function combineShardManifests(
  manifests: readonly GroundTruthManifest[],
  paths: readonly string[],
): GroundTruthManifest {
  const [first] = manifests;
  if (!first) throw new GapipeError('INVALID_FLAG', '--manifest is required');
  if (manifests.length === 1 && manifestShard(first).count === 1) return first;
  const firstPath = paths[0] ?? 'the first manifest';
  const notOneRun = (problem: string) =>
    new GapipeError('INVALID_FLAG', `The manifests are not the shards of one run: ${problem}`, {
      nextSteps:
        'Pass the manifests of one `gapipe simulate --shard I/N` run, one per shard (the same flags, seed and --start-time on every shard)',
    });

  for (const [i, manifest] of manifests.entries()) {
    for (const field of SAME_RUN_FIELDS) {
      const a = JSON.stringify(first.run[field] ?? null);
      const b = JSON.stringify(manifest.run[field] ?? null);
      if (a !== b) throw notOneRun(`${paths[i]} has ${field} ${b}, ${firstPath} has ${a}`);
    }
  }
  const shards = manifests.map(manifestShard);
  const count = (shards[0] as Shard).count;
  if (count === 1 && manifests.length > 1) {
    throw notOneRun(
      `${firstPath} is a whole run (written without --shard); it cannot be combined with others`,
    );
  }
  const seen = new Map<number, string>();
  for (const [i, shard] of shards.entries()) {
    const path = paths[i] as string;
    if (shard.count !== count) {
      throw notOneRun(`${path} is shard ${shard.index}/${shard.count}, ${firstPath} is one of ${count}`);
    }
    const earlier = seen.get(shard.index);
    if (earlier !== undefined)
      throw notOneRun(`${earlier} and ${path} are both shard ${shard.index}/${count}`);
    seen.set(shard.index, path);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) {
    throw new GapipeError(
      'INVALID_FLAG',
      `Shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} of run ${String(first.run.runId)} ${missing.length > 1 ? 'are' : 'is'} missing: the pipeline received every shard's records, so verify needs every shard's manifest`,
      { nextSteps: `Pass all ${count} manifests, one --manifest each` },
    );
  }

  const { shard: _shard, stopReason: _stop, workers: _workers, ...run } = first.run;
  const stopReasons = [...new Set(manifests.map((m) => m.run.stopReason))];
  return mergeManifests(manifests, {
    ...run,
    stopReason: stopReasons.length === 1 ? stopReasons[0] : stopReasons,
    shards: count,
  });
}
