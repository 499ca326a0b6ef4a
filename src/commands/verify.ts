import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { endpointsFromLab, labEndpointFlag } from '../cli/lab-endpoints.js';
import { invalidFlag } from '../errors.js';
import { AGGREGATES_INDEX } from '../lab/provision/elasticsearch.js';
import { CONSUME_DEFAULTS, parseEsUrl } from '../pipeline/options.js';
import { parseDurationMs } from '../simulators/options.js';
import { renderVerifyAttempt, renderVerifyResult } from '../ui/verify.js';
import { ElasticsearchAggregateReader } from '../verify/reader.js';
import { type VerifyResult, verify } from '../verify/verify.js';

const DEFAULT_ES_URL = CONSUME_DEFAULTS.esUrl;
/** Longest --wait accepted. */
const MAX_WAIT_MS = 24 * 3_600_000;

export default class Verify extends BaseCommand {
  static override summary = "Compare the aggregates in Elasticsearch with a simulator run's ground truth";
  static override description =
    `Reads the 1-minute tumbling aggregate documents of one topic (--topic, default the manifest's run topic), sums them per (window, region, event_type) over partitions, and compares each cell with the ground truth written by \`gapipe simulate --manifest\`:

- events: expected the manifest's events; found = accepted + late events (late events are records the consumer rejected because they came after their window closed; it still counts them on the document).
- revenue: whole cents, accepted + late; never compared as floating point.
- duplicates: must be equal.
- unique players: equal when the cell has no late events. With late events only a bound holds, found ≤ expected ≤ found + late events: such cells are "bounded", not differences.
- A manifest cell without documents is "missing"; documents the manifest does not list are "unexpected".
- Documents not yet final are counted but not held against the result.
- An engine that leaves out the optional fields (docs/engines.md) is compared without them, and a note says so: no \`duplicates\` on any document, duplicates are not compared; no \`late_events\` on any document, a cell the simulator sent late events into may be short by at most those events (revenue at most the expected, unique players a bound) and is then "bounded"; no \`final\`, every document counts as not final.
- Records the simulator's producer gave up on are already taken out of the manifest's counts; their cells are listed as the producer's failures (unique players there are checked as a bound), never as the pipeline's differences.

A run sharded over machines (\`gapipe simulate --shard I/N\`) writes one manifest per shard: pass them all (--manifest a.json --manifest b.json …) and they are combined into the run's ground truth, after checking they are the shards of one run (same run id, seed and split; every shard once).

Prints the differences (at most 50 rows; --json lists them all). Exits 1 when any cell differs, 0 when all match. --wait re-reads every second until they match or the time is up.`;

  static override examples = [
    {
      description: "Check a run's aggregates once",
      command: '<%= config.bin %> verify --manifest truth.json',
    },
    {
      description: 'Give the consumer up to a minute to catch up',
      command: '<%= config.bin %> verify --manifest truth.json --wait 60s',
    },
    {
      description: 'A run sharded over three machines: combine their manifests',
      command:
        '<%= config.bin %> verify --manifest truth-0.json --manifest truth-1.json --manifest truth-2.json',
    },
    {
      description: 'Another cluster, index and topic, as JSON',
      command:
        '<%= config.bin %> verify --manifest truth.json --es http://es:9200 --index gapipe-aggregates-test --topic game-events-2 --json',
    },
  ];

  static override flags = {
    ...labEndpointFlag,
    manifest: Flags.string({
      description:
        'Ground-truth file written by `gapipe simulate --manifest FILE` (required); repeat it for each shard of a --shard I/N run',
      multiple: true,
    }),
    es: Flags.string({
      description: 'Elasticsearch URL',
      env: 'GAPIPE_ES_URL',
      default: DEFAULT_ES_URL,
    }),
    index: Flags.string({ description: 'Index of the aggregate documents', default: AGGREGATES_INDEX }),
    topic: Flags.string({
      description: "Topic whose aggregates are compared [default: the manifest's run topic]",
    }),
    wait: Flags.string({
      description:
        'Re-read every second while cells differ, for up to this long: 30s, 2m [default: read once]',
    }),
  };

  async run(): Promise<VerifyResult> {
    const { flags } = await this.parse(Verify);
    const manifests = (flags.manifest ?? []).filter((path) => path.trim() !== '');
    if (manifests.length === 0) {
      throw invalidFlag(
        '--manifest is required: the ground-truth file of the run to check',
        'Write one with `gapipe simulate --sink kafka --manifest truth.json`, then run `gapipe verify --manifest truth.json`',
      );
    }
    const waitMs = parseWait(flags.wait);
    const { es } = await endpointsFromLab(flags.lab, { es: flags.es }, ['elasticsearch']);
    const url = parseEsUrl(es);
    const reader = new ElasticsearchAggregateReader(url);
    try {
      const result = await verify(
        { manifestPath: manifests, index: flags.index, topic: flags.topic, waitMs },
        {
          reader,
          // Progress on stderr through the logger, which --quiet and --json silence.
          onAttempt: (attempt) => {
            if (waitMs > 0) this.logger.info(renderVerifyAttempt(attempt));
          },
        },
      );
      if (!this.jsonEnabled()) process.stdout.write(renderVerifyResult(result));
      if (!result.ok) process.exitCode = 1;
      return result;
    } finally {
      await reader.close();
    }
  }
}

function parseWait(text: string | undefined): number {
  if (text === undefined) return 0;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms > MAX_WAIT_MS) {
    throw invalidFlag(`--wait must be a duration from 0s to 24h like 30s or 2m, got '${text}'`);
  }
  return ms;
}
