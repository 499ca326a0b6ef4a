/**
 * The bench's report.html in a real browser (headless Chromium from Debian's `chromium` package):
 * it opens without errors or any network request, every plot is laid out and has data, no label is
 * cut off at a plot's edge or drawn over another, each line has a legend entry with the figure
 * result.json has for it, the axes fit the data, the tooltips work, and it fits a phone-width
 * screen — for sample results, for two real embedded runs: one that kept up and one whose
 * consumer fell behind, and for that second run read as an engine gapipe reads from outside (the
 * Spark job's: no sink latency, no documents-written plot, lag counted in its documents). Every chart (plot and legend) is saved as a screenshot, at desktop and phone
 * width, in a folder the test prints (GAPIPE_REPORT_SHOTS chooses it). Needs no Docker.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/bench/report/index.js';
import type { BenchResult } from '../../src/bench/types.js';
import { sampleBenchResult } from '../bench/fixtures.js';
import { embeddedRuns } from '../bench/helpers/embedded-runs.js';
import { asOutsideEngine, SPARK_RESOURCES } from '../bench/helpers/engine-results.js';

const CHROMIUM = process.env.GAPIPE_CHROMIUM || '/usr/bin/chromium';
// The rendered reports and the screenshots of every chart stay here after the run, for a look.
const dir = process.env.GAPIPE_REPORT_SHOTS || join(tmpdir(), 'gapipe-report-screenshots');

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install Debian's \`chromium\` package (apt-get install chromium) ` +
        'or point GAPIPE_CHROMIUM at a Chromium binary',
    );
  }
  // Each run starts from an empty folder, so every screenshot in it is this run's.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  console.log(`report e2e: reports and chart screenshots in ${dir}`);
  // --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
});

afterAll(async () => {
  await browser?.close();
  console.log(`report e2e: reports and chart screenshots kept in ${dir}`);
});

interface Opened {
  page: Page;
  /** Console errors, page errors, failed requests and any request other than the report itself. */
  problems: string[];
}

async function open(file: string, width: number): Promise<Opened> {
  const page = await browser.newPage();
  const url = pathToFileURL(file).href;
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('pageerror', (error) =>
    problems.push(`page error: ${error instanceof Error ? error.message : error}`),
  );
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('request', (request) => {
    if (request.url() !== url) problems.push(`request: ${request.url()}`);
  });
  await page.setViewport({ width, height: 900 });
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}

interface PlotLayout {
  plot: string;
  width: number;
  height: number;
  /** Points per data series (path commands, or polyline points). */
  series: Record<string, number>;
}

function plotLayouts(page: Page): Promise<PlotLayout[]> {
  return page.$$eval('svg[data-plot]', (svgs) =>
    svgs.map((svg) => {
      const box = svg.getBoundingClientRect();
      const series: Record<string, number> = {};
      for (const line of svg.querySelectorAll('path[data-series], polyline[data-series]')) {
        const name = line.getAttribute('data-series') ?? '';
        const points =
          line.tagName.toLowerCase() === 'path'
            ? ((line.getAttribute('d') ?? '').match(/[ML]/gi)?.length ?? 0)
            : (line.getAttribute('points') ?? '').trim().split(/\s+/).filter(Boolean).length;
        // A path with no length would be there but invisible. (This runs in the page; the project
        // compiles without the DOM library, hence the structural type.)
        const geometry = line as unknown as { getTotalLength?: () => number };
        const drawn = typeof geometry.getTotalLength === 'function' && geometry.getTotalLength() > 0;
        series[name] = drawn ? points : 0;
      }
      return { plot: svg.getAttribute('data-plot') ?? '', width: box.width, height: box.height, series };
    }),
  );
}

const runs = () => embeddedRuns(join(dir, 'runs'));

/** Desktop and phone widths, CSS px. */
const WIDTHS = { wide: 1200, narrow: 380 } as const;

const PLOTS = ['latency', 'throughput', 'lag', 'written', 'instrument', 'schedule'];
/** An engine read from outside writes no document gapipe counts: it has no documents-written plot. */
const OUTSIDE_PLOTS = PLOTS.filter((plot) => plot !== 'written');

