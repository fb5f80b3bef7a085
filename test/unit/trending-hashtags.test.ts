import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../processors/effects.ts';
import { ForwardDecay } from '../../processors/trending-hashtags/forward-decay.ts';
import {
  TRENDING_REPARTITION_TOPIC, TrendingConfigError, createTrending, mergePartitionTops, trendingTopKey, trendingUsesKey,
  type HashtagUse, type ScoreState,
} from '../../processors/trending-hashtags/index.ts';
import { MinuteWindow } from '../../processors/trending-hashtags/minute-window.ts';
import { LazyTopK, type Ranked } from '../../processors/trending-hashtags/ranking.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';

const T0 = Date.UTC(2026, 2, 1, 12);
const MIN = 60_000;
const HOUR = 60 * MIN;
const source = { topic: TRENDING_REPARTITION_TOPIC, partition: 0, offset: 0 };

function post(author: string, hashtags: string[], ts: number, post_id = `${author}-${ts}`): DarkroomEvent {
  return { type: 'post_created', event_id: post_id, ts, post_id, author_id: author, caption: '', media_type: 'photo', hashtags };
}

const use = (hashtag: string, author: string, ts: number): HashtagUse => ({ hashtag, author_id: author, post_id: `${author}-${ts}`, ts });

/** Feeds uses (sorted by time, as a partition of the repartition topic delivers them) and returns the final state. */
function score(uses: HashtagUse[], options = {}) {
  const trending = createTrending({ halfLifeMinutes: 60, ...options });
  const state = trending.score.init(0);
  const effects: Effect[][] = [];
  for (const u of [...uses].sort((a, b) => a.ts - b.ts)) effects.push(trending.score.apply(state, u, source));
  return { trending, state, effects, rank: (now?: number) => trending.score.topAt(state, now).map((t) => t.tag) };
}

describe('trending stage 1: extract', () => {
  const { extract } = createTrending({ halfLifeMinutes: 60 });

  it('each distinct tag of a public post becomes one use keyed by the normalized tag', () => {
    const state = extract.init(0);
    const effects = extract.apply(state, post('ann', ['#Sunset', 'sunset', 'ＢＥＡＣＨ', ' ', '#'], T0, 'p1'), source);
    expect(effects).toEqual([
      { kind: 'repartition', topic: TRENDING_REPARTITION_TOPIC, key: 'sunset', value: { hashtag: 'sunset', author_id: 'ann', post_id: 'p1', ts: T0 } },
      { kind: 'repartition', topic: TRENDING_REPARTITION_TOPIC, key: 'beach', value: { hashtag: 'beach', author_id: 'ann', post_id: 'p1', ts: T0 } },
    ]);
  });

  it("private accounts' posts never count, and count again once the account is public", () => {
    const state = extract.init(0);
    const profile = (is_private: boolean, ts: number): DarkroomEvent =>
      ({ type: 'profile_updated', event_id: `pr${ts}`, ts, user_id: 'bob', username: 'bob', is_private });
    extract.apply(state, profile(true, T0), source);
    expect(extract.apply(state, post('bob', ['secret'], T0 + 1), source)).toEqual([]);
    extract.apply(state, profile(false, T0 + 2), source);
    expect(extract.apply(state, post('bob', ['open'], T0 + 3), source)).toHaveLength(1);
  });

  it('post_deleted is ignored: trending reflects what was posted', () => {
    const state = extract.init(0);
    const deleted: DarkroomEvent = { type: 'post_deleted', event_id: 'd', ts: T0, post_id: 'p1', author_id: 'ann' };
    expect(extract.apply(state, deleted, source)).toEqual([]);
  });

  it('at most 30 hashtags of one post count', () => {
    const tags = Array.from({ length: 50 }, (_, i) => `t${i}`);
    expect(extract.apply(extract.init(0), post('ann', tags, T0), source)).toHaveLength(30);
  });
});

