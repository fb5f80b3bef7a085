// How `darkroom verify` shows one differing view (processors/replay/verify.ts describeDifference).
import { describe, expect, it } from 'vitest';
import { describeDifference } from '../../processors/replay/index.ts';

const hash = (fields: Record<string, string>) => `hash ${JSON.stringify(Object.entries(fields))}`;
const zset = (members: Array<[string, number]>) => `zset ${JSON.stringify(members)}`;

describe('describeDifference', () => {
  it('names the fields of two hashes that differ, however long the others are', () => {
    const caption = 'a caption long enough to push every later field past any fixed width '.repeat(4);
    const d = { key: 'post:p753', a: hash({ author_id: 'u77', caption, is_private: '0' }), b: hash({ author_id: 'u77', caption, is_private: '1' }) };
    expect(describeDifference(d, ['g1', 'g2'])).toEqual(['field "is_private": g1 "0", g2 "1"']);
  });

  it('names the members only one sorted set holds or scores differently, at most `most` of them', () => {
    const d = { key: 'feed:u1', a: zset([['p1', 1], ['p2', 2], ['p3', 3]]), b: zset([['p2', 2], ['p3', 4], ['p4', 5]]) };
    expect(describeDifference(d, ['g1', 'fresh rebuild'])).toEqual([
      'member "p1": g1 1, fresh rebuild (absent)',
      'member "p3": g1 3, fresh rebuild 4',
      'member "p4": g1 (absent), fresh rebuild 5',
    ]);
    expect(describeDifference(d, ['g1', 'g2'], 2)).toEqual([
      'member "p1": g1 1, g2 (absent)',
      'member "p3": g1 3, g2 4',
      '... and 1 more members differ (g1 holds 3, g2 3)',
    ]);
  });

  it('shows both whole values when one side is absent or of another type', () => {
    expect(describeDifference({ key: 'k', a: null, b: hash({ likes: '1' }) }, ['g1', 'g2'])).toEqual(['g1: (absent)', 'g2: hash [["likes","1"]]']);
    expect(describeDifference({ key: 'k', a: zset([['m', 1]]), b: hash({ m: '1' }) }, ['g1', 'g2'])).toEqual(['g1: zset [["m",1]]', 'g2: hash [["m","1"]]']);
  });
});