const cases: Array<{
  name: string;
  result: () => BenchResult | Promise<BenchResult>;
  drawnKinds: string[];
  /** The second whose tooltip the hover test reads, and how that tooltip starts. */
  hover?: { nth: number; text: RegExp };
  /** The lag plot climbs (a run that fell behind) or stays near the floor. */
  lag?: 'climbs' | 'flat';
  /** An engine gapipe reads from outside: consumed and lag counted in its documents. */
  outside?: boolean;
}> = [
  {
    name: 'a passed lab run',
    result: () => sampleBenchResult(),
    drawnKinds: ['produce-ack', 'delivery', 'sink', 'visible'],
  },
  {
    name: 'a failed embedded run with an empty latency kind',
    result: () =>
      sampleBenchResult(
        { summary: { status: 'failed', failures: ['delivery.p99 was 612.3ms, not < 500ms'] } },
        { target: 'embedded', emptyKinds: ['visible'] },
      ),
    drawnKinds: ['produce-ack', 'delivery', 'sink'],
  },
  {
    name: 'a real embedded run that kept up',
    result: async () => (await runs()).keptUp.result,
    drawnKinds: ['produce-ack', 'delivery', 'sink', 'visible'],
    hover: { nth: 4, text: /^t = 4 s\ntarget 5,000\/s\nproduced [\d,]+\/s/ },
    lag: 'flat',
  },
  {
    name: 'a real embedded run whose consumer fell behind',
    result: async () => (await runs()).behind.result,
    drawnKinds: ['produce-ack', 'delivery', 'sink', 'visible'],
    hover: { nth: 4, text: /^t = 4 s\ntarget 5,000\/s\nproduced [\d,]+\/s/ },
    lag: 'climbs',
  },
  {
    name: 'that run read as the Spark job',
    result: async () => asOutsideEngine((await runs()).behind.result, 'spark', SPARK_RESOURCES),
    drawnKinds: ['produce-ack', 'delivery', 'visible'],
    hover: { nth: 4, text: /^t = 4 s\ntarget 5,000\/s\nproduced [\d,]+\/s/ },
    lag: 'climbs',
    outside: true,
  },
];

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

interface ChartText extends Box {
  text: string;
  className: string;
}

interface ChartBoxes {
  plot: string;
  /** The svg element and its plot area (the frame rectangle), on the screen. */
  svg: Box;
  area: Box | undefined;
  texts: ChartText[];
}

/** Every text of every plot with its box on the screen, so rotated axis titles count as drawn. */
function chartBoxes(page: Page): Promise<ChartBoxes[]> {
  return page.$$eval('svg[data-plot]', (svgs) =>
    svgs.map((svg) => {
      // (This runs in the page; the project compiles without the DOM library, hence the structural type.)
      const box = (element: unknown) => {
        const r = (element as { getBoundingClientRect: () => Box }).getBoundingClientRect();
        return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
      };
      const frame = svg.querySelector('rect.frame');
      return {
        plot: svg.getAttribute('data-plot') ?? '',
        svg: box(svg),
        area: frame ? box(frame) : undefined,
        texts: [...svg.querySelectorAll('text')].map((text) => ({
          ...box(text),
          text: text.textContent ?? '',
          className: text.getAttribute('class') ?? '',
        })),
      };
    }),
  );
}

/** Labels of one chart that run past its edge, or over one another (by more than a pixel). */
function labelProblems(chart: ChartBoxes): string[] {
  const problems: string[] = [];
  const { svg, texts } = chart;
  for (const t of texts) {
    if (
      t.left < svg.left - 0.5 ||
      t.top < svg.top - 0.5 ||
      t.right > svg.right + 0.5 ||
      t.bottom > svg.bottom + 0.5
    )
      problems.push(`${chart.plot}: "${t.text}" runs past the chart's edge`);
  }
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i] as ChartText;
      const b = texts[j] as ChartText;
      const overlapX = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const overlapY = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (overlapX > 1 && overlapY > 1) problems.push(`${chart.plot}: "${a.text}" overlaps "${b.text}"`);
    }
  }
  return problems;
}

/** Numbers as the report writes them: 12,345 (no locale). */
const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** An axis label such as "8k", "1.5 s", "100,000", "0.01" or "75%" as a number. */
function tickValue(text: string): number {
  const value = Number.parseFloat(text.replace(/,/g, ''));
  if (text.endsWith('k')) return value * 1000;
  if (text.endsWith('M')) return value * 1e6;
  return value;
}

