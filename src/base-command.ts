/**
 * The base of every gapipe command: `--json`, and the single place where errors are rendered and
 * turned into exit codes. Commands stay thin: parse flags, call one service, render.
 */
import { Command, Errors, Flags } from '@oclif/core';
import { GapipeError, toGapipeError } from './errors.js';
import { createStderrLogger, type Logger } from './log.js';
import { renderError } from './ui/errors.js';

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    quiet: Flags.boolean({
      char: 'q',
      description: 'Print only results and errors, no progress',
      default: false,
    }),
  };

  protected logger: Logger = createStderrLogger();

  /** True when output must be plain lines: not a terminal, --json, or CI. */
  protected get plainOutput(): boolean {
    return this.jsonEnabled() || !process.stdout.isTTY || Boolean(process.env.CI);
  }

  protected override async init(): Promise<void> {
    await super.init();
    const quiet = this.argv.includes('--quiet') || this.argv.includes('-q') || this.jsonEnabled();
    this.logger = createStderrLogger({ quiet });
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<void> {
    // oclif's own exit (this.exit) and help requests pass through untouched.
    if (err instanceof Errors.ExitError) throw err;
    const error =
      err instanceof Errors.CLIError && !(err instanceof GapipeError) && isParseError(err)
        ? new GapipeError(isArgumentError(err) ? 'INVALID_ARGUMENT' : 'INVALID_FLAG', parseMessage(err), {
            nextSteps: `See \`gapipe ${this.id?.replaceAll(':', ' ') ?? ''} --help\` for the arguments, flags and examples`,
          })
        : toGapipeError(err);
    process.exitCode = error.exitCode;
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify(error.toJSON(), null, 2)}\n`);
    } else {
      process.stderr.write(renderError(error, { debug: process.env.GAPIPE_DEBUG === '1' }));
    }
  }
}

function isParseError(err: Errors.CLIError): boolean {
  const name = err.constructor?.name ?? '';
  return /Parse|Flag|Arg|Required|Exclusive|Option|Unexpected|NonExistent/i.test(name) || 'parse' in err;
}

/** Errors about positional arguments (a missing SERVICE, an extra word), not flags. */
function isArgumentError(err: Errors.CLIError): boolean {
  const name = err.constructor?.name ?? '';
  return /Arg/i.test(name) || /\brequired args?\b|unexpected arguments?/i.test(err.message);
}

/** oclif's message without colours and without its own "See more help" line (the next steps say it). */
function parseMessage(err: Errors.CLIError): string {
  return stripAnsi(err.message)
    .split('\n')
    .filter((line) => !/^See more help with/i.test(line.trim()))
    .join('\n');
}

function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
