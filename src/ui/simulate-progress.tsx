/**
 * Live progress of `gapipe simulate` in a terminal (ink, drawn on stderr so stdout can carry events):
 * the banner, a progress bar, produced/acknowledged counts and achieved vs target rate, with the
 * shortfall in yellow when the sink cannot keep up. Plain lines are used instead off a terminal.
 */
import { Box, Text } from 'ink';
import type { SimulationProgress } from '../simulators/runner.js';
import type { SimulationStart } from '../simulators/simulate.js';
import { chooseReporter, type ReporterOutput, startLiveView } from './live.js';
import {
  type ClosableSimulateReporter,
  createPlainSimulateReporter,
  formatCount,
  formatDuration,
  formatRate,
  renderSimulateBanner,
} from './simulate.js';

function bar(fraction: number, width = 30): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function SimulateProgress({
  start,
  progress,
}: {
  start: SimulationStart;
  progress: SimulationProgress | undefined;
}) {
  const behind = progress !== undefined && (progress.lagMs > 1000 || progress.atInFlightLimit);
  return (
    <Box flexDirection="column">
      <Text>{renderSimulateBanner(start).trimEnd()}</Text>
      {progress === undefined ? (
        <Text color="cyan">› starting…</Text>
      ) : (
        <Box flexDirection="column">
          <Text>
            {progress.fraction === undefined
              ? ''
              : `${bar(progress.fraction)} ${Math.floor(progress.fraction * 100)}%  `}
            {formatDuration(progress.elapsedMs)}
          </Text>
          <Text>
            produced {formatCount(progress.produced)} · acknowledged {formatCount(progress.acknowledged)} · in
            flight {formatCount(progress.inFlight)}
            {progress.failed > 0 ? <Text color="red"> · failed {formatCount(progress.failed)}</Text> : null}
          </Text>
          <Text color={behind ? 'yellow' : 'green'}>
            rate {formatRate(progress.achievedRate)} of {formatRate(progress.targetRate)} target
          </Text>
          {behind ? (
            <Text color="yellow">
              behind schedule by {formatDuration(progress.lagMs)}, backlog {formatCount(progress.backlog)}{' '}
              events
              {progress.atInFlightLimit ? ' — in-flight limit reached, the sink is the bottleneck' : ''}
            </Text>
          ) : null}
        </Box>
      )}
    </Box>
  );
}

/**
 * The reporter for a run: live ink output on a terminal, plain lines otherwise (not a TTY, --json,
 * CI), nothing but errors with --quiet.
 */
export function createSimulateReporter(output: ReporterOutput): ClosableSimulateReporter {
  return chooseReporter(output, {
    plain: (stream, quiet) => createPlainSimulateReporter(stream, { quiet }),
    live(stream) {
      let start: SimulationStart | undefined;
      let latest: SimulationProgress | undefined;
      const live = startLiveView(() => start && <SimulateProgress start={start} progress={latest} />, {
        stream,
        stdin: output.stdin,
      });
      return {
        started(info) {
          start = info;
          live.redraw();
        },
        progress(update) {
          latest = update;
          live.redraw();
        },
        done: live.stop,
      };
    },
  });
}
