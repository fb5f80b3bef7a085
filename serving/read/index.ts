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
import { sendJson, type FastRoutes } from './fast-lane.ts';
import { limitParam, pathId, queryText, type Query } from './params.ts';
import { PostContentCache } from './post-cache.ts';
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
  /** Posts whose (immutable) content the feed keeps in memory; 0 reads it every time. Default 100,000 (~40 MB). */
  postCacheEntries?: number;
}

export interface ReadRouter extends Router {
  /** Backend loads of the hot caches, for tests and benchmarks. */
  hotLoads(): { timelines: number; trending: number };
  /** Lookups of the feed's post content cache answered from memory, and not. */
  postCacheStats(): { hits: number; misses: number; size: number };
  /** The feed and trending reads for the app's fast lane (fast-lane.ts). */
  fastRoutes: FastRoutes;
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
  // Trending is one key read by every request: when its period ends, requests keep getting the last
  // top while one read refreshes it, so none of them waits for the store (the top is then at most two
  // periods old). Not for the generation pointer: after a replay's switch the old generation is dropped.
  const trendingCache = new HotCache<TrendingTag[]>({ ttlMs, serveStaleMs: ttlMs, maxEntries: 16 });
  const posts = new PostContentCache(options.postCacheEntries ?? 100_000);
  const feed = new FeedReader(views, timelines, posts);
  const trending = new TrendingReader(views, trendingCache, options.partitions, options.trendingHalfLifeMinutes);
  const generation = () => generationCache.get('current', async () => options.generation());

  /** Both the express route and the fast lane answer with these, from checked parameters. */
  const feedBody = (userParam: unknown, query: Query) => {
    const user = pathId(userParam, 'user_id');
    const limit = limitParam(query, FEED_LIMIT.fallback, FEED_LIMIT.max);
    const cursorText = queryText(query, 'cursor');
    const cursor = cursorText === undefined || cursorText === '' ? undefined : decodeCursor(cursorText);
    return async () => JSON.stringify(await feed.page({ generation: await generation(), user, limit, cursor, now: now() }));
  };
  const trendingBody = (query: Query) => {
    const limit = limitParam(query, TRENDING_LIMIT.fallback, TRENDING_LIMIT.max);
    // The same bytes for every request of a cache period: serialized once per (top, limit).
    return async () => trending.topJson(await generation(), limit);
  };

  const router = Router() as ReadRouter;
  router.hotLoads = () => ({ timelines: timelines.loads, trending: trendingCache.loads });
  router.postCacheStats = () => ({ hits: posts.hits, misses: posts.misses, size: posts.size });

  router.get(FEED_ROUTE, async (req, res) => {
    sendJson(res, 200, await feedBody(req.params.user_id, req.query)());
  });

  router.get(TRENDING_ROUTE, async (req, res) => {
    sendJson(res, 200, await trendingBody(req.query)());
  });

  router.get('/v1/posts/:post_id/stats', async (req, res) => {
    const postId = pathId(req.params.post_id, 'post_id');
    res.json(await readPostStats(views, await generation(), postId));
  });

  router.get('/v1/users/:user_id/stories', async (req, res) => {
    const user = pathId(req.params.user_id, 'user_id');
    res.json({ items: await readStoryTray(views, await generation(), user, now()) });
  });

  // The same two reads for the fast lane (fast-lane.ts), on canonical paths only.
  router.fastRoutes = (path, query) => {
    if (path === TRENDING_ROUTE) return { route: TRENDING_ROUTE, body: trendingBody(query) };
    if (path.startsWith(USERS_PREFIX) && path.endsWith(FEED_SUFFIX)) {
      const user = path.slice(USERS_PREFIX.length, path.length - FEED_SUFFIX.length);
      if (user.length > 0 && !user.includes('/')) return { route: FEED_ROUTE, body: feedBody(user, query) };
    }
    return undefined;
  };

  return router;
}

const FEED_ROUTE = '/v1/users/:user_id/feed';
const TRENDING_ROUTE = '/v1/hashtags/trending';
const USERS_PREFIX = '/v1/users/';
const FEED_SUFFIX = '/feed';
