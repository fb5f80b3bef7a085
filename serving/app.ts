import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type Router } from 'express';
import { requireAdminToken, requireToken } from './auth.ts';
import { errorHandler, HttpError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { createFastLane, type FastRoutes } from './read/fast-lane.ts';

export interface AppOptions {
  metrics: Metrics;
  apiToken?: string;
  /** Routers mounted under the token check: ingest, read API, status. */
  routes: Router[];
  /** Routers without auth: the dashboard page. */
  publicRoutes?: Router[];
  /** Routers under /v1/admin, behind the admin token only (DARKROOM_ADMIN_TOKEN; off when unset). */
  adminRoutes?: Router[];
  adminToken?: string;
  ready: () => boolean;
  log: (line: string) => void;
}

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(options.metrics.httpTimer);
  app.get('/healthz', (_req, res) => {
    const ready = options.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'starting' });
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.setHeader('Content-Type', options.metrics.registry.contentType);
      res.send(await options.metrics.registry.metrics());
    } catch (error) { next(error); }
  });
  // Admin first: it has its own token, and the API token must not open it.
  app.use('/v1/admin', requireAdminToken(options.adminToken));
  for (const router of options.adminRoutes ?? []) app.use(router);
  app.use('/v1', requireToken(options.apiToken));
  for (const router of options.routes) app.use(router);
  for (const router of options.publicRoutes ?? []) app.use(router);
  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(options.log));

  // Hot reads (feed, trending) offered by a router skip express's per-request setup, with the same
  // token check, metric and JSON; anything else goes through express (serving/read/fast-lane.ts).
  const fastRoutes = options.routes.flatMap((r) => (r as { fastRoutes?: FastRoutes }).fastRoutes ?? []);
  if (fastRoutes.length) {
    const lane = createFastLane({ routes: fastRoutes, apiToken: options.apiToken, metrics: options.metrics, log: options.log });
    type Handle = (req: IncomingMessage, res: ServerResponse, next?: unknown) => void;
    const viaExpress = (app as unknown as { handle: Handle }).handle.bind(app);
    (app as unknown as { handle: Handle }).handle = (req, res, next) => { if (!lane(req, res)) viaExpress(req, res, next); };
  }
  return app;
}
