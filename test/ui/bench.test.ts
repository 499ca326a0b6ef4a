import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { emptySummary } from '../../src/bench/histograms.js';
import {
  type BenchPhase,
  type BenchProgress,
  type BenchResult,
  LATENCY_KINDS,
  type LatencyKind,
  type LatencySummary,
  RESULT_FORMAT,
} from '../../src/bench/types.js';
import {
  type BenchStart,
  createPlainBenchReporter,
  formatBenchLine,
  formatLatencyMs,
  renderBenchBanner,
  renderBenchSummary,
} from '../../src/ui/bench.js';
import { decided, instrumentSummary } from '../bench/fixtures.js';
import { scenarioResult, seconds } from '../bench/verdict-scenarios.js';
import { latency } from './helpers/latency.js';

const plain = (text: string) => stripVTControlCharacters(text);

const WATERMARK_MS = Date.UTC(2026, 10, 21, 16, 25, 0);

const EMPTY = emptySummary();

const latencies: Record<LatencyKind, LatencySummary> = {
  'produce-ack': latency(2.1),
  delivery: latency(12.3),
  sink: latency(617),
  visible: EMPTY,
};

const totals = {
  produced: 3_000_000,
  acknowledged: 2_999_000,
  failed: 0,
  consumed: 2_998_000,
  written: 12_345,
  late: 3,
  deadLettered: 1,
  duplicates: 40,
};

const progress: BenchProgress = {
  phase: 'load',
  phaseElapsedMs: 65_000,
  elapsedMs: 65_000,
  totalMs: 330_000,
  warmup: false,
  target: 'embedded',
  targetRate: 100_000,
  rates: { produced: 99_870, acknowledged: 99_860, consumed: 99_500, written: 270 },
  history: Array.from({ length: 65 }, (_, i) => ({
    produced: 99_000 + i,
    consumed: 98_000 + i,
    written: 270,
    lag: 1000 + i,
  })),
  lag: 1234,
  watermarkMs: WATERMARK_MS,
  latency: latencies,
  errors: [],
  totals,
};

const start: BenchStart = {
  target: 'embedded',
  engine: 'gapipe',
  engineDescription: '2 consumers',
  topic: 'game-events',
  index: 'gapipe-aggregates',
  players: 1000,
  rateDescription: 'one event every 10ms per player',
  targetRate: 100_000,
  durationMs: 300_000,
  warmupMs: 30_000,
  consumers: 2,
  seed: 7,
  outDir: 'bench-results/2026-11-21T16-25-00Z',
  assertions: ['delivery.p99<500ms', 'correct'],
  partitions: 6,
  allowedLatenessMs: 600_000,
};

const RUN = { durationMs: 300_000, warmupMs: 30_000, target: 'embedded' as const };

const passed: BenchResult = {
  format: RESULT_FORMAT,
  runId: 'run-1',
  startedAt: '2026-11-21T16:25:00.000Z',
  finishedAt: '2026-11-21T16:30:30.000Z',
  config: {
    target: 'embedded',
    players: 1000,
    rate: '10ms',
    targetRate: 100_000,
    stages: null,
    scenario: null,
    durationMs: 300_000,
    warmupMs: 30_000,
    seed: 7,
    consumers: 2,
    topic: 'game-events',
    partitions: 6,
    index: 'gapipe-aggregates',
    brokers: null,
    esUrl: null,
    assertions: ['delivery.p99<500ms', 'correct'],
    extra: {},
  },
  provenance: {
    gapipeVersion: '0.1.0',
    node: 'v20.19.0',
    libraries: {},
    images: {},
    host: { platform: 'linux', arch: 'x64', cpuModel: 'cpu', cpus: 8, memoryBytes: 1, hostname: 'h' },
    command: 'gapipe bench',
  },
  summary: decided(
    {
      stopReason: 'completed',
      durationMs: 330_000,
      measuredMs: 300_000,
      targetRate: 100_000,
      achievedRate: 99_870,
      keptUp: true,
      throughput: { produced: 99_870, acknowledged: 99_860, consumed: 99_500, written: 270 },
      totals,
      maxLag: 4321,
      latency: { ...latencies, visible: latency(1234) },
      correct: true,
      verify: { ok: true, cellsCompared: 5400, cellsDiffering: 0, differences: [] },
      assertions: [
        {
          expression: 'delivery.p99<500ms',
          passed: true,
          actual: '12.3ms',
          message: 'delivery.p99 was 12.3ms, < 500ms',
        },
        { expression: 'correct', passed: true, message: 'aggregates match' },
      ],
      errors: [],
      instrument: instrumentSummary({ sharedWithPipeline: true }),
    },
    [],
    RUN,
  ),
  series: [],
  histograms: { 'produce-ack': '', delivery: '', sink: '', visible: '' },
};

