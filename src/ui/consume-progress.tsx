/**
 * Live view of `gapipe consume` in a terminal (ink, drawn on stderr so stdout keeps the summary):
 * the banner once, then rates, watermark, open windows, rejects, the backpressure state and a
 * per-partition table, redrawn with each snapshot. Plain lines are used instead off a terminal.
 */
import { Box, Static, Text } from 'ink';
import type { ConsumeReporter, ConsumeStart } from '../pipeline/consume.js';
import type { ConsumeSnapshot, PartitionSnapshot } from '../pipeline/types.js';
import {
  createPlainConsumeReporter,
  describePause,
  formatBytes,
  formatEventTime,
  renderConsumeBanner,
  totalLag,
} from './consume.js';
import { chooseReporter, type ReporterOutput, startLiveView } from './live.js';
import { formatCount, formatDuration, formatRate } from './simulate.js';

/** More rows than this would push the view past a screenful; the rest are summed up in one line. */
export const MAX_PARTITION_ROWS = 12;
const MAX_ERROR_CHARS = 60;

const COLUMNS = ['partition', 'position', 'lag', 'committed', 'watermark', 'idle'] as const;
const RIGHT_ALIGNED = new Set<string>(['partition', 'position', 'lag', 'committed']);

/** Aligned rows of the partition table, header first (text only, so it fits 80 columns predictably). */
function partitionTable(partitions: PartitionSnapshot[]): string[] {
  const rows = partitions.map((p) => [
    String(p.partition),
    String(p.position),
    formatCount(p.lag),
    String(p.committed),
    formatEventTime(p.watermarkMs),
    p.idle ? 'idle' : '',
  ]);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const width = widths[i] ?? 0;
        return RIGHT_ALIGNED.has(COLUMNS[i] ?? '') ? c.padStart(width) : c.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)];
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function describeWatermark(s: ConsumeSnapshot): string {
  if (s.watermarkMs === undefined) return 'watermark - (no events yet)';
  const behindMs = s.atMs - s.watermarkMs;
  const relative =
    behindMs >= 0 ? `${formatDuration(behindMs)} behind now` : `${formatDuration(-behindMs)} ahead of now`;
  return `watermark ${formatEventTime(s.watermarkMs)} UTC (${relative})`;
}

/** The live part: 5 lines, the table header, at most MAX_PARTITION_ROWS rows and a "+N more" line. */
export function ConsumeView({ snapshot: s }: { snapshot: ConsumeSnapshot | undefined }) {
  if (s === undefined) return <Text color="cyan">› waiting for partition assignment…</Text>;
  const partitions = [...s.partitions].sort((a, b) => a.partition - b.partition);
  const shown = partitions.slice(0, MAX_PARTITION_ROWS);
  const hidden = partitions.slice(MAX_PARTITION_ROWS);
  const [header, ...rows] = partitionTable(shown);
  return (
    <Box flexDirection="column">
      <Text>
        {formatDuration(s.elapsedMs)} · consumed {formatCount(s.consumed)} ({formatRate(s.consumedPerSec)}) ·
        written {formatCount(s.written)} ({formatRate(s.writtenPerSec)})
      </Text>
      <Text>
        lag {formatCount(totalLag(s.partitions))} · {describeWatermark(s)}
      </Text>
      <Text>
        open {formatCount(s.openWindows)} windows, {formatCount(s.openCells)} cells · RSS{' '}
        {formatBytes(s.rssBytes)}
      </Text>
      <Text>
        {s.late > 0 ? <Text color="yellow">late {formatCount(s.late)}</Text> : 'late 0'} ·{' '}
        {s.deadLettered > 0 ? (
          <Text color="yellow">dead-lettered {formatCount(s.deadLettered)}</Text>
        ) : (
          'dead-lettered 0'
        )}{' '}
        · duplicates {formatCount(s.duplicates)}
      </Text>
      {s.backpressure ? (
        <Text color="red" wrap="truncate-end">
          {truncate(describePause(s), 80)}
        </Text>
      ) : s.sinkError !== undefined ? (
        <Text color="yellow" wrap="truncate-end">
          retrying Elasticsearch: {truncate(s.sinkError, MAX_ERROR_CHARS)}
        </Text>
      ) : (
        <Text color="green">
          flowing · {formatCount(s.flushes)} flushes
          {s.failedFlushes > 0 ? ` (${formatCount(s.failedFlushes)} failed and retried)` : ''}
        </Text>
      )}
      {shown.length === 0 ? (
        <Text color="cyan">› no partitions assigned</Text>
      ) : (
        <Box flexDirection="column">
          <Text dimColor>{header}</Text>
          {rows.map((row, i) => (
            <Text key={shown[i]?.partition}>{row}</Text>
          ))}
          {hidden.length > 0 ? (
            <Text dimColor>
              +{hidden.length} more partitions (lag {formatCount(totalLag(hidden))})
            </Text>
          ) : null}
        </Box>
      )}
    </Box>
  );
}

/** The banner, printed once above the live view, then the live view. */
export function ConsumeProgress({
  start,
  snapshot,
}: {
  start: ConsumeStart | undefined;
  snapshot: ConsumeSnapshot | undefined;
}) {
  return (
    <>
      <Static items={start ? [start] : []}>
        {(item) => <Text key="banner">{renderConsumeBanner(item).trimEnd()}</Text>}
      </Static>
      <ConsumeView snapshot={snapshot} />
    </>
  );
}

/**
 * The reporter for a consumer: live ink output on a terminal, plain lines otherwise (not a TTY,
 * --json, CI), nothing but errors with --quiet.
 */
export function createConsumeReporter(output: ReporterOutput): ConsumeReporter {
  return chooseReporter(output, {
    plain: (stream, quiet) => createPlainConsumeReporter(stream, { quiet }),
    live(stream) {
      let start: ConsumeStart | undefined;
      let latest: ConsumeSnapshot | undefined;
      const live = startLiveView(() => <ConsumeProgress start={start} snapshot={latest} />, {
        stream,
        stdin: output.stdin,
      });
      return {
        started(info) {
          start = info;
          live.redraw();
        },
        update(snapshot) {
          latest = snapshot;
          live.redraw();
        },
        done: live.stop,
      };
    },
  });
}
