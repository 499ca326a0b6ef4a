import { readdirSync, readFileSync } from 'node:fs';
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { latencyCurve, renderReport } from '../../src/bench/report/index.js';
import { LATENCY_KINDS } from '../../src/bench/types.js';
import { newLatencyHistogram, sampleBenchResult } from './fixtures.js';
import { asOutsideEngine, OUTSIDE_MEASURED_BY, SPARK_RESOURCES } from './helpers/engine-results.js';

/** The `<svg data-plot="name">…</svg>` element of a plot. */
function plot(html: string, name: string): string {
  const match = new RegExp(`<svg[^>]*data-plot="${name}"[\\s\\S]*?</svg>`).exec(html);
  if (!match) throw new Error(`no plot ${name}`);
  return match[0];
}

/** Number of points of each data series (path commands M and L) in a plot. */
function seriesPoints(svg: string): Record<string, number> {
  const series: Record<string, number> = {};
  for (const match of svg.matchAll(/<path[^>]*data-series="([^"]+)"[^>]*\sd="([^"]*)"/g)) {
    series[match[1] ?? ''] = (match[2] ?? '').match(/[ML]/g)?.length ?? 0;
  }
  return series;
}

describe('renderReport', () => {
  const lab = sampleBenchResult();
  const html = renderReport(lab);

  it('draws every latency kind with samples, throughput with the target, and lag', () => {
    const latency = seriesPoints(plot(html, 'latency'));
    expect(Object.keys(latency).sort()).toEqual([...LATENCY_KINDS].sort());
    for (const kind of LATENCY_KINDS) expect(latency[kind]).toBeGreaterThanOrEqual(2);

    const throughput = seriesPoints(plot(html, 'throughput'));
    expect(throughput).toEqual({ target: 60, produced: 60, consumed: 60, acknowledged: 60 });
    expect(seriesPoints(plot(html, 'lag'))).toEqual({ lag: 60 });
    // Documents are not events: they have their own plot and axis.
    expect(seriesPoints(plot(html, 'written'))).toEqual({ written: 60 });
    expect(plot(html, 'written')).toContain('>documents per second<');
    expect(plot(html, 'throughput')).toContain('>records per second<');
  });

  it('fits the latency axis to the data, leaving out a minimum at the histogram floor and saying so', () => {
    const result = sampleBenchResult();
    // One produce-ack of 1 µs (an in-process acknowledgement) among samples from about 1 ms up.
    const histogram = newLatencyHistogram();
    histogram.recordValue(1);
    for (let i = 0; i < 5000; i++) histogram.recordValue(1200 + i * 40);
    result.histograms['produce-ack'] = encodeIntoCompressedBase64(histogram);
    const out = renderReport(result);
    const latency = plot(out, 'latency');
    const yLabels = [...latency.matchAll(/<text class="tick"[^>]*text-anchor="end">([^<]+)<\/text>/g)].map(
      (m) => m[1],
    );
    expect(yLabels[0]).toBe('1');
    expect(latency).not.toContain('>0.001<');
    expect(out).toContain(
      "Not drawn: produce-ack had samples as fast as 0.001 ms (the histogram's resolution), below the axis.",
    );
    expect(html).not.toContain('Not drawn:');
  });

  it('draws produce-ack and visible dashed, over the kinds they would hide, with the dash in the legend', () => {
    const latency = plot(html, 'latency');
    const order = [...latency.matchAll(/<path class="line" data-series="([^"]+)"([^>]*)>/g)].map((m) => ({
      kind: m[1],
      dashed: (m[2] ?? '').includes('stroke-dasharray'),
    }));
    expect(order).toEqual([
      { kind: 'delivery', dashed: false },
      { kind: 'sink', dashed: false },
      { kind: 'visible', dashed: true },
      { kind: 'produce-ack', dashed: true },
    ]);
    expect(html).toMatch(
      /<li data-series="produce-ack"><svg class="line-swatch"[^>]*><line[^>]*stroke-dasharray="[^"]+"\/><\/svg>produce-ack <span class="figure">/,
    );
  });

  it('labels seconds on whole seconds', () => {
    const result = sampleBenchResult({}, { seconds: 25, warmupSeconds: 1 });
    const throughput = plot(renderReport(result), 'throughput');
    const xLabels = [
      ...throughput.matchAll(
        /<text class="tick" x="[\d.]+" y="[\d.]+" text-anchor="middle">([^<]+)<\/text>/g,
      ),
    ].map((m) => m[1]);
    expect(xLabels).toEqual(['0', '5', '10', '15', '20', '25']);
  });

  it('leaves room for the last percentile label inside the plot', () => {
    const latency = plot(html, 'latency');
    const width = Number(/viewBox="0 0 (\d+) /.exec(latency)?.[1]);
    const last = [
      ...latency.matchAll(/<text class="tick" x="([\d.]+)"[^>]*text-anchor="middle">([^<]+%)<\/text>/g),
    ].at(-1);
    // Half of "99.9999%" at 12px is about 28 units: the label's centre is at least that far in.
    expect(width - Number(last?.[1])).toBeGreaterThanOrEqual(40);
  });

  it('labels the percentile axis up to 99.999% and shades the warm-up', () => {
    const latency = plot(html, 'latency');
    for (const label of ['0%', '90%', '99%', '99.9%', '99.99%', '99.999%'])
      expect(latency).toContain(`>${label}<`);
    // The ten warm-up seconds of the sample: one shaded stretch in each time plot.
    expect(plot(html, 'throughput').match(/class="warmup"/g)).toHaveLength(1);
    expect(plot(html, 'lag').match(/class="warmup"/g)).toHaveLength(1);
  });

  it('has a percentile table in ms per kind', () => {
    const delivery = lab.summary.latency.delivery;
    const row = /delivery<div[^>]*>[^<]*<\/div><\/th>((?:<td>[^<]*<\/td>){6})/.exec(html);
    expect(row?.[1]).toBeDefined();
    const cells = [...(row?.[1] ?? '').matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]);
    expect(cells).toHaveLength(6);
    expect(cells[5]).toBe(delivery.count.toLocaleString('en-US'));
    expect(Number(cells[2]?.replace(/,/g, ''))).toBeCloseTo(delivery.p99Ms, 0);
  });

  it('refers to nothing outside the file', () => {
    expect(html).not.toMatch(/<script[^>]*\ssrc/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<(img|iframe|object|embed|audio|video|source)\b/i);
    expect(html).not.toMatch(/\s(src|href|srcset|xlink:href|action)=/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
    // A lab run names its Elasticsearch URL as text; nothing else in the file is a URL.
    expect(html.replaceAll(lab.config.esUrl ?? '', '')).not.toMatch(/https?:\/\//i);
    expect(renderReport(sampleBenchResult({}, { target: 'embedded' }))).not.toMatch(/https?:\/\//i);
  });

  it('escapes whatever the result carries', () => {
    const attack = '<script>alert(1)</script>"\'&<img onerror=x>';
    const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;&lt;img onerror=x&gt;';
    const result = sampleBenchResult({
      runId: attack,
      config: { topic: attack, extra: { [attack]: attack } },
      provenance: {
        ...lab.provenance,
        command: `gapipe bench --scenario '${attack}'`,
        libraries: { [attack]: attack },
      },
      summary: {
        status: 'failed',
        failures: [attack],
        errors: [attack],
        assertions: [{ expression: attack, passed: false, actual: attack, message: attack }],
        verify: {
          ok: false,
          cellsCompared: 1,
          cellsDiffering: 1,
          differences: [
            {
              window_start: attack,
              region: attack,
              event_type: attack,
              field: attack,
              expected: 1,
              actual: 2,
            },
          ],
        },
      },
    });
    const out = renderReport(result);
    expect(out).not.toContain('<script>alert');
    expect(out).not.toContain('<img');
    expect(out.match(/<script/g)).toHaveLength(1); // the report's own inline script
    expect(out).toContain(`<span class="run-id">${escaped}</span>`);
    expect(out).toContain(`<title>gapipe bench ${escaped} — failed</title>`);
    expect(out).toContain(`--scenario &#39;${escaped}&#39;`);
    expect(out.split(escaped).length - 1).toBeGreaterThanOrEqual(12);
  });

  it('lists a kind without samples as "no samples" and does not draw it', () => {
    const out = renderReport(sampleBenchResult({}, { emptyKinds: ['visible'] }));
    const latency = seriesPoints(plot(out, 'latency'));
    expect(Object.keys(latency)).not.toContain('visible');
    expect(latency.delivery).toBeGreaterThanOrEqual(2);
    expect(out).toMatch(/<li class="absent">.*visible — no samples<\/li>/);
    expect(out).toMatch(/visible<div[^>]*>[^<]*<\/div><\/th><td colspan="6"[^>]*>no samples<\/td>/);
  });

  it('says "no latency samples" when no kind has any, and reads unreadable histograms as missing', () => {
    const empty = renderReport(sampleBenchResult({}, { emptyKinds: [...LATENCY_KINDS] }));
    expect(seriesPoints(plot(empty, 'latency'))).toEqual({});
    expect(plot(empty, 'latency')).toContain('no latency samples');

    const broken = renderReport(sampleBenchResult({ histograms: { sink: 'not a histogram' } }));
    expect(Object.keys(seriesPoints(plot(broken, 'latency')))).not.toContain('sink');
    expect(broken).toContain('sink — histogram unreadable');
  });

  it('says plainly when a run was embedded', () => {
    const embedded = renderReport(sampleBenchResult({}, { target: 'embedded' }));
    expect(embedded).toContain('No Kafka and no Elasticsearch were involved');
    expect(embedded).toContain('none (embedded run)');
    expect(html).not.toContain('No Kafka and no Elasticsearch were involved');
    expect(renderReport(sampleBenchResult({ provenance: { images: {} } }))).toContain('not recorded');
    expect(html).toContain(
      'lab <span class="muted">— Kafka localhost:19092, Elasticsearch http://localhost:19200</span>',
    );
  });

  it('shows status, run facts and provenance', () => {
    expect(html).toContain('<header class="status passed">');
    expect(html).toContain('<span class="badge">Passed</span>');
    expect(html).toContain('2026-01-15 09:30:00 UTC');
    expect(html).toContain(
      `${lab.summary.achievedRate.toLocaleString('en-US')}/s achieved of 5,000/s target`,
    );
    expect(html).toContain('<dt>Seed</dt><dd>42</dd>');
    expect(html).toContain('<dt>Consumers</dt><dd>2</dd>');
    expect(html).toContain('apache/kafka:4.0.0');
    expect(html).toContain('8 × AMD EPYC 7B13, 32 GiB memory');
    expect(html).toContain('--assert &#39;delivery.p99&lt;500ms&#39;');

    const failedResult = sampleBenchResult({
      summary: {
        stopReason: 'stopped',
        measuredMs: 20_000,
        assertions: [
          {
            expression: 'delivery.p99<500ms',
            passed: false,
            actual: '612.3ms',
            message: 'delivery.p99 was 612.3ms, not < 500ms',
          },
        ],
      },
    });
    const failed = renderReport(failedResult);
    expect(failed).toContain('<header class="status failed">');
    // The header lists the verdict's reasons, as decided.
    expect(failedResult.summary.verdict.failures).toEqual([
      'stopped early: 20 s of the planned 50 s measured',
      'delivery.p99 was 612.3ms, not < 500ms',
    ]);
    expect(failed).toContain(
      '<ul class="failures"><li>stopped early: 20 s of the planned 50 s measured</li><li>delivery.p99 was 612.3ms, not &lt; 500ms</li></ul>',
    );
    expect(failed).toContain('stopped before the end');
  });

  it('shows the verification, its first differences and the assertions', () => {
    expect(html).toContain('<span class="pill ok">ok</span>');
    expect(html).toContain('1,248 cells compared, 0 differing.');
    expect(html).toMatch(/<code>delivery\.p99&lt;500ms<\/code><\/td><td><span class="pill ok">pass<\/span>/);

    const wrong = renderReport(
      sampleBenchResult({
        summary: {
          correct: false,
          verify: {
            ok: false,
            cellsCompared: 400,
            cellsDiffering: 7,
            differences: [
              {
                window_start: '2026-01-15T09:30:10.000Z',
                region: 'eu-west',
                event_type: 'purchase',
                field: 'revenue',
                expected: 1234.5,
                actual: 1200,
              },
            ],
          },
          assertions: [{ expression: 'correct', passed: false, actual: 'false', message: '7 cells differ' }],
        },
      }),
    );
    expect(wrong).toContain('<span class="pill bad">wrong</span>');
    expect(wrong).toContain('400 cells compared, 7 differing.');
    expect(wrong).toContain(
      '<td class="mono">2026-01-15T09:30:10.000Z</td><td>eu-west</td><td>purchase</td><td>revenue</td><td>1,234.5</td><td>1,200</td>',
    );
    expect(wrong).toContain('The first 1 of 7 differences.');
    expect(wrong).toMatch(/<code>correct<\/code><\/td><td><span class="pill bad">fail<\/span>/);

    const unverified = renderReport(
      sampleBenchResult({ summary: { verify: null, correct: null, assertions: [] } }),
    );
    expect(unverified).toContain('Verification did not run');
    expect(unverified).toContain('No assertions were given');
  });

  it('renders the same result to the same bytes', () => {
    expect(renderReport(sampleBenchResult())).toBe(html);
  });

  it('keeps the labels of the shaded stretches above the plot area, off the grid and the data', () => {
    for (const name of ['throughput', 'lag', 'written', 'instrument', 'schedule']) {
      const svg = plot(html, name);
      const top = Number(/<rect class="frame" x="[\d.]+" y="([\d.]+)"/.exec(svg)?.[1]);
      const labels = [...svg.matchAll(/<text class="warmup-label" x="[\d.]+" y="([\d.]+)"/g)].map((m) =>
        Number(m[1]),
      );
      expect(labels.length, name).toBeGreaterThan(0);
      for (const y of labels) expect(y, name).toBeLessThan(top);
    }
  });

  it('gives each line of a legend the figure result.json has for it', () => {
    const t = lab.summary.throughput;
    const figures = Object.fromEntries(
      [...html.matchAll(/<figure class="chart" data-chart="([^"]+)">[\s\S]*?<\/figure>/g)].map((m) => [
        m[1],
        m[0],
      ]),
    );
    const entry = (chart: string, series: string) =>
      new RegExp(`<li data-series="${series}">.*?<span class="figure">([^<]*)</span>`).exec(
        figures[chart] ?? '',
      )?.[1];
    expect(entry('throughput', 'produced')).toBe(`${t.produced.toLocaleString('en-US')}/s`);
    expect(entry('throughput', 'consumed')).toBe(`${Math.round(t.consumed).toLocaleString('en-US')}/s`);
    expect(entry('throughput', 'target')).toBe('5,000/s');
    expect(entry('latency', 'delivery')).toMatch(/^p99 [\d,.]+ ms$/);
    expect(
      Number(/p99 ([\d,.]+) ms/.exec(entry('latency', 'delivery') ?? '')?.[1]?.replace(/,/g, '')),
    ).toBeCloseTo(lab.summary.latency.delivery.p99Ms, 0);
    expect(entry('instrument', 'generator-busy')).toBe(
      `mean ${Math.round(lab.summary.instrument.eluMean * 100)}%, max ${Math.round(lab.summary.instrument.eluMax * 100)}%`,
    );
  });

  it('shows a consumer that fell behind: the peak marked as result.json has it, the drain, no target after the planned end', () => {
    // 20 s planned (1 s warm-up), the consumer 9,000 records behind at 15 s, caught up 10 s after the end.
    const base = sampleBenchResult({}, { seconds: 20, warmupSeconds: 1 });
    const series = base.series.map((point) => ({
      ...point,
      lag: point.t <= 15 ? point.t * 600 : 9000 - (point.t - 15) * 600,
    }));
    for (let t = 21; t <= 32; t++) {
      const last = series[series.length - 1];
      if (last)
        series.push({
          ...last,
          t,
          produced: 0,
          acknowledged: 0,
          consumed: 1500,
          lag: Math.max(0, 9000 - (t - 15) * 600),
        });
    }
    const result = { ...base, series, summary: { ...base.summary, maxLag: 9000 } };
    const out = renderReport(result);

    const lag = plot(out, 'lag');
    expect(lag).toContain('>most while measured: 9,000 records (1.8 s of load) at 15 s</text>');
    expect(out).toContain(
      '<dt>Consumer lag</dt><dd>9,000 records at most <span class="muted">(1.8 s of load, at 15 s)</span>; caught up 10 s after the planned end</dd>',
    );
    // The target stops at the planned end (20 s): nothing is due in the drain.
    const throughput = seriesPoints(plot(out, 'throughput'));
    expect(throughput.target).toBe(20);
    expect(throughput.produced).toBe(32);

    const still = renderReport({
      ...result,
      series: series.map((point) => ({ ...point, lag: Math.max(point.lag, 100) })),
    });
    expect(still).toContain('; still 100 records behind when the run ended</dd>');
    // A run that kept up says nothing about a drain; one without any lag says so on the plot.
    expect(html).not.toContain('caught up');
    const none = renderReport({
      ...result,
      series: series.map((point) => ({ ...point, lag: 0 })),
      summary: { ...result.summary, maxLag: 0 },
    });
    expect(plot(none, 'lag')).toContain('>no lag at any measured second</text>');
    expect(plot(none, 'lag')).not.toContain('most while measured');
  });

  it('does not stretch a little lag over the whole plot', () => {
    const result = sampleBenchResult({}, { seconds: 20, warmupSeconds: 1 });
    const series = result.series.map((point) => ({ ...point, lag: point.t === 9 ? 28 : 0 }));
    const out = renderReport({ ...result, series, summary: { ...result.summary, maxLag: 28 } });
    const ticks = [
      ...plot(out, 'lag').matchAll(/<text class="tick"[^>]*text-anchor="end">([^<]+)<\/text>/g),
    ].map((m) => m[1]);
    // At 5,000/s, at least a fifth of a second of load: 28 records stay a small bump.
    expect(ticks.at(-1)).toBe('1k');
    expect(plot(out, 'lag')).toContain('>most while measured: 28 records (6 ms of load) at 9 s</text>');
  });

  it('keeps a catch-up spike from flattening the load, writing its figure at the top', () => {
    const result = sampleBenchResult({}, { seconds: 20, warmupSeconds: 1 });
    const series = result.series.map((point) => (point.t === 12 ? { ...point, consumed: 47_962 } : point));
    const throughput = plot(renderReport({ ...result, series }), 'throughput');
    const ticks = [...throughput.matchAll(/<text class="tick"[^>]*text-anchor="end">([^<]+)<\/text>/g)].map(
      (m) => m[1],
    );
    // The axis stops at twice the load (5,000/s), not at 48k where 5,000/s would be a flat line.
    expect(ticks.at(-1)).toBe('12.5k');
    expect(throughput).toContain('>consumed 47,962/s</text>');
    expect(plot(html, 'throughput')).not.toContain('class="clipped"');
  });

  it('leaves a gap where seconds are missing from the series, instead of drawing through it', () => {
    const result = sampleBenchResult({}, { seconds: 25, warmupSeconds: 1 });
    const series = result.series.filter((point) => ![16, 18, 19].includes(point.t));
    const out = renderReport({ ...result, series });
    for (const name of ['lag', 'written', 'throughput', 'instrument', 'schedule']) {
      const paths = [
        ...plot(out, name).matchAll(/<path class="line[^"]*" data-series="([^"]+)"[^>]*\sd="([^"]*)"/g),
      ];
      expect(paths.length, name).toBeGreaterThan(0);
      // Three stretches: up to 15, 17, from 20 on.
      for (const [, series, d] of paths) expect(d?.match(/M/g), `${name} ${series}`).toHaveLength(3);
    }
    // A rate read after a gap is the mean over it: drawn flat across it, from 17 back to 15 s.
    const written = /data-series="written"[^>]*\sd="([^"]+)"/.exec(plot(out, 'written'))?.[1] ?? '';
    const step = written
      .split('M')[2]
      ?.split('L')
      .slice(0, 2)
      .map((xy) => xy.split(',')[1]);
    expect(step?.[0]).toBe(step?.[1]);
    expect(out).toContain('Seconds without a reading of their own: 16, 18–19');
    expect(html).not.toContain('Seconds without a reading');
  });

  it('keeps the plotting kit free of anything about benchmarks', () => {
    const dir = new URL('../../src/bench/report/plot/', import.meta.url);
    const files = readdirSync(dir).filter((file) => file.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      for (const from of imports)
        expect(from, `${file} imports ${from}`).toMatch(/^(\.\/[\w-]+|\.\.\/format)\.js$/);
    }
  });

  it('copes with a run that has no per-second data', () => {
    const out = renderReport(sampleBenchResult({ series: [] }));
    expect(seriesPoints(plot(out, 'throughput'))).toEqual({});
    expect(plot(out, 'lag')).toContain('no per-second data');
  });
});

