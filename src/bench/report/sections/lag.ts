/** Figures about the consumers' lag that the run facts and the lag plot both show. */
import type { BenchResult, BenchSummary, SeriesPoint } from '../../types.js';
import { formatDuration, formatInt } from '../format.js';
import { plannedEndS } from './time.js';

/** "26,934 records (5.4 s of load)": the measured maximum lag, and how much load that is. */
export function lagText(summary: BenchSummary): string {
  const records = `${formatInt(summary.maxLag)} records`;
  if (summary.targetRate <= 0 || summary.maxLag <= 0) return records;
  return `${records} (${formatDuration((summary.maxLag / summary.targetRate) * 1000)} of load)`;
}

/** The measured second at which the lag reached the summary's maximum, if the series has it. */
export function lagPeak(result: BenchResult): SeriesPoint | undefined {
  const { summary, series } = result;
  if (summary.maxLag <= 0) return undefined;
  const planned = plannedEndS(result);
  return series.find((point) => !point.warmup && point.t <= planned && point.lag === summary.maxLag);
}

/**
 * How the lag left at the planned end was worked off: "caught up 16 s after the planned end", "still
 * 1,200 records behind when the run ended", or nothing when there was none.
 */
export function drainText(result: BenchResult): string {
  const planned = plannedEndS(result);
  const after = result.series.filter((point) => point.t >= planned);
  const atEnd = after[0];
  // Without seconds after the planned end the series cannot tell how the lag ended.
  if (!atEnd || atEnd.lag === 0 || after.length < 2) return '';
  const caughtUp = after.find((point) => point.lag === 0);
  if (caughtUp) return `caught up ${formatInt(caughtUp.t - planned)} s after the planned end`;
  return `still ${formatInt(after[after.length - 1]?.lag ?? atEnd.lag)} records behind when the run ended`;
}
