// The home-feed rules, one test per rule, run through 8 co-partitioned processor states exactly as the
// runtime routes records (murmur2 of the key), with the block relay fed back in. Effects land in a
// tiny model of the view store so that tests read like what a user sees.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { routeOf, type DarkroomEvent } from '../../schemas/events.ts';
import { splitTaggedMember, type Effect, type KeyNumbering } from '../../processors/effects.ts';
import {
  blockedByKey, blocksKey, celebritiesFollowedKey, createFeedFanout, feedKey, followingKey, postKey,
  profileKey, timelineKey, type FeedFanoutInput, type FeedFanoutOptions, type FeedFanoutState,
} from '../../processors/feed-fanout/index.ts';
import { partitionFor } from '../../topics/partitioner.ts';

const PARTITIONS = 8;

/** Just enough of a view store to read the results: zsets with cap, sets, hashes. */
class Views {
  zsets = new Map<string, Map<string, number>>();
  sets = new Map<string, Set<string>>();
  hashes = new Map<string, Record<string, string | number>>();

  apply(effect: Effect): void {
    switch (effect.kind) {
      case 'zadd': this.zadd(effect.key, effect.member, effect.score, effect.cap); break;
      case 'zaddEach':
        this.checkNumbers(effect);
        for (const key of effect.keys) this.zadd(key, effect.member, effect.score, effect.cap);
        break;
      case 'zrem': this.zsets.get(effect.key)?.delete(effect.member); break;
      case 'zremTagged':
        for (const member of [...this.zset(effect.key).keys()]) {
          if (splitTaggedMember(member).tag === effect.tag) this.zsets.get(effect.key)!.delete(member);
        }
        break;
      case 'sadd': this.set(effect.key).add(effect.member); break;
      case 'srem': this.sets.get(effect.key)?.delete(effect.member); break;
      case 'hset': this.hashes.set(effect.key, { ...this.hashes.get(effect.key), ...effect.fields }); break;
      case 'del': this.zsets.delete(effect.key); this.sets.delete(effect.key); this.hashes.delete(effect.key); break;
      default: throw new Error(`feed-fanout does not emit ${effect.kind}`);
    }
  }

  /** Key numbers seen so far, both ways: a number names one key, and a key has one number (KeyNumbering). */
  private readonly numbered = new Map<string, number>();
  private readonly byNumber = new Map<number, string>();
  numberings = new Set<KeyNumbering>();

  private checkNumbers(effect: Extract<Effect, { kind: 'zaddEach' }>): void {
    expect(effect.numbers, 'feed-fanout numbers its fanouts').toBeDefined();
    expect(effect.numbers!.length).toBe(effect.keys.length);
    this.numberings.add(effect.numbering!);
    effect.keys.forEach((key, i) => {
      const n = effect.numbers![i];
      expect(Number.isInteger(n) && n >= 0 && n < effect.numbering!.size, `number ${n} within the numbering`).toBe(true);
      expect(this.byNumber.get(n) ?? key, `number ${n}`).toBe(key);
      expect(this.numbered.get(key) ?? n, `number of ${key}`).toBe(n);
      this.byNumber.set(n, key);
      this.numbered.set(key, n);
    });
  }

  zadd(key: string, member: string, score: number, cap: number | undefined): void {
    const zset = this.zset(key);
    zset.set(member, score);
    if (cap !== undefined && zset.size > cap) {
      for (const [m] of ranked(zset).slice(cap)) zset.delete(m);
    }
  }

  zset(key: string): Map<string, number> {
    let zset = this.zsets.get(key);
    if (!zset) this.zsets.set(key, (zset = new Map()));
    return zset;
  }

  set(key: string): Set<string> {
    let set = this.sets.get(key);
    if (!set) this.sets.set(key, (set = new Set()));
    return set;
  }

  members(key: string): string[] {
    return [...(this.sets.get(key) ?? [])].sort();
  }
}

/** Highest score first; equal scores by member, descending (Redis ZREVRANGE order). */
function ranked(zset: Map<string, number>): Array<[string, number]> {
  return [...zset].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
}

