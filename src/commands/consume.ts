import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { startBenchWorker } from '../bench/worker.js';
import { withInterrupt } from '../cli/interrupt.js';
import { endpointsFromLab, labEndpointFlag } from '../cli/lab-endpoints.js';
import { type ConsumeResult, consume } from '../pipeline/consume.js';
import { type ConsumeOptions, resolveConsumeOptions } from '../pipeline/options.js';
import { renderConsumeSummary } from '../ui/consume.js';
import { createConsumeReporter } from '../ui/consume-progress.js';

/**
 * How long the process may linger once the consumer has finished: after giving up on a Kafka that
 * does not answer, kafkajs may still be retrying in the background (a reconnect, a restart timer).
 */
const EXIT_GRACE_MS = 500;

export default class Consume extends BaseCommand {
  static override summary = 'Run the aggregation consumer: Kafka → event-time windows → Elasticsearch';
  static override description = [
    "A consumer-group member that aggregates game events per (window, region, event_type) — events, unique players, revenue — into Elasticsearch, one document per partition with a deterministic id. Event time is the event's ts; the watermark is the max event time seen minus --allowed-lateness. Open windows are upserted every --flush-interval so dashboards move; a window is final once the watermark passes its end.",
    "Duplicates (same event_id) count once; later events are counted on their window's document and sent to <topic>-late; malformed records go to <topic>-dlq with the reason in the gapipe-dlq-reason header.",
    'Killed at any moment and restarted, it restores its state from Elasticsearch and the documents end up as if it had never stopped. The offset it commits to Kafka is its replay point: the first record of the oldest window it still keeps open, which a restart reads again. Run several with the same --group to share the partitions. Ctrl-C flushes, commits and exits.',
    'A Kafka that cannot be reached at the start fails within seconds (exit code 5). Through a Kafka outage later on the consumer reconnects and retries its late and dead-letter records; it commits nothing past records whose side outputs Kafka has not acknowledged. If Kafka stays unreachable for --kafka-timeout it exits with code 5 (KAFKA_UNREACHABLE), so that a supervisor can restart it; a restart resumes from the last checkpoint. Ctrl-C or SIGTERM during an outage exits within seconds, with code 5 if the last flush could not be made (nothing is lost: it is replayed).',
  ].join('\n\n');

  static override examples = [
    { description: 'Aggregate the lab’s game-events topic', command: '<%= config.bin %> consume' },
    {
      description: 'Scale out: run this in two more terminals',
      command: '<%= config.bin %> consume --group gapipe-aggregator',
    },
    {
      description: 'Five-minute windows every minute, with a Prometheus endpoint',
      command: '<%= config.bin %> consume --window 5m --hop 1m --metrics-port 9464',
    },
    {
      description: 'Per-player sessions that end after 5 minutes of silence, raw events indexed too',
      command: '<%= config.bin %> consume --session-gap 5m --index-raw',
    },
    {
      description: 'Process what is there and stop once caught up for 10s',
      command: '<%= config.bin %> consume --exit-idle 10s --json',
    },
    {
      description: 'Under a supervisor that restarts it: exit (code 5) after one minute without Kafka',
      command: '<%= config.bin %> consume --kafka-timeout 1m',
    },
  ];

