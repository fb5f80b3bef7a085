// Admin routes under /v1/admin, behind DARKROOM_ADMIN_TOKEN (see auth.ts, mounted by app.ts):
//   POST /v1/admin/sql      {"sql": "SELECT ..."} → {"rows": [...]}: `darkroom sql` against a running
//                           platform (chDB allows one process per data directory, so the CLI cannot
//                           open it while the platform runs); read-only (sinks/analytics/read-only.ts).
//   GET  /v1/admin/flagged  accounts flagged by the abuse processor, with reason, count and time.
import express, { Router } from 'express';
import type { AnalyticsStore } from '../sinks/analytics/analytics-store.ts';
import type { ViewStore } from '../sinks/view-store.ts';
import { FLAGGED_SET_KEY, flaggedKey } from '../processors/abuse/keys.ts';
import { HttpError } from './errors.ts';

export interface AdminOptions {
  /** Absent in a process without the processor role: the SQL route answers 503 there. */
  analytics?: Pick<AnalyticsStore, 'query'>;
  views?: Pick<ViewStore, 'smembers' | 'hgetallMany'>;
  generation?: () => string | Promise<string>;
  maxSqlBytes?: number;
}

export function adminRouter(options: AdminOptions): Router {
  const router = Router();
  router.post('/v1/admin/sql', express.json({ limit: options.maxSqlBytes ?? 64 * 1024, type: () => true }), async (req, res, next) => {
    try {
      const sql = (req.body as { sql?: unknown } | null)?.sql;
      if (typeof sql !== 'string' || !sql.trim()) {
        throw new HttpError(400, 'invalid_query', 'body must be {"sql": "SELECT ..."}');
      }
      if (!options.analytics) {
        throw new HttpError(503, 'analytics_unavailable', 'this process does not run the analytics store (start it with the process role)');
      }
      let rows: Array<Record<string, unknown>>;
      try {
        rows = await options.analytics.query(sql);
      } catch (error) {
        const message = (error as Error).message;
        throw new HttpError(400, /refused/.test(message) ? 'query_refused' : 'query_failed', message);
      }
      res.json({ rows });
    } catch (error) { next(error); }
  });

  router.get('/v1/admin/flagged', async (_req, res, next) => {
    try {
      if (!options.views || !options.generation) throw new HttpError(503, 'views_unavailable', 'this process has no view store');
      const generation = await options.generation();
      const users = (await options.views.smembers(generation, FLAGGED_SET_KEY, Date.now())).sort();
      const flags = await options.views.hgetallMany(generation, users.map(flaggedKey));
      res.json({ flagged: users.map((user, i) => ({ user, ...flags[i] })) });
    } catch (error) { next(error); }
  });
  return router;
}