/** The platform in miniature: 8 partitions of feed-fanout, the relay topic, and the views. */
class World {
  readonly processor;
  readonly states: FeedFanoutState[];
  readonly views = new Views();
  /** Relayed records not delivered yet, when `holdRelays` is on. */
  readonly relays: FeedFanoutInput[] = [];
  holdRelays = false;
  private offset = 0;

  constructor(options: FeedFanoutOptions = {}) {
    this.processor = createFeedFanout({ celebrityFollowers: 100_000, feedLength: 800, followBackfill: 200, ...options });
    this.states = Array.from({ length: PARTITIONS }, (_, p) => this.processor.init(p));
  }

  send(...events: DarkroomEvent[]): Effect[] {
    return events.flatMap((event) => {
      const { topic, key } = routeOf(event);
      return this.deliver(topic, key, event);
    });
  }

  releaseRelays(): void {
    for (const relay of this.relays.splice(0)) this.deliver('feed-fanout-repartition', (relay as { blocker_id: string }).blocker_id, relay);
  }

  private deliver(topic: string, key: string, input: FeedFanoutInput): Effect[] {
    const partition = partitionFor(key, PARTITIONS);
    const effects = this.processor.apply(this.states[partition], input, { topic, partition, offset: this.offset++ });
    const all = [...effects];
    for (const effect of effects) {
      if (effect.kind !== 'repartition') { this.views.apply(effect); continue; }
      expect(effect.topic).toBe('feed-fanout-repartition');
      const relayed = effect.value as unknown as FeedFanoutInput;
      if (this.holdRelays) this.relays.push(relayed);
      else all.push(...this.deliver(effect.topic, effect.key, relayed));
    }
    return all;
  }

  /** Post ids of the stored feed zset, newest first. */
  feed(user: string): string[] {
    return ranked(this.views.zset(feedKey(user))).map(([member]) => splitTaggedMember(member).id);
  }

  /** What serving shows: the feed merged with the timelines of followed celebrities, deduplicated. */
  home(user: string): string[] {
    const scored = new Map<string, number>();
    for (const [member, score] of this.views.zset(feedKey(user))) scored.set(splitTaggedMember(member).id, score);
    for (const celebrity of this.views.members(celebritiesFollowedKey(user))) {
      for (const [postId, score] of this.views.zset(timelineKey(celebrity))) scored.set(postId, score);
    }
    return ranked(scored).map(([postId]) => postId);
  }

  timeline(author: string): string[] {
    return ranked(this.views.zset(timelineKey(author))).map(([postId]) => postId);
  }
}

let eventIds = 0;
const base = (ts: number) => ({ event_id: `e${++eventIds}`, ts });
const follow = (follower: string, followee: string, ts = 1): DarkroomEvent =>
  ({ ...base(ts), type: 'follow', follower_id: follower, followee_id: followee });
const unfollow = (follower: string, followee: string, ts = 1): DarkroomEvent =>
  ({ ...base(ts), type: 'unfollow', follower_id: follower, followee_id: followee });
const block = (blocker: string, blocked: string, ts = 1): DarkroomEvent =>
  ({ ...base(ts), type: 'block', blocker_id: blocker, blocked_id: blocked });
const unblock = (blocker: string, blocked: string, ts = 1): DarkroomEvent =>
  ({ ...base(ts), type: 'unblock', blocker_id: blocker, blocked_id: blocked });
const post = (author: string, postId: string, ts: number, hashtags: string[] = []): DarkroomEvent =>
  ({ ...base(ts), type: 'post_created', post_id: postId, author_id: author, caption: `caption of ${postId}`, media_type: 'photo', hashtags });
const deletePost = (author: string, postId: string, ts = 1): DarkroomEvent =>
  ({ ...base(ts), type: 'post_deleted', post_id: postId, author_id: author });
const profile = (user: string, isPrivate: boolean, ts = 1): DarkroomEvent =>
  ({ ...base(ts), type: 'profile_updated', user_id: user, username: `${user}_name`, is_private: isPrivate });

/** n followers named <prefix>0..<prefix>n-1 of `followee`. */
const followers = (followee: string, n: number, prefix = 'f', ts = 1) =>
  Array.from({ length: n }, (_, i) => follow(`${prefix}${i}`, followee, ts));

