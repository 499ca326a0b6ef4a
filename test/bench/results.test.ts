import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeHistogram, LatencyRecorder, summarize } from '../../src/bench/histograms.js';
import {
  escapeXml,
  readResult,
  serializeResult,
  toJUnitXml,
  writeResultFiles,
} from '../../src/bench/results.js';
import {
  type BenchResult,
  type BenchSummary,
  LATENCY_KINDS,
  type LatencyKind,
  RESULT_FORMAT,
} from '../../src/bench/types.js';
import { GapipeError } from '../../src/errors.js';
import { decided, instrumentSummary } from './fixtures.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gapipe-results-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A complete result with real histograms: latencies around `baseMs` per kind, `visible` left empty. */
function benchResult(
  overrides: { summary?: Partial<BenchSummary> } & Partial<Omit<BenchResult, 'summary'>> = {},
) {
  const recorders = Object.fromEntries(
    LATENCY_KINDS.map((kind) => [kind, new LatencyRecorder(kind, { measuring: true })]),
  ) as Record<LatencyKind, LatencyRecorder>;
  for (let i = 0; i < 2000; i++) {
    recorders['produce-ack'].recordMs(1 + (i % 10) / 10);
    recorders.delivery.recordMs(5 + (i % 100));
    recorders.sink.recordMs(200 + (i % 300));
  }
  const { summary: summaryOverrides, ...rest } = overrides;
  const result: BenchResult = {
    format: RESULT_FORMAT,
    runId: 'run-1',
    startedAt: '2026-05-01T10:00:00.000Z',
    finishedAt: '2026-05-01T10:01:10.000Z',
    config: {
      target: 'embedded',
      players: 1000,
      rate: '2000/s',
      targetRate: 2000,
      stages: null,
      scenario: null,
      durationMs: 60_000,
      warmupMs: 10_000,
      seed: 42,
      consumers: 1,
      topic: 'game-events',
      partitions: 6,
      index: 'gapipe-aggregates',
      brokers: null,
      esUrl: null,
      assertions: ['correct', 'delivery.p99<500ms'],
      extra: { disorder: 0.01 },
    },
    provenance: {
      gapipeVersion: '0.1.0',
      node: 'v20.19.0',
      libraries: { kafkajs: '2.2.4' },
      images: {},
      host: {
        platform: 'linux',
        arch: 'x64',
        cpuModel: 'Test CPU',
        cpus: 8,
        memoryBytes: 16e9,
        hostname: 'ci-1',
      },
      command: 'gapipe bench --target embedded',
    },
    summary: decided(
      {
        status: 'failed',
        stopReason: 'completed',
        failures: ['delivery.p99 was 612.3ms, not < 500ms'],
        durationMs: 70_000,
        measuredMs: 60_000,
        targetRate: 2000,
        achievedRate: 1990,
        keptUp: true,
        throughput: { produced: 1990, acknowledged: 1990, consumed: 1985, written: 20 },
        totals: {
          produced: 119_400,
          acknowledged: 119_400,
          failed: 0,
          consumed: 119_100,
          written: 1200,
          late: 3,
          deadLettered: 1,
          duplicates: 5,
        },
        maxLag: 120,
        latency: Object.fromEntries(LATENCY_KINDS.map((kind) => [kind, recorders[kind].summary()])) as Record<
          LatencyKind,
          ReturnType<typeof summarize>
        >,
        correct: true,
        verify: { ok: true, cellsCompared: 48, cellsDiffering: 0, differences: [] },
        assertions: [
          {
            expression: 'correct',
            passed: true,
            actual: 'verified',
            message: 'results verify (48 cells match)',
          },
          {
            expression: 'delivery.p99<500ms',
            passed: false,
            actual: '612.3ms',
            message: 'delivery.p99 was 612.3ms, not < 500ms',
          },
        ],
        errors: [],
        instrument: instrumentSummary({ sharedWithPipeline: true }),
        ...summaryOverrides,
      },
      [],
      { durationMs: 60_000, warmupMs: 10_000, target: 'embedded' },
    ),
    series: [
      {
        t: 1,
        warmup: true,
        targetRate: 2000,
        produced: 2000,
        acknowledged: 1990,
        consumed: 1900,
        written: 10,
        lag: 100,
        p99Ms: { delivery: 50 },
        errors: 0,
      },
    ],
    histograms: Object.fromEntries(LATENCY_KINDS.map((kind) => [kind, recorders[kind].encode()])) as Record<
      LatencyKind,
      string
    >,
    ...rest,
  };
  return result;
}

