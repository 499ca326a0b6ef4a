import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { type MergeOutcome, mergeResultFiles } from '../../bench/merge.js';
import { BENCH_DEFAULTS } from '../../bench/options.js';
import { invalidFlag } from '../../errors.js';
import { renderBenchSummary } from '../../ui/bench.js';

export default class BenchMerge extends BaseCommand {
  static override summary = 'Merge the results of bench runs that measured together into one result';
  static override description =
    `Reads two or more result.json files written by \`gapipe bench\` (or their results directories) — the shards of a run spread over machines, or load hosts driving one pipeline at the same time — and writes one result: latency histograms merged (percentiles recomputed from all samples), counts and rates summed, per-second series summed second by second (consumer lag and per-second p99 take the largest value of any run), the assertions evaluated again on the merged figures and the verdict decided again. Writes result.json, the .hgrm files, junit.xml and report.html into --out; exits 1 when the merged run failed, like \`gapipe bench\`.`;

  static override examples = [
    {
      description: 'Merge the results of four shards',
      command:
        '<%= config.bin %> bench merge results/shard-0 results/shard-1 results/shard-2 results/shard-3 --out results/all',
    },
  ];

  static override strict = false;

  static override flags = {
    out: Flags.string({
      description: 'Directory for the merged result files [default: bench-results/merged-<time>]',
    }),
  };

  async run(): Promise<MergeOutcome['result']> {
    const { argv, flags } = await this.parse(BenchMerge);
    const paths = (argv as string[]).filter((path) => path.trim() !== '');
    if (paths.length < 2) {
      throw invalidFlag(
        `bench merge needs at least two results to merge, got ${paths.length}`,
        'Pass two or more results directories (or result.json files): gapipe bench merge DIR DIR… --out DIR',
      );
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const outDir = flags.out ?? `${BENCH_DEFAULTS.outRoot}/merged-${stamp}`;
    const { result, files } = await mergeResultFiles(paths, outDir);
    if (!this.jsonEnabled()) process.stdout.write(renderBenchSummary(result, files));
    if (result.summary.verdict.exitCode !== 0) process.exitCode = 1;
    return result;
  }
}