describe('feed-fanout: fanout', () => {
  it('a post enters the feed of its author and of every follower of the author at post time', () => {
    const world = new World();
    world.send(follow('ann', 'bob', 1), follow('cid', 'bob', 2));
    world.send(post('bob', 'p1', 10));
    world.send(follow('dee', 'bob', 11)); // after the post: only via backfill, tested separately
    expect(world.feed('bob')).toEqual(['p1']);
    expect(world.feed('ann')).toEqual(['p1']);
    expect(world.feed('cid')).toEqual(['p1']);
    expect(world.views.zset(feedKey('ann')).get('p1|bob')).toBe(10); // tagged member, score = post ts
    expect(world.feed('eve')).toEqual([]);
  });

  it('a fanout numbers each feed the same in every partition', () => {
    const w = new World();
    // Authors in different partitions, each followed by the same two users.
    const authors = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
    expect(new Set(authors.map((a) => partitionFor(a, PARTITIONS))).size).toBeGreaterThan(1);
    for (const author of authors) w.send(follow('u1', author), follow('u2', author));
    const fanouts = authors.flatMap((author, i) => w.send(post(author, `p${i}`, 10 + i)))
      .filter((e): e is Extract<Effect, { kind: 'zaddEach' }> => e.kind === 'zaddEach');
    expect(fanouts).toHaveLength(authors.length);
    expect(w.views.numberings.size).toBe(1); // one numbering for all partitions (checked both ways in Views)
    for (const user of ['u1', 'u2']) {
      const named = fanouts.map((e) => e.keys.find((key) => key === feedKey(user))!);
      expect(new Set(named.map((_, i) => fanouts[i].numbers![fanouts[i].keys.indexOf(named[i])])).size).toBe(1);
    }
    expect(w.feed('u1')).toEqual(['p5', 'p4', 'p3', 'p2', 'p1', 'p0']);
  });

  it('a post by an author with at least celebrityFollowers followers is kept only in the timeline and merged on read', () => {
    const world = new World({ celebrityFollowers: 3 });
    world.send(...followers('star', 3));
    const effects = world.send(post('star', 'p1', 10));
    expect(effects.flatMap((e) => (e.kind === 'zadd' ? [e.key] : e.kind === 'zaddEach' ? e.keys : [])).sort())
      .toEqual([feedKey('star'), timelineKey('star')]);
    expect(world.feed('f0')).toEqual([]);
    expect(world.views.members(celebritiesFollowedKey('f0'))).toEqual(['star']);
    expect(world.home('f0')).toEqual(['p1']);
    expect(world.feed('star')).toEqual(['p1']);
  });

  it('an author crossing the threshold upwards loses and duplicates nothing', () => {
    const world = new World({ celebrityFollowers: 3 });
    world.send(...followers('star', 2));
    world.send(post('star', 'before', 10)); // fanned out on write
    world.send(follow('f2', 'star', 11)); // third follower: star is now a celebrity
    world.send(post('star', 'after', 12)); // fanout on read
    for (const user of ['f0', 'f1']) {
      expect(world.feed(user)).toEqual(['before']);
      expect(world.home(user)).toEqual(['after', 'before']);
    }
    expect(world.home('f2')).toEqual(['after', 'before']);
  });

  it('an author crossing the threshold downwards loses nothing and is fanned out on write again', () => {
    const world = new World({ celebrityFollowers: 4, celebrityExitFollowers: 3 });
    world.send(...followers('star', 4));
    world.send(post('star', 'celebrity-era', 10));
    world.send(unfollow('f3', 'star', 11)); // 3 left: still a celebrity (hysteresis)
    world.send(post('star', 'still-celebrity', 12));
    expect(world.feed('f0')).toEqual([]);
    world.send(unfollow('f2', 'star', 13)); // 2 < 3: back to fanout on write
    world.send(post('star', 'fanned-again', 14));
    expect(world.feed('f0')).toEqual(['fanned-again']);
    expect(world.home('f0')).toEqual(['fanned-again', 'still-celebrity', 'celebrity-era']);
    expect(world.home('f2')).toEqual([]);
    world.send(follow('late', 'star', 15)); // not a celebrity: backfilled, nothing to merge
    expect(world.views.members(celebritiesFollowedKey('late'))).toEqual([]);
    expect(world.home('late')).toEqual(['fanned-again', 'still-celebrity', 'celebrity-era']);
  });

  it('a feed keeps the newest feedLength posts, newest first by post ts', () => {
    const world = new World({ feedLength: 3 });
    world.send(follow('ann', 'bob'), follow('ann', 'cid'));
    world.send(post('bob', 'b30', 30), post('cid', 'c10', 10), post('bob', 'b50', 50), post('cid', 'c40', 40), post('bob', 'b20', 20));
    expect(world.feed('ann')).toEqual(['b50', 'c40', 'b30']);
    expect(world.feed('bob')).toEqual(['b50', 'b30', 'b20']);
    const zadd = world.send(post('bob', 'b60', 60)).find((e) => e.kind === 'zaddEach' && e.keys.includes(feedKey('ann')));
    expect(zadd).toMatchObject({ cap: 3, score: 60 });
  });

  it('a post arriving hours late lands at its event time, below newer posts, and falls off a full feed', () => {
    const HOUR = 3_600_000;
    const world = new World({ feedLength: 3 });
    world.send(follow('ann', 'bob'), follow('ann', 'cid'));
    world.send(post('bob', 'b-now', 10 * HOUR), post('cid', 'c-now', 10 * HOUR + 1));
    world.send(post('cid', 'c-6h-ago', 4 * HOUR)); // delivered after the newer posts
    expect(world.feed('ann')).toEqual(['c-now', 'b-now', 'c-6h-ago']);
    world.send(post('bob', 'b-next', 10 * HOUR + 2), post('bob', 'b-9h-ago', HOUR));
    expect(world.feed('ann')).toEqual(['b-next', 'c-now', 'b-now']);
  });
});