/**
 * A small structural XML check (no dependency): every tag is well-formed and closed in order, attribute
 * values are quoted and contain no raw `<` or `"`, and text has no raw `<` or stray `&`.
 */
function checkWellFormedXml(xml: string): string[] {
  const body = xml.replace(/^<\?xml [^?]*\?>\s*/, '');
  const stack: string[] = [];
  const roots: string[] = [];
  const token = /<(\/?)([A-Za-z][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: a regex tokenizer loop
  while ((match = token.exec(body)) !== null) {
    consumed = token.lastIndex;
    const [, closing, name, attrs, selfClosing, text] = match;
    if (text !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`stray & in text: ${text}`);
      continue;
    }
    for (const [, value] of (attrs ?? '').matchAll(/="([^"]*)"/g)) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(value ?? '')) throw new Error(`stray & in attribute: ${value}`);
    }
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClosing) {
      if (stack.length === 0) roots.push(name ?? '');
      stack.push(name ?? '');
    } else if (stack.length === 0) {
      roots.push(name ?? '');
    }
  }
  if (consumed !== body.length) throw new Error(`unparseable XML at: ${body.slice(consumed, consumed + 40)}`);
  if (stack.length > 0) throw new Error(`unclosed: ${stack.join(', ')}`);
  return roots;
}

function attribute(xml: string, element: string, name: string): string | undefined {
  const tag = new RegExp(`<${element}\\s[^>]*\\b${name}="([^"]*)"`).exec(xml);
  return tag?.[1];
}

describe('writeResultFiles', () => {
  it('writes result.json, one .hgrm per kind and junit.xml, and returns their paths', async () => {
    const dir = join(await tempDir(), 'nested', 'out');
    const result = benchResult();
    const files = await writeResultFiles(dir, result);
    expect(files).toEqual({
      dir,
      json: join(dir, 'result.json'),
      hgrm: {
        'produce-ack': join(dir, 'produce-ack.hgrm'),
        delivery: join(dir, 'delivery.hgrm'),
        sink: join(dir, 'sink.hgrm'),
        visible: join(dir, 'visible.hgrm'),
      },
      junit: join(dir, 'junit.xml'),
    });
    await expect(readFile(join(dir, 'report.html'))).rejects.toThrow();

    const delivery = await readFile(files.hgrm.delivery, 'utf8');
    expect(delivery.split('\n')[0]).toContain('delivery latency');
    expect(delivery).toContain('Total count    =         2000]');
    expect(delivery).toMatch(/^\s+54\.015 0\.500000000000\s+1000\s+2\.00$/m);
    const visible = await readFile(files.hgrm.visible, 'utf8');
    expect(visible).toContain('Total count    =            0]');

    checkWellFormedXml(await readFile(files.junit, 'utf8'));
  });

  it('writes report.html when the HTML is given', async () => {
    const dir = await tempDir();
    const files = await writeResultFiles(dir, benchResult(), { html: '<!doctype html><title>r</title>' });
    expect(files.html).toBe(join(dir, 'report.html'));
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toBe('<!doctype html><title>r</title>');
  });

  it('result.json is pretty, in the order of the type whatever the build order, and reads back equal', async () => {
    const dir = await tempDir();
    const original = benchResult();
    // The same result built in a different key order.
    const shuffled = Object.fromEntries(Object.entries(original).reverse()) as unknown as BenchResult;
    shuffled.summary = Object.fromEntries(
      Object.entries(original.summary).reverse(),
    ) as unknown as BenchSummary;
    const files = await writeResultFiles(dir, shuffled);
    const text = await readFile(files.json, 'utf8');
    expect(text).toBe(serializeResult(original));
    expect(text.startsWith('{\n  "format": "gapipe-bench-result/1",\n  "runId": "run-1",')).toBe(true);
    expect(text.endsWith('}\n')).toBe(true);
    const topKeys = Object.keys(JSON.parse(text));
    expect(topKeys).toEqual([
      'format',
      'runId',
      'startedAt',
      'finishedAt',
      'config',
      'provenance',
      'summary',
      'series',
      'histograms',
    ]);
    expect(Object.keys(JSON.parse(text).summary).slice(0, 3)).toEqual(['status', 'stopReason', 'failures']);

    const back = await readResult(files.json);
    expect(back).toEqual(original);
    // The histograms survive the trip: same summary as recorded.
    expect(summarize(decodeHistogram(back.histograms.sink))).toEqual(original.summary.latency.sink);
    // A results directory works as well as its result.json.
    expect(await readResult(dir)).toEqual(original);
  });

  it('keeps keys the type does not know about, after the known ones', () => {
    const result = { ...benchResult(), future: { x: 1 } } as BenchResult;
    const parsed = JSON.parse(serializeResult(result));
    expect(Object.keys(parsed).at(-1)).toBe('future');
    expect(parsed.future).toEqual({ x: 1 });
  });
});

