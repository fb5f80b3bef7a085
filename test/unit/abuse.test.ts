// The abuse signal: follows re-keyed by follower, a sliding event-time hour per follower, the flag.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../processors/effects.ts';
import {
  ABUSE_FLAGS_TOPIC, ABUSE_FOLLOWS_TOPIC, FLAGGED_SET_KEY, HOUR_MS, createAbuse, flaggedKey, type FollowByFollower,
} from '../../processors/abuse/index.ts';
import { createTrending } from '../../processors/trending-hashtags/index.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';

const T0 = Date.UTC(2026, 2, 1, 12);
const source = { topic: ABUSE_FOLLOWS_TOPIC, partition: 0, offset: 0 };
const follow = (follower: string, followee: string, ts: number): FollowByFollower => ({ follower_id: follower, followee_id: followee, ts });

function detector(limit: number) {
  const { botFollows } = createAbuse({ followsPerHour: limit });
  const state = botFollows.init(0);
  const run = (follows: FollowByFollower[]) => follows.flatMap((f) => botFollows.apply(state, f, source));
  return { state, run };
}

describe('abuse stage 1: follows by follower', () => {
  const { followsByFollower } = createAbuse();

  it('re-keys every follow by its follower, ignores everything else', () => {
    const f: DarkroomEvent = { type: 'follow', event_id: 'e1', ts: T0, follower_id: 'bot', followee_id: 'ann' };
    expect(followsByFollower.apply(null, f, source)).toEqual([
      { kind: 'repartition', topic: ABUSE_FOLLOWS_TOPIC, key: 'bot', value: { follower_id: 'bot', followee_id: 'ann', ts: T0 } },
    ]);
    const u: DarkroomEvent = { type: 'unfollow', event_id: 'e2', ts: T0, follower_id: 'bot', followee_id: 'ann' };
    expect(followsByFollower.apply(null, u, source)).toEqual([]);
  });
});

describe('abuse stage 2: more than N follows in an hour of event time flags the follower', () => {
  it('N follows in an hour are fine; the N+1st within the hour flags, once, with reason, count and time', () => {
    const { run, state } = detector(5);
    const spread = Array.from({ length: 5 }, (_, i) => follow('bot', `u${i}`, T0 + i * 60_000));
    expect(run(spread)).toEqual([]);
    const effects = run([follow('bot', 'u5', T0 + 10 * 60_000)]);
    expect(effects).toEqual<Effect[]>([
      { kind: 'hset', key: flaggedKey('bot'), fields: { reason: 'followed 6 accounts within one hour (limit 5)', count: 6, at: T0 + 10 * 60_000 } },
      { kind: 'sadd', key: FLAGGED_SET_KEY, member: 'bot' },
      { kind: 'repartition', topic: ABUSE_FLAGS_TOPIC, key: 'bot', value: { type: 'account_flagged', user_id: 'bot', reason: 'followed 6 accounts within one hour (limit 5)', count: 6, ts: T0 + 10 * 60_000 } },
    ]);
    expect(run([follow('bot', 'u6', T0 + 11 * 60_000)])).toEqual([]); // flagged once
    expect(state.windows.has('bot')).toBe(false); // and no longer tracked
  });

  it('the window slides: the same number of follows spread over more than an hour is not flagged', () => {
    const { run } = detector(5);
    const slow = Array.from({ length: 50 }, (_, i) => follow('fan', `u${i}`, T0 + i * 15 * 60_000)); // 4 per hour
    expect(run(slow)).toEqual([]);
  });

  it('counts per follower: many followers each under the limit are not flagged', () => {
    const { run } = detector(3);
    const crowd = Array.from({ length: 75 }, (_, i) => follow(`user${i % 25}`, `star${i}`, T0 + i));
    expect(run(crowd)).toEqual([]);
  });

  it('a late follow inside the hour counts; one more than an hour behind the newest is too late', () => {
    const { run } = detector(3);
    expect(run([follow('bot', 'a', T0), follow('bot', 'b', T0 + 1), follow('bot', 'c', T0 + 2)])).toEqual([]);
    expect(run([follow('bot', 'x', T0 - 2 * HOUR_MS)])).toEqual([]);
    const late = run([follow('bot', 'd', T0 - 30 * 60_000)]);
    expect(late.find((e) => e.kind === 'hset')).toMatchObject({ fields: { count: 4 } });
  });

  it('property: flagged exactly when some hour of event time holds more than N follows (in-order input)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.integer({ min: 0, max: 3 * HOUR_MS }), { maxLength: 40 }),
      (limit, offsets) => {
        const times = [...offsets].sort((a, b) => a - b).map((o) => T0 + o);
        const { run } = detector(limit);
        const flagged = run(times.map((ts, i) => follow('bot', `u${i}`, ts))).some((e) => e.kind === 'hset');
        const expected = times.some((end, j) => times.filter((t, i) => i <= j && t > end - HOUR_MS).length > limit);
        expect(flagged).toBe(expected);
      },
    ));
  });

  it('forgets quiet followers as event time moves on, so state stays bounded', () => {
    const { run, state } = detector(1_000);
    run(Array.from({ length: 20_000 }, (_, i) => follow(`u${i}`, 'star', T0 + i * 1_000)));
    expect(state.windows.size).toBeLessThan(10_000);
  });
});

describe('trending ignores flagged accounts (abuse-flags is co-partitioned with posts by user)', () => {
  it('a flagged author\'s posts stop producing hashtag uses; others\' still do', () => {
    const { extract } = createTrending({ halfLifeMinutes: 60 });
    const state = extract.init(0);
    const post = (author: string, id: string): DarkroomEvent =>
      ({ type: 'post_created', event_id: id, ts: T0, post_id: id, author_id: author, caption: '', media_type: 'photo', hashtags: ['spam'] });
    const src = { topic: 'posts', partition: 0, offset: 0 };
    expect(extract.apply(state, post('bot', 'p1'), src)).toHaveLength(1);
    extract.apply(state, { type: 'account_flagged', user_id: 'bot', reason: 'r', count: 1001, ts: T0 }, { ...src, topic: ABUSE_FLAGS_TOPIC });
    expect(extract.apply(state, post('bot', 'p2'), src)).toEqual([]);
    expect(extract.apply(state, post('ann', 'p3'), src)).toHaveLength(1);
  });
});
