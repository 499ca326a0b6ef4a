import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import {
  type Comparison,
  compareResults,
  DEFAULT_MAX_REGRESSION_PCT,
  parseMaxRegression,
} from '../../bench/compare.js';
import { readResult } from '../../bench/results.js';
import { renderComparison } from '../../ui/bench-compare.js';

export default class BenchCompare extends BaseCommand {
  static override summary = 'Compare two bench results figure by figure and fail on regressions';
  static override description = [
    "Reads two result.json files written by `gapipe bench` (or their results directories) and compares, for each figure, the new run with the base run. Each figure has its direction: latency (each kind's p50, p90, p99, p99.9 and max; kinds without samples in either run are left out) and the maximum consumer lag are better lower; produced/s and the achieved share of the target rate are better closer to the run's target — short of it is worse, and over it is no improvement (an open-loop load over its target is catching up on its own backlog); throughput (consumed/s) is better higher up to the target, and over it (draining a backlog) counts as on target; written documents/s has no direction (it depends on windows and flushes).",
    `A figure that got worse by more than --max-regression (default ${DEFAULT_MAX_REGRESSION_PCT}%; for rates, points of the target) is a regression. Exits 1 when any figure regressed or either run's results did not verify; the table is printed either way. Runs set up differently (target, rate, players, consumers, duration) are compared with a warning.`,
  ].join('\n\n');

  static override examples = [
    {
      description: 'Compare a new run with a baseline',
      command: '<%= config.bin %> bench compare baseline/result.json bench-results/result.json',
    },
    {
      description: 'Allow at most 5% regression, as JSON for a CI step',
      command: '<%= config.bin %> bench compare baseline.json new.json --max-regression 5% --json',
    },
  ];

  static override args = {
    base: Args.string({ description: 'The baseline result.json (or its directory)', required: true }),
    new: Args.string({
      description: 'The result.json to check against it (or its directory)',
      required: true,
    }),
  };

  static override flags = {
    'max-regression': Flags.string({
      description: 'How much worse a figure may get before it counts as a regression: 10% or 10',
      default: `${DEFAULT_MAX_REGRESSION_PCT}%`,
    }),
  };

  async run(): Promise<Comparison> {
    const { args, flags } = await this.parse(BenchCompare);
    const maxRegressionPct = parseMaxRegression(flags['max-regression']);
    const [base, next] = await Promise.all([readResult(args.base), readResult(args.new)]);
    const comparison = compareResults(base, next, {
      maxRegressionPct,
      baseSource: args.base,
      newSource: args.new,
    });
    if (!this.jsonEnabled()) process.stdout.write(renderComparison(comparison));
    if (!comparison.ok) process.exitCode = 1;
    return comparison;
  }
}
