// Contract of the read API (serving/read/), end to end: real events through the producer, the real
// processors into the real view store (embedded lmdb, then Kafka + Redis), read over HTTP.
// Both modes run in one file on one data directory, one after the other: chDB (every platform's
// analytics store) allows one data directory per process.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateEvents } from '../../schemas/validate.ts';
import { createApp } from '../../serving/app.ts';
import { createMetrics } from '../../serving/metrics.ts';
import { readRouter, type ReadRouter } from '../../serving/read/index.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import { startTestPlatform, type EngineMode, type TestPlatform } from '../helpers/platform.ts';
import { tempDataDir } from '../helpers/tmp.ts';
import { describeWith } from '../services.ts';

const data = tempDataDir('darkroom-read-api-');
afterAll(() => data.remove());

const PARTITIONS = 4;
const HOUR = 3600_000;

type Body = Record<string, any>;

interface Served { base: string; router: ReadRouter; server: Server }

async function serve(views: ViewStore, hotCacheMs?: number): Promise<Served> {
  const router = readRouter({
    views, generation: () => views.currentGeneration(), trendingHalfLifeMinutes: 60, partitions: PARTITIONS, hotCacheMs,
  });
  const app = createApp({ metrics: createMetrics(), log: () => {}, ready: () => true, routes: [router] });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, router, server };
}

/** Counts the view store's reads of a key, to see what the hot cache saves. */
function countingViews(views: ViewStore, counts: Map<string, number>): ViewStore {
  const count = (keys: string[]) => { for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1); };
  return {
    ...views,
    zrangeByScoreDesc: (g, key, range) => { count([key]); return views.zrangeByScoreDesc(g, key, range); },
    zrangeByScoreDescMany: (g, keys, range) => { count(keys); return views.zrangeByScoreDescMany(g, keys, range); },
    hgetallMany: (g, keys) => { count(keys); return views.hgetallMany(g, keys); },
  };
}