const { verdict: _verdict, status: _status, failures: _failures, ...passedMeasured } = passed.summary;

const failed: BenchResult = {
  ...passed,
  summary: decided(
    {
      ...passedMeasured,
      stopReason: 'stopped',
      measuredMs: 120_000,
      achievedRate: 41_000,
      keptUp: false,
      latency: { ...latencies, delivery: latency(612.3), visible: EMPTY },
      correct: false,
      verify: {
        ok: false,
        cellsCompared: 5400,
        cellsDiffering: 3,
        differences: [
          {
            window_start: '2026-11-21T16:25:00.000Z',
            region: 'EU',
            event_type: 'purchase',
            field: 'count',
            expected: 120,
            actual: 118,
          },
        ],
      },
      assertions: [
        {
          expression: 'delivery.p99<500ms',
          passed: false,
          actual: '612.3ms',
          message: 'delivery.p99 was 612.3ms, not < 500ms',
        },
        { expression: 'correct', passed: false, message: '3 cells differ' },
      ],
      errors: ['KafkaJSConnectionError: Connection timeout'],
    },
    [],
    RUN,
  ),
};

describe('formatLatencyMs', () => {
  it('keeps the precision that matters at each size', () => {
    expect(formatLatencyMs(0.4213)).toBe('0.42');
    expect(formatLatencyMs(0.004)).toBe('<0.01');
    expect(formatLatencyMs(0)).toBe('0.00');
    expect(formatLatencyMs(12.34)).toBe('12.3');
    expect(formatLatencyMs(1234.4)).toBe('1,234');
    expect(formatLatencyMs(Number.NaN)).toBe('-');
  });
});

describe('renderBenchBanner', () => {
  it('says plainly that the embedded target involves no Kafka or Elasticsearch', () => {
    const lines = plain(renderBenchBanner(start)).trimEnd().split('\n');
    expect(lines).toEqual([
      'Bench: embedded pipeline (in-process memory transport and memory sink)',
      '  no Kafka or Elasticsearch involved — start the lab (`gapipe lab up`) for real numbers',
      '  topic game-events (6 partitions) → index gapipe-aggregates · 2 consumers',
      '  1,000 players · target 100,000/s (one event every 10ms per player) · 30s warm-up, then 5m measured · seed 7',
      '  assertions: delivery.p99<500ms, correct',
      '  results → bench-results/2026-11-21T16-25-00Z',
    ]);
  });

  it('gives a total rate once, and spells out a rate given per player', () => {
    const total = plain(
      renderBenchBanner({ ...start, targetRate: 5000, rateDescription: '5000/s in total' }),
    );
    expect(total).toContain('  1,000 players · target 5,000/s · 30s warm-up');
    expect(total).not.toContain('in total');
  });

  it('names the lab, brokers, Elasticsearch, topic and index for the lab target', () => {
    const text = plain(
      renderBenchBanner({
        ...start,
        target: 'lab',
        labName: 'gapipe',
        brokers: 'localhost:19092',
        esUrl: 'http://localhost:19200',
        consumers: 1,
        engineDescription: '1 consumer process',
        warmupMs: 0,
        assertions: [],
      }),
    );
    expect(text).toContain(
      'Bench against lab gapipe: Kafka localhost:19092, Elasticsearch http://localhost:19200',
    );
    expect(text).toContain(
      'topic game-events (6 partitions) → index gapipe-aggregates · 1 consumer process\n',
    );
    expect(text).not.toContain('embedded');
    expect(text).not.toContain('warm-up');
    expect(text).not.toContain('assertions');
  });

  it('names the endpoints it was given, and no lab, for --brokers and --es', () => {
    const text = plain(
      renderBenchBanner({ ...start, target: 'lab', brokers: 'nohost:1', esUrl: 'http://localhost:9200' }),
    );
    expect(text.split('\n')[0]).toBe('Bench against Kafka nohost:1, Elasticsearch http://localhost:9200');
    expect(text).not.toMatch(/\blab\b/);
  });
});

