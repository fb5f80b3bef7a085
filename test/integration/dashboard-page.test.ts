// The dashboard page in a real headless Chromium against a real `darkroom start` (embedded engines,
// simulator on, API token set): the page must draw its charts from live server data, not just load.
// Leaves a screenshot in test-artifacts/dashboard.png for a person to look at.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { tempDataDir, eventually } from '../helpers/tmp.ts';
import { freePort } from '../helpers/free-port.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'dashboard-test-token';

/** Counts pixels inside a chart's plot area whose color is near one of its datasets' colors. */
async function datasetPixels(page: Page, chart: 'rateChart' | 'trendingChart'): Promise<number> {
  return page.evaluate((name) => {
    // Runs in the page; the test program has no DOM types, hence `any`.
    const page = globalThis as any;
    const c = page.darkroomDashboard[name];
    const ratio = c.currentDevicePixelRatio ?? 1;
    const { left, top, right, bottom } = c.chartArea;
    const image = c.ctx.getImageData(Math.floor(left * ratio), Math.floor(top * ratio), Math.ceil((right - left) * ratio), Math.ceil((bottom - top) * ratio));
    const probe = page.document.createElement('canvas').getContext('2d');
    const colors = c.data.datasets.flatMap((d: any) => [d.borderColor, d.backgroundColor].flat()).filter(Boolean).map((css: string) => {
      probe.fillStyle = css;
      probe.fillRect(0, 0, 1, 1);
      return Array.from(probe.getImageData(0, 0, 1, 1).data.slice(0, 3));
    });
    let hits = 0;
    for (let i = 0; i < image.data.length; i += 4) {
      if (image.data[i + 3] < 128) continue;
      const [r, g, b] = [image.data[i], image.data[i + 1], image.data[i + 2]];
      if (colors.some(([cr, cg, cb]: number[]) => Math.abs(r - cr) + Math.abs(g - cg) + Math.abs(b - cb) < 60)) hits++;
    }
    return hits;
  }, chart);
}

const browserMissing = !existsSync(CHROMIUM);
if (browserMissing && process.env.CI === 'true') {
  describe('dashboard page', () => {
    it('needs Chromium', () => { throw new Error(`${CHROMIUM} is missing: run bash infra/install-browser.sh`); });
  });
}

describe.skipIf(browserMissing)(`dashboard page${browserMissing ? ` (skipped: ${CHROMIUM} missing; bash infra/install-browser.sh)` : ''}`, () => {
  const data = tempDataDir('darkroom-dashboard-');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'darkroom-chromium-'));
  let platform: ChildProcess;
  let output = '';
  let base = '';
  let context: BrowserContext;

  const api = async (url: string) => {
    const response = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: response.status, body: await response.json().catch(() => undefined) as any };
  };

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['KAFKA_BROKERS', 'REDIS_URL', 'CLICKHOUSE_URL', 'SCHEMA_REGISTRY_URL']) delete env[name];
    Object.assign(env, {
      PORT: String(port), DARKROOM_DATA_DIR: data.dir, DARKROOM_PARTITIONS: '4', DARKROOM_API_TOKEN: TOKEN,
      DARKROOM_SIMULATE: '1', DARKROOM_SIMULATE_RATE: '1500', DARKROOM_SIMULATE_USERS: '3000',
    });
    platform = spawn(process.execPath, [path.join(ROOT, 'cli/bin.mjs'), 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    platform.stdout!.on('data', (chunk) => { output += chunk; });
    platform.stderr!.on('data', (chunk) => { output += chunk; });
    await eventually(async () => {
      if (platform.exitCode !== null) throw new Error(`darkroom start exited ${platform.exitCode}: ${output.slice(-2000)}`);
      return (await fetch(`${base}/healthz`)).ok;
    }, 90_000, 'darkroom start to be ready');

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 1180 },
      deviceScaleFactor: 1,
    });
  });

  afterAll(async () => {
    await context?.close();
    if (platform && platform.exitCode === null) {
      const exited = new Promise((resolve) => platform.once('exit', resolve));
      platform.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (platform.exitCode === null) platform.kill('SIGKILL');
    }
    data.remove();
    rmSync(profile, { recursive: true, force: true });
  });

  it('draws live throughput, lag and latency from the server, and the trending chart and a feed when the read API is there', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${base}/?token=${TOKEN}`);

    // The token leaves the address bar but keeps working.
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);

    // A nonzero events/s that the server measured, shown by the page.
    await page.waitForFunction(() => Number((globalThis as any).document.getElementById('kpi-rate')?.dataset.value) > 0, undefined, { timeout: 60_000 });
    const shown = Number(await page.locator('#kpi-rate').getAttribute('data-value'));
    expect(shown).toBeGreaterThan(0);
    const server = await api('/v1/dashboard/stats');
    expect(server.status).toBe(200);
    expect(server.body.events_per_sec).toBeGreaterThan(0);
    expect(Object.values(server.body.latency as Record<string, { samples: number }>).some((l) => l.samples > 0)).toBe(true);

    // The throughput chart drew lines of the datasets' colors (grid and background alone would not count).
    await page.waitForFunction(() => {
      const chart = (globalThis as any).darkroomDashboard.rateChart as { data: { datasets: Array<{ data: unknown[] }> } };
      return chart.data.datasets.some((d) => d.data.length >= 6);
    }, undefined, { timeout: 30_000 });
    expect(await datasetPixels(page, 'rateChart')).toBeGreaterThan(300);

    // Processor rows with lag from /v1/status, and latency numbers from the stats.
    await expect.poll(() => page.locator('#processors tr').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    await expect.poll(() => page.locator('#kpi-latency').textContent(), { timeout: 20_000 }).toMatch(/\d+ (ms|s)/);

    // Trending and feed come from the read API (serving/read/); when this process serves it, the page must show it.
    const trending = await api('/v1/hashtags/trending?limit=20');
    if (trending.status === 200) {
      await page.waitForFunction(() => (globalThis as any).darkroomDashboard.trendingChart.data.labels.length > 0, undefined, { timeout: 60_000 });
      await page.waitForTimeout(1000); // the bars' grow animation
      expect(await datasetPixels(page, 'trendingChart')).toBeGreaterThan(300);
    } else {
      console.warn(`dashboard test: GET /v1/hashtags/trending answered ${trending.status}; trending chart not checked`);
    }
    const probe = await api('/v1/users/u1/feed?limit=1');
    if (probe.status === 200) {
      const user = await eventually(async () => {
        for (let n = 1; n <= 200; n++) if ((await api(`/v1/users/u${n}/feed?limit=1`)).body?.items?.length) return `u${n}`;
        return undefined;
      }, 60_000, 'a user with a non-empty feed');
      await page.fill('#feed-user', user);
      await expect.poll(() => page.locator('#feed li').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    } else {
      console.warn(`dashboard test: GET /v1/users/u1/feed answered ${probe.status}; feed panel not checked`);
    }

    mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(ROOT, 'test-artifacts/dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('tells the person to add the token when the server needs one', async () => {
    const page = await context.newPage(); // a new tab: no token in its session storage
    await page.goto(`${base}/`);
    await expect.poll(() => page.locator('#banner').textContent(), { timeout: 10_000 }).toContain('?token=');
    expect(await page.locator('#banner').isVisible()).toBe(true);
    await page.close();
  });
});
