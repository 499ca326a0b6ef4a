/**
 * The bench's report.html in a real browser (headless Chromium from Debian's `chromium` package):
 * it opens without errors or any network request, every plot is laid out and has data, no label is
 * cut off at a plot's edge, the tooltips work, and it fits a phone-width screen — for sample
 * results, and for two real embedded runs: one that kept up and one whose consumer fell behind.
 * Each chart is also saved as a screenshot (GAPIPE_KEEP_REPORT=1 keeps them). Needs no Docker.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/bench/report.js';
import type { BenchResult } from '../../src/bench/types.js';
import { sampleBenchResult } from '../bench/fixtures.js';
import { embeddedRuns } from '../bench/helpers/embedded-runs.js';

const CHROMIUM = process.env.GAPIPE_CHROMIUM || '/usr/bin/chromium';
// Set GAPIPE_KEEP_REPORT=1 to keep the rendered reports and screenshots for a look.
const keep = Boolean(process.env.GAPIPE_KEEP_REPORT);

let dir: string;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install Debian's \`chromium\` package (apt-get install chromium) ` +
        'or point GAPIPE_CHROMIUM at a Chromium binary',
    );
  }
  dir = mkdtempSync(join(tmpdir(), 'gapipe-e2e-report-'));
  // --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
});

afterAll(async () => {
  await browser?.close();
  if (!dir) return;
  if (keep) console.log(`report e2e: reports and screenshots kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
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

const PLOTS = ['latency', 'throughput', 'lag', 'written', 'instrument', 'schedule'];

const cases: Array<{
  name: string;
  result: () => BenchResult | Promise<BenchResult>;
  drawnKinds: string[];
  /** The second whose tooltip the hover test reads, and how that tooltip starts. */
  hover?: { nth: number; text: RegExp };
  /** The lag plot climbs (a run that fell behind) or stays near the floor. */
  lag?: 'climbs' | 'flat';
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
];

describe.each(cases)('report.html of $name', ({ name, result, drawnKinds, hover, lag }) => {
  let file: string;

  beforeAll(async () => {
    file = join(dir, `${name.replace(/\W+/g, '-')}.html`);
    writeFileSync(file, renderReport(await result()));
  });

  it('opens without errors or network requests and draws every plot with data', async () => {
    const { page, problems } = await open(file, 1200);
    try {
      const layouts = await plotLayouts(page);
      expect(layouts.map((layout) => layout.plot)).toEqual(PLOTS);
      for (const layout of layouts) {
        expect(layout.width, layout.plot).toBeGreaterThan(0);
        expect(layout.height, layout.plot).toBeGreaterThan(0);
        const withData = Object.values(layout.series).filter((points) => points >= 2);
        expect(withData.length, `${layout.plot} has a series with ≥ 2 points`).toBeGreaterThanOrEqual(1);
      }
      const latency = layouts.find((layout) => layout.plot === 'latency');
      expect(Object.keys(latency?.series ?? {}).sort()).toEqual([...drawnKinds].sort());

      const screenshot = file.replace(/\.html$/, '.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('keeps every label inside its chart, and saves each chart as a screenshot', async () => {
    const { page, problems } = await open(file, 1200);
    try {
      // Text that runs past the viewBox is cut off by the browser: a label a reader cannot read.
      const outside = await page.$$eval('svg[data-plot]', (svgs) =>
        svgs.flatMap((svg) => {
          // Screen boxes, so rotated axis titles count as drawn.
          const frame = svg.getBoundingClientRect();
          return [...svg.querySelectorAll('text')].flatMap((text) => {
            const box = text.getBoundingClientRect();
            const inside =
              box.left >= frame.left - 0.5 &&
              box.top >= frame.top - 0.5 &&
              box.right <= frame.right + 0.5 &&
              box.bottom <= frame.bottom + 0.5;
            return inside ? [] : [`${svg.getAttribute('data-plot')}: "${text.textContent}"`];
          });
        }),
      );
      expect(outside).toEqual([]);
      for (const plot of PLOTS) {
        const chart = await page.$(`svg[data-plot="${plot}"]`);
        const shot = file.replace(/\.html$/, `-${plot}.png`);
        await chart?.screenshot({ path: shot });
        expect(readFileSync(shot).subarray(1, 4).toString(), plot).toBe('PNG');
      }
      if (lag) {
        // The lag axis reaches as high as the lag went: thousands of records behind, or a few.
        const ticks = await page.$$eval('svg[data-plot="lag"] text.tick', (texts) =>
          texts.map((t) => t.textContent ?? ''),
        );
        const values = ticks.map((t) => Number.parseFloat(t) * (t.endsWith('k') ? 1000 : 1));
        const top = Math.max(...values.filter((v) => Number.isFinite(v)));
        if (lag === 'climbs') expect(top).toBeGreaterThan(5000);
        else expect(top).toBeLessThan(2500);
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
    const { page, problems } = await open(file, 1200);
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
      expect(tip.text).toMatch(/\nwritten [\d,]+ documents\/s\nlag [\d,]+ records/);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('fits a phone-width screen without sideways scrolling', async () => {
    const { page, problems } = await open(file, 380);
    try {
      const scrollWidth = await page.evaluate('document.documentElement.scrollWidth');
      expect(scrollWidth).toBeLessThanOrEqual(380);
      for (const layout of await plotLayouts(page)) {
        expect(layout.width, layout.plot).toBeGreaterThan(300);
        expect(layout.height, layout.plot).toBeGreaterThan(0);
      }
      await page.screenshot({ path: file.replace(/\.html$/, '-narrow.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