  static override flags = {
    ...labEndpointFlag,
    brokers: Flags.string({
      description: 'Kafka bootstrap servers [default: 127.0.0.1:9092]',
      env: 'GAPIPE_BROKERS',
    }),
    topic: Flags.string({ description: 'Topic to consume [default: game-events]' }),
    group: Flags.string({ description: 'Consumer group [default: gapipe-aggregator]' }),
    es: Flags.string({
      description: 'Elasticsearch URL [default: http://127.0.0.1:9200]',
      env: 'GAPIPE_ES_URL',
    }),
    index: Flags.string({ description: 'Aggregates index [default: gapipe-aggregates]' }),
    window: Flags.string({ description: 'Window length (tumbling, or hopping with --hop) [default: 1m]' }),
    hop: Flags.string({
      description: 'Hopping windows: distance between window starts; must divide --window',
    }),
    'session-gap': Flags.string({
      description: 'Session windows per player: the silence that ends a session',
    }),
    'allowed-lateness': Flags.string({
      description: 'How far behind the max event time events are still accepted [default: 10m]',
    }),
    'late-retention': Flags.string({
      description:
        'How long a closed window is remembered to count late events and duplicates [default: the allowed lateness]',
    }),
    'flush-interval': Flags.string({ description: 'How often open windows are written [default: 1s]' }),
    'idle-timeout': Flags.string({
      description: 'A caught-up partition silent this long stops holding the watermark back [default: 30s]',
    }),
    'index-raw': Flags.boolean({ description: 'Also index every raw event (_id = event_id)' }),
    'raw-index': Flags.string({ description: 'Index for --index-raw [default: gapipe-events]' }),
    'late-topic': Flags.string({ description: 'Topic for late events [default: <topic>-late]' }),
    'dlq-topic': Flags.string({ description: 'Topic for malformed records [default: <topic>-dlq]' }),
    'metrics-port': Flags.string({
      description: 'Serve Prometheus metrics on 127.0.0.1:PORT/metrics (0 = any free port)',
    }),
    from: Flags.string({ description: 'Where a new group starts: earliest or latest [default: earliest]' }),
    'exit-idle': Flags.string({ description: 'Stop once caught up and without new records for this long' }),
    'session-timeout': Flags.string({
      description: 'How long the group waits for a silent member before moving its partitions [default: 30s]',
    }),
    'bench-ipc': Flags.boolean({ hidden: true, description: 'Report to gapipe bench over IPC' }),
    'max-unflushed': Flags.string({
      description: 'Records consumed but not yet written before fetching pauses [default: 500000]',
    }),
    'kafka-client': Flags.string({
      description:
        'Kafka client of the consumer: gapipe (its own, the default) or kafkajs (kept for one release)',
      env: 'GAPIPE_KAFKA_CLIENT',
    }),
    'kafka-timeout': Flags.string({
      description:
        'How long Kafka may stay unreachable before the consumer gives up and exits with code 5 [default: 3m]',
    }),
  };

  async run(): Promise<ConsumeResult> {
    const { flags } = await this.parse(Consume);
    const endpoints = await endpointsFromLab(flags.lab, { brokers: flags.brokers, es: flags.es }, [
      'kafka',
      'elasticsearch',
    ]);
    const options = resolveConsumeOptions({
      brokers: endpoints.brokers,
      topic: flags.topic,
      group: flags.group,
      es: endpoints.es,
      index: flags.index,
      rawIndex: flags['raw-index'],
      window: flags.window,
      hop: flags.hop,
      sessionGap: flags['session-gap'],
      allowedLateness: flags['allowed-lateness'],
      lateRetention: flags['late-retention'],
      flushInterval: flags['flush-interval'],
      idleTimeout: flags['idle-timeout'],
      indexRaw: flags['index-raw'],
      lateTopic: flags['late-topic'],
      deadLetterTopic: flags['dlq-topic'],
      metricsPort: flags['metrics-port'],
      from: flags.from,
      exitIdle: flags['exit-idle'],
      maxUnflushed: flags['max-unflushed'],
      sessionTimeout: flags['session-timeout'],
      kafkaTimeout: flags['kafka-timeout'],
      kafkaClient: flags['kafka-client'],
    });
    try {
      return flags['bench-ipc']
        ? await this.consumeForBench(options)
        : await this.consumeHere(options, flags.quiet);
    } finally {
      // The result is out and the exit code set by then; nothing left in the background may hold
      // the process (a supervisor waits for it to exit before restarting it).
      setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
    }
  }

  /** A consumer process of `gapipe bench --consumers N`: figures go to the bench, not the terminal. */
  private async consumeForBench(options: ConsumeOptions): Promise<ConsumeResult> {
    const worker = startBenchWorker();
    const result = await consume(options, {
      reporter: worker.reporter,
      signal: worker.signal,
      observer: worker.observer,
      logger: this.logger,
    });
    await worker.finish(result);
    return result;
  }

  private async consumeHere(options: ConsumeOptions, quiet: boolean): Promise<ConsumeResult> {
    const reporter = createConsumeReporter({
      plain: this.plainOutput,
      quiet: quiet || this.jsonEnabled(),
    });
    // First signal: flush, commit, exit. A second one exits at once (a restart replays what is lost).
    try {
      return await withInterrupt(async ({ signal }) => {
        const result = await consume(options, { reporter, signal, logger: this.logger });
        reporter.done();
        if (!this.jsonEnabled()) process.stdout.write(renderConsumeSummary(result));
        return result;
      });
    } finally {
      reporter.done();
    }
  }
}
