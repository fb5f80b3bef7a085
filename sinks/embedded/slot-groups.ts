// Grouping a batch's (key slot, effect) pairs by slot, keeping their batch order within each slot.
//
// A rebuild batch spreads ~12M pairs over ~100k keys. Placing each pair straight at its slot's next
// position is one random write per pair far from the last: a cache miss each, ~230 ns per pair on
// this machine, two thirds of the store's grouping. So the pairs are placed in two passes,
// as a radix partition does: first into a few hundred ranges of adjacent slots (a few hundred
// sequential write streams), then within each range, whose positions fit in the CPU's cache. Both
// passes keep the order of the pairs, so each slot's items stay in batch order.
// (bench/RESULTS.md, "Grouping by key in two passes".)

/**
 * Items grouped by slot: those of slot s are grouped[start[s]] .. grouped[start[s + 1] - 1]; with
 * per-item values, groupedValues[i] is the value of grouped[i]'s item.
 */
export interface SlotGroups<T> {
  start: Int32Array;
  grouped: T[];
  groupedValues?: Uint32Array;
}

/** Up to this many slots, one pass: their positions fit in the cache anyway. */
const ONE_PASS_SLOTS = 4_096;
/** Slot ranges of the first pass: at most this many. */
const RANGES = 512;

/**
 * `slotOf` holds the slot (0 <= slot < slots) of every pair, in batch order; items[i] owns the next
 * weightOf(items[i]) pairs.
 */
export function groupBySlot<T>(
  slotOf: Int32Array, slots: number, items: readonly T[], weightOf: (item: T) => number, itemValues?: Uint32Array,
): SlotGroups<T> {
  const pairs = slotOf.length;
  const start = new Int32Array(slots + 1);
  for (let p = 0; p < pairs; p++) {
    const slot = slotOf[p];
    if (!(slot >= 0 && slot < slots)) throw new Error(`groupBySlot: pair ${p} has slot ${slot}, outside 0-${slots - 1}`);
    start[slot + 1]++;
  }
  for (let s = 0; s < slots; s++) start[s + 1] += start[s];
  const next = start.slice(0, slots);

  const grouped = new Array<T>(pairs);
  const groupedValues = itemValues && new Uint32Array(pairs);
  if (slots <= ONE_PASS_SLOTS) {
    let at = 0;
    for (let item = 0; item < items.length; item++) {
      for (let n = weightOf(items[item]); n > 0; n--) {
        const to = next[slotOf[at++]]++;
        grouped[to] = items[item];
        if (groupedValues) groupedValues[to] = itemValues![item];
      }
    }
    checkWeights(at, pairs);
    return { start, grouped, groupedValues };
  }

  // First pass: each pair to the range of slots it belongs to (slot >> shift), with its item.
  let shift = 0;
  while (slots >> shift > RANGES) shift++;
  const ranges = (slots >> shift) + 1;
  const rangeNext = new Int32Array(ranges);
  for (let r = 0; r < ranges; r++) rangeNext[r] = start[Math.min(slots, r << shift)];
  const rangedSlot = new Int32Array(pairs);
  const rangedItem = new Int32Array(pairs);
  let at = 0;
  for (let item = 0; item < items.length; item++) {
    for (let n = weightOf(items[item]); n > 0; n--) {
      const slot = slotOf[at++];
      const to = rangeNext[slot >> shift]++;
      rangedSlot[to] = slot;
      rangedItem[to] = item;
    }
  }
  checkWeights(at, pairs);
  // Second pass: within each range, in order, to the slot's next position. A range's items are read
  // in ascending order, and its positions are a small part of the result: both stay in the cache.
  if (groupedValues) {
    for (let p = 0; p < pairs; p++) {
      const to = next[rangedSlot[p]]++;
      grouped[to] = items[rangedItem[p]];
      groupedValues[to] = itemValues![rangedItem[p]];
    }
  } else {
    for (let p = 0; p < pairs; p++) grouped[next[rangedSlot[p]]++] = items[rangedItem[p]];
  }
  return { start, grouped, groupedValues };
}

function checkWeights(visited: number, pairs: number): void {
  if (visited !== pairs) throw new Error(`groupBySlot: the items' weights add up to ${visited} pairs, slotOf has ${pairs}`);
}
