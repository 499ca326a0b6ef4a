import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { cleanup, render } from 'ink-testing-library';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { emptySummary } from '../../src/bench/histograms.js';
import type { BenchPhase, BenchProgress, LatencyKind, LatencySummary } from '../../src/bench/types.js';
import type { BenchStart } from '../../src/ui/bench.js';
import {
  BenchProgressView,
  BenchView,
  createBenchReporter,
  latencyBar,
  sparkline,
} from '../../src/ui/bench-progress.js';
import { latency } from './helpers/latency.js';

// Commands draw the live view only off CI (plainOutput), and ink draws differently under CI=true
// (nothing until unmount): pin the terminal behaviour, whatever environment the tests run in. ink
// reads the variables when it is first imported, hence hoisted.
vi.hoisted(() => {
  vi.stubEnv('CI', 'false');
  vi.stubEnv('CONTINUOUS_INTEGRATION', 'false');
});
afterAll(() => vi.unstubAllEnvs());

afterEach(() => cleanup());

const WATERMARK_MS = Date.UTC(2026, 10, 21, 16, 25, 0);
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

const EMPTY = emptySummary();

const latencies: Record<LatencyKind, LatencySummary> = {
  'produce-ack': latency(2.1),
  delivery: latency(12.3),
  sink: latency(617),
  visible: latency(1234),
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
    produced: 100_000 - (i % 10) * 10_000,
    consumed: 99_000,
    written: 200 + (i % 5) * 20,
    lag: i * 100,
  })),
  lag: 1234,
  watermarkMs: WATERMARK_MS,
  latency: latencies,
  errors: [],
  totals: {
    produced: 3_000_000,
    acknowledged: 2_999_000,
    failed: 0,
    consumed: 2_998_000,
    written: 12_345,
    late: 3,
    deadLettered: 1,
    duplicates: 40,
  },
};

const start: BenchStart = {
  target: 'embedded',
  engine: 'gapipe',
  engineDescription: '1 consumer',
  topic: 'game-events',
  index: 'gapipe-aggregates',
  players: 1000,
  rateDescription: 'one event every 10ms per player',
  targetRate: 100_000,
  durationMs: 300_000,
  warmupMs: 30_000,
  consumers: 1,
  seed: 7,
  outDir: 'bench-results/run-1',
  assertions: [],
  partitions: 6,
  allowedLatenessMs: 600_000,
};

function frame(p: BenchProgress | undefined, warmupMs?: number, phase?: BenchPhase, nowMs?: number): string {
  const { lastFrame } = render(
    <BenchView
      progress={p}
      warmupMs={warmupMs}
      allowedLatenessMs={600_000}
      phase={phase}
      nowMs={nowMs ?? 0}
      onStop={() => {}}
    />,
  );
  return stripVTControlCharacters(lastFrame() ?? '');
}

describe('sparkline and latencyBar', () => {
  it('draws one block per value, scaled to the maximum', () => {
    expect(sparkline([0, 50, 100])).toBe('▁▅█');
    expect(sparkline([0, 1, 1000])).toBe('▁▂█'); // only a stall is ▁
    expect(sparkline([0, 0])).toBe('▁▁');
    expect(sparkline([50, 200], 100)).toBe('▅█');
  });

  it('draws latencies on a log scale that grows by the same length per decade', () => {
    const ms1 = latencyBar(1);
    const ms10 = latencyBar(10);
    const s1 = latencyBar(1000);
    expect(ms10.length - ms1.length).toBe(4);
    expect(s1.length - ms10.length).toBe(8);
    expect(latencyBar(0.001)).toBe('▏');
    expect(latencyBar(10_000_000)).toBe('█'.repeat(24));
  });
});

