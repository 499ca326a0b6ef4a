/**
 * The committed column of consume's summary: the consumer commits its replay point (the first record
 * of the oldest window still open), so "committed 0" beside "lag 0" is true for a run whose windows
 * are all open — and the summary says what the figure is.
 */
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ConsumeSnapshot, PartitionSnapshot } from '../../src/pipeline/types.js';
import { renderConsumeSummary } from '../../src/ui/consume.js';

function partition(n: number, position: number, committed: number): PartitionSnapshot {
  return {
    partition: n,
    position,
    highWatermark: position,
    lag: 0,
    committed,
    watermarkMs: undefined,
    idle: false,
  };
}

function summary(partitions: PartitionSnapshot[]): string {
  const snapshot: ConsumeSnapshot = {
    atMs: 0,
    elapsedMs: 5000,
    group: 'gapipe-aggregator',
    topic: 'game-events',
    consumed: 519,
    accepted: 519,
    duplicates: 0,
    late: 0,
    deadLettered: 0,
    written: 40,
    rawWritten: 0,
    replayed: 0,
    consumedPerSec: 0,
    writtenPerSec: 0,
    watermarkMs: undefined,
    openWindows: 2,
    openCells: 40,
    assigned: partitions.map((p) => p.partition),
    partitions,
    backpressure: false,
    sinkError: undefined,
    flushes: 3,
    failedFlushes: 0,
    rssBytes: 0,
  };
  return stripVTControlCharacters(renderConsumeSummary(snapshot));
}

describe('the committed column', () => {
  it('explains a committed offset behind the position: the replay point of open windows', () => {
    const text = summary([partition(0, 256, 0), partition(1, 263, 0)]);
    expect(text).toMatch(/\n {2}0 +256 +0 +0 +-\n/);
    expect(text).toContain(
      "  committed: the offset Kafka holds for group gapipe-aggregator, the consumer's replay point — the first record of the oldest window still open",
    );
  });

  it('needs no explanation when the committed offsets are the positions', () => {
    const text = summary([partition(0, 256, 256), partition(1, 263, 263)]);
    expect(text).not.toContain('replay point');
  });
});