describe('formatBenchLine', () => {
  it('prints the figures on one line', () => {
    expect(plain(formatBenchLine(progress))).toBe(
      '1m5s/5m30s produced 99,870/s (target 100,000/s) consumed 99,500/s written 270 docs/s lag 1,234 delivery p99 12.3ms errors 0',
    );
  });

  it('for an engine read from outside, says what its documents count and leaves out what it cannot know', () => {
    expect(plain(formatBenchLine({ ...progress, outsideEngine: 'spark' }))).toBe(
      '1m5s/5m30s produced 99,870/s (target 100,000/s) counted 99,500/s not yet counted 1,234 delivery p99 12.3ms errors 0',
    );
  });

  it('says how busy the load generator is and how far behind its schedule', () => {
    const instrument = {
      elu: 0.98,
      cpuCores: 0.97,
      processCpuCores: 1.1,
      scheduleLagMs: 1420,
      backlog: 14_200,
      inFlight: 0,
      atInFlightLimit: false,
      threads: [],
    };
    expect(plain(formatBenchLine({ ...progress, instrument }))).toBe(
      '1m5s/5m30s produced 99,870/s (target 100,000/s) consumed 99,500/s written 270 docs/s lag 1,234 delivery p99 12.3ms generator 98% busy, 1.4s behind errors 0',
    );
    expect(
      plain(formatBenchLine({ ...progress, instrument: { ...instrument, elu: 0.3, scheduleLagMs: 4 } })),
    ).toContain('generator 30% busy, on schedule');
  });

  it('after the load, says it is draining and how far behind the consumers are', () => {
    expect(
      plain(formatBenchLine({ ...progress, phase: 'draining', phaseElapsedMs: 3_020, lag: 52_246 })),
    ).toBe(
      'draining 3s after the load: consumed 99,500/s written 270 docs/s lag 52,246 delivery p99 12.3ms errors 0',
    );
  });

  it('marks warm-up and counts errors; no delivery p99 before samples', () => {
    const line = plain(
      formatBenchLine({
        ...progress,
        elapsedMs: 5_004,
        warmup: true,
        latency: { ...latencies, delivery: EMPTY },
        errors: ['a', 'b'],
      }),
    );
    expect(line).toMatch(/^5s\/5m30s warm-up produced/);
    expect(line).toContain('delivery p99 - errors 2');
  });
});