describe('trending stage 2: score', () => {
  it('one account posting a tag 1,000 times weighs about one post', () => {
    const spam = Array.from({ length: 1000 }, (_, i) => use('spam', 'bot', T0 + i * 1000));
    const { trending, state } = score([...spam, use('single', 'ann', T0)]);
    const top = trending.score.topAt(state);
    const spamScore = top.find((t) => t.tag === 'spam')!.score;
    const singleScore = top.find((t) => t.tag === 'single')!.score;
    expect(spamScore / singleScore).toBeGreaterThan(0.9);
    expect(spamScore / singleScore).toBeLessThan(1.01);
    expect(top.find((t) => t.tag === 'spam')!.uses1h).toBe(1000); // uses still shows what was posted
  });

  it('a tag used steadily all day ranks below a tag that suddenly takes off', () => {
    const uses: HashtagUse[] = [];
    for (let m = 0; m < 24 * 60; m += 1) uses.push(use('steady', `s${m % 300}`, T0 + m * MIN)); // 60 authors an hour
    for (let i = 0; i < 15; i++) uses.push(use('surge', `a${i}`, T0 + 24 * HOUR - 15 * MIN + i * MIN));
    const { rank } = score(uses);
    expect(rank().slice(0, 2)).toEqual(['surge', 'steady']);
  });

  it('a tag used heavily 6 hours ago ranks below a tag used by a few accounts in the last 10 minutes', () => {
    const uses: HashtagUse[] = [];
    for (let i = 0; i < 500; i++) uses.push(use('yesterday-news', `u${i}`, T0 + (i % 30) * MIN));
    for (let i = 0; i < 3; i++) uses.push(use('fresh', `f${i}`, T0 + 6 * HOUR + (20 - i * 5) * MIN));
    const { rank } = score(uses);
    expect(rank().slice(0, 2)).toEqual(['fresh', 'yesterday-news']);
  });

  it('uses in the last hour are counted per minute of event time', () => {
    const uses = [use('t', 'a', T0), use('t', 'b', T0 + 30 * MIN), use('t', 'c', T0 + 59 * MIN), use('t', 'd', T0 + 61 * MIN)];
    const { trending, state } = score(uses);
    // At T0+61min the window is minutes (T0+2min .. T0+61min]: the use at T0 has left it.
    expect(trending.score.topAt(state)[0].uses1h).toBe(3);
  });

  it('a replay gives the same ranking, and the order of equal-time uses across authors does not matter', () => {
    const uses: HashtagUse[] = [];
    for (let i = 0; i < 2000; i++) uses.push(use(`tag${(i * 7919) % 150}`, `u${(i * 104729) % 400}`, T0 + Math.floor(i / 3) * 7_000));
    const first = score(uses);
    const second = score(uses);
    expect(second.effects).toEqual(first.effects);
    expect(second.rank()).toEqual(first.rank());
    // Uses of the same instant arrive in any order from the 8 source partitions.
    const shuffled = score([...uses].reverse());
    const top = (run: typeof first) => run.trending.score.topAt(run.state);
    expect(top(shuffled).map((t) => t.tag)).toEqual(top(first).map((t) => t.tag));
    top(shuffled).forEach((t, i) => expect(t.score).toBeCloseTo(top(first)[i].score, 9));
  });

  it('publishes each partition top at most once per event-time second', () => {
    const uses = Array.from({ length: 100 }, (_, i) => use(`t${i % 7}`, `u${i}`, T0 + i * 100)); // 10 seconds
    const { effects } = score(uses);
    const publications = effects.filter((e) => e.length > 0);
    expect(publications).toHaveLength(10);
    const last = publications.at(-1)!;
    expect(last[0]).toMatchObject({ kind: 'zreplace', key: trendingTopKey(0) });
    expect(last).toContainEqual({ kind: 'del', key: trendingUsesKey(0) });
  });

  it('publishes at most topSize tags, best first, with their uses in the last hour', () => {
    const uses: HashtagUse[] = [];
    for (let t = 0; t < 150; t++) for (let a = 0; a <= t % 10; a++) uses.push(use(`t${t}`, `a${a}`, T0 + t * 1000 + a));
    const { effects } = score(uses, { topSize: 100 });
    const last = effects.filter((e) => e.length).at(-1)!;
    const zreplace = last[0] as Extract<Effect, { kind: 'zreplace' }>;
    expect(zreplace.entries).toHaveLength(100);
    const scores = zreplace.entries.map((e) => e.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const hset = last.find((e) => e.kind === 'hset' && e.key === trendingUsesKey(0)) as Extract<Effect, { kind: 'hset' }>;
    expect(Object.keys(hset.fields).sort()).toEqual(zreplace.entries.map((e) => e.member).sort());
  });

  it('memory is bounded: tags that faded are forgotten', () => {
    const uses = [use('old', 'a', T0), use('new', 'b', T0 + 48 * HOUR)];
    const { state } = score(uses);
    expect([...(state as ScoreState).tags.keys()]).toEqual(['new']);
  });

  it('scores stay finite and rankings exact years after the landmark, without rescaling', () => {
    const far = Date.UTC(2075, 0, 1);
    const uses = [use('a', 'x', far), use('a', 'y', far + MIN), use('b', 'z', far + 2 * MIN)];
    const { trending, state } = score(uses);
    const top = trending.score.topAt(state);
    expect(top.map((t) => t.tag)).toEqual(['a', 'b']);
    for (const t of top) expect(Number.isFinite(t.score) && t.score > 0).toBe(true);
  });

  it('rejects a baseline half-life that is not longer than the recent one', () => {
    expect(() => createTrending({ halfLifeMinutes: 60, baselineHalfLifeMinutes: 30 })).toThrow(TrendingConfigError);
  });
});

describe('trending building blocks', () => {
  it('forward decay equals classic exponential decay', () => {
    const decay = new ForwardDecay(HOUR, T0);
    let sum = decay.add(-Infinity, T0 + HOUR);
    sum = decay.add(sum, T0 + 2 * HOUR, 3);
    // at T0+3h: 1 * 2^-2 + 3 * 2^-1
    expect(decay.valueAt(sum, T0 + 3 * HOUR)).toBeCloseTo(0.25 + 1.5, 12);
  });

  it('the minute window counts exactly the uses of the last 60 minutes, late ones included', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 300 * MIN }), { maxLength: 300 }), (times) => {
      const window = new MinuteWindow(60);
      let now = -Infinity;
      const kept: number[] = [];
      for (const ts of times) {
        now = Math.max(now, ts);
        const oldest = Math.floor(now / MIN) - 59;
        if (Math.floor(ts / MIN) >= oldest) kept.push(ts);
        window.add(ts, now);
        const expected = kept.filter((t) => Math.floor(t / MIN) >= oldest).length;
        expect(window.countAt(now)).toBe(expected);
      }
    }));
  });

  it('lazy top-K equals ranking every entry at now, for scores that fall over time', () => {
    interface Entry extends Ranked { rate: number; at: number }
    const scoreAt = (e: Entry, now: number) => e.rate * 2 ** (-(now - e.at) / 1000);
    fc.assert(fc.property(
      fc.array(fc.record({ name: fc.string({ maxLength: 3 }), rate: fc.integer({ min: 1, max: 50 }), at: fc.integer({ min: 0, max: 5000 }) }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 20 }),
      (raw, k) => {
        const entries = new Map<string, Entry>();
        for (const r of raw) entries.set(r.name, { ...r, bound: r.rate, evaluatedAt: r.at, heapIndex: -1 });
        const ranking = new LazyTopK<Entry>();
        let now = 0;
        for (const e of entries.values()) { ranking.upsert(e); now = Math.max(now, e.at); }
        const lazy = ranking.top(k, now, scoreAt).map((e) => e.name);
        const brute = [...entries.values()]
          .map((e) => ({ name: e.name, score: scoreAt(e, now) }))
          .sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1))
          .slice(0, k).map((e) => e.name);
        expect(lazy).toEqual(brute);
      },
    ));
  });

  it('serving merges partition tops into one global top, discounting a quiet partition', () => {
    const merged = mergePartitionTops([
      { asOf: T0, entries: [{ tag: 'a', score: 4, uses1h: 10 }, { tag: 'b', score: 1, uses1h: 2 }] },
      { asOf: T0 - 120 * MIN, entries: [{ tag: 'c', score: 3, uses1h: 7 }] }, // quiet for 2 half-lives: 3 → 0.75
    ], 60, 2);
    expect(merged.map((t) => t.tag)).toEqual(['a', 'b']);
  });
});