describe.each(cases)('report.html of $name', ({ name, result, drawnKinds, hover, lag, outside }) => {
  const slug = name.replace(/\W+/g, '-');
  const plots = outside ? OUTSIDE_PLOTS : PLOTS;
  let file: string;
  let bench: BenchResult;

  beforeAll(async () => {
    file = join(dir, `${slug}.html`);
    bench = await result();
    writeFileSync(file, renderReport(bench));
  });

  it('opens without errors or network requests and draws every plot with data', async () => {
    const { page, problems } = await open(file, WIDTHS.wide);
    try {
      const layouts = await plotLayouts(page);
      expect(layouts.map((layout) => layout.plot)).toEqual(plots);
      for (const layout of layouts) {
        expect(layout.width, layout.plot).toBeGreaterThan(0);
        expect(layout.height, layout.plot).toBeGreaterThan(0);
        const withData = Object.values(layout.series).filter((points) => points >= 2);
        expect(withData.length, `${layout.plot} has a series with ≥ 2 points`).toBeGreaterThanOrEqual(1);
      }
      const latency = layouts.find((layout) => layout.plot === 'latency');
      expect(Object.keys(latency?.series ?? {}).sort()).toEqual([...drawnKinds].sort());
      if (outside) {
        // The kind the engine does not have is named as such, and the engine's own figures are shown.
        // (This runs in the page; the project compiles without the DOM library, hence the structural type.)
        const text = (element: unknown) => (element as { textContent: string | null }).textContent ?? '';
        const legend = await page.$eval('figure[data-chart="latency"] .legend', text);
        expect(legend).toContain('sink — not measured for this engine');
        const engine = await page.$eval('section[aria-labelledby="engine"]', text);
        expect(engine).toMatch(/spark \(measured\)[\d.]+ \/ [\d.]+ of \d+/);
      }

      const screenshot = join(dir, `${slug}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it.each(Object.entries(WIDTHS))(
    'at %s width keeps every label inside its chart, clear of the others and of the data, and saves each chart as a screenshot',
    async (widthName, width) => {
      const { page, problems } = await open(file, width);
      try {
        const charts = await chartBoxes(page);
        expect(charts.map((chart) => chart.plot)).toEqual(plots);
        // Text past the viewBox is cut off by the browser, and text over text is unreadable.
        expect(charts.flatMap(labelProblems)).toEqual([]);
        // The labels of the shaded stretches (warm-up, after the planned end) sit above the plot
        // area: inside it they crossed grid lines and data.
        for (const chart of charts) {
          for (const t of chart.texts.filter((text) => text.className === 'warmup-label'))
            expect(t.bottom, `${chart.plot}: "${t.text}"`).toBeLessThanOrEqual((chart.area?.top ?? 0) + 0.5);
        }
        // Each chart with what belongs to it (legend, notes), as a reader sees it.
        const figures = await page.$$('figure[data-chart]');
        expect(figures).toHaveLength(plots.length);
        for (const figure of figures) {
          const chart = await figure.evaluate((element) => element.getAttribute('data-chart') ?? '');
          const shot = join(dir, `${slug}-${widthName}-${chart}.png`);
          await figure.screenshot({ path: shot });
          expect(readFileSync(shot).subarray(1, 4).toString(), chart).toBe('PNG');
        }
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
  );

  it('names every line in a legend, with the figure result.json has for it', async () => {
    const { page, problems } = await open(file, WIDTHS.wide);
    try {
      const figures = await page.$$eval('figure[data-chart]', (elements) =>
        elements.map((figure) => ({
          chart: figure.getAttribute('data-chart') ?? '',
          drawn: [...figure.querySelectorAll('svg path[data-series]')]
            .filter((path) => ((path.getAttribute('d') ?? '').match(/[ML]/g)?.length ?? 0) >= 2)
            .map((path) => path.getAttribute('data-series') ?? ''),
          legend: Object.fromEntries(
            [...figure.querySelectorAll('.legend li[data-series]')].map((li) => [
              li.getAttribute('data-series') ?? '',
              li.querySelector('.figure')?.textContent ?? '',
            ]),
          ),
        })),
      );
      for (const { chart, drawn, legend } of figures) {
        // A plot of one line says what it is in its axis title; two or more need a legend.
        if (drawn.length > 1)
          expect(Object.keys(legend).sort(), chart).toEqual(expect.arrayContaining(drawn.sort()));
      }
      const { summary } = bench;
      const legendOf = (chart: string) => figures.find((f) => f.chart === chart)?.legend ?? {};
      const throughput = legendOf('throughput');
      for (const series of ['produced', 'acknowledged', 'consumed'] as const)
        expect(throughput[series], series).toBe(`${count(summary.throughput[series])}/s`);
      expect(throughput.target).toBe(`${count(summary.targetRate)}/s`);
      const latency = legendOf('latency');
      for (const kind of drawnKinds) {
        const shown = /^p99 ([\d,.]+) ms$/.exec(latency[kind] ?? '')?.[1];
        expect(shown, kind).toBeDefined();
        const p99 = summary.latency[kind as keyof typeof summary.latency].p99Ms;
        expect(Math.abs(Number(shown?.replace(/,/g, '')) - p99), kind).toBeLessThanOrEqual(
          Math.max(0.001, p99 * 0.005),
        );
      }
      // The lag: the run facts and the mark on the plot give result.json's maximum.
      const facts = await page.$eval('section[aria-label="Run"] dl', (dl) => dl.textContent ?? '');
      expect(facts).toContain(
        `${outside ? 'Lag (records not yet counted)' : 'Consumer lag'}${count(summary.maxLag)} records at most`,
      );
      const marks = await page.$$eval('svg[data-plot="lag"] text.mark-label', (texts) =>
        texts.map((t) => t.textContent ?? ''),
      );
      // A lag that stayed at zero is said in words: a line along the floor could be a line missing.
      expect(marks).toEqual([
        summary.maxLag > 0
          ? expect.stringMatching(new RegExp(`^most while measured: ${count(summary.maxLag)} records`))
          : 'no lag at any measured second',
      ]);
      if (lag === 'climbs') {
        // A consumer that fell behind reads so in the legend too: it consumed far less than was produced.
        expect(summary.throughput.consumed).toBeLessThan(summary.throughput.produced / 2);
        expect(facts).toMatch(/caught up \d+ s after the planned end|records behind when the run ended/);
      }
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('fits the axes to the data, and draws the target only while load was due', async () => {
    const { page, problems } = await open(file, WIDTHS.wide);
    try {
      // Latency: the log axis starts within a decade below the fastest drawn value and ends within
      // a decade above the slowest (a 0.001 ms floor under data from 1 ms wasted three decades).
      const latency = await page.$eval('svg[data-plot="latency"]', (svg) => ({
        ticks: [...svg.querySelectorAll('text.tick[text-anchor="end"]')].map((t) => t.textContent ?? ''),
        values: [...svg.querySelectorAll('circle.pt')].map((c) => c.getAttribute('data-tip') ?? ''),
      }));
      const ticks = latency.ticks.map(tickValue);
      const values = latency.values.map((tip) => Number(/: ([\d,.]+) ms$/.exec(tip)?.[1]?.replace(/,/g, '')));
      expect(values.length).toBeGreaterThan(0);
      const [axisMin, axisMax] = [Math.min(...ticks), Math.max(...ticks)];
      const [dataMin, dataMax] = [Math.min(...values), Math.max(...values)];
      expect(axisMin).toBeLessThanOrEqual(dataMin * 1.001);
      expect(dataMin).toBeLessThan(axisMin * 10);
      expect(axisMax).toBeGreaterThanOrEqual(dataMax * 0.999);
      expect(dataMax).toBeGreaterThan(axisMax / 10);

      // Throughput: the axis reaches the highest line without leaving most of the plot empty — or,
      // when consumers catching up ran at more than twice the load, stops there and writes the
      // figures it cut off at the top (else the load would be a flat line along the floor).
      const planned = Math.ceil((bench.config.warmupMs + bench.config.durationMs) / 1000);
      const throughput = await page.$eval('svg[data-plot="throughput"]', (svg) => ({
        ticks: [...svg.querySelectorAll('text.tick[text-anchor="end"]')].map((t) => t.textContent ?? ''),
        clipped: [...svg.querySelectorAll('.clipped text')].map((t) => t.textContent ?? ''),
      }));
      const top = Math.max(...throughput.ticks.map(tickValue));
      const load = Math.max(
        ...bench.series.flatMap((point) => [
          point.t <= planned ? point.targetRate : 0,
          point.produced,
          point.acknowledged,
        ]),
      );
      const highest = Math.max(load, ...bench.series.map((point) => point.consumed));
      const shown = Math.min(highest, 2 * load);
      expect(top).toBeGreaterThanOrEqual(shown);
      expect(top).toBeLessThan(shown * 2);
      const cut = bench.series.filter((point) => point.consumed > top);
      if (cut.length > 0) expect(throughput.clipped.length).toBeGreaterThan(0);
      else expect(throughput.clipped).toEqual([]);

      // Nothing is due after the planned end: the target line stops where that shading starts.
      const target = await page.$eval('svg[data-plot="throughput"]', (svg) => {
        const xs = [
          ...(svg.querySelector('path[data-series="target"]')?.getAttribute('d') ?? '').matchAll(
            /[ML]([\d.]+),/g,
          ),
        ].map((m) => Number(m[1]));
        const frame = svg.querySelector('rect.frame');
        const right = Number(frame?.getAttribute('x')) + Number(frame?.getAttribute('width'));
        const after = [...svg.querySelectorAll('rect.warmup')]
          .map((rect) => ({
            x: Number(rect.getAttribute('x')),
            end: Number(rect.getAttribute('x')) + Number(rect.getAttribute('width')),
          }))
          .find((rect) => Math.abs(rect.end - right) < 0.5 && rect.x > Number(frame?.getAttribute('x')) + 1);
        return { lastX: Math.max(...xs), afterStart: after?.x };
      });
      if (bench.series.some((point) => point.t > planned)) {
        expect(target.afterStart).toBeDefined();
        expect(target.lastX).toBeLessThanOrEqual((target.afterStart ?? 0) + 0.5);
      }

      if (lag) {
        // The lag axis reaches as high as the lag went: thousands of records behind, or a few.
        const lagTicks = await page.$$eval('svg[data-plot="lag"] text.tick', (texts) =>
          texts.map((t) => t.textContent ?? ''),
        );
        const lagValues = lagTicks.map((t) => Number.parseFloat(t) * (t.endsWith('k') ? 1000 : 1));
        const lagTop = Math.max(...lagValues.filter((v) => Number.isFinite(v)));
        if (lag === 'climbs') expect(lagTop).toBeGreaterThan(5000);
        else expect(lagTop).toBeLessThan(2500);
        const ys = await page.$eval('svg[data-plot="lag"] path[data-series="lag"]', (path) =>
          [...(path.getAttribute('d') ?? '').matchAll(/,([\d.]+)/g)].map((m) => Number(m[1])),
        );
        // And the line draws it: it climbs well off the floor (SVG y grows downwards).
        if (lag === 'climbs') expect(Math.max(...ys) - Math.min(...ys)).toBeGreaterThan(50);
      }
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('shows a second’s figures when hovering the throughput plot', async () => {
    const { page, problems } = await open(file, WIDTHS.wide);
    try {
      const band = await page.$(`svg[data-plot="throughput"] .band:nth-of-type(${hover?.nth ?? 30})`);
      expect(band).not.toBeNull();
      await band?.hover();
      const tip = await page.$eval('.tip', (element) => {
        const shown = element as unknown as { hidden: boolean; textContent: string | null };
        return { hidden: shown.hidden, text: shown.textContent ?? '' };
      });
      expect(tip.hidden).toBe(false);
      expect(tip.text).toMatch(hover?.text ?? /^t = 30 s\ntarget 5,000\/s\nproduced [\d,]+\/s/);
      expect(tip.text).toMatch(
        outside
          ? /\nconsumed \(counted\) [\d,]+\/s\nnot yet counted [\d,]+ records/
          : /\nwritten [\d,]+ documents\/s\nlag [\d,]+ records/,
      );
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('fits a phone-width screen without sideways scrolling', async () => {
    const { page, problems } = await open(file, WIDTHS.narrow);
    try {
      const scrollWidth = await page.evaluate('document.documentElement.scrollWidth');
      expect(scrollWidth).toBeLessThanOrEqual(WIDTHS.narrow);
      for (const layout of await plotLayouts(page)) {
        expect(layout.width, layout.plot).toBeGreaterThan(300);
        expect(layout.height, layout.plot).toBeGreaterThan(0);
      }
      await page.screenshot({ path: join(dir, `${slug}-narrow.png`), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