describe('renderBenchSummary', () => {
  it('sums up a passed run with a latency table and where the files are', () => {
    const lines = plain(renderBenchSummary(passed, { dir: 'bench-results/run-1' }))
      .trimEnd()
      .split('\n');
    expect(lines[0]).toBe('✔ PASSED embedded · 5m30s, 5m measured · run run-1');
    expect(lines).toContain('Throughput: target 100,000/s · achieved 99,870/s — the load kept its schedule');
    expect(lines).toContain(
      '  per second: produced 99,870/s · acknowledged 99,860/s · consumed 99,500/s · written 270 docs/s · max consumer lag 4,321 records',
    );
    const table = lines.slice(lines.indexOf('Latency from intended send time (warm-up excluded):') + 1);
    expect(table.slice(0, 5)).toEqual([
      '  kind            p50     p90      p99    p99.9      max   count',
      '  produce-ack  0.42ms  1.05ms   2.10ms   4.20ms   8.40ms  10,000',
      '  delivery     2.46ms  6.15ms   12.3ms   24.6ms   49.2ms  10,000',
      '  sink          123ms   309ms    617ms  1,234ms  2,468ms  10,000',
      '  visible       247ms   617ms  1,234ms  2,468ms  4,936ms  10,000',
    ]);
    expect(lines).toContain('Correctness: ✔ aggregates match the expected values (5,400 cells compared)');
    expect(lines).toContain('  ✔ delivery.p99<500ms — delivery.p99 was 12.3ms, < 500ms');
    expect(lines.at(-1)).toBe('Results: bench-results/run-1 (result.json, report.html, junit.xml, *.hgrm)');
    expect(lines.join('\n')).not.toContain('Errors');
  });

  it('says why a run failed: reasons, shortfall, differences, failed assertions and errors', () => {
    const text = plain(renderBenchSummary(failed));
    const lines = text.trimEnd().split('\n');
    // The verdict, as decided: who limited the run, then every reason with its figure.
    expect(lines.slice(0, 7)).toEqual([
      '✘ FAILED embedded · 5m30s, 2m measured · run run-1 (stopped early)',
      '  pipeline-bound: results do not verify: 3 of 5,400 cells differ',
      '  - stopped early: 2 min of the planned 5 min measured',
      '  - fell more than 1 s behind the schedule',
      '  - results do not verify: 3 of 5,400 cells differ',
      '  - delivery.p99 was 612.3ms, not < 500ms',
      '  - 3 cells differ',
    ]);
    expect(failed.summary.verdict.failures).toEqual(lines.slice(2, 7).map((line) => line.slice(4)));
    expect(text).toContain('achieved 41,000/s — the load fell behind its schedule');
    expect(lines).toContain('  visible           -       -       -        -        -       0');
    expect(lines).toContain('Correctness: ✘ 3 of 5,400 cells differ from the expected values');
    expect(lines).toContain('  2026-11-21T16:25:00.000Z EU purchase count: expected 120, got 118');
    expect(lines).toContain('  … and 2 more');
    expect(lines).toContain('  ✘ delivery.p99<500ms — delivery.p99 was 612.3ms, not < 500ms');
    expect(lines).toContain('  ✘ correct — 3 cells differ');
    expect(lines).toContain('Errors (1):');
    expect(lines).toContain('  KafkaJSConnectionError: Connection timeout');
    expect(text).not.toContain('Results:');
  });

  it('leads with who limited a failed run, and shows the evidence under Instrument', () => {
    const result = scenarioResult({
      seconds: seconds(20, (i) => ({ elu: 0.99, cpu: 0.98, lagMs: i * 100, produced: 9000 })),
    });
    const lines = plain(renderBenchSummary(result)).split('\n');
    expect(lines.slice(1, 3)).toEqual([
      '  instrument-bound: the load generator used 98% of a core',
      '  - fell 1.9 s behind the schedule at 25 s (backlog 19,000 events); the load generator used 98% of a core — try --rate 7200/s',
    ]);
    const instrument = lines.slice(lines.indexOf('Instrument: the load generator'));
    expect(instrument[1]).toBe(
      '  load generator: its thread 99% busy on average (99% at its busiest second), CPU 0.98 cores on average; saturated in 20 of 20 measured seconds; bench process 0.98 cores',
    );
    expect(instrument[2]).toBe(
      '  schedule: at most 1.9 s behind (at 25 s), backlog up to 19,000 events; 9 of 20 measured seconds more than 1 s behind',
    );
  });

  it('shows the instrument’s headroom for a passed run, and warns when it was near its limit', () => {
    const text = plain(
      renderBenchSummary(
        scenarioResult({
          seconds: seconds(20, (i) =>
            i === 7 ? { elu: 0.95, cpu: 0.94, lagMs: 40 } : { elu: 0.4, cpu: 0.38, lagMs: 3 },
          ),
        }),
      ),
    );
    expect(text).toContain(
      '  ! the load generator was near its limit in 1 of 20 measured seconds (at 13 s: the load generator used 94% of a core) — at a higher rate the figures would describe gapipe, not the pipeline',
    );
    expect(text).toContain(
      'Instrument: the load generator\n  thread 43% busy on average, 95% at its busiest second · CPU 0.41 core on average · at most 40ms behind the schedule\n',
    );
  });

  it('says when correctness could not be verified', () => {
    const text = plain(
      renderBenchSummary({ ...failed, summary: { ...failed.summary, correct: null, verify: null } }),
    );
    expect(text).toContain('Correctness: not verified');
  });

  it('has a row for every latency kind', () => {
    const text = plain(renderBenchSummary(passed));
    for (const kind of LATENCY_KINDS) expect(text).toMatch(new RegExp(`^  ${kind} `, 'm'));
  });
});