describe('feed-fanout: deletion', () => {
  it('post_deleted: the post leaves every feed and timeline and its metadata is deleted', () => {
    const world = new World();
    world.send(follow('ann', 'bob'), follow('cid', 'bob'));
    world.send(post('bob', 'p1', 10), post('bob', 'p2', 11));
    world.send(follow('dee', 'bob', 12)); // has p1 through backfill
    world.send(deletePost('bob', 'p1', 13));
    for (const user of ['ann', 'cid', 'dee', 'bob']) expect(world.feed(user)).toEqual(['p2']);
    expect(world.timeline('bob')).toEqual(['p2']);
    expect(world.views.hashes.has(postKey('p1'))).toBe(false);
    expect(world.views.hashes.has(postKey('p2'))).toBe(true);
  });

  it('post_deleted of a celebrity post leaves the timeline without touching every follower feed', () => {
    const world = new World({ celebrityFollowers: 3 });
    world.send(...followers('star', 3), post('star', 'p1', 10));
    const effects = world.send(deletePost('star', 'p1', 11));
    expect(effects).toHaveLength(3); // metadata, timeline, own feed
    expect(world.home('f0')).toEqual([]);
  });

  it('post_deleted of a celebrity-era post also leaves the feeds it was backfilled into', () => {
    const world = new World({ celebrityFollowers: 2, celebrityExitFollowers: 1 });
    world.send(...followers('star', 2), post('star', 'p1', 10), unfollow('f1', 'star', 11), unfollow('f0', 'star', 12));
    world.send(follow('ann', 'star', 13)); // star is no celebrity now: ann is backfilled with p1
    expect(world.feed('ann')).toEqual(['p1']);
    world.send(deletePost('star', 'p1', 14));
    expect(world.feed('ann')).toEqual([]);
  });

  it('post_deleted of a post older than the retained ones still reaches every follower feed', () => {
    const world = new World({ followBackfill: 1 });
    world.send(follow('ann', 'bob'), post('bob', 'old', 10), post('bob', 'new', 11));
    world.send(deletePost('bob', 'old', 12));
    expect(world.feed('ann')).toEqual(['new']);
  });
});

