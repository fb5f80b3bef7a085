// The read API's fast paths (serving/read/): the in-memory post content cache must never show a
// deleted post nor stale counters; hashFieldsMany (one Redis script per page) must answer exactly as
// per-key reads do; the fast lane must answer as express did (token, parameters, errors, metrics).
// On the real stores: embedded lmdb, and Redis (a namespace of its own).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Effect } from '../../processors/effects.ts';
import { feedKey, followingKey, postKey } from '../../processors/feed-fanout/keys.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import { createApp } from '../../serving/app.ts';
import { createMetrics } from '../../serving/metrics.ts';
import { readRouter, type ReadRouter } from '../../serving/read/index.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import { createEmbeddedViewStore } from '../../sinks/embedded/embedded-view-store.ts';
import { createRedisViewStore } from '../../sinks/redis/redis-view-store.ts';
import { SERVICES } from '../service-endpoints.ts';
import { describeWith } from '../services.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const GEN = 'g1';
type Body = Record<string, any>;

interface Api { base: string; router: ReadRouter; server: Server; metrics: ReturnType<typeof createMetrics>; logs: string[]; laneCalls: () => number }

async function serve(views: ViewStore, apiToken?: string): Promise<Api> {
  const router = readRouter({ views, generation: async () => GEN, trendingHalfLifeMinutes: 60, partitions: 2, hotCacheMs: 0 });
  // Counts what the fast lane is offered, to tell it from express.
  let calls = 0;
  const fastRoutes = router.fastRoutes;
  router.fastRoutes = (path, query) => { calls++; return fastRoutes(path, query); };
  const metrics = createMetrics();
  const logs: string[] = [];
  const app = createApp({ metrics, apiToken, log: (l) => logs.push(l), ready: () => true, routes: [router] });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, router, server, metrics, logs, laneCalls: () => calls };
}

const post = (id: string, author: string, ts: number): Effect[] => [
  { kind: 'hset', key: postKey(id), fields: { post_id: id, author_id: author, created_at: ts, caption: `caption of ${id}`, hashtags: '["x"]', media_type: 'photo' } },
  { kind: 'zadd', key: feedKey('v'), member: `${id}|${author}`, score: ts },
];

