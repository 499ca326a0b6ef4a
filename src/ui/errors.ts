/** How an error looks in a terminal. */
import chalk from 'chalk';
import { describeCause, type GapipeError } from '../errors.js';

export function renderError(error: GapipeError, options: { debug?: boolean } = {}): string {
  // "Kafka is not reachable: Kafka is not reachable at …" says it twice: the message alone is enough.
  const headline = error.message.toLowerCase().startsWith(error.title.toLowerCase())
    ? chalk.bold(error.message)
    : `${chalk.bold(error.title)}: ${error.message}`;
  const lines = [`${chalk.red('✖')} ${headline}`];
  for (const detail of error.details) lines.push(chalk.dim(detail));
  const cause = describeCause(error.cause);
  if (cause && !error.message.includes(cause)) lines.push(chalk.dim(`  cause: ${cause}`));
  if (error.nextSteps) lines.push(`${chalk.cyan('→')} ${error.nextSteps}`);
  if (options.debug && error.cause instanceof Error && error.cause.stack)
    lines.push(chalk.dim(error.cause.stack));
  if (options.debug && error.stack) lines.push(chalk.dim(error.stack));
  return `${lines.join('\n')}\n`;
}
