import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { withInterrupt } from '../cli/interrupt.js';
import { endpointsFromLab, labEndpointFlag } from '../cli/lab-endpoints.js';
import { resolveSimulateOptions, type SimulateInput } from '../simulators/options.js';
import { loadScenario } from '../simulators/scenarios.js';
import { simulate } from '../simulators/simulate.js';
import type { SimulateSummary } from '../simulators/summary.js';
import { renderSimulateSummary } from '../ui/simulate.js';
import { createSimulateReporter } from '../ui/simulate-progress.js';

export default class Simulate extends BaseCommand {
  static override summary = 'Generate realistic multi-region player traffic at a target rate';
  static override description = [
    'Players in sessions (join, matches, kills, purchases, level-ups, leave) across regions with daily activity curves, heavy-tailed spend and configurable disorder (late, out-of-order, duplicate and malformed records).',
    'Open loop: every event has an intended send time from the schedule; when the sink cannot keep up the summary shows the shortfall instead of quietly slowing down. The same --seed and flags give a byte-identical stream.',
    '--rate as a duration is the mean gap between two events of one player (1000 players at 10ms = 100,000 events/s); as N/s it is the total. Progress goes to stderr.',
  ].join('\n\n');

  static override examples = [
    {
      description: '1000 players, one event per player every 10ms (100,000 events/s), for one minute',
      command: '<%= config.bin %> simulate --players 1000 --rate 10ms --duration 60s',
    },
    {
      description: 'A reproducible stream on stdout, evening in Europe',
      command:
        '<%= config.bin %> simulate --sink stdout --events 1000 --seed 1 --start-time 2026-11-21T20:00:00Z',
    },
    {
      description: 'Ramp up like k6, with disorder, into a file, plus the ground truth',
      command:
        '<%= config.bin %> simulate --stages "30s:1000/s,2m:20000/s,30s:0/s" --late 0.01 --late-by 2m..15m --duplicates 0.001 --malformed 0.0001 --out events.ndjson --manifest truth.json',
    },
    {
      description: 'A preset scenario with a launch spike',
      command: '<%= config.bin %> simulate --scenario launch-day',
    },
    {
      description: 'Four generator threads, each with its own shard of the players and its own producer',
      command: '<%= config.bin %> simulate --workers 4 --rate 200000/s --duration 5m',
    },
    {
      description: 'Half of the stream on this machine (run 1/2 with the same flags on another)',
      command:
        '<%= config.bin %> simulate --shard 0/2 --seed 7 --start-time 2026-11-21T20:00:00Z --manifest truth-0.json',
    },
    {
      description: "The generator's own throughput",
      command: '<%= config.bin %> simulate --sink null --no-pace --events 5000000 --json',
    },
  ];

