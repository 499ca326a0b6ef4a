import { randomInt } from 'node:crypto';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { type FindMaxResult, findMax } from '../../bench/find-max.js';
import { resolveBenchOptions } from '../../bench/options.js';
import { runBench } from '../../bench/run.js';
import type { BenchResult } from '../../bench/types.js';
import { withInterrupt } from '../../cli/interrupt.js';
import { loadScenario } from '../../simulators/scenarios.js';
import { renderBenchSummary } from '../../ui/bench.js';
import { createBenchReporter } from '../../ui/bench-progress.js';

export default class Bench extends BaseCommand {
  static override summary = 'Run simulator and consumers under load: HDR latency, throughput, correctness';
  static override description = [
    "Uses the running lab (Kafka + Elasticsearch), creates a fresh topic and aggregates index for the run, starts the engine under test (--engine: gapipe's own --consumers processes in one group, gapipe's Spark job, or your own job, which the bench waits for) and the simulator at the chosen load, and measures from outside the engine, from each record's intended send time: produce-ack, delivery (a tap consumer in its own group), visible (polling Elasticsearch per cell), and for gapipe's consumers also sink; warm-up excluded. Every second: the throughput and the lag.",
    'Target: --target auto (the default) benches the running lab, or — with no running lab — the same pipeline in-process (memory broker and store), and says so; --target lab reuses the lab or starts it with Docker; --brokers with --es bench any Kafka and Elasticsearch.',
    "At the end the aggregates are verified against the simulator's ground truth: a run whose results are wrong fails whatever its speed. Results go to --out: result.json, one .hgrm per latency kind, junit.xml and report.html. --assert gates the exit code for CI.",
    'The bench also measures its own load generator (event-loop utilisation, CPU, lag behind the schedule) and says when it, not the pipeline, limited a run ("instrument-bound"). Press q to stop early; results are still written.',
  ].join('\n\n');

  static override examples = [
    {
      description: 'A minute at 10,000 events/s (1,000 players, one event every 100ms each)',
      command: '<%= config.bin %> bench',
    },
    {
      description: 'Ten seconds, anywhere (embedded when there is no lab)',
      command: '<%= config.bin %> bench --duration 10s',
    },
    {
      description: 'A CI gate',
      command:
        "<%= config.bin %> bench --duration 60s --rate 5000/s --assert 'delivery.p99<500ms' --assert 'throughput>=4500/s' --assert correct",
    },
    {
      description: 'Three consumers in one group',
      command: '<%= config.bin %> bench --consumers 3 --rate 20000/s',
    },
    {
      description:
        "gapipe's Spark Structured Streaming job under the same load (sets itself up on first use)",
      command: '<%= config.bin %> bench --engine spark --rate 2000/s',
    },
    {
      description: 'Your own job: the bench prints the topic and index it must use, and waits for it',
      command: '<%= config.bin %> bench --engine external --engine-timeout 10m',
    },
    {
      description: 'The highest rate that keeps delivery p99 under 500ms',
      command: '<%= config.bin %> bench --find-max',
    },
  ];