function suite(open: () => Promise<ViewStore>, close: (views: ViewStore) => Promise<void>) {
  let views: ViewStore;
  let api: Api;
  const apply = (effects: Effect[]) => views.applyBatch({ generation: GEN, processor: 'fast-paths-test', effects, offsets: [] });
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${api.base}${path}`, { headers });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
  };

  beforeAll(async () => {
    views = await open();
    await apply([
      { kind: 'sadd', key: followingKey('v'), member: 'a' },
      ...post('p1', 'a', 1_000), ...post('p2', 'a', 2_000), ...post('p3', 'a', 3_000),
      { kind: 'hincr', key: statsKey('p2'), field: 'likes', by: 2 },
    ]);
    api = await serve(views);
  });
  afterAll(async () => {
    api?.server.close();
    if (views) await close(views);
  });

  it('a cached post vanishes from the feed at once when deleted; its counters are read fresh', async () => {
    const first = await get('/v1/users/v/feed');
    expect(first.body.items.map((i: Body) => i.post_id)).toEqual(['p3', 'p2', 'p1']);
    expect(first.body.items[1]).toEqual({
      post_id: 'p2', author_id: 'a', created_at: 2_000, caption: 'caption of p2', hashtags: ['x'], media_type: 'photo',
      stats: { likes: 2, comments: 0, shares: 0, views: 0 },
    });
    expect(first.headers.get('content-type')).toBe('application/json; charset=utf-8');

    await apply([{ kind: 'hincr', key: statsKey('p2'), field: 'likes', by: 1 }, { kind: 'hincr', key: statsKey('p3'), field: 'views', by: 5 }]);
    const before = api.router.postCacheStats().hits;
    const second = await get('/v1/users/v/feed');
    expect(api.router.postCacheStats().hits - before).toBe(3); // content from memory...
    expect(second.body.items.map((i: Body) => i.stats.likes + i.stats.views)).toEqual([5, 3, 0]); // ...counters not

    // Deleted as the processors delete it (the feed entry is still there for a while).
    await apply([{ kind: 'del', key: postKey('p2') }, { kind: 'del', key: statsKey('p2') }]);
    expect((await get('/v1/users/v/feed')).body.items.map((i: Body) => i.post_id)).toEqual(['p3', 'p1']);
    expect(api.laneCalls()).toBeGreaterThanOrEqual(3);
  });

  it('answers through express what the fast lane does not take, as before', async () => {
    const calls = api.laneCalls();
    const bad = await get('/v1/users/v/feed?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_parameter', message: 'limit must be an integer from 1 to 100, got "0"' });
    expect((await get('/v1/users/v/feed?limit=1&limit=2')).body.error.message).toBe('limit must be given once');
    // Encoded ids and a trailing slash are express's to decode and match.
    expect((await get('/v1/users/%76/feed?limit=1')).body.items.map((i: Body) => i.post_id)).toEqual(['p3']);
    expect((await get('/v1/users/v/feed/?limit=1')).body.items.map((i: Body) => i.post_id)).toEqual(['p3']);
    const head = await fetch(`${api.base}/v1/hashtags/trending`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    // Offered to the lane and declined: the two bad limits and the trailing slash; the rest never.
    expect(api.laneCalls() - calls).toBe(3);
  });

  it('records fast-lane requests in the request-duration metric under the route', async () => {
    await get('/v1/hashtags/trending?limit=3');
    const text = await api.metrics.registry.metrics();
    expect(text).toMatch(/darkroom_http_request_duration_seconds_count\{method="GET",route="\/v1\/hashtags\/trending",status="200"\} [1-9]/);
    expect(text).toMatch(/darkroom_http_request_duration_seconds_count\{method="GET",route="\/v1\/users\/:user_id\/feed",status="200"\} [1-9]/);
  });

  it('keeps the API token: a request without it gets the 401 express gives', async () => {
    const guarded = await serve(views, 'secret');
    try {
      const res = await fetch(`${guarded.base}/v1/users/v/feed`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const ok = await fetch(`${guarded.base}/v1/users/v/feed`, { headers: { authorization: 'Bearer secret' } });
      expect(((await ok.json()) as Body).items.length).toBe(2);
      expect(guarded.laneCalls()).toBe(2);
    } finally {
      guarded.server.close();
    }
  });

  it('answers a view store failure with the 500 the error handler gives, logged', async () => {
    const failing: ViewStore = { ...views, zrangeByScoreDesc: async () => { throw new Error('connection lost'); } };
    const broken = await serve(failing);
    try {
      const res = await fetch(`${broken.base}/v1/users/v/feed`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
      expect(broken.logs).toEqual(['internal error: connection lost']);
      expect(broken.laneCalls()).toBe(1);
    } finally {
      broken.server.close();
    }
  });
}

describe('read API fast paths, embedded view store', () => {
  const data = tempDataDir('darkroom-read-fast-');
  suite(() => createEmbeddedViewStore({ dataDir: data.dir }), async (views) => { await views.close(); data.remove(); });
});

describeWith(['redis'], 'read API fast paths, Redis view store', () => {
  const namespace = `readfast${process.pid}`;
  const cleanUp = async (views: ViewStore) => {
    for (let cursor: string | undefined; ;) {
      const page = await views.scan(GEN, cursor, 1000);
      if (page.entries.length) await views.applyBatch({ generation: GEN, processor: 'fast-paths-test', effects: page.entries.map((e) => ({ kind: 'del', key: e.key })), offsets: [] });
      if (!(cursor = page.cursor)) break;
    }
  };
  suite(async () => {
    const views = await createRedisViewStore({ url: SERVICES.redis, namespace });
    await cleanUp(views);
    return views;
  }, async (views) => { await cleanUp(views); await views.close(); });

  describe('hashFieldsMany', () => {
    let views: ViewStore;
    beforeAll(async () => {
      views = await createRedisViewStore({ url: SERVICES.redis, namespace: `${namespace}h` });
      await views.applyBatch({ generation: GEN, processor: 'fast-paths-test', offsets: [], effects: [
        { kind: 'hset', key: 'h:a', fields: { x: '1', y: '2', z: '3' } },
        { kind: 'hset', key: 'h:b', fields: { y: 'only y' } },
        ...Array.from({ length: 1_100 }, (_, i): Effect => ({ kind: 'hset', key: `h:n${i}`, fields: { n: i } })),
      ] });
    });
    afterAll(async () => {
      const keys = ['h:a', 'h:b', ...Array.from({ length: 1_100 }, (_, i) => `h:n${i}`)];
      await views?.applyBatch({ generation: GEN, processor: 'fast-paths-test', offsets: [], effects: keys.map((key) => ({ kind: 'del', key })) });
      await views?.close();
    });

    it('reads every field, chosen fields, or existence, null where nothing asked for is there', async () => {
      const xy = ['x', 'y'];
      expect(await views.hashFieldsMany!(GEN, [
        { key: 'h:a' }, { key: 'h:a', fields: xy }, { key: 'h:a', fields: [] }, { key: 'h:b', fields: xy },
        { key: 'h:b', fields: ['x', 'z'] }, { key: 'h:none' }, { key: 'h:none', fields: [] }, { key: 'h:none', fields: xy },
        { key: 'h:a', fields: ['z'] },
      ])).toEqual([
        { x: '1', y: '2', z: '3' }, { x: '1', y: '2' }, {}, { y: 'only y' },
        null, null, null, null,
        { z: '3' },
      ]);
      expect(await views.hashFieldsMany!(GEN, [])).toEqual([]);
      // Whole hashes agree with hgetallMany.
      expect(await views.hashFieldsMany!(GEN, [{ key: 'h:a' }, { key: 'h:b' }, { key: 'h:none' }]))
        .toEqual(await views.hgetallMany(GEN, ['h:a', 'h:b', 'h:none']));
    });

    it('checks existence right past the 500 keys of one EXISTS, one absent key among them', async () => {
      const keys = Array.from({ length: 1_100 }, (_, i) => `h:n${i}`);
      keys.splice(700, 0, 'h:gone');
      const found = await views.hashFieldsMany!(GEN, keys.map((key) => ({ key, fields: [] })));
      expect(found.filter((f) => f === null)).toHaveLength(1);
      expect(found[700]).toBeNull();
      expect(found[701]).toEqual({});
      const all = await views.hashFieldsMany!(GEN, keys.filter((k) => k !== 'h:gone').map((key) => ({ key, fields: [] })));
      expect(all.every((f) => f !== null)).toBe(true);
    });

    it('rejects a reserved or empty key as the other reads do', async () => {
      await expect(views.hashFieldsMany!(GEN, [{ key: 'offsets:x' }])).rejects.toThrow(/reserved prefix/);
      await expect(views.hashFieldsMany!(GEN, [{ key: '' }])).rejects.toThrow(/non-empty/);
    });
  });
});
