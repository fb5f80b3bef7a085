// Pure parts of the view stores: batch validation, offsets fields and the embedded sorted set, which
// must order and trim exactly like Redis (checked against a naive model with fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortedSet } from '../../sinks/embedded/sorted-set.ts';
import { redactUrl } from '../../sinks/errors.ts';
import { parseOffsetFields, validateBatch, type ViewBatch } from '../../sinks/view-store.ts';

const batch = (effects: ViewBatch['effects'], extra: Partial<ViewBatch> = {}): ViewBatch =>
  ({ generation: 'g1', processor: 'p', effects, offsets: [], ...extra });

describe('validateBatch', () => {
  it('rejects effects that belong elsewhere, with where they go', () => {
    expect(() => validateBatch(batch([{ kind: 'row', table: 'events', row: {} }]))).toThrow(/analytics store/);
    expect(() => validateBatch(batch([{ kind: 'repartition', topic: 't', key: 'k', value: {} }]))).toThrow(/repartition topic/);
  });
  it('rejects bad names, scores, caps, offsets and reserved keys', () => {
    expect(() => validateBatch(batch([], { generation: 'a:b' }))).toThrow(/invalid generation/);
    expect(() => validateBatch(batch([{ kind: 'zadd', key: 'k', member: 'm', score: NaN }]))).toThrow(/must be a number/);
    expect(() => validateBatch(batch([{ kind: 'zadd', key: 'k', member: 'm', score: 1, cap: 0 }]))).toThrow(/cap/);
    expect(() => validateBatch(batch([{ kind: 'hincr', key: 'k', field: 'f', by: Infinity }]))).toThrow(/finite/);
    expect(() => validateBatch(batch([{ kind: 'del', key: 'offsets:x' }]))).toThrow(/reserved/);
    expect(() => validateBatch(batch([], { offsets: [{ topic: 't', partition: -1, offset: 0 }] }))).toThrow(/invalid offset/);
  });
  it('passes a good batch through', () => {
    const effects: ViewBatch['effects'] = [{ kind: 'zadd', key: 'feed:u', member: 'p|a', score: 1, cap: 3 }, { kind: 'del', key: 'x' }];
    expect(validateBatch(batch(effects))).toBe(effects);
  });
});

describe('offsets and urls', () => {
  it('parses offsets fields, topic names may hold colons', () => {
    expect(parseOffsetFields({ 'b:1': '5', 'a:x:0': 3 })).toEqual([
      { topic: 'a:x', partition: 0, offset: 3 }, { topic: 'b', partition: 1, offset: 5 },
    ]);
  });
  it('never shows credentials', () => {
    expect(redactUrl('rediss://user:pa%40ss@cache.example:6380/2')).toBe('rediss://cache.example:6380/2');
    expect(redactUrl('not a url')).toBe('<invalid url>');
  });
});

describe('SortedSet', () => {
  const model = (ops: Array<[string, number]>, cap?: number) => {
    const m = new Map<string, number>();
    for (const [member, score] of ops) {
      m.set(member, score);
      if (cap !== undefined) {
        const sorted = [...m].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        for (const [doomed] of sorted.slice(0, Math.max(0, sorted.length - cap))) m.delete(doomed);
      }
    }
    return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)).map(([member, score]) => ({ member, score }));
  };

  it('orders by score then member, keeps the cap highest (model check)', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), fc.integer({ min: 0, max: 5 })), { maxLength: 40 }),
      fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
      (ops, cap) => {
        const set = new SortedSet();
        for (const [member, score] of ops) {
          set.add(member, score);
          if (cap !== undefined) set.keepHighest(cap);
        }
        expect(SortedSet.rangeDesc(set.toStored(), { limit: 100 })).toEqual(model(ops, cap));
      },
    ));
  });

  it('pages with bounds and trims expired scores', () => {
    const set = SortedSet.of([{ member: 'x', score: 1 }, { member: 'y', score: 2 }, { member: 'z', score: 3 }, { member: 'w', score: Infinity }]);
    expect(SortedSet.rangeDesc(set.toStored(), { max: 3, exclusiveMax: true, min: 2, limit: 10 })).toEqual([{ member: 'y', score: 2 }]);
    set.removeScoresUpTo(2);
    expect(SortedSet.membersAbove(set.toStored(), 0)).toEqual(['z', 'w']);
    expect(set.highestScore()).toBe(Infinity);
    expect(set.remove('z')).toBe(true);
    expect(set.remove('z')).toBe(false);
    expect(set.score('w')).toBe(Infinity);
  });
});