const RESOURCES = SPARK_RESOURCES;

/** A run of the Spark job (or the user's engine): no sink latency, consumed and lag counted in its documents. */
function outsideRun(name: 'spark' | 'external', resources?: typeof RESOURCES) {
  return asOutsideEngine(sampleBenchResult(), name, resources);
}

/** The `<dt>`s of the run facts, in order. */
function factNames(html: string): string[] {
  return [...html.matchAll(/<dt>([^<]+)<\/dt>/g)].map((m) => m[1] ?? '');
}

describe('renderReport for an engine', () => {
  const spark = renderReport(outsideRun('spark', RESOURCES));
  const external = renderReport(outsideRun('external'));
  const gapipeResult = sampleBenchResult({
    config: { engine: 'gapipe' },
    summary: {
      engine: {
        name: 'gapipe',
        description: '2 consumer processes',
        resources: {
          ...RESOURCES,
          cpuCoresMean: 0.42,
          cpuCoresMax: 0.61,
          rssMaxBytes: 180 * 1024 ** 2,
          processes: 2,
        },
        measuredBy: {
          ...OUTSIDE_MEASURED_BY,
          sink: "inside gapipe's consumer: from the intended send time to its aggregate acknowledged by Elasticsearch",
          consumed: "the consumers' own counts",
          lag: "the topic's end offsets minus the consumers' read positions",
        },
      },
    },
  });
  const gapipe = renderReport(gapipeResult);

  it('names the engine beside the target, and says nothing of one for an older result', () => {
    expect(factNames(spark).slice(0, 2)).toEqual(['Target', 'Engine']);
    expect(spark).toContain(
      '<dt>Engine</dt><dd>spark <span class="muted">— the Spark job on local[2]</span></dd>',
    );
    expect(gapipe).toContain(
      '<dt>Engine</dt><dd>gapipe <span class="muted">— 2 consumer processes</span></dd>',
    );
    // --consumers sets gapipe's own consumers: beside another engine the figure would mislead.
    expect(factNames(spark)).not.toContain('Consumers');
    expect(factNames(gapipe)).toContain('Consumers');
    expect(factNames(spark)).toContain('Lag (records not yet counted)');
    expect(factNames(gapipe)).toContain('Consumer lag');

    // A result without engine fields (written before engines) reads as it always did.
    const html = renderReport(sampleBenchResult());
    expect(factNames(html)).not.toContain('Engine');
    expect(html).not.toContain('id="engine"');
    expect(html).not.toContain('class="how');
    expect(html).not.toContain('not measured for this engine');
  });

  it('says how each latency kind was measured, and that sink was not, leaving its line out', () => {
    for (const kind of ['produce-ack', 'delivery', 'visible'] as const) {
      expect(spark).toMatch(
        new RegExp(
          `${kind}<div[^>]*>[^<]*</div></th>(<td>[^<]*</td>){6}</tr><tr class="how-row"><td colspan="7" class="how small"><span class="muted">measured:</span> ([^<]*)</td></tr>`,
        ),
      );
    }
    expect(spark).toContain(
      '<span class="muted">measured:</span> a tap consumer in its own group (gapipe-bench-1a2b-tap): from the intended send time to the record&#39;s arrival there',
    );
    // Sink: a row that says so, not an empty row or zeros; no line on the plot, the legend says why.
    expect(spark).toMatch(
      /sink<div[^>]*>[^<]*<\/div><\/th><td colspan="6" class="muted center">not measured for this engine<\/td><\/tr>/,
    );
    expect(spark).not.toContain('no samples');
    expect(Object.keys(seriesPoints(plot(spark, 'latency'))).sort()).toEqual([
      'delivery',
      'produce-ack',
      'visible',
    ]);
    expect(spark).toMatch(/<li class="absent">.*sink — not measured for this engine<\/li>/);

    // gapipe measures sink itself: every kind drawn, each with how it was measured.
    expect(Object.keys(seriesPoints(plot(gapipe, 'latency'))).sort()).toEqual([...LATENCY_KINDS].sort());
    expect(gapipe.match(/<tr class="how-row">/g)).toHaveLength(4);
    expect(gapipe).not.toContain('not measured for this engine');
  });

  it('keeps "no samples" for a kind the engine has but that had none', () => {
    const out = renderReport(
      sampleBenchResult(
        {
          summary: { engine: { name: 'gapipe', description: '1 consumer', measuredBy: OUTSIDE_MEASURED_BY } },
        },
        { emptyKinds: ['visible'] },
      ),
    );
    expect(out).toMatch(/visible<div[^>]*>[^<]*<\/div><\/th><td colspan="6"[^>]*>no samples<\/td>/);
    expect(out).toContain('visible — no samples');
    // The result names no way sink was measured, yet it has samples: it is drawn, not hidden.
    expect(Object.keys(seriesPoints(plot(out, 'latency')))).toContain('sink');
  });

  it('labels consumed and the lag as counted in the engine’s documents, and leaves out what it cannot count', () => {
    expect(spark).toMatch(
      /<li data-series="consumed">.*consumed \(counted in the engine&#39;s documents\) <span class="figure">/,
    );
    expect(spark).toContain(
      'consumed, measured:</span> records the engine&#39;s documents count (each cell&#39;s events against each sent record&#39;s rank in it)',
    );
    expect(spark).toContain("<h3>Lag: records not yet counted in the engine's documents</h3>");
    expect(spark).not.toContain('<h3>Consumer lag</h3>');
    expect(plot(spark, 'lag')).toContain('>not yet counted<');
    expect(plot(spark, 'throughput')).toMatch(
      /data-tip="t = 30 s\ntarget [\d,]+\/s\nproduced [\d,]+\/s\nacknowledged [\d,]+\/s\nconsumed \(counted\) [\d,]+\/s\nnot yet counted [\d,]+ records"/,
    );
    // Documents written, late, dead-lettered, duplicates: gapipe's consumers count those.
    expect(() => plot(spark, 'written')).toThrow();
    expect(spark).toContain(
      'Not measured for this engine: gapipe counts the documents its own consumers write',
    );
    expect(spark).toMatch(
      /<tr><th>total<\/th>(<td>[\d,]+<\/td>){3}<td><span class="muted">—<\/span><\/td><td>0<\/td>(<td><span class="muted">—<\/span><\/td>){3}<\/tr>/,
    );

    // gapipe's own figures keep their names.
    expect(gapipe).toMatch(/<li data-series="consumed">.*consumed <span class="figure">/);
    expect(gapipe).toContain('<h3>Consumer lag</h3>');
    expect(plot(gapipe, 'lag')).toContain('>records behind<');
    expect(seriesPoints(plot(gapipe, 'written'))).toEqual({ written: 60 });
    expect(gapipe).not.toContain('consumed, measured:');
  });

  it('shows the engine’s CPU and memory, or why they were not measured', () => {
    const section = (out: string) =>
      /<section aria-labelledby="engine">[\s\S]*?<\/section>/.exec(out)?.[0] ?? '';
    expect(section(spark)).toContain(
      '<tr><th>spark (measured)</th><td>1.37 / 1.96 <span class="muted">of 8</span></td><td>1.5 GiB</td><td>4</td></tr>',
    );
    expect(section(spark)).toContain('read from /proc once a second while measured');
    expect(section(gapipe)).toContain(
      '<td>0.42 / 0.61 <span class="muted">of 8</span></td><td>180 MiB</td><td>2</td>',
    );
    expect(section(external)).toContain('not measured (its processes are not started by gapipe)');
    expect(section(external)).not.toContain('<table');
    expect(section(external)).not.toContain('Its CPU');
    const embedded = renderReport(
      sampleBenchResult(
        { summary: { engine: { name: 'gapipe', description: '1 consumer', measuredBy: {} } } },
        { target: 'embedded' },
      ),
    );
    expect(section(embedded)).toContain(
      'on the embedded target the consumers run in the bench&#39;s own process',
    );
    // The engine's section sits between the throughput and the instrument.
    expect(spark.indexOf('id="throughput"')).toBeLessThan(spark.indexOf('id="engine"'));
    expect(spark.indexOf('id="engine"')).toBeLessThan(spark.indexOf('id="instrument"'));
  });

  it('escapes what the result says of its engine', () => {
    const attack = '<script>alert(1)</script>';
    const out = renderReport(
      sampleBenchResult({
        summary: {
          engine: {
            name: 'external',
            description: attack,
            resources: { ...RESOURCES, method: attack },
            measuredBy: { ...OUTSIDE_MEASURED_BY, delivery: attack, consumed: attack },
          },
        },
      }),
    );
    expect(out).not.toContain('<script>alert');
    expect(out.split('&lt;script&gt;alert(1)&lt;/script&gt;').length - 1).toBeGreaterThanOrEqual(5);
  });
});

describe('latencyCurve', () => {
  it('walks the percentiles from the minimum to the maximum, in ms', () => {
    const histogram = newLatencyHistogram();
    for (let us = 1000; us <= 10_000_000; us += 1000) histogram.recordValue(us); // 1 ms … 10 s, 10,000 samples
    const curve = latencyCurve(encodeIntoCompressedBase64(histogram));

    expect(curve[0]).toMatchObject({ percentile: 0, x: 1 });
    expect(curve[0]?.valueMs).toBeCloseTo(1, 2);
    expect(curve.at(-1)).toMatchObject({ percentile: 100, x: 10_000 });
    expect(curve.at(-1)?.valueMs).toBeCloseTo(10_000, -1);
    // Twenty points per decade of 1/(1 − p) up to the sample count, then the maximum.
    expect(curve).toHaveLength(4 * 20 + 1);
    const p99 = curve.find((point) => Math.abs(point.percentile - 99) < 1e-9);
    expect(p99?.valueMs).toBeCloseTo(9900, -1);
    for (let i = 1; i < curve.length; i++) {
      expect(curve[i]?.x).toBeGreaterThan(curve[i - 1]?.x ?? 0);
      expect(curve[i]?.valueMs).toBeGreaterThanOrEqual(curve[i - 1]?.valueMs ?? 0);
    }
  });

  it('is empty for an empty histogram and throws on text that is not one', () => {
    expect(latencyCurve(encodeIntoCompressedBase64(newLatencyHistogram()))).toEqual([]);
    expect(() => latencyCurve('not a histogram')).toThrow();
  });
});
