import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, MEDIA_TYPES, type DarkroomEvent } from '../../schemas/events.ts';
import { extractHashtags } from '../../schemas/hashtags.ts';
import { validateEvents } from '../../schemas/validate.ts';
import {
  MAX_REEL_MS, MIN_REEL_MS, STORY_LIFETIME_MS, SimulationOptionsError, createSimulation, type SimulationOptions,
} from '../../simulator/index.ts';

const START = Date.UTC(2026, 0, 1);
const BASE: SimulationOptions = { users: 10_000, seed: 42, startTs: START, rate: 1000 };

function run(options: SimulationOptions, events: number): { world: DarkroomEvent[]; stream: DarkroomEvent[] } {
  const sim = createSimulation(options);
  const world = [...sim.bootstrap()];
  const stream: DarkroomEvent[] = [];
  for (let left = events; left > 0; left -= 5_000) stream.push(...sim.next(Math.min(5_000, left)));
  return { world, stream };
}

// One long run shared by the read-only checks below (generation is fast; checking is the cost).
const { world: WORLD, stream: STREAM } = run(BASE, 200_000);

describe('determinism', { timeout: 20_000 }, () => {
  it('gives byte-identical events for the same seed', () => {
    const a = run(BASE, 20_000);
    const b = run(BASE, 20_000);
    expect(JSON.stringify(b.world)).toBe(JSON.stringify(a.world));
    expect(JSON.stringify(b.stream)).toBe(JSON.stringify(a.stream));
  });

  it('gives different worlds and streams for different seeds', () => {
    const a = run(BASE, 2_000);
    const b = run({ ...BASE, seed: 43 }, 2_000);
    const follows = (events: DarkroomEvent[]) => JSON.stringify(events.filter((e) => e.type === 'follow').map((e) => [e.follower_id, e.followee_id]));
    expect(follows(b.world)).not.toBe(follows(a.world));
    expect(b.stream.map((e) => e.type).join()).not.toBe(a.stream.map((e) => e.type).join());
    const idsOfA = new Set(a.stream.map((e) => e.event_id));
    expect(b.stream.some((e) => idsOfA.has(e.event_id))).toBe(false);
  });

  it('streams the same traffic whether or not the bootstrap was consumed, and in any batch sizes', () => {
    const withBootstrap = run(BASE, 3_000).stream;
    const sim = createSimulation(BASE);
    const batched = [...sim.next(1), ...sim.next(999), ...sim.next(0), ...sim.next(2_000)];
    expect(JSON.stringify(batched)).toBe(JSON.stringify(withBootstrap));
  });

  it('refuses a bootstrap after the stream started, since the world has moved on', () => {
    const sim = createSimulation(BASE);
    sim.next(1);
    expect(() => sim.bootstrap()).toThrow(/before the first next/);
  });
});

describe('options', () => {
  it.each([
    [{ users: 1 }, /users must be an integer from 2/],
    [{ users: 2.5 }, /users must be an integer/],
    [{ rate: 0 }, /rate must be a positive/],
    [{ seed: Number.NaN }, /seed must be an integer/],
    [{ recentPosts: 10 }, /recentPosts must be/],
  ])('rejects %o with a one-line message', (override, message) => {
    expect(() => createSimulation({ ...BASE, ...override })).toThrow(SimulationOptionsError);
    expect(() => createSimulation({ ...BASE, ...override })).toThrow(message);
  });
});