  static override flags = {
    ...labEndpointFlag,
    players: Flags.string({ description: 'Number of simulated players [default: 1000]' }),
    rate: Flags.string({
      description:
        'Mean gap between two events of one player (10ms) or a total rate (5000/s) [default: 1s]; with --stages, the rate the first stage ramps from',
    }),
    duration: Flags.string({
      description: 'How long to run: 60s, 2m, 1h30m [default: 60s, or the stages’ length]',
    }),
    events: Flags.string({ description: 'Stop after this many records (instead of --duration)' }),
    stages: Flags.string({
      description: 'Ramps, each linear from the previous rate: "30s:1000/s,2m:20000/s,30s:0/s"',
    }),
    regions: Flags.string({
      description: 'Regions, comma separated: NA, EU, ASIA, SA, OCE [default: NA,EU,ASIA]',
    }),
    seed: Flags.string({
      description: 'Seed (0-4294967295) for a reproducible stream [default: random, printed]',
    }),
    'start-time': Flags.string({
      description:
        'Event time of the first event: ISO-8601 (2026-11-21T20:00:00Z) or local time 20:00@EU [default: now]',
    }),
    sink: Flags.string({
      description: 'Where events go: kafka, stdout, file, null [default: kafka; file with --out]',
    }),
    out: Flags.string({ description: 'File for --sink file (one JSON event per line)' }),
    brokers: Flags.string({
      description: 'Kafka bootstrap servers [default: 127.0.0.1:9092]',
      env: 'GAPIPE_BROKERS',
    }),
    topic: Flags.string({ description: 'Kafka topic [default: game-events]' }),
    late: Flags.string({ description: 'Fraction of events sent late, e.g. 0.01 [default: 0]' }),
    'late-by': Flags.string({ description: 'How late, a range: 2m..15m [default: 2m..15m]' }),
    duplicates: Flags.string({
      description: 'Fraction of records that repeat an earlier event_id [default: 0]',
    }),
    malformed: Flags.string({ description: 'Fraction of records that are not valid events [default: 0]' }),
    'out-of-order': Flags.string({ description: 'Fraction of events sent after later ones [default: 0]' }),
    scenario: Flags.string({
      description: 'A preset (steady, evening-peak, launch-day) or a scenario JSON file; flags override it',
    }),
    manifest: Flags.string({
      description: 'Write the ground truth (per window, region and type) to this JSON file',
    }),
    pace: Flags.boolean({
      allowNo: true,
      description: 'Send at the intended times (default); --no-pace sends as fast as the sink accepts',
    }),
    acks: Flags.string({ description: 'Kafka acks: all, 1 or 0 [default: all]' }),
    compression: Flags.string({ description: 'Kafka compression: none or gzip [default: none]' }),
    idempotent: Flags.boolean({
      allowNo: true,
      description:
        'Idempotent Kafka producer: retries are never written twice [default: on with --acks all]; --no-idempotent turns it off',
    }),
    'batch-size': Flags.string({
      description: "Most records in one partition's Kafka batch [default: 4000]",
    }),
    linger: Flags.string({
      description: 'How long a partly filled Kafka batch waits, e.g. 5ms [default: 5ms]',
    }),
    'delivery-timeout': Flags.string({
      description:
        'How long a Kafka record is retried (broker restart, leader change) before it counts as failed [default: 120s]',
    }),
    workers: Flags.string({
      description:
        'Generator threads, each with its own shard of the players and its own producer [default: one per core, at most 8; 1 for stdout and file]',
    }),
    shard: Flags.string({
      description:
        'Produce only shard I of N (0-based) of the stream, e.g. 2/4: N machines with the same flags together produce the one-machine stream (needs --seed and --start-time)',
    }),
    'max-in-flight': Flags.string({
      description: 'Records sent but not yet acknowledged before generation waits [default: 100000]',
    }),
  };

  private summaryToStderr = false;

  async run(): Promise<SimulateSummary> {
    const { flags } = await this.parse(Simulate);
    const { brokers } = await endpointsFromLab(
      flags.lab,
      { brokers: flags.brokers },
      (flags.sink ?? 'kafka') === 'kafka' ? ['kafka'] : [],
    );
    const scenario = flags.scenario === undefined ? undefined : loadScenario(flags.scenario);
    const input: SimulateInput = {
      players: flags.players,
      rate: flags.rate,
      duration: flags.duration,
      events: flags.events,
      stages: flags.stages,
      regions: flags.regions,
      seed: flags.seed,
      startTime: flags['start-time'],
      sink: flags.sink,
      out: flags.out,
      brokers,
      topic: flags.topic,
      late: flags.late,
      lateBy: flags['late-by'],
      duplicates: flags.duplicates,
      malformed: flags.malformed,
      outOfOrder: flags['out-of-order'],
      manifest: flags.manifest,
      pace: flags.pace,
      maxInFlight: flags['max-in-flight'],
      acks: flags.acks,
      compression: flags.compression,
      idempotent: flags.idempotent,
      batchSize: flags['batch-size'],
      linger: flags.linger,
      deliveryTimeout: flags['delivery-timeout'],
    };
    input.workers = flags.workers;
    input.shard = flags.shard;
    const options = resolveSimulateOptions(input, scenario?.input ?? {}, {
      cores: availableParallelism(),
      nowMs: Date.now(),
      fallbackSeed: randomInt(0, 2 ** 32),
      scenarioName: scenario?.name,
    });
    // With events on stdout, everything else goes to stderr so the stream stays clean.
    this.summaryToStderr = options.sink === 'stdout';
    const reporter = createSimulateReporter({
      plain: this.plainOutput,
      quiet: flags.quiet || this.jsonEnabled(),
    });
    // First Ctrl-C: stop producing, flush, print the summary. A second one exits at once.
    try {
      return await withInterrupt(async ({ signal }) => {
        const summary = await simulate(options, { reporter, signal });
        reporter.done();
        // Interrupted runs still print their summary, but do not count as a success.
        if (summary.stopReason === 'interrupted') process.exitCode = 130;
        if (!this.jsonEnabled()) {
          (this.summaryToStderr ? process.stderr : process.stdout).write(renderSimulateSummary(summary));
        }
        return summary;
      });
    } finally {
      reporter.done();
    }
  }

  protected override logJson(json: unknown): void {
    if (this.summaryToStderr) process.stderr.write(`${JSON.stringify(json, null, 2)}\n`);
    else super.logJson(json);
  }
}
