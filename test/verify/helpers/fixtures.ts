/**
 * What verify tests compare: a manifest cell and the document gapipe's consumer writes for it, a
 * manifest around given windows, and manifest files in a folder removed after the file's tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { AggregateDoc } from '../../../src/pipeline/types.js';
import {
  type GroundTruthManifest,
  type ManifestWindow,
  mergeManifests,
  serializeManifest,
} from '../../../src/simulators/manifest.js';

export const T0 = '2026-11-21T20:00:00.000Z';
export const T1 = '2026-11-21T20:01:00.000Z';
export const TOPIC = 'game-events';
export const INDEX = 'gapipe-aggregates';

/** A manifest cell: 10 EU item purchases of 6 players worth $12.34 in the minute at T0, 1 duplicate. */
export function cellWindow(overrides: Partial<ManifestWindow> = {}): ManifestWindow {
  const start = overrides.window_start ?? T0;
  return {
    window_start: start,
    window_end: new Date(Date.parse(start) + 60_000).toISOString(),
    region: 'EU',
    event_type: 'item_purchase',
    events: 10,
    unique_players: 6,
    revenue_usd: 12.34,
    revenue_cents: 1234,
    late_events: 0,
    duplicates: 1,
    ...overrides,
  };
}

/** The one document gapipe's consumer writes for `cellWindow()`: every optional field present. */
export function cellDoc(overrides: Partial<AggregateDoc> = {}): AggregateDoc {
  const start = overrides.window_start ?? T0;
  return {
    window_start: start,
    window_end: new Date(Date.parse(start) + 60_000).toISOString(),
    window_kind: 'tumbling',
    region: 'EU',
    event_type: 'item_purchase',
    partition: 0,
    topic: TOPIC,
    events: 10,
    unique_players: 6,
    revenue_usd: 12.34,
    revenue_cents: 1234,
    late_events: 0,
    late_revenue_cents: 0,
    duplicates: 1,
    final: true,
    last_offset: 100,
    updated_at: '2026-11-21T20:15:00.000Z',
    ...overrides,
  };
}

/** A manifest of `run` that holds `windows` and zero totals. */
export function manifestOf(
  windows: ManifestWindow[],
  run: Record<string, unknown> = { runId: 'r1', topic: TOPIC },
): GroundTruthManifest {
  // Merging no shards gives a manifest with every total and malformed count zero.
  return { ...mergeManifests([], run), windows };
}

/**
 * A temporary folder for manifest files, removed after the calling file's tests; `write` takes a
 * manifest (serialized as simulate writes it) or raw text, and returns the file's path.
 */
export function manifestFolder(prefix: string): {
  dir: string;
  write: (manifest: GroundTruthManifest | string) => string;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  return {
    dir,
    write(manifest) {
      const path = join(dir, `truth-${++files}.json`);
      writeFileSync(path, typeof manifest === 'string' ? manifest : serializeManifest(manifest));
      return path;
    },
  };
}
