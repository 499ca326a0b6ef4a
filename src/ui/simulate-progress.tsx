/**
 * Live progress of `gapipe simulate` in a terminal (ink, drawn on stderr so stdout can carry events):
 * the banner, a progress bar, produced/acknowledged counts and achieved vs target rate, with the
 * shortfall in yellow when the sink cannot keep up. Plain lines are used instead off a terminal.
 */
import { Box, render, Text } from 'ink';
import type { SimulationProgress } from '../simulators/runner.js';
import type { SimulationStart } from '../simulators/simulate.js';
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
export function createSimulateReporter(options: {
  plain: boolean;
  quiet: boolean;
  stream?: NodeJS.WriteStream;
}): ClosableSimulateReporter {
  const stream = options.stream ?? process.stderr;
  if (options.plain || options.quiet) return createPlainSimulateReporter(stream, { quiet: options.quiet });
  let start: SimulationStart | undefined;
  let app: ReturnType<typeof render> | undefined;
  let latest: SimulationProgress | undefined;
  let finished = false;
  const draw = () => {
    if (finished || !start) return;
    const view = <SimulateProgress start={start} progress={latest} />;
    if (app) app.rerender(view);
    else app = render(view, { stdout: stream, patchConsole: false, exitOnCtrlC: false });
  };
  return {
    started(info) {
      start = info;
      draw();
    },
    progress(update) {
      latest = update;
      draw();
    },
    done() {
      if (finished) return;
      draw();
      finished = true;
      app?.unmount();
    },
  };
}