describe('createPlainBenchReporter', () => {
  function capture() {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    return { stream, lines: () => plain(chunks.join('')).trimEnd().split('\n') };
  }

  it('prints the banner, the first line, then a line every 5 s of run time', () => {
    const { stream, lines } = capture();
    const reporter = createPlainBenchReporter(stream);
    reporter.started(start);
    for (let s = 1; s <= 12; s++)
      reporter.update({ ...progress, elapsedMs: s * 1000 + 3, phaseElapsedMs: s * 1000 + 3 });
    reporter.done();
    expect(lines()[0]).toBe('Bench: embedded pipeline (in-process memory transport and memory sink)');
    const progressLines = lines().filter((line) => line.includes('produced'));
    expect(progressLines.map((line) => line.split(' ')[0])).toEqual(['1s/5m30s', '5s/5m30s', '10s/5m30s']);
  });

  it('says each phase as it begins, and keeps printing while the consumers drain', () => {
    const { stream, lines } = capture();
    const reporter = createPlainBenchReporter(stream);
    const phase = (name: BenchPhase['name'], text: string) => reporter.phase({ name, text, startedAtMs: 0 });
    phase('preparing', "looking for a running lab 'lab'");
    reporter.started(start);
    phase('starting', 'starting 1 consumer; waiting for the group to own all 6 partitions');
    phase('load', 'load running');
    reporter.update({ ...progress, elapsedMs: 1000, phaseElapsedMs: 1000 });
    phase('draining', 'draining: the consumers catch up with 5,812 records (at most 120s)');
    for (const ms of [10, 1000, 5000])
      reporter.update({
        ...progress,
        phase: 'draining',
        elapsedMs: 330_000 + ms,
        phaseElapsedMs: ms,
        lag: 5812 - ms,
      });
    phase('verifying', 'verifying the aggregates against the ground truth');
    reporter.done();
    const printed = lines();
    expect(printed[0]).toBe("› looking for a running lab 'lab'");
    expect(printed).toContain('› starting 1 consumer; waiting for the group to own all 6 partitions');
    expect(printed).not.toContain('› load running');
    expect(printed.filter((line) => line.startsWith('draining '))).toEqual([
      'draining 0s after the load: consumed 99,500/s written 270 docs/s lag 5,802 delivery p99 12.3ms errors 0',
      'draining 5s after the load: consumed 99,500/s written 270 docs/s lag 812 delivery p99 12.3ms errors 0',
    ]);
    expect(printed.at(-1)).toBe('› verifying the aggregates against the ground truth');
  });

  it('prints nothing when quiet', () => {
    const { stream, lines } = capture();
    const reporter = createPlainBenchReporter(stream, { quiet: true });
    reporter.started(start);
    reporter.update(progress);
    reporter.done();
    expect(lines()).toEqual(['']);
  });
});