describe('junit.xml', () => {
  it('has one suite, a case per check of the verdict (the bench’s own and each assertion), properties and seconds', () => {
    const xml = toJUnitXml(benchResult());
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
    expect(checkWellFormedXml(xml)).toEqual(['testsuites']);
    expect(xml.match(/<testsuite\s/g)).toHaveLength(1);
    expect(attribute(xml, 'testsuite', 'name')).toBe('gapipe bench');
    expect(attribute(xml, 'testsuite', 'tests')).toBe('7');
    expect(attribute(xml, 'testsuite', 'failures')).toBe('1');
    // "pipeline keeps up" has no per-second figures to judge here.
    expect(attribute(xml, 'testsuite', 'skipped')).toBe('1');
    expect(attribute(xml, 'testsuite', 'time')).toBe('70.000');
    expect(attribute(xml, 'testsuite', 'timestamp')).toBe('2026-05-01T10:00:00.000Z');
    expect(xml).toContain('<property name="runId" value="run-1"/>');
    expect(xml).toContain('<property name="target" value="embedded"/>');
    expect(xml).toContain('<property name="seed" value="42"/>');

    const names = [...xml.matchAll(/<testcase name="([^"]*)"/g)].map((m) => m[1]);
    expect(names).toEqual([
      'run completes',
      'load keeps the schedule',
      'records are acknowledged',
      'pipeline keeps up',
      'results verify',
      'correct',
      'delivery.p99&lt;500ms',
    ]);
    expect(xml).toMatch(
      /<testcase name="delivery.p99&lt;500ms" classname="gapipe.bench.assertions" time="0">\s*<failure message="delivery.p99 was 612.3ms, not &lt; 500ms"/,
    );
    expect(xml).toMatch(/<testcase name="results verify" classname="gapipe.bench" time="0"\/>/);
    expect(xml).toMatch(/<testcase name="run completes" classname="gapipe.bench" time="0"\/>/);
  });

  it('fails "results verify" with the differences when results are wrong, skips it when unverified', () => {
    const wrong = toJUnitXml(
      benchResult({
        summary: {
          correct: false,
          verify: {
            ok: false,
            cellsCompared: 48,
            cellsDiffering: 1,
            differences: [
              {
                window_start: '2026-05-01T10:00:00.000Z',
                region: 'EU',
                event_type: 'match_end',
                field: 'events',
                expected: 10,
                actual: 9,
              },
            ],
          },
          assertions: [],
        },
      }),
    );
    checkWellFormedXml(wrong);
    expect(wrong).toMatch(
      /<testcase name="results verify"[^>]*>\s*<failure message="results do not verify: 1 of 48 cells differ" type="AssertionError">2026-05-01T10:00:00.000Z EU match_end events: expected 10, found 9<\/failure>/,
    );

    const unverified = toJUnitXml(
      benchResult({ summary: { correct: null, verify: null, stopReason: 'stopped', assertions: [] } }),
    );
    checkWellFormedXml(unverified);
    expect(unverified).toMatch(
      /<testcase name="results verify"[^>]*>\s*<skipped message="not verified: the run was stopped early"\/>/,
    );
    expect(unverified).toMatch(
      /<testcase name="run completes"[^>]*>\s*<failure message="stopped early: 1 min of the planned 1 min measured"/,
    );
    expect(attribute(unverified, 'testsuite', 'skipped')).toBe('2');
    expect(attribute(unverified, 'testsuite', 'failures')).toBe('1');
  });

  it('escapes < & " > and apostrophes, and drops characters XML cannot carry', () => {
    expect(escapeXml(`a<b & "c" > 'd'\u0000\u001b[31m`)).toBe(
      'a&lt;b &amp; &quot;c&quot; &gt; &apos;d&apos;[31m',
    );
    expect(escapeXml('emoji 🎮 stays, lone \ud800 goes')).toBe('emoji 🎮 stays, lone  goes');

    const nasty = 'p99 <500ms & "quoted" </testcase>';
    const xml = toJUnitXml(
      benchResult({
        runId: 'run"<&>',
        summary: {
          assertions: [{ expression: nasty, passed: false, message: `${nasty} failed` }],
          errors: ['broker said <error> & "bye"\u0007'],
          stopReason: 'failed',
        },
      }),
    );
    expect(checkWellFormedXml(xml)).toEqual(['testsuites']);
    expect(xml).toContain('name="p99 &lt;500ms &amp; &quot;quoted&quot; &lt;/testcase&gt;"');
    expect(xml).toContain('<property name="runId" value="run&quot;&lt;&amp;&gt;"/>');
    expect(xml).toContain('<system-err>broker said &lt;error&gt; &amp; &quot;bye&quot;</system-err>');
    expect(xml).not.toContain('\u0007');
  });
});

