/**
 * Ctrl-C and SIGTERM for a command that runs a service until it is stopped. The first signal aborts
 * the run's AbortController: the service stops cleanly (flushes, commits, writes its results) and
 * the command still prints its summary. A second signal, for when that takes too long, exits at once
 * with 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process the
 * signal killed. The listeners are removed when the run ends, however it ends.
 */
import { constants } from 'node:os';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** The part of `process` this needs; tests pass a stand-in. */
export interface SignalTarget {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  exit(code: number): void;
}

/**
 * Runs `run` with SIGINT and SIGTERM wired to `controller`. `run` may abort the controller itself
 * (a `q` key); a signal after that exits at once too.
 */
export async function withInterrupt<T>(
  run: (controller: AbortController) => Promise<T>,
  target: SignalTarget = process,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) target.exit(128 + (constants.signals[signal] ?? 2));
    else controller.abort();
  };
  for (const signal of SIGNALS) target.on(signal, onSignal);
  try {
    return await run(controller);
  } finally {
    for (const signal of SIGNALS) target.off(signal, onSignal);
  }
}
