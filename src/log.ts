/**
 * Progress and diagnostics go to stderr so that stdout carries only results (and `--json` output
 * can be piped). Services take a `Logger`; tests pass `silentLogger` or a recording one.
 */
import chalk from 'chalk';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = {
  info() {},
  warn() {},
  debug() {},
};

export function createStderrLogger(
  options: { quiet?: boolean; debug?: boolean; stream?: NodeJS.WritableStream } = {},
): Logger {
  const stream = options.stream ?? process.stderr;
  const debugEnabled = options.debug ?? process.env.GAPIPE_DEBUG === '1';
  return {
    info(message) {
      if (!options.quiet) stream.write(`${message}\n`);
    },
    warn(message) {
      stream.write(`${chalk.yellow('warning')} ${message}\n`);
    },
    debug(message) {
      if (debugEnabled) stream.write(`${chalk.dim(`debug ${message}`)}\n`);
    },
  };
}

/** A logger that keeps what it was told, for unit tests. */
export function createRecordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(`info ${message}`),
    warn: (message) => lines.push(`warn ${message}`),
    debug: (message) => lines.push(`debug ${message}`),
  };
}
