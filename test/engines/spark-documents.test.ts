/**
 * The Spark job's documents (templates/engines/spark/job.py, plain Python) against gapipe's own: the
 * same id for the same cell, the same field names and types, every field in the index mapping.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { aggregateDocId } from '../../src/pipeline/types.js';

const JOB_DIR = fileURLToPath(new URL('../../templates/engines/spark/', import.meta.url));

/** job.aggregate_document for each row, as [id, version, document]. */
function sparkDocuments(rows: object[], topic: string): Array<[string, number, Record<string, unknown>]> {
  const script = `
import json, sys
sys.path.insert(0, sys.argv[1])
import job
rows = json.loads(sys.stdin.read())
print(json.dumps([job.aggregate_document(row, sys.argv[2], "2026-11-21T20:05:00.000Z") for row in rows]))
`;
  const run = spawnSync('python3', ['-c', script, JOB_DIR, topic], {
    input: JSON.stringify(rows),
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (run.status !== 0) throw new Error(`python3 failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Array<[string, number, Record<string, unknown>]>;
}

const row = {
  window_start_ms: Date.parse('2026-11-21T20:00:00.000Z'),
  window_end_ms: Date.parse('2026-11-21T20:01:00.000Z'),
  partition: 3,
  region: 'EU',
  event_type: 'item_purchase',
  events: 12,
  unique_players: 9,
  revenue_cents: 43_599,
  last_offset: 1041,
  run_id: '2deae6e4-2d66-4039-8c94-b8ab37e1adcf',
};

describe("the Spark job's aggregate documents", () => {
  it("have gapipe's deterministic id and fields, versioned by the offset after their last record", () => {
    const [[id, version, doc]] = sparkDocuments([row], 'game-events') as [
      [string, number, Record<string, unknown>],
    ];
    expect(doc).toEqual({
      window_start: '2026-11-21T20:00:00.000Z',
      window_end: '2026-11-21T20:01:00.000Z',
      window_kind: 'tumbling',
      region: 'EU',
      event_type: 'item_purchase',
      partition: 3,
      topic: 'game-events',
      events: 12,
      unique_players: 9,
      revenue_usd: 435.99,
      revenue_cents: 43_599,
      last_offset: 1041,
      updated_at: '2026-11-21T20:05:00.000Z',
      run_id: '2deae6e4-2d66-4039-8c94-b8ab37e1adcf',
    });
    expect(id).toBe(
      aggregateDocId({
        topic: 'game-events',
        partition: 3,
        window_kind: 'tumbling',
        window_start: new Date(row.window_start_ms).toISOString(),
        region: 'EU',
        event_type: 'item_purchase',
      }),
    );
    expect(version).toBe(1042);
  });

  it('writes window times as toISOString does, before 1970 and after 2038 too, and leaves out a missing run id', () => {
    const starts = [
      0,
      -60_000,
      Date.parse('2040-02-29T23:59:00.000Z'),
      Date.parse('2026-11-21T20:00:00.123Z'),
    ];
    const docs = sparkDocuments(
      starts.map((start) => ({
        ...row,
        window_start_ms: start,
        window_end_ms: start + 60_000,
        run_id: null,
      })),
      't',
    );
    expect(docs.map(([, , doc]) => [doc.window_start, doc.window_end])).toEqual(
      starts.map((start) => [new Date(start).toISOString(), new Date(start + 60_000).toISOString()]),
    );
    for (const [, , doc] of docs) expect(doc).not.toHaveProperty('run_id');
  });

  it('writes only fields the aggregates index maps', () => {
    const template = JSON.parse(
      readFileSync(
        new URL('../../templates/elasticsearch/aggregates-template.json', import.meta.url),
        'utf8',
      ),
    ) as { template: { mappings: { properties: Record<string, unknown> } } };
    const mapped = Object.keys(template.template.mappings.properties);
    const [[, , doc]] = sparkDocuments([row], 'game-events') as [[string, number, Record<string, unknown>]];
    for (const field of Object.keys(doc)) expect(mapped).toContain(field);
  });
});