function contract(mode: EngineMode) {
  let platform: TestPlatform;
  let api: Served;
  const T = Date.now() - 2 * HOUR; // event time of the story line; stories expire against the wall clock
  const get = async (path: string): Promise<{ status: number; body: Body }> => {
    const res = await fetch(`${api.base}${path}`);
    return { status: res.status, body: (await res.json()) as Body };
  };
  /** Events go through ingest validation (ids, hashtags from captions), then the producer. */
  const send = async (events: object[]) => {
    const checked = validateEvents(events, { now: Date.now(), newId: randomUUID });
    if (!checked.ok) throw new Error(`test event ${checked.index}: ${checked.message}`);
    await platform.producer.send(checked.events);
    await platform.caughtUp();
  };
  const follow = (follower: string, followee: string, ts = T) => ({ type: 'follow', follower_id: follower, followee_id: followee, ts }) as const;
  const post = (postId: string, author: string, ts: number, caption = 'no tags here', mediaType = 'photo') =>
    ({ type: 'post_created', post_id: postId, author_id: author, ts, caption, media_type: mediaType });
  const story = (storyId: string, author: string, createdAt: number) =>
    ({ type: 'story_created', story_id: storyId, author_id: author, ts: createdAt, expires_at: createdAt + 24 * HOUR }) as const;
  const feedIds = (body: Body) => (body.items as Body[]).map((i) => i.post_id);

  /** Every page of a feed, following next_cursor. */
  async function allPages(user: string, limit: number): Promise<string[][]> {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const { status, body } = await get(`/v1/users/${user}/feed?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      pages.push(feedIds(body));
      cursor = body.next_cursor;
    } while (cursor && pages.length < 50);
    return pages;
  }

  beforeAll(async () => {
    platform = await startTestPlatform({ mode, dataDir: data.dir, topology: { partitions: PARTITIONS, celebrityFollowers: 3 } });
    api = await serve(platform.views);

    // The graph first (follows and posts are different topics: their relative order is not fixed).
    // v follows a, b, c, d, e, z; c gets a third follower and becomes a celebrity (fanout on read).
    await send([
      ...['a', 'b', 'c', 'd', 'e', 'z'].map((x) => follow('v', x)),
      follow('f1', 'c'), follow('f2', 'c'), follow('f1', 'a'),
    ]);
    await send([
      post('pa1', 'a', T + 1_000),
      post('pb1', 'b', T + 2_000),
      post('pc1', 'c', T + 3_000),
      post('pv1', 'v', T + 3_000), // same ms as pc1, from the other source: ties go by post_id desc
      post('pa2', 'a', T + 5_000),
      post('pc2', 'c', T + 6_000, 'a reel', 'reel'),
      post('pd1', 'd', T + 7_000),
      post('pe1', 'e', T + 8_000),
      post('pz1', 'z', T + 9_000),
      post('pa3', 'a', T + 10_000),
    ]);
    await send([
      { type: 'block', blocker_id: 'v', blocked_id: 'd', ts: T + 11_000 },
      { type: 'unfollow', follower_id: 'v', followee_id: 'e', ts: T + 11_000 },
      { type: 'block', blocker_id: 'z', blocked_id: 'v', ts: T + 11_000 },
      { type: 'post_deleted', post_id: 'pa3', author_id: 'a', ts: T + 12_000 },
      // Engagement of pa2 and of the reel pc2.
      { type: 'like', user_id: 'u1', post_id: 'pa2', ts: T + 13_000 },
      { type: 'like', user_id: 'u2', post_id: 'pa2', ts: T + 13_001 },
      { type: 'unlike', user_id: 'u1', post_id: 'pa2', ts: T + 13_002 },
      { type: 'comment', comment_id: 'k1', user_id: 'u3', post_id: 'pa2', text: 'nice', ts: T + 13_003 },
      { type: 'share', user_id: 'u3', post_id: 'pa2', ts: T + 13_004 },
      { type: 'post_seen', viewer_id: 'u4', post_id: 'pa2', ts: T + 13_005 },
      { type: 'reel_watched', viewer_id: 'u5', post_id: 'pc2', watched_ms: 9_600, duration_ms: 10_000, ts: T + 13_006 },
      { type: 'reel_watched', viewer_id: 'u6', post_id: 'pc2', watched_ms: 1_000, duration_ms: 10_000, ts: T + 13_007 },
    ]);
  });

  afterAll(async () => {
    api?.server.close();
    await platform?.close();
  });

  describe('GET /v1/users/{user_id}/feed', () => {
    it('merges the celebrity timeline at read time, newest first, ties by post_id desc, hydrated', async () => {
      const { status, body } = await get('/v1/users/v/feed');
      expect(status).toBe(200);
      // pc1 and pc2 exist only in c's timeline: c became a celebrity before posting.
      expect(await platform.views.zscoreMany(platform.generation, 'feed:v', ['pc2|c'])).toEqual([null]);
      expect(feedIds(body)).toEqual(['pc2', 'pa2', 'pv1', 'pc1', 'pb1', 'pa1']);
      expect(body.next_cursor).toBeNull();
      const pa2 = (body.items as Body[]).find((i) => i.post_id === 'pa2');
      expect(pa2).toEqual({
        post_id: 'pa2', author_id: 'a', created_at: T + 5_000, caption: 'no tags here', hashtags: [], media_type: 'photo',
        stats: { likes: 1, comments: 1, shares: 1, views: 1 },
      });
      expect((body.items as Body[])[0]).toMatchObject({ post_id: 'pc2', author_id: 'c', media_type: 'reel', stats: { views: 2 } });
    });

    it('never shows a deleted post, a blocked or blocking author, or an unfollowed account', async () => {
      const ids = feedIds((await get('/v1/users/v/feed?limit=100')).body);
      expect(ids).not.toContain('pa3'); // deleted
      expect(ids).not.toContain('pd1'); // v blocked d
      expect(ids).not.toContain('pz1'); // z blocked v
      expect(ids).not.toContain('pe1'); // v unfollowed e
      // The celebrity's other followers see its posts too; f1 also sees a's, not v's.
      expect(feedIds((await get('/v1/users/f1/feed')).body)).toEqual(['pc2', 'pa2', 'pc1', 'pa1']);
      expect(feedIds((await get('/v1/users/nobody/feed')).body)).toEqual([]);
    });

    it('drops a celebrity from the merge on unfollow', async () => {
      await send([{ type: 'unfollow', follower_id: 'f2', followee_id: 'c', ts: T + 14_000 }]);
      expect((await get('/v1/users/f2/feed')).body).toEqual({ items: [], next_cursor: null });
    });

    it('pages neither repeat nor skip posts when new posts arrive between page reads', async () => {
      const page1 = (await get('/v1/users/v/feed?limit=2')).body;
      expect(feedIds(page1)).toEqual(['pc2', 'pa2']);
      expect(typeof page1.next_cursor).toBe('string');
      // New posts from a fanned-out author and from the celebrity, between page 1 and page 2.
      await send([post('pa4', 'a', T + 20_000), post('pc3', 'c', T + 21_000)]);
      const page2 = (await get(`/v1/users/v/feed?limit=2&cursor=${page1.next_cursor}`)).body;
      expect(feedIds(page2)).toEqual(['pv1', 'pc1']); // the tie at T+3000 split across sources, in order
      const page3 = (await get(`/v1/users/v/feed?limit=2&cursor=${page2.next_cursor}`)).body;
      expect(feedIds(page3)).toEqual(['pb1', 'pa1']);
      expect(page3.next_cursor).toBeNull(); // nothing older: the last page says so
      // A fresh read starts with the new posts; walking it with limit 1 visits every post once.
      expect((await allPages('v', 1)).flat()).toEqual(['pc3', 'pa4', 'pc2', 'pa2', 'pv1', 'pc1', 'pb1', 'pa1']);
      expect((await allPages('v', 3)).flat()).toEqual(['pc3', 'pa4', 'pc2', 'pa2', 'pv1', 'pc1', 'pb1', 'pa1']);
    });

    it('rejects bad parameters with 400 and a message naming them', async () => {
      for (const query of ['limit=0', 'limit=101', 'limit=abc', 'limit=2.5', 'limit=1&limit=2', 'cursor=nope!', `cursor=${Buffer.from('{"t":"x"}').toString('base64url')}`]) {
        const { status, body } = await get(`/v1/users/v/feed?${query}`);
        expect(status, query).toBe(400);
        expect(body.error.code).toBe('invalid_parameter');
        expect(body.error.message).toMatch(/^(limit|cursor) /);
      }
      const tooLong = await get(`/v1/users/${'x'.repeat(65)}/feed`);
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.error.message).toMatch(/user_id/);
    });
  });

  describe('GET /v1/posts/{post_id}/stats', () => {
    it('returns the counters, completion rate included', async () => {
      expect(await get('/v1/posts/pa2/stats')).toEqual({
        status: 200,
        body: { post_id: 'pa2', likes: 1, comments: 1, shares: 1, views: 1, watch_ms: 0, completion_rate: 0 },
      });
      expect((await get('/v1/posts/pc2/stats')).body).toEqual(
        { post_id: 'pc2', likes: 0, comments: 0, shares: 0, views: 2, watch_ms: 10_600, completion_rate: 0.5 });
      expect((await get('/v1/posts/pb1/stats')).body).toMatchObject({ likes: 0, views: 0, completion_rate: 0 });
    });

    it('is a 404 for an unknown or deleted post', async () => {
      for (const id of ['no-such-post', 'pa3']) {
        const { status, body } = await get(`/v1/posts/${id}/stats`);
        expect(status).toBe(404);
        expect(body.error).toEqual({ code: 'not_found', message: `no post "${id}"` });
      }
    });
  });

  describe('GET /v1/hashtags/trending', () => {
    it('ranks tags across partitions, best first, with their uses in the last hour', async () => {
      // One tag per post, 1.5 s apart, each sent once the previous one is processed: a partition
      // publishes when its event time enters a new second, and uses of one tag by different authors
      // reach the tag's partition through the repartition topic in no fixed order.
      const uses = [['alpha', 4], ['beta', 2], ['gamma', 1]] as const;
      let ts = T + 30_000;
      for (let i = 0; i < 4; i++) {
        for (const [tag, authors] of uses) {
          if (i < authors) await send([post(`t-${tag}-${i}`, `tagger${i}`, (ts += 1_500), `fun #${tag}`)]);
        }
      }
      const { status, body } = await get('/v1/hashtags/trending');
      expect(status).toBe(200);
      expect((body.items as Body[]).map((i) => [i.hashtag, i.uses_1h])).toEqual([['alpha', 4], ['beta', 2], ['gamma', 1]]);
      const scores = (body.items as Body[]).map((i) => i.score as number);
      expect(scores[0]).toBeGreaterThan(scores[1]);
      expect(scores[1]).toBeGreaterThan(scores[2]);
      expect(scores[2]).toBeGreaterThan(0);
      // The cache serves the same top to a smaller limit; bad limits are a 400.
      expect((await get('/v1/hashtags/trending?limit=1')).body.items).toEqual([body.items[0]]);
      expect((await get('/v1/hashtags/trending?limit=0')).status).toBe(400);
      expect((await get('/v1/hashtags/trending?limit=101')).status).toBe(400);
    });
  });

  describe('GET /v1/users/{user_id}/stories', () => {
    it('orders the tray: unseen first, most recent first; stories oldest first; no expired, blocked or unfollowed', async () => {
      const now = Date.now();
      await send([
        story('sa1', 'a', now - 2 * HOUR), story('sa2', 'a', now - 1 * HOUR),
        story('sb0', 'b', now - 25 * HOUR), // expired an hour ago
        story('sb1', 'b', now - 0.5 * HOUR),
        story('sc1', 'c', now - 3 * HOUR),
        story('sd1', 'd', now - 0.2 * HOUR), // v blocked d
        story('se1', 'e', now - 0.2 * HOUR), // v unfollowed e
        story('sz1', 'z', now - 0.2 * HOUR), // z blocked v
        story('sf1', 'f1', now - 0.2 * HOUR), // v does not follow f1
      ]);
      await send([
        { type: 'story_viewed', story_id: 'sa1', viewer_id: 'v', ts: now - 1.5 * HOUR },
        { type: 'story_viewed', story_id: 'sb1', viewer_id: 'v', ts: now - 0.4 * HOUR },
      ]);
      const { status, body } = await get('/v1/users/v/stories');
      expect(status).toBe(200);
      const at = (hoursAgo: number) => Math.round(now - hoursAgo * HOUR);
      const s = (id: string, hoursAgo: number, seen: boolean) =>
        ({ story_id: id, created_at: at(hoursAgo), expires_at: at(hoursAgo) + 24 * HOUR, seen });
      expect(body.items).toEqual([
        { author_id: 'a', has_unseen: true, stories: [s('sa1', 2, true), s('sa2', 1, false)] },
        { author_id: 'c', has_unseen: true, stories: [s('sc1', 3, false)] },
        { author_id: 'b', has_unseen: false, stories: [s('sb1', 0.5, true)] },
      ]);
      expect((await get('/v1/users/nobody/stories')).body).toEqual({ items: [] });
    });
  });

  describe('hot keys', () => {
    it('N concurrent reads of a celebrity timeline or of trending cause one backend read', async () => {
      // A cache period long enough that a slow machine cannot split the burst in two; the single
      // flight alone (no cache period) is tested with controlled timing in test/unit/read-single-flight.
      const counts = new Map<string, number>();
      const hot = await serve(countingViews(platform.views, counts), 1_500);
      try {
        const N = 40;
        const feeds = await Promise.all(Array.from({ length: N }, (_, i) =>
          fetch(`${hot.base}/v1/users/${i % 2 ? 'v' : 'f1'}/feed`).then((r) => r.json() as Promise<Body>)));
        expect(feeds.every((f) => f.items[0].post_id === 'pc3')).toBe(true);
        expect(counts.get('timeline:c')).toBe(1);
        expect(hot.router.hotLoads().timelines).toBe(1);

        const tops = await Promise.all(Array.from({ length: N }, () =>
          fetch(`${hot.base}/v1/hashtags/trending`).then((r) => r.json() as Promise<Body>)));
        expect(tops.every((t) => t.items[0].hashtag === 'alpha')).toBe(true);
        expect(counts.get('trending:p0')).toBe(1);

        // After the cache period the next read goes to the store again (a new post would show).
        await new Promise((r) => setTimeout(r, 1_600));
        await fetch(`${hot.base}/v1/users/v/feed`);
        await fetch(`${hot.base}/v1/hashtags/trending`);
        expect(counts.get('timeline:c')).toBe(2);
        expect(counts.get('trending:p0')).toBe(2);
        // The per-user parts are never shared: each user's feed was read by each request.
        expect(counts.get('feed:v')).toBe(N / 2 + 1);
      } finally {
        hot.server.close();
      }
    });
  });
}

describe('read API, embedded', () => contract('embedded'));
describeWith(['kafka', 'redis'], 'read API, Kafka + Redis', () => contract('kafka-redis'));