describe('readResult', () => {
  async function expectInvalid(path: string, message: string | RegExp): Promise<void> {
    const error = await readResult(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(GapipeError);
    expect((error as GapipeError).code).toBe('INVALID_FLAG');
    expect((error as GapipeError).message).toMatch(message);
    expect((error as GapipeError).nextSteps).toContain('result.json');
  }

  it('names the file when it is missing, not JSON, or not a bench result', async () => {
    const dir = await tempDir();
    await expectInvalid(join(dir, 'nope.json'), `Cannot read ${join(dir, 'nope.json')}: no such file`);
    await expectInvalid(dir, `Cannot read ${join(dir, 'result.json')}: no such file`);

    const notJson = join(dir, 'bad.json');
    await writeFile(notJson, '{"format": ');
    await expectInvalid(notJson, new RegExp(`^${notJson} is not a gapipe bench result: not JSON`));

    const manifest = join(dir, 'manifest.json');
    await writeFile(manifest, JSON.stringify({ format: 'gapipe-manifest/1' }));
    await expectInvalid(
      manifest,
      `${manifest} is not a gapipe bench result: format is "gapipe-manifest/1", expected "gapipe-bench-result/1"`,
    );

    const noFormat = join(dir, 'other.json');
    await writeFile(noFormat, JSON.stringify({ hello: 1 }));
    await expectInvalid(noFormat, `${noFormat} is not a gapipe bench result: it has no "format"`);

    const array = join(dir, 'array.json');
    await writeFile(array, '[]');
    await expectInvalid(array, `${array} is not a gapipe bench result: not a JSON object`);

    const partial = join(dir, 'partial.json');
    const { summary: _summary, ...withoutSummary } = benchResult();
    await writeFile(partial, JSON.stringify(withoutSummary));
    await expectInvalid(partial, `${partial} is not a gapipe bench result: "summary" is missing`);

    const noLatency = join(dir, 'no-latency.json');
    const result = benchResult();
    const latency: Partial<BenchSummary['latency']> = { ...result.summary.latency };
    delete latency.sink;
    await writeFile(noLatency, JSON.stringify({ ...result, summary: { ...result.summary, latency } }));
    await expectInvalid(
      noLatency,
      `${noLatency} is not a gapipe bench result: "summary.latency.sink" is missing`,
    );
  });

  it('reads a directory whose result.json is there', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'run'));
    await writeFile(join(dir, 'run', 'result.json'), serializeResult(benchResult()));
    expect((await readResult(join(dir, 'run'))).runId).toBe('run-1');
  });
});