describe('every event is valid against the catalog', { timeout: 20_000 }, () => {
  it('passes the ingest validation unchanged (nothing left to fill in)', () => {
    const sample = [...WORLD.slice(0, 20_000), ...STREAM.slice(0, 60_000)];
    for (let i = 0; i < sample.length; i += 10_000) {
      const batch = sample.slice(i, i + 10_000);
      const result = validateEvents(structuredClone(batch), { now: 0, newId: () => 'missing-event-id' });
      if (!result.ok) throw new Error(`${result.message}: ${JSON.stringify(batch[result.index])}`);
      expect(result.events).toEqual(batch);
    }
  });

  it('fills every field with the right type and bounds', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const ids = new Set(['follower_id', 'followee_id', 'blocker_id', 'blocked_id', 'user_id', 'post_id', 'author_id', 'comment_id', 'viewer_id', 'story_id']);
    const seenTypes = new Set<string>();
    const eventIds = new Set<string>();
    const problems: string[] = [];
    const check = (ok: boolean, what: string, event: DarkroomEvent) => {
      if (!ok && problems.length < 10) problems.push(`${what}: ${JSON.stringify(event)}`);
    };
    for (const event of [...WORLD, ...STREAM]) {
      seenTypes.add(event.type);
      check(uuid.test(event.event_id), 'event_id is not a UUID', event);
      eventIds.add(event.event_id);
      check(Number.isSafeInteger(event.ts), 'ts is not an integer', event);
      for (const [field, value] of Object.entries(event)) {
        check(value !== undefined, `${field} is undefined`, event);
        if (ids.has(field)) check(typeof value === 'string' && value.length > 0 && value.length <= 64, `${field} is not a short id`, event);
      }
      if (event.type === 'post_created') {
        check(MEDIA_TYPES.includes(event.media_type), 'unknown media type', event);
        check(event.caption.length <= 2200, 'caption too long', event);
        // The hashtags field says what the caption says, so ingest's extraction would agree.
        check(JSON.stringify(event.hashtags) === JSON.stringify(extractHashtags(event.caption)), 'hashtags differ from caption', event);
        check(event.hashtags.length <= 30, 'too many hashtags', event);
      }
      if (event.type === 'profile_updated') check(typeof event.username === 'string' && typeof event.is_private === 'boolean', 'bad profile', event);
    }
    expect(problems).toEqual([]);
    expect(eventIds.size).toBe(WORLD.length + STREAM.length);
    expect([...seenTypes].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('advances event time at the requested rate, never backwards', () => {
    for (let i = 1; i < STREAM.length; i++) if (STREAM[i].ts < STREAM[i - 1].ts) throw new Error(`ts went back at ${i}`);
    const seconds = (STREAM.at(-1)!.ts - START) / 1000;
    expect(seconds).toBeGreaterThan(200 * 0.97);
    expect(seconds).toBeLessThan(200 * 1.03);
    expect(WORLD.every((e) => e.ts === START)).toBe(true);
  });
});

describe('the world', { timeout: 20_000 }, () => {
  it('has one profile per user, some of them private', () => {
    const profiles = WORLD.filter((e) => e.type === 'profile_updated');
    expect(profiles).toHaveLength(BASE.users);
    expect(new Set(profiles.map((p) => p.user_id)).size).toBe(BASE.users);
    expect(new Set(profiles.map((p) => p.username)).size).toBe(BASE.users);
    const privateShare = profiles.filter((p) => p.is_private).length / profiles.length;
    expect(privateShare).toBeGreaterThan(0.08);
    expect(privateShare).toBeLessThan(0.16);
  });

  it('has a skewed follower graph: a few celebrities, a long tail', () => {
    const followers = new Map<string, number>();
    const edges = new Set<string>();
    for (const e of WORLD) {
      if (e.type !== 'follow') continue;
      expect(e.follower_id).not.toBe(e.followee_id);
      edges.add(`${e.follower_id}>${e.followee_id}`);
      followers.set(e.followee_id, (followers.get(e.followee_id) ?? 0) + 1);
    }
    const follows = WORLD.length - BASE.users;
    expect(edges.size).toBe(follows); // no duplicate follow
    expect(follows / BASE.users).toBeGreaterThan(6);
    expect(follows / BASE.users).toBeLessThan(12);
    const counts = [...followers.values()].sort((a, b) => b - a);
    while (counts.length < BASE.users) counts.push(0);
    const topOnePercent = counts.slice(0, BASE.users / 100).reduce((a, b) => a + b, 0);
    expect(topOnePercent / follows).toBeGreaterThan(0.3);
    expect(counts[0]).toBeGreaterThan(100 * counts[BASE.users / 2]);
    expect(counts[0]).toBeGreaterThan(follows * 0.02);
  });
});

describe('the stream', { timeout: 20_000 }, () => {
  it('has the advertised mix: mostly views and likes, a few posts, rare deletions and blocks', () => {
    const share = (type: string) => STREAM.filter((e) => e.type === type).length / STREAM.length;
    expect(share('post_seen')).toBeGreaterThan(0.35);
    expect(share('like')).toBeGreaterThan(0.12);
    expect(share('reel_watched')).toBeGreaterThan(0.06);
    expect(share('story_viewed')).toBeGreaterThan(0.05);
    expect(share('post_created')).toBeGreaterThan(0.015);
    expect(share('post_created')).toBeLessThan(0.05);
    expect(share('post_deleted')).toBeLessThan(0.01);
    expect(share('block')).toBeLessThan(0.01);
  });

  it('is referentially sane: engagement targets live posts and stories, follows and blocks change real state', () => {
    const key = (a: string, b: string) => `${a}>${b}`;
    const follows = new Set<string>();
    const isPrivate = new Map<string, boolean>();
    for (const e of WORLD) {
      if (e.type === 'follow') follows.add(key(e.follower_id, e.followee_id));
      if (e.type === 'profile_updated') isPrivate.set(e.user_id, e.is_private);
    }
    const posts = new Map<string, { author: string; media: string; deleted: boolean; durationMs?: number }>();
    const stories = new Map<string, { author: string; expiresAt: number }>();
    const likes = new Set<string>();
    const blocks = new Set<string>();
    const blocked = (a: string, b: string) => blocks.has(key(a, b)) || blocks.has(key(b, a));
    const problems: string[] = [];
    const fail = (e: DarkroomEvent, why: string) => { if (problems.length < 10) problems.push(`${why}: ${JSON.stringify(e)}`); };
    /** Checks that `user` may engage with `postId` now and returns the post. */
    const engage = (e: DarkroomEvent, user: string, postId: string) => {
      const post = posts.get(postId);
      if (!post) return fail(e, 'unknown post');
      if (post.deleted) fail(e, 'engagement after deletion');
      if (post.author === user) fail(e, 'engagement with own post');
      if (blocked(user, post.author)) fail(e, 'engagement across a block');
      if (isPrivate.get(post.author) && !follows.has(key(user, post.author))) fail(e, 'private post seen by a non-follower');
      return post;
    };

    for (const e of STREAM) {
      switch (e.type) {
        case 'post_created':
          if (posts.has(e.post_id)) fail(e, 'duplicate post id');
          posts.set(e.post_id, { author: e.author_id, media: e.media_type, deleted: false });
          break;
        case 'post_deleted': {
          const post = posts.get(e.post_id);
          if (!post || post.deleted || post.author !== e.author_id) fail(e, 'bad deletion');
          else post.deleted = true;
          break;
        }
        case 'like':
          engage(e, e.user_id, e.post_id);
          if (likes.has(key(e.user_id, e.post_id))) fail(e, 'double like');
          likes.add(key(e.user_id, e.post_id));
          break;
        case 'unlike':
          if (!likes.delete(key(e.user_id, e.post_id))) fail(e, 'unlike without like');
          if (posts.get(e.post_id)?.deleted) fail(e, 'unlike after deletion');
          break;
        case 'comment': engage(e, e.user_id, e.post_id); break;
        case 'share': engage(e, e.user_id, e.post_id); break;
        case 'post_seen': engage(e, e.viewer_id, e.post_id); break;
        case 'reel_watched': {
          const post = engage(e, e.viewer_id, e.post_id);
          if (!post) break;
          if (post.media !== 'reel') fail(e, 'watch of a non-reel');
          post.durationMs ??= e.duration_ms;
          if (post.durationMs !== e.duration_ms) fail(e, 'reel duration changed');
          break;
        }
        case 'story_created':
          if (e.expires_at !== e.ts + STORY_LIFETIME_MS) fail(e, 'story does not live 24 h');
          stories.set(e.story_id, { author: e.author_id, expiresAt: e.expires_at });
          break;
        case 'story_viewed': {
          const story = stories.get(e.story_id);
          if (!story) fail(e, 'unknown story');
          else if (e.ts >= story.expiresAt) fail(e, 'view of an expired story');
          else if (!follows.has(key(e.viewer_id, story.author))) fail(e, 'story viewed by a non-follower');
          else if (blocked(e.viewer_id, story.author)) fail(e, 'story view across a block');
          break;
        }
        case 'follow':
          if (follows.has(key(e.follower_id, e.followee_id))) fail(e, 'follow of a followee');
          if (blocked(e.follower_id, e.followee_id)) fail(e, 'follow across a block');
          follows.add(key(e.follower_id, e.followee_id));
          break;
        case 'unfollow':
          if (!follows.delete(key(e.follower_id, e.followee_id))) fail(e, 'unfollow without follow');
          break;
        case 'block':
          if (blocks.has(key(e.blocker_id, e.blocked_id)) || e.blocker_id === e.blocked_id) fail(e, 'bad block');
          blocks.add(key(e.blocker_id, e.blocked_id));
          break;
        case 'unblock':
          if (!blocks.delete(key(e.blocker_id, e.blocked_id))) fail(e, 'unblock without block');
          break;
        case 'profile_updated':
          isPrivate.set(e.user_id, e.is_private);
          break;
      }
    }
    expect(problems).toEqual([]);
  });

  it('favours recent and popular posts', () => {
    const created = new Map<string, number>();
    const likesPerPost = new Map<string, number>();
    const ages: number[] = [];
    for (const e of STREAM) {
      if (e.type === 'post_created') created.set(e.post_id, e.ts);
      if (e.type === 'like') {
        ages.push(e.ts - created.get(e.post_id)!);
        likesPerPost.set(e.post_id, (likesPerPost.get(e.post_id) ?? 0) + 1);
      }
    }
    ages.sort((a, b) => a - b);
    const runMs = STREAM.at(-1)!.ts - START;
    // Half the likes go to posts younger than a tenth of the run.
    expect(ages[ages.length >> 1]).toBeLessThan(runMs / 10);
    const perPost = [...likesPerPost.values()].sort((a, b) => b - a);
    while (perPost.length < created.size) perPost.push(0);
    const total = perPost.reduce((a, b) => a + b, 0);
    const topOnePercent = perPost.slice(0, Math.ceil(created.size / 100)).reduce((a, b) => a + b, 0);
    // Uniform engagement would give the top 1% of posts about 2-3% of the likes.
    expect(topOnePercent / total).toBeGreaterThan(0.08);
    expect(perPost[0]).toBeGreaterThan(30 * perPost[perPost.length >> 1]);
  });

  it('has hashtags with a Zipf-like head and long tail', () => {
    const uses = new Map<string, number>();
    for (const e of STREAM) if (e.type === 'post_created') for (const tag of e.hashtags) uses.set(tag, (uses.get(tag) ?? 0) + 1);
    const counts = [...uses.values()].sort((a, b) => b - a);
    expect(counts.length).toBeGreaterThan(300);
    expect(counts[0]).toBeGreaterThan(20 * counts[Math.floor(counts.length / 2)]);
  });

  it('makes a tail hashtag take off in a burst and fall back afterwards', () => {
    const bursts = { meanGapMs: 120_000, minDurationMs: 30_000, maxDurationMs: 60_000 };
    const sim = createSimulation({ ...BASE, seed: 7, bursts });
    const stream = sim.next(400_000);
    const reported = sim.bursts();
    expect(reported.length).toBeGreaterThanOrEqual(1);
    const posts = stream.filter((e) => e.type === 'post_created');
    const finished = reported.filter((b) => b.endTs + 60_000 <= stream.at(-1)!.ts);
    expect(finished.length).toBeGreaterThanOrEqual(1);
    for (const burst of finished) {
      const during = posts.filter((p) => p.ts >= burst.startTs && p.ts < burst.endTs);
      const outside = posts.filter((p) => p.ts < burst.startTs || p.ts >= burst.endTs + 60_000);
      const share = (list: typeof posts) => list.filter((p) => p.hashtags.includes(burst.tag)).length / Math.max(1, list.length);
      expect(share(during), `${burst.tag} during its burst`).toBeGreaterThan(0.15);
      expect(share(outside), `${burst.tag} outside its burst`).toBeLessThan(0.02);
    }
  });

  it('has reels of 5-90 s watched realistically: many skips, some complete views', () => {
    const watches = STREAM.filter((e) => e.type === 'reel_watched');
    expect(watches.length).toBeGreaterThan(1_000);
    for (const w of watches) {
      expect(w.duration_ms).toBeGreaterThanOrEqual(MIN_REEL_MS);
      expect(w.duration_ms).toBeLessThanOrEqual(MAX_REEL_MS);
      expect(w.watched_ms).toBeGreaterThan(0);
      expect(w.watched_ms).toBeLessThanOrEqual(w.duration_ms);
    }
    const skips = watches.filter((w) => w.watched_ms < 3_000 && w.watched_ms < w.duration_ms).length / watches.length;
    const complete = watches.filter((w) => w.watched_ms === w.duration_ms).length / watches.length;
    expect(skips).toBeGreaterThan(0.3);
    expect(complete).toBeGreaterThan(0.15);
    expect(complete).toBeLessThan(0.4);
  });

  it('keeps its memory bounded over a long run', () => {
    // A window of 200 posts is left behind about every 7k events: 400k events turn it over ~60 times.
    const sim = createSimulation({ ...BASE, users: 1_000, recentPosts: 200 });
    for (let i = 0; i < 40; i++) sim.next(10_000);
    const stats = sim.stats();
    expect(stats.events).toBe(400_000);
    expect(stats.likesTracked).toBeLessThanOrEqual(2_000);
    expect(stats.activeBlocks).toBeLessThanOrEqual(1_000);
    expect(stats.byType.like / stats.events).toBeGreaterThan(0.1); // likes keep flowing once the ledger is full
  });
});

describe('ids of a run', () => {
  const idsOf = (run?: string) => {
    const sim = createSimulation({ users: 300, seed: 1, startTs: Date.UTC(2026, 0, 1), rate: 1_000, run });
    const ids = new Set<string>();
    for (const e of sim.next(5_000)) {
      if (e.type === 'post_created') ids.add(e.post_id);
      if (e.type === 'comment') ids.add(e.comment_id);
      if (e.type === 'story_created') ids.add(e.story_id);
    }
    return ids;
  };

  it('are p1, p2, ... without a run name, and a run name keeps two runs into the same topics apart', () => {
    const plain = idsOf();
    expect(plain).toContain('p1');
    const a = idsOf('k3j9x');
    const b = idsOf('k3j9y');
    expect([...a].every((id) => /^[pcs]k3j9x\.\d+$/.test(id))).toBe(true);
    expect([...a].filter((id) => b.has(id) || plain.has(id))).toEqual([]);
    expect(() => createSimulation({ users: 10, seed: 1, startTs: 0, run: 'Bad Run' })).toThrow(/run must be 1 to 16 lowercase letters and digits/);
  });
});
