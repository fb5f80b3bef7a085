// The embedded store groups a batch's (key slot, effect) pairs by slot in one pass for few slots and
// in two for many (sinks/embedded/slot-groups.ts). Both must give what the obvious grouping gives:
// each slot's items in batch order, an item repeated once per pair it owns there, with its value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupBySlot } from '../../sinks/embedded/slot-groups.ts';

/** Items with the slots of their pairs, as the store's batch has them (an item owns 1..n pairs). */
type Batch = { slots: number; items: number[][] };

function obvious({ slots, items }: Batch): number[][] {
  const groups = Array.from({ length: slots }, () => [] as number[]);
  items.forEach((pairs, item) => { for (const slot of pairs) groups[slot].push(item); });
  return groups;
}

/** A value per item (the store's member words), different for every item. */
const valueOf = (item: number) => (item * 2_654_435_761) >>> 0;

function grouped({ slots, items }: Batch): number[][] {
  const slotOf = Int32Array.from(items.flat());
  // Items are their own index, as objects (the store groups effects).
  const { start, grouped, groupedValues } = groupBySlot(
    slotOf, slots, items.map((pairs, item) => ({ item, pairs })), (i) => i.pairs.length, Uint32Array.from(items, (_, item) => valueOf(item)),
  );
  // Each grouped pair carries its own item's value.
  const misplaced = grouped.findIndex((i, p) => groupedValues![p] !== valueOf(i.item));
  if (misplaced >= 0) throw new Error(`grouped pair ${misplaced} carries the value of another item`);
  return Array.from({ length: slots }, (_, s) => grouped.slice(start[s], start[s + 1]).map((i) => i.item));
}

/** A batch over `slots` slots, every slot used at least once (the store numbers only the keys it met). */
const batchOf = (slots: fc.Arbitrary<number>) => slots.chain((n) =>
  fc.array(fc.array(fc.nat(n - 1), { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 400 })
    .map((items) => ({ slots: n, items: [...items, ...Array.from({ length: n }, (_, s) => [s])] })));

describe('grouping pairs by slot', () => {
  it('gives each slot its items in batch order, with few slots (one pass)', () => {
    fc.assert(fc.property(batchOf(fc.integer({ min: 1, max: 300 })), (batch) => {
      expect(grouped(batch)).toEqual(obvious(batch));
    }), { numRuns: 200 });
  });

  it('gives each slot its items in batch order, with many slots (two passes)', () => {
    fc.assert(fc.property(batchOf(fc.integer({ min: 4_097, max: 40_000 })), (batch) => {
      expect(grouped(batch)).toEqual(obvious(batch));
    }), { numRuns: 30 });
  });

  it('keeps batch order at scale: 200,000 pairs over 100,000 slots', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => Array.from({ length: 10 }, (_, k) => (i * 7_919 + k * 104_729) % 100_000));
    const batch = { slots: 100_000, items };
    // Compared as text: a failing toEqual of 100,000 arrays takes minutes to print.
    const [got, want] = [grouped(batch), obvious(batch)].map((groups) => JSON.stringify(groups));
    expect(got === want, 'grouping of 200,000 pairs differs from the obvious one').toBe(true);
  });

  it('refuses slots out of range, and weights that do not add up to the pairs', () => {
    expect(() => groupBySlot(Int32Array.from([0, 2, 1]), 2, ['a', 'b', 'c'], () => 1)).toThrow(/pair 1 has slot 2, outside 0-1/);
    expect(() => groupBySlot(Int32Array.from([0, 1, 1]), 2, ['a', 'b'], () => 1)).toThrow(/weights add up to 2 pairs, slotOf has 3/);
  });
});
