// Replay and verify over the admin API (behind DARKROOM_ADMIN_TOKEN, mounted under /v1/admin by
// app.ts). In embedded mode the running platform owns the stores, so `darkroom replay` and
// `darkroom verify` ask it here instead of opening them:
//   POST /v1/admin/replay   {"processors": "all" | ["feed-fanout", ...], "keep_old": false, "from_snapshot": "snap-..."}
//                           → 202 {"replay": progress}; 409 while another replay runs, when the
//                           topics lost records to retention (without a usable snapshot) or the
//                           snapshot cannot serve; 400 for an unknown processor
//   POST /v1/admin/snapshots {"name": "before-fix"} (optional) copies the current generation into a
//                           snapshot → 201 {"snapshot": {generation, from, views}}; 409 during a replay
//   GET  /v1/admin/snapshots → {"snapshots": [{generation, records, unusable}]}
//   DELETE /v1/admin/snapshots/<name> drops a snapshot → 204; 404 unknown; 409 for the current generation
//   GET  /v1/admin/replay   → {"views": {generation, state, replay: progress | null}}
//   POST /v1/admin/verify   {"a": "g2", "b": "g3"} compares two generations; without "b" compares
//                           "a" (default: the current one) with a fresh rebuild → {identical, keys, differing, differences}
import express, { Router } from 'express';
import type { ViewStore } from '../sinks/view-store.ts';
import { ReplayRefused, compareGenerations, listSnapshots, verifyAgainstRebuild, type LiveViews, type StartViews } from '../processors/replay/index.ts';
import type { Topology } from '../processors/topology.ts';
import type { TopicBackend } from '../topics/types.ts';
import { HttpError } from './errors.ts';

export interface ReplayAdminOptions {
  /** Absent in a process without the processor role. */
  live?: LiveViews;
  views: ViewStore;
  backend: TopicBackend;
  topology: Topology;
  startViews?: StartViews;
}

const GENERATION = /^[A-Za-z0-9_-]{1,64}$/;

export function replayAdminRouter(options: ReplayAdminOptions): Router {
  const router = Router();
  const json = express.json({ limit: 16 * 1024, type: () => true });
  const needLive = (): LiveViews => {
    if (!options.live || !options.startViews) throw new HttpError(503, 'processors_unavailable', 'this process does not run the processors (start it with the process role)');
    return options.live;
  };

  router.post('/v1/admin/replay', json, async (req, res, next) => {
    try {
      const body = (req.body ?? {}) as { processors?: unknown; keep_old?: unknown; from_snapshot?: unknown };
      const processors = body.processors ?? 'all';
      if (processors !== 'all' && !(Array.isArray(processors) && processors.length && processors.every((p) => typeof p === 'string'))) {
        throw new HttpError(400, 'invalid_request', 'processors must be "all" or a non-empty list of processor names');
      }
      if (body.from_snapshot !== undefined && (typeof body.from_snapshot !== 'string' || !GENERATION.test(body.from_snapshot))) {
        throw new HttpError(400, 'invalid_request', 'from_snapshot must be a snapshot name');
      }
      const live = needLive();
      try {
        const replay = await live.replay({ processors: processors as string[] | 'all', keepOld: body.keep_old === true, fromSnapshot: body.from_snapshot as string | undefined });
        res.status(202).json({ replay });
      } catch (error) {
        if (!(error instanceof ReplayRefused)) throw error;
        const unknown = /unknown processor/.test(error.message);
        throw new HttpError(unknown ? 400 : 409, unknown ? 'unknown_processor' : 'replay_refused', error.message);
      }
    } catch (error) { next(error); }
  });

  router.get('/v1/admin/replay', (_req, res, next) => {
    try {
      res.json({ views: needLive().status() });
    } catch (error) { next(error); }
  });

  router.post('/v1/admin/snapshots', json, async (req, res, next) => {
    try {
      const body = (req.body ?? {}) as { name?: unknown };
      if (body.name !== undefined && (typeof body.name !== 'string' || !GENERATION.test(body.name))) {
        throw new HttpError(400, 'invalid_request', "name must be 1-64 letters, digits, '-' or '_'");
      }
      const live = needLive();
      try {
        res.status(201).json({ snapshot: await live.snapshot(body.name as string | undefined) });
      } catch (error) {
        if (!(error instanceof ReplayRefused)) throw error;
        throw new HttpError(409, 'snapshot_refused', error.message);
      }
    } catch (error) { next(error); }
  });

  router.get('/v1/admin/snapshots', async (_req, res, next) => {
    try {
      res.json({ snapshots: await listSnapshots(options.views, options.backend, options.topology) });
    } catch (error) { next(error); }
  });

  router.delete('/v1/admin/snapshots/:name', async (req, res, next) => {
    try {
      const name = String(req.params.name);
      if (!GENERATION.test(name)) throw new HttpError(400, 'invalid_request', 'not a snapshot name');
      if (!(await options.views.generations()).includes(name)) throw new HttpError(404, 'unknown_snapshot', `no snapshot ${name}`);
      if (name === (options.live?.generation() ?? await options.views.currentGeneration())) {
        throw new HttpError(409, 'snapshot_refused', `${name} is the generation serving reads, not a snapshot`);
      }
      await options.views.dropGeneration(name);
      res.status(204).end();
    } catch (error) { next(error); }
  });

  router.post('/v1/admin/verify', json, async (req, res, next) => {
    try {
      const body = (req.body ?? {}) as { a?: unknown; b?: unknown };
      for (const g of [body.a, body.b]) {
        if (g !== undefined && (typeof g !== 'string' || !GENERATION.test(g))) throw new HttpError(400, 'invalid_request', 'a and b must be generation names');
      }
      const a = (body.a as string | undefined) ?? (options.live?.generation() ?? await options.views.currentGeneration());
      const known = await options.views.generations();
      for (const g of [a, body.b as string | undefined]) {
        if (g !== undefined && !known.includes(g)) throw new HttpError(404, 'unknown_generation', `generation ${g} holds no data (generations: ${known.join(', ') || 'none'})`);
      }
      if (typeof body.b === 'string') {
        const result = await compareGenerations(options.views, a, body.b);
        res.json({ a, b: body.b, identical: result.differing === 0, ...result });
        return;
      }
      needLive();
      const result = await verifyAgainstRebuild({ views: options.views, backend: options.backend, topology: options.topology, startViews: options.startViews!, generation: a })
        .catch((error: Error) => { throw error instanceof ReplayRefused ? new HttpError(409, 'replay_refused', error.message) : error; });
      res.json({ a, b: 'fresh rebuild', identical: result.differing === 0, keys: result.keys, differing: result.differing, differences: result.differences });
    } catch (error) { next(error); }
  });
  return router;
}