describe('feed-fanout: follow and unfollow', () => {
  it('follow: up to followBackfill of the followee\'s most recent posts enter the follower\'s feed', () => {
    const world = new World({ followBackfill: 2 });
    world.send(post('bob', 'p1', 10), post('bob', 'p2', 11), post('bob', 'p3', 12));
    world.send(follow('ann', 'bob', 20));
    expect(world.feed('ann')).toEqual(['p3', 'p2']);
    expect(world.views.members(followingKey('ann'))).toEqual(['bob']);
  });

  it('follow of a celebrity backfills nothing: the celebrity timeline is merged on read', () => {
    const world = new World({ celebrityFollowers: 2 });
    world.send(...followers('star', 2), post('star', 'p1', 10));
    world.send(follow('ann', 'star', 11));
    expect(world.feed('ann')).toEqual([]);
    expect(world.home('ann')).toEqual(['p1']);
  });

  it('unfollow: all of the followee\'s posts leave the follower\'s feed', () => {
    const world = new World({ celebrityFollowers: 3 });
    world.send(follow('ann', 'bob'), follow('ann', 'cid'), post('bob', 'b1', 10), post('cid', 'c1', 11), post('bob', 'b2', 12));
    const effects = world.send(unfollow('ann', 'bob', 13));
    expect(effects).toContainEqual({ kind: 'zremTagged', key: feedKey('ann'), tag: 'bob' });
    expect(world.feed('ann')).toEqual(['c1']);
    expect(world.views.members(followingKey('ann'))).toEqual(['cid']);
    world.send(post('bob', 'b3', 14));
    expect(world.feed('ann')).toEqual(['c1']);
  });

  it('unfollow of a celebrity removes it from the merge set', () => {
    const world = new World({ celebrityFollowers: 2 });
    world.send(...followers('star', 2), post('star', 'p1', 10), unfollow('f0', 'star', 11));
    expect(world.home('f0')).toEqual([]);
    expect(world.home('f1')).toEqual(['p1']);
  });
});

describe('feed-fanout: blocks', () => {
  for (const [blocker, blocked] of [['ann', 'bob'], ['bob', 'ann']]) {
    it(`block (${blocker} blocks ${blocked}): their posts leave each other's feeds and both follows end`, () => {
      const world = new World();
      world.send(follow('ann', 'bob'), follow('bob', 'ann'), post('ann', 'a1', 10), post('bob', 'b1', 11), follow('ann', 'cid'), post('cid', 'c1', 12));
      expect(world.feed('ann')).toEqual(['c1', 'b1', 'a1']);
      world.send(block(blocker, blocked, 20));
      expect(world.feed('ann')).toEqual(['c1', 'a1']);
      expect(world.feed('bob')).toEqual(['b1']);
      expect(world.views.members(followingKey('ann'))).toEqual(['cid']);
      expect(world.views.members(followingKey('bob'))).toEqual([]);
      expect(world.views.members(blocksKey(blocker))).toEqual([blocked]);
      expect(world.views.members(blockedByKey(blocked))).toEqual([blocker]);
    });

    it(`while a block stands (${blocker} blocks ${blocked}) posts and follows do not cross it`, () => {
      const world = new World({ celebrityFollowers: 2 });
      world.send(follow('ann', 'bob'), follow('bob', 'ann'), block(blocker, blocked, 20));
      world.send(follow('ann', 'bob', 21), follow('bob', 'ann', 22)); // refused
      world.send(post('ann', 'a1', 23), post('bob', 'b1', 24));
      expect(world.home('ann')).toEqual(['a1']);
      expect(world.home('bob')).toEqual(['b1']);
      expect(world.views.members(followingKey('ann'))).toEqual([]);
      world.send(unblock(blocker, blocked, 30));
      expect(world.views.members(blocksKey(blocker))).toEqual([]);
      expect(world.views.members(followingKey('ann'))).toEqual([]); // unblock does not restore follows
      world.send(follow('ann', 'bob', 31));
      expect(world.home('ann')).toEqual(['b1', 'a1']); // following again, with backfill
    });
  }

  it('a block relayed late removes the posts that crossed before it arrived and refuses the follow it raced', () => {
    const world = new World();
    world.send(follow('bob', 'ann', 1));
    world.holdRelays = true;
    world.send(block('ann', 'bob', 10)); // keyed by bob; ann's half waits in the relay topic
    world.send(post('ann', 'a1', 11)); // ann's partition does not know yet: reaches bob
    world.send(follow('bob', 'ann', 12)); // already following; a re-follow is accepted too
    expect(world.feed('bob')).toContain('a1');
    world.releaseRelays();
    expect(world.feed('bob')).toEqual([]);
    expect(world.views.members(followingKey('bob'))).toEqual([]);
    world.send(post('ann', 'a2', 13));
    expect(world.feed('bob')).toEqual([]);
  });

  it('a relayed block is keyed by the blocker, so it lands in the blocker\'s partition', () => {
    const world = new World();
    const effects = world.send(block('ann', 'bob', 10));
    expect(effects).toContainEqual({
      kind: 'repartition', topic: 'feed-fanout-repartition', key: 'ann',
      value: expect.objectContaining({ type: 'block_relayed', blocker_id: 'ann', blocked_id: 'bob', blocked: true, ts: 10 }),
    });
    expect(world.processor.inputs).toContain('feed-fanout-repartition');
  });
});

