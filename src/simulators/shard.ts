/**
 * Shards: which players a generator owns. Player p belongs to shard `p mod count`, so a shard is a
 * fixed, disjoint set of players whatever the run's length, and the shards of one split together
 * own every player exactly once. `--shard I/N` picks shard I of N on this machine; `--workers W`
 * splits that shard again over W threads: worker w owns shard I + N·w of N·W, which holds exactly
 * the players of shard I whose index divided by N leaves w mod W. So W workers of shard I/N produce
 * the same events as shard I/N alone, and N machines the same events as one.
 */
import { invalidFlag } from '../errors.js';

export interface ShardSpec {
  /** 0 … count − 1. */
  index: number;
  count: number;
}

/** The whole stream: one shard of one. */
export const WHOLE_STREAM: ShardSpec = Object.freeze({ index: 0, count: 1 });

/** Most shards of one split (machines × workers). */
export const MAX_SHARDS = 65_536;

/** "2/8" → shard 2 of 8; the message names `label` and the form. */
export function parseShard(text: string, label: string): ShardSpec {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const form = 'I/N, shard I (counted from 0) of N, like 0/4';
  if (!match) throw invalidFlag(`${label} must be ${form}, got '${text}'`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (!(count >= 1 && count <= MAX_SHARDS)) {
    throw invalidFlag(`${label} must split into 1 to ${MAX_SHARDS} shards, got '${text}'`);
  }
  if (index >= count) {
    throw invalidFlag(
      `${label} names shard ${index} of ${count}, but shards are counted from 0 to ${count - 1}`,
      `Use --shard 0/${count} … --shard ${count - 1}/${count}`,
    );
  }
  return { index, count };
}

/** The sub-shards of `outer` for `workers` threads (see the header). */
export function workerShards(outer: ShardSpec, workers: number): ShardSpec[] {
  return Array.from({ length: workers }, (_, w) => ({
    index: outer.index + outer.count * w,
    count: outer.count * workers,
  }));
}

/** How many of `players` (numbered 0 … players − 1) belong to `shard`. */
export function playersInShard(players: number, shard: ShardSpec): number {
  if (shard.index >= players) return 0;
  return Math.floor((players - 1 - shard.index) / shard.count) + 1;
}

/** "shard 2/8", or "" for the whole stream. */
export function describeShard(shard: ShardSpec | undefined): string {
  return shard && shard.count > 1 ? `shard ${shard.index}/${shard.count}` : '';
}
