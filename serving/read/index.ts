// The read API: the views the processors maintain, served as the product reads them.
//
//   GET /v1/users/{user_id}/feed?limit=20&cursor=...   home feed, hydrated (feed.ts)
//   GET /v1/hashtags/trending?limit=10                  global trending top (trending.ts)
//   GET /v1/posts/{post_id}/stats                       engagement counters (post-stats.ts)
//   GET /v1/users/{user_id}/stories                     story tray (stories.ts)
//
// Every read goes to one generation of the views (the one serving reads, see sinks/view-store.ts),
// looked up through the hot cache so a replay's switch is seen within `hotCacheMs`.
import { Router } from 'express';
import type { ScoredMember, ViewStore } from '../../sinks/view-store.ts';
import type { TrendingTag } from '../../processors/trending-hashtags/merge.ts';
import { HotCache } from '../single-flight.ts';
import { decodeCursor } from './cursor.ts';
import { FeedReader } from './feed.ts';
import { limitParam, pathId, queryText } from './params.ts';
import { readPostStats } from './post-stats.ts';
import { readStoryTray } from './stories.ts';
import { TrendingReader, TRENDING_TOP } from './trending.ts';

export interface ReadRouterOptions {
  views: ViewStore;
  /** The generation serving reads, e.g. `() => views.currentGeneration()`. */
  generation: () => Promise<string> | string;
  /** Wall clock (ms) deciding which stories and seen marks are still alive. */
  now?: () => number;
  trendingHalfLifeMinutes: number;
  /** Partitions of the trending repartition topic (= DARKROOM_PARTITIONS). */
  partitions: number;
  /** How long hot keys (celebrity timelines, trending, the generation) are served from memory. Default 250. */
  hotCacheMs?: number;
}

export interface ReadRouter extends Router {
  /** Backend loads of the hot caches, for tests and benchmarks. */
  hotLoads(): { timelines: number; trending: number };
}

const FEED_LIMIT = { fallback: 20, max: 100 };
const TRENDING_LIMIT = { fallback: 10, max: TRENDING_TOP };

export function readRouter(options: ReadRouterOptions): ReadRouter {
  const { views } = options;
  const now = options.now ?? Date.now;
  const ttlMs = options.hotCacheMs ?? 250;
  if (!Number.isInteger(options.partitions) || options.partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${options.partitions}`);
  }
  const generationCache = new HotCache<string>({ ttlMs });
  const timelines = new HotCache<ScoredMember[]>({ ttlMs });
  const trendingCache = new HotCache<TrendingTag[]>({ ttlMs, maxEntries: 16 });
  const feed = new FeedReader(views, timelines);
  const trending = new TrendingReader(views, trendingCache, options.partitions, options.trendingHalfLifeMinutes);
  const generation = () => generationCache.get('current', async () => options.generation());

  const router = Router() as ReadRouter;
  router.hotLoads = () => ({ timelines: timelines.loads, trending: trendingCache.loads });

  router.get('/v1/users/:user_id/feed', async (req, res) => {
    const user = pathId(req, 'user_id');
    const limit = limitParam(req, FEED_LIMIT.fallback, FEED_LIMIT.max);
    const cursorText = queryText(req, 'cursor');
    const cursor = cursorText === undefined || cursorText === '' ? undefined : decodeCursor(cursorText);
    res.json(await feed.page({ generation: await generation(), user, limit, cursor, now: now() }));
  });

  router.get('/v1/hashtags/trending', async (req, res) => {
    const limit = limitParam(req, TRENDING_LIMIT.fallback, TRENDING_LIMIT.max);
    res.json({ items: await trending.top(await generation(), limit) });
  });

  router.get('/v1/posts/:post_id/stats', async (req, res) => {
    const postId = pathId(req, 'post_id');
    res.json(await readPostStats(views, await generation(), postId));
  });

  router.get('/v1/users/:user_id/stories', async (req, res) => {
    const user = pathId(req, 'user_id');
    res.json({ items: await readStoryTray(views, await generation(), user, now()) });
  });

  return router;
}