describe('BenchView', () => {
  it('shows elapsed and remaining time, a latency row per kind with bars, throughput with sparklines', () => {
    const text = frame(progress);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^embedded · 1m5s \/ 5m30s [█░]{20} 19% · 4m25s left$/);
    expect(text).not.toContain('warming up');
    const row = (name: string) => lines.find((line) => line.startsWith(name)) ?? '';
    expect(row('produce-ack')).toMatch(/^produce-ack\s+0\.42\s+1\.05\s+2\.10\s+4\.20\s+8\.40 █+/);
    expect(row('delivery')).toMatch(/^delivery\s+2\.46\s+6\.15\s+12\.3\s+24\.6\s+49\.2 █+/);
    expect(row('visible')).toMatch(/^visible\s+247\s+617\s+1,234\s+2,468\s+4,936 █+/);
    // The longer p99, the longer its bar.
    const barLength = (name: string) => (row(name).match(/[█▏▎▍▌▋▊▉]+$/)?.[0] ?? '').length;
    expect(barLength('delivery')).toBeGreaterThan(barLength('produce-ack'));
    expect(barLength('visible')).toBeGreaterThan(barLength('sink'));

    expect(text).toContain('target 100,000/s');
    expect(row('produced')).toMatch(/^produced\s+99,870\/s [▁▂▃▄▅▆▇█]{60}$/);
    expect(row('consumed')).toMatch(/^consumed\s+99,500\/s [▁▂▃▄▅▆▇█]{60}$/);
    expect(row('written')).toMatch(/^written\s+270 docs\/s [▁▂▃▄▅▆▇█]{60}$/);
    expect(row('lag')).toMatch(/^lag\s+1,234 [▁▂▃▄▅▆▇█]{60}$/);
    expect(row('produced')).toContain('█▇▇▆▅▅▄▃▂▂'); // 100k down to 10k, on the scale of the target

    // The watermark trails the clock by the allowed lateness, and says so.
    expect(text).toContain(
      'watermark 16:25:00 UTC (event time − 10m allowed lateness)\nlate 3 · dead-lettered 1 · failed 0 · errors 0',
    );
    expect(text).toContain('total produced 3,000,000 · acknowledged 2,999,000 · consumed 2,998,000');
    expect(text).toContain('written 12,345 docs');
    expect(text).not.toContain('last error');
    expect(lines.at(-1)).toBe('press q to stop early (results are still written)');
  });

  it('says "no samples yet" and marks warm-up with when measuring starts', () => {
    const text = frame(
      {
        ...progress,
        elapsedMs: 12_000,
        warmup: true,
        history: progress.history.slice(0, 12),
        watermarkMs: undefined,
        latency: { 'produce-ack': EMPTY, delivery: EMPTY, sink: EMPTY, visible: EMPTY },
      },
      30_000,
    );
    expect(text).toContain('warming up, measuring in 18s');
    expect(text.match(/no samples yet/g)).toHaveLength(4);
    expect(text).toContain('watermark - (event time − 10m allowed lateness)\nlate 3');
    const produced = text.split('\n').find((line) => line.startsWith('produced')) ?? '';
    expect(produced).toMatch(/[▁▂▃▄▅▆▇█]{12}$/);
  });

  it('shows the error count and the last error in full or cut to fit', () => {
    const text = frame({
      ...progress,
      errors: ['first', `KafkaJSConnectionError: Connection timeout ${'x'.repeat(200)}`],
      totals: { ...progress.totals, failed: 17 },
    });
    expect(text).toContain('failed 17 · errors 2');
    expect(text).toMatch(/last error: KafkaJSConnectionError: Connection timeout x+…/);
  });

  it('shows how busy the load generator is and how far behind its schedule, beside the consumers', () => {
    const instrumented: BenchProgress = {
      ...progress,
      history: progress.history.map((h, i) => ({ ...h, generatorElu: i % 2 ? 1 : 0.5, scheduleLagMs: 0 })),
      instrument: {
        elu: 0.45,
        cpuCores: 0.43,
        processCpuCores: 0.6,
        scheduleLagMs: 3,
        backlog: 0,
        inFlight: 120,
        atInFlightLimit: false,
        threads: [{ thread: 'main', elu: 0.45, cpuCores: 0.43 }],
      },
      pipeline: { elu: 0.12, cpuCores: 0.1, processes: 2 },
    };
    const lines = frame(instrumented).split('\n');
    const row = (name: string) => lines.find((line) => line.startsWith(name)) ?? '';
    expect(row('generator')).toMatch(/^generator\s+45% busy (█▅){30} on schedule$/);
    expect(row('consumers')).toBe('consumers      12% busy busiest of 2 processes');
    expect(lines.join('\n')).not.toContain('share a thread');

    const behind = frame({
      ...instrumented,
      pipeline: undefined,
      instrumentShared: true,
      instrument: {
        ...(instrumented.instrument as NonNullable<BenchProgress['instrument']>),
        elu: 0.99,
        scheduleLagMs: 1420,
      },
    });
    expect(behind).toMatch(/^generator\s+99% busy [▁▂▃▄▅▆▇█]{60} 1\.4s behind$/m);
    expect(behind).not.toMatch(/^consumers/m);
    expect(behind).toContain('target 100,000/s · generator and pipeline share a thread');
  });

  it('waits for the first update', () => {
    expect(frame(undefined)).toContain('starting');
  });

  it('shows the start-up phase and its time before there are any figures', () => {
    const phase: BenchPhase = {
      name: 'starting',
      text: 'starting 2 consumer processes; waiting for the group to own all 6 partitions',
      startedAtMs: 10_000,
    };
    const lines = frame(undefined, undefined, phase, 14_200).split('\n');
    expect(lines[0]).toBe(
      '› starting 2 consumer processes; waiting for the group to own all 6 partitions 4s',
    );
    expect(lines.at(-1)).toBe('press q to stop early (results are still written)');
  });

  it('does not count past the planned end while the last records are in flight', () => {
    const first = frame({ ...progress, elapsedMs: 331_400 }).split('\n')[0];
    expect(first).toMatch(/^embedded · 5m30s \/ 5m30s █{20} 100% · finishing: the last records in flight$/);
  });

  it('after the load, says what it is doing and for how long instead of a finished progress bar', () => {
    const ended = { ...progress, elapsedMs: 331_000, phase: 'draining' as const, phaseElapsedMs: 1000 };
    const draining = frame(ended, undefined, { name: 'draining', text: 'draining', startedAtMs: 0 }, 3_000);
    const first = draining.split('\n')[0];
    expect(first).toBe(
      'embedded · load 5m30s / 5m30s done · › draining: the consumers are 1,234 records behind 3s',
    );
    expect(draining).not.toMatch(/left|100%/);
    // The figures stay: the lag is what the drain is about.
    expect(draining).toMatch(/^lag\s+1,234 /m);
    expect(draining).not.toContain('to stop early');

    const caughtUp = frame(
      { ...ended, lag: 0 },
      undefined,
      { name: 'draining', text: 'draining', startedAtMs: 0 },
      0,
    );
    expect(caughtUp.split('\n')[0]).toContain('› draining: caught up, waiting for the last flush 0s');

    const verifying = frame(
      ended,
      undefined,
      { name: 'verifying', text: 'verifying the aggregates against the ground truth', startedAtMs: 5_000 },
      17_000,
    );
    expect(verifying.split('\n')[0]).toBe(
      'embedded · load 5m30s / 5m30s done · › verifying the aggregates against the ground truth 12s',
    );
  });

  it('fits 24 lines and 100 columns with everything shown', () => {
    const text = frame({
      ...progress,
      elapsedMs: 7_199_000,
      totalMs: 7_200_000,
      warmup: true,
      targetRate: 12_345_678,
      rates: { produced: 12_345_678, acknowledged: 12_345_678, consumed: 12_345_678, written: 1_234_567 },
      history: Array.from({ length: 120 }, (_, i) => ({
        produced: 12_345_678 * (i % 2),
        consumed: 12_345_678,
        written: 1_234_567,
        lag: 123_456_789,
      })),
      lag: 123_456_789,
      latency: {
        'produce-ack': latency(123_456),
        delivery: latency(99_999),
        sink: latency(123_456_789),
        visible: latency(0.001),
      },
      errors: Array.from({ length: 1234 }, () => `circuit_breaking_exception ${'y'.repeat(300)}`),
      instrumentShared: true,
      instrument: {
        elu: 1,
        cpuCores: 12.5,
        processCpuCores: 64,
        scheduleLagMs: 123_456_789,
        backlog: 123_456_789_012,
        inFlight: 123_456_789,
        atInFlightLimit: true,
        threads: [],
      },
      pipeline: { elu: 1, processes: 64 },
      totals: {
        produced: 123_456_789_012,
        acknowledged: 123_456_789_012,
        failed: 123_456_789,
        consumed: 123_456_789_012,
        written: 123_456_789_012,
        late: 123_456_789,
        deadLettered: 123_456_789,
        duplicates: 123_456_789,
      },
    });
    const lines = text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(text).toContain('last error: circuit_breaking_exception');
    expect(text).toMatch(/^sink\s+24,691s\s+61,728s\s+123,457s\s+246,914s\s+493,827s █{24}$/m);
  });

  it('calls onStop when q is pressed, and says it is stopping', async () => {
    const onStop = vi.fn();
    const { stdin, lastFrame } = render(<BenchView progress={progress} onStop={onStop} />);
    await tick();
    stdin.write('q');
    await tick();
    expect(onStop).toHaveBeenCalledTimes(1);
    expect(stripVTControlCharacters(lastFrame() ?? '')).toContain(
      'stopping early — finishing up and writing results',
    );
  });

  it('calls onStop on Ctrl-C too (raw mode turns it into a key)', async () => {
    const onStop = vi.fn();
    const { stdin } = render(<BenchView progress={progress} onStop={onStop} />);
    await tick();
    stdin.write('\x03');
    await tick();
    expect(onStop).toHaveBeenCalledTimes(1);
  });

  it('ignores other keys', async () => {
    const onStop = vi.fn();
    const { stdin } = render(<BenchView progress={progress} onStop={onStop} />);
    await tick();
    stdin.write('x');
    await tick();
    expect(onStop).not.toHaveBeenCalled();
  });
});

