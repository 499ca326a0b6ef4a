/**
 * verify after a second `gapipe simulate` into the same topic: the index then holds the first run's
 * documents too, and verify must say so — with the fix — instead of only "79 of 99 cells differ".
 */
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { AggregateDoc } from '../../src/pipeline/types.js';
import type { ManifestWindow } from '../../src/simulators/manifest.js';
import { renderVerifyResult } from '../../src/ui/verify.js';
import { findOtherRuns } from '../../src/verify/compare.js';
import { MemoryAggregateReader, SOURCE_FIELDS } from '../../src/verify/reader.js';
import { verify } from '../../src/verify/verify.js';
import { INDEX, manifestFolder, manifestOf, TOPIC } from './helpers/fixtures.js';

const T0 = Date.parse('2026-11-21T20:00:00.000Z');
const manifests = manifestFolder('gapipe-other-runs-');

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function win(minute: number, region: ManifestWindow['region'], events: number): ManifestWindow {
  return {
    window_start: iso(T0 + minute * 60_000),
    window_end: iso(T0 + (minute + 1) * 60_000),
    region,
    event_type: 'match_end',
    events,
    unique_players: events,
    revenue_usd: 0,
    revenue_cents: 0,
    late_events: 0,
    duplicates: 0,
  };
}

/** One partition's document for `window`, first written by run `runId`. */
function doc(window: ManifestWindow, runId: string | undefined, events = window.events): AggregateDoc {
  return {
    window_start: window.window_start,
    window_end: window.window_end,
    window_kind: 'tumbling',
    region: window.region,
    event_type: window.event_type,
    topic: TOPIC,
    partition: 0,
    events,
    unique_players: events,
    revenue_usd: 0,
    revenue_cents: 0,
    late_events: 0,
    late_revenue_cents: 0,
    duplicates: 0,
    final: false,
    last_offset: 1,
    updated_at: iso(T0),
    ...(runId === undefined ? {} : { run_id: runId }),
  };
}

function manifestFile(windows: ManifestWindow[], runId: string): string {
  return manifests.write(manifestOf(windows, { runId, topic: TOPIC }));
}

// Run 1 covered minutes 0–1; run 2 (the manifest) minutes 1–2 of the same topic. In minute 1 both
// runs' events share documents, which carry run 1's id (its records came first).
const RUN1 = 'run-1-aaaa';
const RUN2 = 'run-2-bbbb';
const run1Windows = [win(0, 'EU', 5), win(1, 'EU', 3)];
const run2Windows = [win(1, 'EU', 4), win(2, 'NA', 2)];
const indexDocs = [
  doc(run1Windows[0] as ManifestWindow, RUN1),
  doc(run2Windows[0] as ManifestWindow, RUN1, 3 + 4),
  doc(run2Windows[1] as ManifestWindow, RUN2),
];

describe('findOtherRuns', () => {
  it('counts documents of another run id and documents outside the manifest’s windows', () => {
    expect(findOtherRuns(RUN2, run2Windows, indexDocs)).toEqual({
      docs: 2,
      runs: [{ runId: RUN1, docs: 2 }],
      outsideWindows: 1,
      windows: { from: iso(T0 + 60_000), to: iso(T0 + 3 * 60_000) },
    });
  });

  it('finds nothing when every document is the run’s own', () => {
    expect(findOtherRuns(RUN2, run2Windows, [doc(run2Windows[0] as ManifestWindow, RUN2)])).toBeUndefined();
  });

  it('goes by windows alone for documents without a run id (an engine that writes none)', () => {
    const docs = indexDocs.map((d) => ({ ...d, run_id: undefined }));
    expect(findOtherRuns(RUN2, run2Windows, docs)).toMatchObject({ docs: 0, runs: [], outsideWindows: 1 });
    expect(findOtherRuns(RUN2, run2Windows, docs.slice(1))).toBeUndefined();
  });

  it('lists several other runs, most documents first', () => {
    const docs = [
      doc(run2Windows[0] as ManifestWindow, 'run-x'),
      doc(run2Windows[0] as ManifestWindow, 'run-y'),
      { ...doc(run2Windows[1] as ManifestWindow, 'run-y'), partition: 1 },
    ];
    expect(findOtherRuns(RUN2, run2Windows, docs)?.runs).toEqual([
      { runId: 'run-y', docs: 2 },
      { runId: 'run-x', docs: 1 },
    ]);
  });
});

describe('verify with an earlier run in the index', () => {
  it('reads run_id from Elasticsearch', () => {
    expect(SOURCE_FIELDS).toContain('run_id');
  });

  it('reports the other run in the result and says what to do about it', async () => {
    const reader = new MemoryAggregateReader({ [INDEX]: indexDocs });
    const result = await verify(
      { manifestPath: manifestFile(run2Windows, RUN2), index: INDEX, waitMs: 0 },
      { reader },
    );
    expect(result.ok).toBe(false);
    expect(result.cells).toMatchObject({ compared: 3, differing: 2, unexpected: 1 });
    expect(result.otherRuns).toMatchObject({ docs: 2, outsideWindows: 1 });
    const text = stripVTControlCharacters(renderVerifyResult(result));
    const lines = text.trimEnd().split('\n');
    expect(lines.at(-3)).toBe(
      `! Another run's events are in topic ${TOPIC} and index ${INDEX}: 2 documents hold events of another run: ${RUN1} (2); 1 document lies outside this run's windows (20:01–20:03 UTC). The differences above are likely theirs, not the pipeline's.`,
    );
    expect(lines.at(-2)).toMatch(
      /^→ Give each run a topic of its own \(`gapipe lab up --topic NAME` creates it/,
    );
    expect(lines.at(-1)).toBe('✘ 2 of 3 cells differ (1 unexpected)');
  });

  it('says nothing of other runs when the run’s own documents match', async () => {
    const reader = new MemoryAggregateReader({
      [INDEX]: run2Windows.map((w) => doc(w, RUN2)),
    });
    const result = await verify(
      { manifestPath: manifestFile(run2Windows, RUN2), index: INDEX, waitMs: 0 },
      { reader },
    );
    expect(result.ok).toBe(true);
    expect(result.otherRuns).toBeUndefined();
    expect(stripVTControlCharacters(renderVerifyResult(result))).not.toContain('Another run');
  });
});
