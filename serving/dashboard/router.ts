// The live dashboard: `GET /` is a static page (plain HTML and one ES module, no build step) that polls
// JSON every second: /v1/status (lag), /v1/dashboard/stats (rates, latency; below), and the read API
// (/v1/hashtags/trending, /v1/users/<id>/feed). The page itself is public; the JSON under /v1 sits behind
// the same bearer token as the rest of the API, which the page takes from `?token=`.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import { DashboardSampler, type DashboardStatsOptions } from './stats.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const publicDir = path.join(here, 'public');
/** Chart.js ships a self-contained UMD build; served from node_modules, so no CDN and no bundler. */
const chartJsDist = path.dirname(createRequire(import.meta.url).resolve('chart.js'));

export interface DashboardRouter extends Router {
  sampler: DashboardSampler;
}

export function dashboardRouter(options: DashboardStatsOptions): DashboardRouter {
  const sampler = new DashboardSampler(options);
  const router = Router() as DashboardRouter;
  router.sampler = sampler;

  router.get('/v1/dashboard/stats', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(sampler.snapshot());
  });

  const page = express.static(publicDir, { index: 'index.html', maxAge: 0 });
  router.get('/', (req, res, next) => page(req, res, next));
  router.use('/dashboard', express.static(publicDir, { index: false, maxAge: 0 }));
  router.use('/dashboard/vendor/chart.js', express.static(chartJsDist, { index: false, maxAge: '1h' }));
  return router;
}
