/**
 * The one scaffold under every live progress view (simulate, consume, bench, lab up): which output a
 * run gets — ink on a terminal, plain lines in logs, pipes and CI, nothing but errors with --quiet —
 * and the ink side of it: the first frame at once, redraws at most every `minIntervalMs` with the
 * latest state always drawn in the end, an optional clock redraw for views that show time passing,
 * and on stop a final frame and a clean unmount.
 */
import { render } from 'ink';
import type { ReactElement } from 'react';

/** Shortest time between two frames: a docker pull reports many times a second, nobody reads that fast. */
export const LIVE_MIN_INTERVAL_MS = 100;

/** How a command wants its progress shown. */
export interface ReporterOutput {
  /** Plain lines instead of a live view: not a terminal, --json, or CI (the command decides). */
  plain: boolean;
  /** Nothing but errors (and warnings, where a reporter has them). */
  quiet: boolean;
  /** Where progress goes [default: stderr, so stdout keeps results]. */
  stream?: NodeJS.WriteStream;
  /** Where a live view reads keys from [default: ink's, process.stdin]. */
  stdin?: NodeJS.ReadStream;
}

/**
 * Builds the reporter a run gets: the plain one when output is plain or quiet (it prints nothing
 * itself when quiet), else the live one.
 */
export function chooseReporter<R>(
  output: ReporterOutput,
  reporters: {
    plain(stream: NodeJS.WriteStream, quiet: boolean): R;
    live(stream: NodeJS.WriteStream): R;
  },
): R {
  const stream = output.stream ?? process.stderr;
  return output.plain || output.quiet ? reporters.plain(stream, output.quiet) : reporters.live(stream);
}

export interface LiveView {
  /**
   * Draws the view's current state: at once for the first frame and when the last one is older than
   * the minimum interval, else when it is (later calls meanwhile fold into that one frame).
   */
  redraw(): void;
  /** Draws the final frame (when anything was drawn) and unmounts; later calls do nothing. */
  stop(): void;
}

export interface LiveViewOptions {
  stream: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream | undefined;
  /** Redraw this often even without news, for a view that shows time passing. */
  tickMs?: number;
  minIntervalMs?: number;
  now?: () => number;
}

/**
 * Draws `view()` with ink on `stream`. `view` returns the element for the current state, or
 * undefined while there is nothing to show yet. Nothing is drawn before the first redraw().
 */
export function startLiveView(view: () => ReactElement | undefined, options: LiveViewOptions): LiveView {
  const minIntervalMs = options.minIntervalMs ?? LIVE_MIN_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let app: ReturnType<typeof render> | undefined;
  let lastFrameAt = Number.NEGATIVE_INFINITY;
  let pending: NodeJS.Timeout | undefined;
  let stopped = false;

  const draw = () => {
    clearTimeout(pending);
    pending = undefined;
    const element = view();
    if (element === undefined) return;
    lastFrameAt = now();
    if (app) app.rerender(element);
    else {
      app = render(element, {
        stdout: options.stream,
        ...(options.stdin ? { stdin: options.stdin } : {}),
        patchConsole: false,
        // Ctrl-C stays a signal for the command (a view that reads keys handles it itself).
        exitOnCtrlC: false,
      });
    }
  };

  const redraw = () => {
    if (stopped) return;
    const wait = lastFrameAt + minIntervalMs - now();
    if (wait <= 0) draw();
    else if (pending === undefined) {
      // Clamped: a clock set back must not postpone the frame.
      pending = setTimeout(draw, Math.min(wait, minIntervalMs));
      pending.unref();
    }
  };

  const ticker = options.tickMs === undefined ? undefined : setInterval(redraw, options.tickMs);
  ticker?.unref();

  return {
    redraw,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(ticker);
      if (app) draw();
      else clearTimeout(pending);
      app?.unmount();
    },
  };
}