describe('feed-fanout: privacy', () => {
  it('a private account\'s posts reach only its followers and are flagged so trending ignores them', () => {
    const world = new World();
    world.send(profile('pri', true, 1), follow('ann', 'pri', 2));
    world.send(post('pri', 'p1', 10, ['secret']));
    expect(world.feed('ann')).toEqual(['p1']);
    expect(world.feed('bob')).toEqual([]);
    expect(world.views.hashes.get(postKey('p1'))).toMatchObject({ is_private: 1 });
    expect(world.views.hashes.get(profileKey('pri'))).toMatchObject({ is_private: 1, username: 'pri_name' });
    world.send(unfollow('ann', 'pri', 11), post('pri', 'p2', 12));
    expect(world.feed('ann')).toEqual([]);
    world.send(profile('pri', false, 13), post('pri', 'p3', 14));
    expect(world.views.hashes.get(postKey('p3'))).toMatchObject({ is_private: 0 });
  });
});

describe('feed-fanout: views', () => {
  it('post metadata, timeline and following set are maintained for serving', () => {
    const world = new World();
    world.send(follow('ann', 'bob'), post('bob', 'p1', 10, ['sun', 'sea']));
    expect(world.views.hashes.get(postKey('p1'))).toEqual({
      post_id: 'p1', author_id: 'bob', created_at: 10, caption: 'caption of p1', hashtags: '["sun","sea"]',
      media_type: 'photo', is_private: 0,
    });
    expect(world.timeline('bob')).toEqual(['p1']);
    expect(world.views.members(followingKey('ann'))).toEqual(['bob']);
  });
});

describe('feed-fanout: out-of-order and repeated events', () => {
  it('an unfollow older than the follow it would cancel is ignored (event-time last writer wins per edge)', () => {
    const world = new World();
    world.send(follow('ann', 'bob', 20), unfollow('ann', 'bob', 10), post('bob', 'p1', 30));
    expect(world.feed('ann')).toEqual(['p1']);
  });

  it('a follow older than an unfollow that arrived first stays cancelled', () => {
    const world = new World();
    world.send(unfollow('ann', 'bob', 20), follow('ann', 'bob', 10), post('bob', 'p1', 30));
    expect(world.feed('ann')).toEqual([]);
  });

  it('an unblock older than the block is ignored, and an older profile update does not win', () => {
    const world = new World();
    world.send(block('ann', 'bob', 20), unblock('ann', 'bob', 10), follow('bob', 'ann', 30));
    expect(world.views.members(followingKey('bob'))).toEqual([]);
    world.send(profile('cid', true, 20), profile('cid', false, 10), post('cid', 'c1', 30));
    expect(world.views.hashes.get(postKey('c1'))).toMatchObject({ is_private: 1 });
  });

  it('a post deleted before it arrived never enters a feed', () => {
    const world = new World();
    world.send(follow('ann', 'bob'), deletePost('bob', 'p1', 20), post('bob', 'p1', 10));
    expect(world.feed('ann')).toEqual([]);
    expect(world.timeline('bob')).toEqual([]);
  });

  it('the same follow or post sent twice changes nothing', () => {
    const world = new World();
    world.send(follow('ann', 'bob', 1), post('bob', 'p1', 10));
    expect(world.send(follow('ann', 'bob', 2))).toEqual([]);
    expect(world.send(post('bob', 'p1', 10))).toEqual([]);
  });

  it('self-follows and self-blocks are ignored', () => {
    const world = new World();
    expect(world.send(follow('ann', 'ann'), block('ann', 'ann'))).toEqual([]);
  });

  it('rejects an impossible configuration with a clear message', () => {
    expect(() => createFeedFanout({ feedLength: 0 })).toThrow('feedLength must be an integer >= 1');
    expect(() => createFeedFanout({ celebrityFollowers: 10, celebrityExitFollowers: 11 })).toThrow(/must not exceed/);
  });
});

