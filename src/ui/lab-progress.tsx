/**
 * Live progress of `lab up` in a terminal (ink, drawn on stderr): finished steps, the step in
 * progress, and a bar per image being pulled. Plain lines are used instead off a terminal.
 */
import { Box, Text } from 'ink';
import type { PullProgress } from '../lab/docker.js';
import type { LabReporter } from '../lab/lab.js';
import { createPlainLabReporter } from './lab.js';
import { chooseReporter, type ReporterOutput, startLiveView } from './live.js';

export interface PullState {
  image: string;
  current: number;
  total: number;
  status: string;
}

export interface LabProgressState {
  /** Append-only; `id` is the step's position, stable for React keys. */
  steps: Array<{ id: number; text: string }>;
  warnings: string[];
  pulls: PullState[];
}

function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function LabProgress({ state, done }: { state: LabProgressState; done: boolean }) {
  const last = state.steps.length - 1;
  return (
    <Box flexDirection="column">
      {state.steps.map((step) => (
        <Text key={step.id} color={step.id === last && !done ? 'cyan' : undefined}>
          {step.id === last && !done ? '›' : '✓'} {step.text}
        </Text>
      ))}
      {state.pulls.map((p) => (
        <Text key={p.image}>
          {'  '}
          {p.image} {bar(p.total > 0 ? p.current / p.total : 0)}{' '}
          {p.total > 0 ? `${Math.round((100 * p.current) / p.total)}%` : p.status}
        </Text>
      ))}
      {state.warnings.map((w) => (
        <Text key={w} color="yellow">
          warning {w}
        </Text>
      ))}
    </Box>
  );
}

export interface ClosableLabReporter extends LabReporter {
  /** Stops live drawing; safe to call more than once. */
  done(): void;
}

/**
 * The reporter for `lab up`: live ink output on a terminal, plain lines otherwise (not a TTY,
 * --json, CI), only warnings with --quiet.
 */
export function createLabReporter(output: ReporterOutput): ClosableLabReporter {
  return chooseReporter<ClosableLabReporter>(output, {
    plain: (stream, quiet) => ({ ...createPlainLabReporter(stream, { quiet }), done() {} }),
    live(stream) {
      const state: LabProgressState = { steps: [], warnings: [], pulls: [] };
      const layers = new Map<string, Map<string, { current: number; total: number }>>();
      let finished = false;
      const live = startLiveView(() => <LabProgress state={{ ...state }} done={finished} />, {
        stream,
        stdin: output.stdin,
      });
      live.redraw();
      return {
        step(message) {
          state.steps = [...state.steps, { id: state.steps.length, text: message }];
          live.redraw();
        },
        warn(message) {
          state.warnings = [...state.warnings, message];
          live.redraw();
        },
        pull(progress: PullProgress) {
          const image = layers.get(progress.image) ?? new Map();
          layers.set(progress.image, image);
          if (progress.layer && progress.total) {
            image.set(progress.layer, { current: progress.current ?? 0, total: progress.total });
          }
          let current = 0;
          let total = 0;
          for (const l of image.values()) {
            current += l.current;
            total += l.total;
          }
          const pull = { image: progress.image, current, total, status: progress.status };
          state.pulls = [...state.pulls.filter((p) => p.image !== progress.image), pull];
          live.redraw();
        },
        done() {
          finished = true;
          live.stop();
        },
      };
    },
  });
}