  static override flags = {
    players: Flags.string({ description: 'Simulated players [default: 1000]' }),
    rate: Flags.string({ description: 'Per-player gap (100ms) or total rate (5000/s) [default: 100ms]' }),
    stages: Flags.string({ description: 'Ramps instead of a constant rate: "30s:1000/s,1m:20000/s"' }),
    scenario: Flags.string({ description: 'A preset (steady, evening-peak, launch-day) or scenario file' }),
    duration: Flags.string({ description: 'Measured time, after the warm-up [default: 60s]' }),
    warmup: Flags.string({
      description: 'Warm-up before measuring [default: a sixth of --duration, at most 10s]',
    }),
    seed: Flags.string({ description: 'Seed for a reproducible load [default: random, recorded]' }),
    late: Flags.string({ description: 'Fraction of events sent late [default: 0]' }),
    duplicates: Flags.string({ description: 'Fraction of records repeating an event_id [default: 0]' }),
    malformed: Flags.string({ description: 'Fraction of malformed records [default: 0]' }),
    'out-of-order': Flags.string({ description: 'Fraction of events sent out of order [default: 0]' }),
    linger: Flags.string({
      description:
        "How long the load generator's producer lets a partly filled batch wait, as a game backend's producer would [default: 5ms, Kafka's own]",
    }),
    consumers: Flags.string({ description: 'Consumer processes in the group [default: 1]' }),
    partitions: Flags.string({ description: "Partitions of the run's topic [default: 6]" }),
    target: Flags.string({
      description:
        'auto (the running lab, else the embedded pipeline), lab (reuse the lab, or start it with Docker), or embedded [default: auto]',
    }),
    engine: Flags.string({
      description:
        "The pipeline under test: gapipe (its own consumers), spark (gapipe's Spark Structured Streaming job, set up on first use), or external (your job: the bench says which topic to read and index to write, and waits for it) [default: gapipe]",
    }),
    'spark-master': Flags.string({
      description:
        '--engine spark: submit to this cluster (spark://host:7077, yarn, k8s://…) [default: local[N] here]',
    }),
    'spark-threads': Flags.string({ description: '--engine spark: N of local[N] [default: 2]' }),
    'engine-timeout': Flags.string({
      description:
        'How long a spark or external engine gets to start reading the topic and writing the index [default: 5m]',
    }),
    lab: Flags.string({ description: 'Lab name [default: lab]', env: 'GAPIPE_LAB' }),
    brokers: Flags.string({ description: 'Bench this Kafka instead of a lab (with --es)' }),
    es: Flags.string({ description: 'Bench this Elasticsearch instead of a lab (with --brokers)' }),
    'flush-interval': Flags.string({ description: 'Consumer flush interval [default: 1s]' }),
    'allowed-lateness': Flags.string({ description: 'Consumer allowed lateness [default: 10m]' }),
    out: Flags.string({ description: 'Directory for the result files [default: bench-results/<time>]' }),
    assert: Flags.string({
      description:
        "Gate: 'delivery.p99<500ms', 'throughput>=20000/s', 'achieved>=95%', 'correct' (repeatable)",
      multiple: true,
    }),
    keep: Flags.boolean({ description: "Keep the run's topic and index afterwards" }),
    ephemeral: Flags.boolean({ description: 'Remove the lab afterwards if this run started it' }),
    'find-max': Flags.boolean({
      description:
        "Search for the highest rate at which delivery p99 stays under --max-p99 and results verify, and say whether the limit is the pipeline's or gapipe's own",
    }),
    'max-p99': Flags.string({ description: 'Delivery p99 bound for --find-max [default: 500ms]' }),
  };

  async run(): Promise<BenchResult | FindMaxResult> {
    const { flags, argv } = await this.parse(Bench);
    void argv;
    const scenario = flags.scenario === undefined ? undefined : loadScenario(flags.scenario);
    const options = resolveBenchOptions(
      {
        load: {
          players: flags.players,
          rate: flags.rate,
          stages: flags.stages,
          seed: flags.seed,
          late: flags.late,
          duplicates: flags.duplicates,
          malformed: flags.malformed,
          outOfOrder: flags['out-of-order'],
          linger: flags.linger,
        },
        scenario: scenario?.input ?? {},
        scenarioName: scenario?.name,
        duration: flags.duration,
        warmup: flags.warmup,
        consumers: flags.consumers,
        target: flags.target,
        out: flags.out,
        assert: flags.assert,
        keep: flags.keep,
        ephemeral: flags.ephemeral,
        partitions: flags.partitions,
        lab: flags.lab,
        brokers: flags.brokers,
        es: flags.es,
        flushInterval: flags['flush-interval'],
        allowedLateness: flags['allowed-lateness'],
        engine: flags.engine,
        sparkMaster: flags['spark-master'],
        sparkThreads: flags['spark-threads'],
        engineTimeout: flags['engine-timeout'],
      },
      {
        nowMs: Date.now(),
        fallbackSeed: randomInt(0, 2 ** 32),
        command: ['gapipe', 'bench', ...this.argv].join(' '),
      },
    );
    const quiet = flags.quiet || this.jsonEnabled();
    // First Ctrl-C (or q): stop early, still verify and write the results. A second one exits at once.
    return withInterrupt(async (controller) => {
      if (flags['find-max']) {
        const result = await findMax(options, {
          maxP99: flags['max-p99'],
          signal: controller.signal,
          logger: this.logger,
        });
        if (!this.jsonEnabled()) process.stdout.write(`${result.text}\n`);
        if (result.maxRate === undefined) process.exitCode = 1;
        return result;
      }
      const reporter = createBenchReporter({
        plain: this.plainOutput,
        quiet,
        onStop: () => controller.abort(),
      });
      try {
        const { result, files } = await runBench(options, {
          reporter,
          signal: controller.signal,
          logger: this.logger,
        });
        reporter.done();
        if (!this.jsonEnabled()) process.stdout.write(renderBenchSummary(result, files));
        else process.stderr.write(`Results: ${files.dir}\n`);
        process.exitCode = result.summary.verdict.exitCode;
        return result;
      } finally {
        reporter.done();
      }
    });
  }
}