describe('BenchProgressView', () => {
  it('shows the banner above the live view', () => {
    const { lastFrame } = render(<BenchProgressView start={start} progress={progress} />);
    const text = stripVTControlCharacters(lastFrame() ?? '');
    expect(text).toContain('Bench: embedded pipeline (in-process memory transport and memory sink)');
    expect(text).toContain('no Kafka or Elasticsearch involved');
    expect(text).toContain('embedded · 1m5s / 5m30s');
  });
});

describe('createBenchReporter', () => {
  function capture() {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    return {
      stream: stream as unknown as NodeJS.WriteStream,
      text: () => stripVTControlCharacters(chunks.join('')),
    };
  }

  /** A stdin that fails the test if anything tries to read it or put it in raw mode. */
  function untouchableStdin(isTTY: boolean) {
    const stdin = new EventEmitter() as EventEmitter & Record<string, unknown>;
    stdin.isTTY = isTTY;
    for (const method of ['setRawMode', 'read', 'resume', 'setEncoding', 'ref']) {
      stdin[method] = () => {
        throw new Error(`stdin.${method} called`);
      };
    }
    stdin.unref = () => {};
    stdin.pause = () => {};
    return stdin as unknown as NodeJS.ReadStream;
  }

  it('prints plain lines (banner, the first update, then every 5 s) and never touches stdin', () => {
    const { stream, text } = capture();
    const stdin = untouchableStdin(false);
    const reporter = createBenchReporter({ plain: true, quiet: false, stream, stdin, onStop: () => {} });
    reporter.started(start);
    for (let s = 1; s <= 10; s++)
      reporter.update({ ...progress, elapsedMs: s * 1000, phaseElapsedMs: s * 1000 });
    reporter.done();
    const lines = text().trimEnd().split('\n');
    expect(lines[0]).toBe('Bench: embedded pipeline (in-process memory transport and memory sink)');
    const progressLines = lines.filter((line) => line.includes('produced'));
    expect(progressLines).toHaveLength(3);
    expect(progressLines[0]).toBe(
      '1s/5m30s produced 99,870/s (target 100,000/s) consumed 99,500/s written 270 docs/s lag 1,234 delivery p99 12.3ms errors 0',
    );
    expect(stdin.listenerCount('readable')).toBe(0);
    expect(stdin.listenerCount('data')).toBe(0);
  });

  it('draws a first frame at once, before the banner, and moves the time in a phase on by itself', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      vi.setSystemTime(1_000_000);
      const { stream, text } = capture();
      const reporter = createBenchReporter({
        plain: false,
        quiet: false,
        stream,
        stdin: untouchableStdin(false),
        onStop: () => {},
      });
      reporter.phase({ name: 'preparing', text: "looking for a running lab 'lab'", startedAtMs: 1_000_000 });
      await tick();
      expect(text()).toContain("› looking for a running lab 'lab' 0s");
      reporter.started(start);
      reporter.phase({ name: 'verifying', text: 'verifying the aggregates', startedAtMs: 1_000_000 });
      vi.advanceTimersByTime(3000);
      await tick();
      expect(text()).toContain('› verifying the aggregates 3s');
      reporter.done();
    } finally {
      vi.useRealTimers();
    }
  });

  it('prints nothing when quiet', () => {
    const { stream, text } = capture();
    const reporter = createBenchReporter({ plain: false, quiet: true, stream });
    reporter.started(start);
    reporter.update({ ...progress, elapsedMs: 10_000 });
    reporter.done();
    expect(text()).toBe('');
  });

  it('draws live without raw mode when stdin is not a terminal', async () => {
    const { stream, text } = capture();
    const stdin = untouchableStdin(false);
    const reporter = createBenchReporter({ plain: false, quiet: false, stream, stdin, onStop: () => {} });
    reporter.started(start);
    reporter.update(progress);
    await tick();
    reporter.done();
    expect(text()).toContain('Ctrl-C to stop early (results are still written)');
    expect(text()).toContain('delivery');
    expect(text()).not.toContain('stdin.');
  });
});
