import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { latencyCurve, renderReport } from '../../src/bench/report.js';
import { LATENCY_KINDS } from '../../src/bench/types.js';
import { newLatencyHistogram, sampleBenchResult } from './fixtures.js';

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
    const yLabels = [...latency.matchAll(/<text class="tick" x="64"[^>]*>([^<]+)<\/text>/g)].map((m) => m[1]);
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
      /<li><svg class="line-swatch"[^>]*><line[^>]*stroke-dasharray="[^"]+"\/><\/svg>produce-ack<\/li>/,
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

  it('copes with a run that has no per-second data', () => {
    const out = renderReport(sampleBenchResult({ series: [] }));
    expect(seriesPoints(plot(out, 'throughput'))).toEqual({});
    expect(plot(out, 'lag')).toContain('no per-second data');
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
