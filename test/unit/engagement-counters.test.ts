import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../processors/effects.ts';
import {
  CompactIdSet, ENGAGEMENT_DELETIONS_TOPIC, createEngagement, statsKey, type EngagementInput,
} from '../../processors/engagement-counters/index.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';

const T0 = Date.UTC(2026, 2, 1, 12);
const source = { topic: 'engagement', partition: 0, offset: 0 };
let seq = 0;
const base = () => ({ event_id: `e${++seq}`, ts: T0 + seq });
const like = (user_id: string, post_id = 'p1'): EngagementInput => ({ type: 'like', ...base(), user_id, post_id });
const unlike = (user_id: string, post_id = 'p1'): EngagementInput => ({ type: 'unlike', ...base(), user_id, post_id });
const reel = (watched_ms: number, duration_ms: number, post_id = 'p1'): EngagementInput =>
  ({ type: 'reel_watched', ...base(), viewer_id: 'v', post_id, watched_ms, duration_ms });
const deleted = (post_id = 'p1'): EngagementInput => ({ type: 'post_deleted', ...base(), post_id, author_id: 'ann' });

/** Applies the events and folds the effects the way a view store would: the resulting stats hashes. */
function run(events: EngagementInput[]) {
  const { counters } = createEngagement();
  const state = counters.init(0);
  const views = new Map<string, Record<string, number>>();
  const effects: Effect[] = [];
  for (const event of events) {
    for (const effect of counters.apply(state, event, source)) {
      effects.push(effect);
      if (effect.kind === 'hincr') {
        const hash = views.get(effect.key) ?? {};
        hash[effect.field] = (hash[effect.field] ?? 0) + effect.by;
        views.set(effect.key, hash);
      } else if (effect.kind === 'del') views.delete(effect.key);
      else throw new Error(`unexpected effect ${effect.kind}`);
    }
  }
  return { views, effects, state, stats: (post = 'p1') => views.get(statsKey(post)) ?? {} };
}

describe('engagement counters', () => {
  it('likes count distinct users whose latest like/unlike is a like', () => {
    const { stats } = run([like('a'), like('b'), like('c'), unlike('b'), like('b'), unlike('c')]);
    expect(stats().likes).toBe(2);
  });

  it('a second like changes nothing', () => {
    const { effects, stats } = run([like('a'), like('a'), like('a')]);
    expect(stats().likes).toBe(1);
    expect(effects).toHaveLength(1);
  });

  it('an unlike without a like changes nothing', () => {
    const { effects } = run([unlike('a'), like('b'), unlike('a')]);
    expect(effects).toEqual([{ kind: 'hincr', key: statsKey('p1'), field: 'likes', by: 1 }]);
  });

  it('likes equal the latest like/unlike per user, for any sequence', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 })), { maxLength: 200 }), (ops) => {
      const latest = new Map<number, boolean>();
      for (const [isLike, user] of ops) latest.set(user, isLike);
      const expected = [...latest.values()].filter(Boolean).length;
      const { stats } = run(ops.map(([isLike, user]) => (isLike ? like(`u${user}`) : unlike(`u${user}`))));
      expect(stats().likes ?? 0).toBe(expected);
    }));
  });

  it('comments and shares count one per event', () => {
    const { stats } = run([
      { type: 'comment', ...base(), comment_id: 'c1', user_id: 'a', post_id: 'p1', text: 'nice' },
      { type: 'comment', ...base(), comment_id: 'c2', user_id: 'a', post_id: 'p1', text: 'very' },
      { type: 'share', ...base(), user_id: 'b', post_id: 'p1' },
    ]);
    expect(stats()).toEqual({ comments: 2, shares: 1 });
  });

  it('views count post_seen and reel_watched; watch_ms sums watched_ms', () => {
    const { stats } = run([
      { type: 'post_seen', ...base(), viewer_id: 'v', post_id: 'p1' },
      reel(3000, 10_000), reel(10_000, 10_000), reel(-5, 10_000),
    ]);
    expect(stats()).toMatchObject({ views: 4, watch_ms: 13_000 });
  });

  it('completion counts reels watched to at least 95% of their duration', () => {
    const { stats } = run([reel(9500, 10_000), reel(9499, 10_000), reel(20_000, 10_000), reel(500, 0)]);
    expect(stats()).toMatchObject({ reels_watched: 4, reels_completed: 2 });
  });

  it("a deleted post's counters disappear and later events do not bring them back", () => {
    const { views, effects, stats } = run([
      like('a'), like('a', 'p2'), reel(1000, 2000), deleted('p1'), like('b'), reel(2000, 2000), unlike('a'),
    ]);
    expect(views.has(statsKey('p1'))).toBe(false);
    expect(stats('p2')).toEqual({ likes: 1 });
    expect(effects.at(-1)).toEqual({ kind: 'del', key: statsKey('p1') });
  });

  it('a deleted post frees its likers', () => {
    const { state } = run([like('a'), like('b'), deleted('p1')]);
    expect(state.likers.has('p1')).toBe(false);
  });

  it('deletions from posts are re-keyed by post_id to the internal topic', () => {
    const { deletions } = createEngagement();
    const event: DarkroomEvent = { type: 'post_deleted', event_id: 'd1', ts: T0, post_id: 'p9', author_id: 'ann' };
    expect(deletions.apply(null, event, source)).toEqual([{
      kind: 'repartition', topic: ENGAGEMENT_DELETIONS_TOPIC, key: 'p9',
      value: { type: 'post_deleted', event_id: 'd1', ts: T0, post_id: 'p9', author_id: 'ann' },
    }]);
    expect(deletions.apply(null, { type: 'post_created', event_id: 'x', ts: T0, post_id: 'p9', author_id: 'ann', caption: '', media_type: 'photo', hashtags: [] }, source)).toEqual([]);
  });
});

describe('compact id set', () => {
  it('behaves like a Set of ids while switching representation', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), { maxLength: 3000 }), (ops) => {
      const compact = new CompactIdSet();
      const reference = new Set<number>();
      for (const [add, id] of ops) {
        expect(add ? compact.add(id) : compact.delete(id)).toBe(add ? !reference.has(id) : reference.has(id));
        if (add) reference.add(id); else reference.delete(id);
      }
      expect(compact.size).toBe(reference.size);
      for (let id = 0; id <= 3000; id += 7) expect(compact.has(id)).toBe(reference.has(id));
    }), { numRuns: 50 });
  });

  it('holds a dense set of 100,000 likers in about one bit each', () => {
    const set = new CompactIdSet();
    for (let id = 0; id < 100_000; id++) set.add(id);
    expect(set.size).toBe(100_000);
    expect(set.bytes).toBeLessThan(100_000 / 8 * 2);
  });
});
