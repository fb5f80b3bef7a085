// The contract every view store passes (embedded on lmdb, Redis). Each test gets a fresh, isolated
// store from `make`. The crash test runs a writer in a child process and kills it with SIGKILL.
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import type { Effect } from '../../processors/effects.ts';
import { taggedMember } from '../../processors/effects.ts';
import { INITIAL_GENERATION, type ViewStore } from '../../sinks/view-store.ts';

export interface SuiteOptions {
  /**
   * For the crash test: an ES module body that defines `const store = await ...` for the same
   * underlying data as the store `make` returned last (absolute imports).
   */
  childStoreSource?: () => string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A key numbering (effects.ts KeyNumbering) that numbers feed:x 0 and feed:y 1. */
const FEED_NUMBERING = { size: 2 };

export function runViewStoreSuite(name: string, make: () => Promise<ViewStore>, options: SuiteOptions = {}): void {
  const open: ViewStore[] = [];
  const fresh = async () => {
    const store = await make();
    open.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  const G = INITIAL_GENERATION;
  const apply = (store: ViewStore, effects: Effect[], offsets: Array<{ topic: string; partition: number; offset: number }> = [], generation = G, processor = 'test') =>
    store.applyBatch({ generation, processor, effects, offsets });

  it(`${name}: zadd orders by score (ties by member) and pages from the top`, async () => {
    const store = await fresh();
    await apply(store, [
      { kind: 'zadd', key: 'feed:u1', member: 'p1', score: 10 },
      { kind: 'zadd', key: 'feed:u1', member: 'p3', score: 30 },
      { kind: 'zadd', key: 'feed:u1', member: 'b', score: 20 },
      { kind: 'zadd', key: 'feed:u1', member: 'a', score: 20 },
      { kind: 'zadd', key: 'feed:u1', member: 'p1', score: 15 }, // re-add moves it
    ]);
    expect(await store.zrangeByScoreDesc(G, 'feed:u1', { limit: 10 })).toEqual([
      { member: 'p3', score: 30 }, { member: 'b', score: 20 }, { member: 'a', score: 20 }, { member: 'p1', score: 15 },
    ]);
    expect((await store.zrangeByScoreDesc(G, 'feed:u1', { limit: 2 })).map((e) => e.member)).toEqual(['p3', 'b']);
    expect((await store.zrangeByScoreDesc(G, 'feed:u1', { max: 20, limit: 10 })).map((e) => e.member)).toEqual(['b', 'a', 'p1']);
    expect((await store.zrangeByScoreDesc(G, 'feed:u1', { max: 20, exclusiveMax: true, limit: 10 })).map((e) => e.member)).toEqual(['p1']);
    expect((await store.zrangeByScoreDesc(G, 'feed:u1', { min: 20, limit: 10 })).map((e) => e.member)).toEqual(['p3', 'b', 'a']);
    expect(await store.zrangeByScoreDesc(G, 'feed:nobody', { limit: 10 })).toEqual([]);
    expect(await store.zcard(G, 'feed:u1')).toBe(4);
  });

  it(`${name}: zadd with cap keeps the cap highest scores`, async () => {
    const store = await fresh();
    const effects: Effect[] = [];
    for (let i = 0; i < 50; i++) effects.push({ kind: 'zadd', key: 'feed:capped', member: `p${i}`, score: (i * 37) % 50, cap: 5 });
    await apply(store, effects);
    expect((await store.zrangeByScoreDesc(G, 'feed:capped', { limit: 100 })).map((e) => e.score)).toEqual([49, 48, 47, 46, 45]);
    // a lower score than all kept ones enters and leaves at once
    await apply(store, [{ kind: 'zadd', key: 'feed:capped', member: 'old', score: 1, cap: 5 }]);
    expect(await store.zscoreMany(G, 'feed:capped', ['old'])).toEqual([null]);
    expect(await store.zcard(G, 'feed:capped')).toBe(5);
  });

  it(`${name}: capped adds in one batch apply in order (a score change, a tie, a duplicate)`, async () => {
    const store = await fresh();
    await apply(store, [1, 2, 3, 4, 5].map((n) => ({ kind: 'zadd', key: 'feed:order', member: `p${n}`, score: n, cap: 5 })));
    await apply(store, [
      { kind: 'zadd', key: 'feed:order', member: 'p1', score: 10, cap: 5 }, // moves up: p2 is now the lowest
      { kind: 'zadd', key: 'feed:order', member: 'p6', score: 6, cap: 5 }, // trims p2
      { kind: 'zadd', key: 'feed:order', member: 'p7', score: 3, cap: 5 }, // ties p3 and sorts after it: trims p3
      { kind: 'zadd', key: 'feed:order', member: 'p2', score: 2, cap: 5 }, // below the lowest: in and out at once
    ]);
    expect(await store.zrangeByScoreDesc(G, 'feed:order', { limit: 10 })).toEqual([
      { member: 'p1', score: 10 }, { member: 'p6', score: 6 }, { member: 'p5', score: 5 }, { member: 'p4', score: 4 }, { member: 'p7', score: 3 },
    ]);
  });

  it(`${name}: zaddEach adds one member to each of its keys, capped, in batch order with the keys' other effects`, async () => {
    const store = await fresh();
    await apply(store, [1, 2, 3].map((n) => ({ kind: 'zadd', key: 'feed:f1', member: `p${n}`, score: n, cap: 3 })));
    await apply(store, [
      { kind: 'zaddEach', keys: ['feed:f1', 'feed:f2', 'feed:f3'], member: 'p9', score: 9, cap: 3 }, // trims p1 from f1
      { kind: 'zrem', key: 'feed:f2', member: 'p9' }, // after the add, so f2 ends empty
      { kind: 'zaddEach', keys: ['feed:f3'], member: 'p8', score: 8, cap: 3 },
    ]);
    expect((await store.zrangeByScoreDesc(G, 'feed:f1', { limit: 10 })).map((e) => e.member)).toEqual(['p9', 'p3', 'p2']);
    expect(await store.zcard(G, 'feed:f2')).toBe(0);
    expect(await store.zrangeByScoreDesc(G, 'feed:f3', { limit: 10 })).toEqual([{ member: 'p9', score: 9 }, { member: 'p8', score: 8 }]);
    await expect(apply(store, [{ kind: 'zaddEach', keys: [], member: 'x', score: 1 }])).rejects.toThrow(/names no keys/);
  });

  it(`${name}: a numbered fanout lands on the keys it names, grouped with the same keys' unnumbered effects`, async () => {
    const store = await fresh();
    const numbering = { size: 3 };
    const keys = ['feed:n0', 'feed:n1', 'feed:n2'];
    await apply(store, [
      { kind: 'zadd', key: 'feed:n1', member: 'p1', score: 1 }, // n1 first met by name, then by number
      { kind: 'zaddEach', keys, numbering, numbers: [0, 1, 2], member: 'p2', score: 2, cap: 2 },
      { kind: 'zrem', key: 'feed:n0', member: 'p2' }, // n0 first met by number, then by name
      { kind: 'zaddEach', keys: ['feed:n2', 'feed:n1'], numbering, numbers: [2, 1], member: 'p3', score: 3, cap: 2 }, // trims p1 from n1
    ]);
    // The same numbers in a later batch name the same keys.
    await apply(store, [{ kind: 'zaddEach', keys: ['feed:n0'], numbering, numbers: [0], member: 'p4', score: 4, cap: 2 }]);
    expect(await store.zrangeByScoreDesc(G, 'feed:n0', { limit: 10 })).toEqual([{ member: 'p4', score: 4 }]);
    expect((await store.zrangeByScoreDesc(G, 'feed:n1', { limit: 10 })).map((e) => e.member)).toEqual(['p3', 'p2']);
    expect((await store.zrangeByScoreDesc(G, 'feed:n2', { limit: 10 })).map((e) => e.member)).toEqual(['p3', 'p2']);
    await expect(apply(store, [{ kind: 'zaddEach', keys: ['feed:n0', 'feed:n1'], numbering, numbers: [0], member: 'x', score: 1 }]))
      .rejects.toThrow(/2 keys but 1 numbers/);
  });

  it(`${name}: zrem and zremTagged (tag after the last '|')`, async () => {
    const store = await fresh();
    await apply(store, [
      { kind: 'zadd', key: 'feed:u2', member: taggedMember('p1', 'alice'), score: 1 },
      { kind: 'zadd', key: 'feed:u2', member: taggedMember('p2', 'bob'), score: 2 },
      { kind: 'zadd', key: 'feed:u2', member: taggedMember('p3', 'alice'), score: 3 },
      { kind: 'zadd', key: 'feed:u2', member: 'x|alice|bob', score: 4 },
      { kind: 'zadd', key: 'feed:u2', member: 'p5|alicex', score: 5 },
      { kind: 'zrem', key: 'feed:u2', member: taggedMember('p2', 'bob') },
      { kind: 'zremTagged', key: 'feed:u2', tag: 'alice' },
      { kind: 'zremTagged', key: 'feed:empty', tag: 'alice' },
    ]);
    expect((await store.zrangeByScoreDesc(G, 'feed:u2', { limit: 10 })).map((e) => e.member)).toEqual(['p5|alicex', 'x|alice|bob']);
  });

  it(`${name}: zreplace swaps a whole set`, async () => {
    const store = await fresh();
    await apply(store, [
      { kind: 'zadd', key: 'trending:1h', member: 'old', score: 99 },
      { kind: 'zreplace', key: 'trending:1h', entries: [{ member: 'cats', score: 5 }, { member: 'dogs', score: 7.5 }] },
    ]);
    expect(await store.zrangeByScoreDesc(G, 'trending:1h', { limit: 10 })).toEqual([
      { member: 'dogs', score: 7.5 }, { member: 'cats', score: 5 },
    ]);
    await apply(store, [{ kind: 'zreplace', key: 'trending:1h', entries: [] }]);
    expect(await store.zcard(G, 'trending:1h')).toBe(0);
  });

  it(`${name}: sadd with expiry disappears at expiresAt; srem; no expiry stays`, async () => {
    const store = await fresh();
    const now = Date.now();
    await apply(store, [
      { kind: 'sadd', key: 'tray:u1', member: 'forever' },
      { kind: 'sadd', key: 'tray:u1', member: 'soon', expiresAt: now + 300 },
      { kind: 'sadd', key: 'tray:u1', member: 'later', expiresAt: now + 60_000 },
      { kind: 'sadd', key: 'tray:u1', member: 'gone', expiresAt: now - 1 },
      { kind: 'sadd', key: 'tray:u1', member: 'dropme' },
      { kind: 'srem', key: 'tray:u1', member: 'dropme' },
      { kind: 'sadd', key: 'tray:short', member: 'a', expiresAt: now + 300 },
    ]);
    expect((await store.smembers(G, 'tray:u1', now)).sort()).toEqual(['forever', 'later', 'soon']);
    expect((await store.smembers(G, 'tray:u1', now + 1000)).sort()).toEqual(['forever', 'later']);
    expect(await store.sismemberMany(G, 'tray:u1', ['soon', 'later', 'gone', 'nope'], now)).toEqual([true, true, false, false]);
    await sleep(400);
    // the next write trims what expired; a set whose members all expired is gone
    await apply(store, [{ kind: 'sadd', key: 'tray:u1', member: 'new' }]);
    expect(await store.zcard(G, 'tray:u1')).toBe(3);
    expect(await store.zcard(G, 'tray:short')).toBe(0);
    expect(await store.smembers(G, 'tray:short', Date.now())).toEqual([]);
  });

  it(`${name}: hset, hincr, del, and hgetallMany with absent keys`, async () => {
    const store = await fresh();
    await apply(store, [
      { kind: 'hset', key: 'post:p1', fields: { author: 'u1', media: 'reel', likes: 0 } },
      { kind: 'hincr', key: 'post:p1', field: 'likes', by: 3 },
      { kind: 'hincr', key: 'post:p1', field: 'likes', by: -1 },
      { kind: 'hincr', key: 'post:p2', field: 'comments', by: 1 },
      { kind: 'hset', key: 'post:p3', fields: { x: '1' } },
      { kind: 'del', key: 'post:p3' },
    ]);
    expect(await store.hgetallMany(G, ['post:p1', 'post:missing', 'post:p2', 'post:p3'])).toEqual([
      { author: 'u1', media: 'reel', likes: '2' }, null, { comments: '1' }, null,
    ]);
  });

  it(`${name}: offsets are the resume point, per processor and generation`, async () => {
    const store = await fresh();
    expect(await store.offsets(G, 'fanout')).toEqual([]);
    await apply(store, [], [{ topic: 'posts', partition: 0, offset: 10 }, { topic: 'posts', partition: 1, offset: 4 }], G, 'fanout');
    await apply(store, [], [{ topic: 'posts', partition: 0, offset: 12 }], G, 'fanout');
    await apply(store, [], [{ topic: 'engagement', partition: 3, offset: 7 }], G, 'counters');
    expect(await store.offsets(G, 'fanout')).toEqual([
      { topic: 'posts', partition: 0, offset: 12 }, { topic: 'posts', partition: 1, offset: 4 },
    ]);
    expect(await store.offsets(G, 'counters')).toEqual([{ topic: 'engagement', partition: 3, offset: 7 }]);
    expect(await store.offsets('g2', 'fanout')).toEqual([]);
  });

  it(`${name}: a batch that fails part-way leaves neither effects nor offsets`, async () => {
    const store = await fresh();
    await apply(store, [{ kind: 'zadd', key: 'feed:z', member: 'keep', score: 1 }, { kind: 'hset', key: 'post:h', fields: { n: 'text' } }],
      [{ topic: 't', partition: 0, offset: 5 }]);
    const failing: Effect[][] = [
      // the third effect uses a sorted set as a hash
      [{ kind: 'zadd', key: 'feed:z', member: 'new', score: 2 }, { kind: 'hincr', key: 'post:ok', field: 'n', by: 1 }, { kind: 'hset', key: 'feed:z', fields: { a: 1 } }],
      // increments a field that holds text
      [{ kind: 'zadd', key: 'feed:z', member: 'new', score: 2 }, { kind: 'hincr', key: 'post:h', field: 'n', by: 1 }],
      // not a view effect at all
      [{ kind: 'zadd', key: 'feed:z', member: 'new', score: 2 }, { kind: 'row', table: 'events', row: {} }],
      // a fanout whose second key holds a hash
      [{ kind: 'zaddEach', keys: ['feed:z', 'post:h'], member: 'new', score: 2 }],
    ];
    for (const effects of failing) {
      await expect(apply(store, effects, [{ topic: 't', partition: 0, offset: 9 }])).rejects.toThrow(/nothing applied|does not apply/);
    }
    expect((await store.zrangeByScoreDesc(G, 'feed:z', { limit: 10 })).map((e) => e.member)).toEqual(['keep']);
    expect(await store.hgetallMany(G, ['post:ok', 'post:h'])).toEqual([null, { n: 'text' }]);
    expect(await store.offsets(G, 'test')).toEqual([{ topic: 't', partition: 0, offset: 5 }]);
    await expect(store.applyBatch({ generation: 'bad:gen', processor: 'test', effects: [], offsets: [] })).rejects.toThrow(/invalid generation/);
  });

  it(`${name}: generations are isolated, switched atomically and dropped`, async () => {
    const store = await fresh();
    expect(await store.currentGeneration()).toBe(INITIAL_GENERATION);
    await apply(store, [{ kind: 'zadd', key: 'feed:u1', member: 'old', score: 1 }, { kind: 'hset', key: 'post:p', fields: { v: 'old' } }],
      [{ topic: 'posts', partition: 0, offset: 3 }], 'g1');
    await apply(store, [{ kind: 'zadd', key: 'feed:u1', member: 'new', score: 2 }, { kind: 'hset', key: 'post:p', fields: { v: 'new' } }],
      [{ topic: 'posts', partition: 0, offset: 8 }], 'g2');
    expect((await store.zrangeByScoreDesc('g1', 'feed:u1', { limit: 10 })).map((e) => e.member)).toEqual(['old']);
    expect((await store.zrangeByScoreDesc('g2', 'feed:u1', { limit: 10 })).map((e) => e.member)).toEqual(['new']);
    expect(await store.generations()).toEqual(['g1', 'g2']);

    await store.setCurrentGeneration('g2');
    expect(await store.currentGeneration()).toBe('g2');
    await expect(store.dropGeneration('g2')).rejects.toThrow(/serves reads/);
    await store.dropGeneration('g1');
    expect(await store.zrangeByScoreDesc('g1', 'feed:u1', { limit: 10 })).toEqual([]);
    expect(await store.hgetallMany('g1', ['post:p'])).toEqual([null]);
    expect(await store.offsets('g1', 'test')).toEqual([]);
    expect(await store.generations()).toEqual(['g2']);
    expect(await store.hgetallMany('g2', ['post:p'])).toEqual([{ v: 'new' }]);
  });

  it(`${name}: the rebuild lease is held by one owner at a time, renewed by it, and ends on release or expiry`, async () => {
    const store = await fresh();
    expect(await store.rebuildLeaseHolder()).toBeUndefined();
    expect(await store.leaseRebuild('a', 60_000)).toBe(true);
    expect(await store.leaseRebuild('b', 60_000)).toBe(false);
    expect(await store.leaseRebuild('a', 150)).toBe(true); // renewed, with a shorter term
    expect(await store.rebuildLeaseHolder()).toBe('a');
    await store.releaseRebuild('b'); // not b's to give up
    expect(await store.rebuildLeaseHolder()).toBe('a');
    await sleep(300);
    expect(await store.leaseRebuild('b', 60_000)).toBe(true);
    await store.releaseRebuild('b');
    expect(await store.rebuildLeaseHolder()).toBeUndefined();
    expect(await store.leaseRebuild('a', 60_000)).toBe(true);
    await store.releaseRebuild('a');
  });

  it(`${name}: identity is made once and kept`, async () => {
    const store = await fresh();
    const made = await store.identity();
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    expect(await Promise.all([store.identity(), store.identity()])).toEqual([made, made]);
  });

  it(`${name}: multi-key reads answer per key, in order`, async () => {
    const store = await fresh();
    const now = Date.now();
    await apply(store, [
      { kind: 'zadd', key: 'feed:a', member: 'a1', score: 1 },
      { kind: 'zadd', key: 'feed:a', member: 'a2', score: 2 },
      { kind: 'zadd', key: 'feed:b', member: 'b1', score: 5 },
      { kind: 'sadd', key: 'seen:a', member: 'x', expiresAt: now + 60_000 },
      { kind: 'sadd', key: 'seen:b', member: 'y' },
    ]);
    expect(await store.zrangeByScoreDescMany(G, ['feed:b', 'feed:none', 'feed:a'], { limit: 1 })).toEqual([
      [{ member: 'b1', score: 5 }], [], [{ member: 'a2', score: 2 }],
    ]);
    expect(await store.smembersMany(G, ['seen:b', 'seen:a', 'seen:none'], now)).toEqual([['y'], ['x'], []]);
    expect(await store.zscoreMany(G, 'feed:a', ['a2', 'zz', 'a1'])).toEqual([2, null, 1]);
    expect(await store.zscoreMany(G, 'seen:b', ['y'])).toEqual([Infinity]);
  });

  it(`${name}: a batch of 5,000 mixed effects applies as one`, async () => {
    const store = await fresh();
    const effects: Effect[] = [];
    for (let i = 0; i < 1250; i++) {
      effects.push(
        { kind: 'zadd', key: `feed:u${i % 100}`, member: taggedMember(`p${i}`, `a${i % 7}`), score: i, cap: 10 },
        { kind: 'hincr', key: `post:p${i % 50}`, field: 'likes', by: 1 },
        { kind: 'sadd', key: `seen:u${i % 100}`, member: `p${i}`, expiresAt: Date.now() + 60_000 },
        { kind: 'hset', key: `profile:u${i % 100}`, fields: { name: `user ${i % 100}` } },
      );
    }
    await apply(store, effects, [{ topic: 'posts', partition: 0, offset: 1250 }]);
    expect(await store.zcard(G, 'feed:u7')).toBe(10);
    expect((await store.zrangeByScoreDesc(G, 'feed:u7', { limit: 1 }))[0].score).toBe(1207);
    expect((await store.hgetallMany(G, ['post:p0']))[0]).toEqual({ likes: '25' });
    expect((await store.smembers(G, 'seen:u3', Date.now())).length).toBe(13);
    expect(await store.offsets(G, 'test')).toEqual([{ topic: 'posts', partition: 0, offset: 1250 }]);
  });

  it(`${name}: batches of capped adds, removals and set changes end as applying them one by one would`, async () => {
    // The model applies each effect on its own, in order; a store may group a key's effects (Redis
    // sends runs of adds as one ZADD), which must not change the outcome: score changes, ties,
    // duplicates, trims and expired set members included.
    // Few members, a small cap and few keys, so that sets fill up and runs meet members they hold.
    const member = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    const score = fc.integer({ min: 1, max: 6 });
    const zkey = fc.constantFrom('feed:x', 'feed:x', 'feed:y');
    const skey = fc.constantFrom('set:x', 'set:y');
    const effect: fc.Arbitrary<Extract<Effect, { kind: 'zadd' | 'zaddEach' | 'zrem' | 'sadd' | 'srem' }>> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('zadd' as const), key: zkey, member, score, cap: fc.constant(3) }) },
      // A fanout: the same add on each of several keys, in the batch's order on every one of them;
      // numbered or not, as a processor may number its keys (one numbering for every batch and run).
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('zaddEach' as const), keys: fc.subarray(['feed:x', 'feed:y'], { minLength: 1 }), member, score, cap: fc.constant(3), numbered: fc.boolean() })
        .map(({ numbered, ...e }) => (numbered ? { ...e, numbering: FEED_NUMBERING, numbers: e.keys.map((key) => (key === 'feed:x' ? 0 : 1)) } : e)) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('zrem' as const), key: zkey, member }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('sadd' as const), key: skey, member, expiresAt: fc.constantFrom(1, 4_000_000_000_000) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('srem' as const), key: skey, member }) },
    );
    const byRank = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0);
    const store = await fresh();
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(fc.array(effect, { minLength: 1, maxLength: 12 }), { minLength: 2, maxLength: 4 }), async (batches) => {
      const generation = `p${++run}`;
      const model = new Map<string, Map<string, number>>();
      for (const batch of batches) {
        const setOf = (key: string) => {
          const set = model.get(key) ?? new Map<string, number>();
          model.set(key, set);
          return set;
        };
        const zadd = (key: string, member: string, score: number, cap: number) => {
          const set = setOf(key);
          set.set(member, score);
          while (set.size > cap) set.delete([...set].sort(byRank).at(-1)![0]);
        };
        for (const e of batch) {
          if (e.kind === 'zaddEach') for (const key of e.keys) zadd(key, e.member, e.score, e.cap!);
          else if (e.kind === 'zadd') zadd(e.key, e.member, e.score, e.cap!);
          else if (e.kind === 'sadd') setOf(e.key).set(e.member, e.expiresAt!);
          else setOf(e.key).delete(e.member);
        }
        await apply(store, batch, [], generation);
      }
      const now = Date.now();
      for (const key of ['feed:x', 'feed:y']) {
        const expected = [...(model.get(key) ?? [])].sort(byRank).map(([m, s]) => ({ member: m, score: s }));
        expect(await store.zrangeByScoreDesc(generation, key, { limit: 100 })).toEqual(expected);
      }
      for (const key of ['set:x', 'set:y']) {
        const expected = [...(model.get(key) ?? [])].filter(([, expires]) => expires > now).map(([m]) => m).sort();
        expect((await store.smembers(generation, key, now)).sort()).toEqual(expected);
        expect(await store.zcard(generation, key)).toBe(expected.length);
      }
    }), { numRuns: 100 });
  });

  if (options.childStoreSource) {
    it(`${name}: kill -9 of a writer loses nothing and counts nothing twice`, async () => {
      const store = await fresh();
      for (let round = 0; round < 3; round++) {
        await runWriterAndKill(options.childStoreSource!(), 250 + round * 150);
        const [offsets, [counter], size] = await Promise.all([
          store.offsets(G, 'crash'), store.hgetallMany(G, ['crash:counter']), store.zcard(G, 'crash:feed'),
        ]);
        const resume = offsets[0]?.offset ?? 0;
        expect(resume).toBeGreaterThan(0);
        // every record up to the resume point was counted exactly once, none beyond it
        expect(Number(counter?.n ?? 0)).toBe(resume);
        expect(size).toBe(resume);
      }
    });
  }
}

/** A child that resumes from the store's offsets and applies batches in a loop until SIGKILL. */
async function runWriterAndKill(storeSource: string, runMs: number): Promise<void> {
  const source = `${storeSource}
    const held = (await store.offsets('g1', 'crash'))[0]?.offset ?? 0;
    let next = held;
    process.stdout.write('ready ' + held + '\\n');
    for (;;) {
      const effects = [];
      for (let i = 0; i < 40; i++) {
        effects.push({ kind: 'hincr', key: 'crash:counter', field: 'n', by: 1 });
        effects.push({ kind: 'zadd', key: 'crash:feed', member: 'm' + (next + i), score: next + i });
      }
      next += 40;
      await store.applyBatch({ generation: 'g1', processor: 'crash', effects, offsets: [{ topic: 't', partition: 0, offset: next }] });
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
  });
  await sleep(runMs);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