/** A second, naive statement of the rules: sets of live edges, no partitions, no optimisation. */
class NaiveModel {
  follows = new Set<string>();
  blocks = new Set<string>();
  posts = new Map<string, string>(); // post → author

  apply(event: DarkroomEvent): void {
    const edge = (a: string, b: string) => `${a}>${b}`;
    switch (event.type) {
      case 'follow':
        if (event.follower_id === event.followee_id) return;
        if (this.blocks.has(edge(event.follower_id, event.followee_id)) || this.blocks.has(edge(event.followee_id, event.follower_id))) return;
        this.follows.add(edge(event.follower_id, event.followee_id));
        return;
      case 'unfollow': this.follows.delete(edge(event.follower_id, event.followee_id)); return;
      case 'block':
        if (event.blocker_id === event.blocked_id) return;
        this.blocks.add(edge(event.blocker_id, event.blocked_id));
        this.follows.delete(edge(event.blocker_id, event.blocked_id));
        this.follows.delete(edge(event.blocked_id, event.blocker_id));
        return;
      case 'unblock': this.blocks.delete(edge(event.blocker_id, event.blocked_id)); return;
      case 'post_created': this.posts.set(event.post_id, event.author_id); return;
      case 'post_deleted': this.posts.delete(event.post_id); return;
      default:
    }
  }

  /** Everything the user may see: own posts and posts of everyone followed (caps never bind in the test). */
  home(user: string): string[] {
    return [...this.posts].filter(([, author]) => author === user || this.follows.has(`${user}>${author}`)).map(([p]) => p).sort();
  }
}

describe('feed-fanout: agrees with a naive statement of the rules', () => {
  const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
  const user = fc.constantFrom(...users);
  const action = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constant('follow' as const), user, user) },
    { weight: 2, arbitrary: fc.tuple(fc.constant('unfollow' as const), user, user) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('block' as const), user, user) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('unblock' as const), user, user) },
    { weight: 4, arbitrary: fc.tuple(fc.constant('post' as const), user, user) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('delete' as const), user, fc.nat(40)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('private' as const), user, fc.boolean()) },
  );

  it('home feeds, following sets and block sets match after any sequence (celebrity threshold crossed both ways)', () => {
    fc.assert(fc.property(fc.array(action, { minLength: 10, maxLength: 120, size: 'max' }), (actions) => {
      const world = new World({ celebrityFollowers: 3, celebrityExitFollowers: 2, feedLength: 500, followBackfill: 500 });
      const model = new NaiveModel();
      const created: Array<[string, string]> = [];
      actions.forEach(([kind, a, b], i) => {
        const ts = 1000 + i;
        let event: DarkroomEvent;
        switch (kind) {
          case 'follow': event = follow(a, b as string, ts); break;
          case 'unfollow': event = unfollow(a, b as string, ts); break;
          case 'block': event = block(a, b as string, ts); break;
          case 'unblock': event = unblock(a, b as string, ts); break;
          case 'post': event = post(a, `p${i}`, ts); created.push([a, `p${i}`]); break;
          case 'delete': {
            if (created.length === 0) return;
            const [author, postId] = created[(b as number) % created.length];
            event = deletePost(author, postId, ts);
            break;
          }
          case 'private': event = profile(a, b as boolean, ts); break;
        }
        world.send(event);
        model.apply(event);
      });
      for (const u of users) {
        expect(world.home(u).sort()).toEqual(model.home(u));
        const followed = users.filter((f) => model.follows.has(`${u}>${f}`));
        expect(world.views.members(followingKey(u))).toEqual(followed);
        expect(world.views.members(blocksKey(u))).toEqual(users.filter((x) => model.blocks.has(`${u}>${x}`)));
      }
    }), { numRuns: 300 });
  });
});
