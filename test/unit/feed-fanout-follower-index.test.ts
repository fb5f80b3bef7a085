// The compact follower index must behave exactly like a Map of Maps, through every growth step
// (dense small tables, then hash tables) and with tombstones left by unfollows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FollowerIndex } from '../../processors/feed-fanout/follower-index.ts';
import { isOn, stampOff, stampOn } from '../../processors/feed-fanout/stamps.ts';

describe('feed-fanout follower index', () => {
  it('agrees with a Map of Maps for any sequence of follows and unfollows', () => {
    const op = fc.tuple(fc.nat(5), fc.nat(300), fc.boolean(), fc.nat(1_000_000));
    fc.assert(fc.property(fc.array(op, { maxLength: 2000, size: 'max' }), (ops) => {
      const index = new FollowerIndex();
      const model = new Map<number, Map<number, number>>();
      for (const [followee, follower, following, ts] of ops) {
        const stamp = following ? stampOn(ts) : stampOff(ts);
        index.set(followee, follower, stamp);
        if (!model.has(followee)) model.set(followee, new Map());
        model.get(followee)!.set(follower, stamp);
      }
      let edges = 0;
      for (let followee = 0; followee <= 5; followee++) {
        const expected = [...(model.get(followee) ?? [])].filter(([, s]) => isOn(s)).map(([f]) => f).sort((a, b) => a - b);
        const seen: number[] = [];
        index.forEachFollower(followee, (f) => seen.push(f));
        expect(seen.sort((a, b) => a - b)).toEqual(expected);
        expect(index.followerCount(followee)).toBe(expected.length);
        for (const [follower, stamp] of model.get(followee) ?? []) expect(index.stamp(followee, follower)).toBe(stamp);
        expect(index.stamp(followee, 10_000)).toBeUndefined();
        edges += expected.length;
      }
      expect(index.edges).toBe(edges);
    }), { numRuns: 100 });
  });

  it('holds a followee with a million followers', () => {
    const index = new FollowerIndex();
    for (let f = 0; f < 1_000_000; f++) index.set(7, f, stampOn(f));
    for (let f = 0; f < 1_000_000; f += 2) index.set(7, f, stampOff(2_000_000));
    expect(index.followerCount(7)).toBe(500_000);
    let sum = 0;
    index.forEachFollower(7, (f) => { sum += f % 2; });
    expect(sum).toBe(500_000);
    expect(index.stamp(7, 999_999)).toBe(999_999);
  });
});
