// The embedded sorted set kept packed (members in one NUL-joined string, scores in a Float64Array)
// must behave exactly like the unpacked arrays: every operation is checked against a naive model,
// with the set passing through its stored form (and so back to the packed form) between operations,
// as it does between batches of the view store.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortedSet, storedArrays, storedSize } from '../../sinks/embedded/sorted-set.ts';

type Op =
  | { op: 'add'; member: string; score: number; cap?: number }
  | { op: 'remove'; member: string }
  | { op: 'trim'; max: number }
  | { op: 'store' }
  /** A batch announcing many changes: the set unpacks and indexes its members. */
  | { op: 'bulk' };

/** Ascending by (score, member) like Redis. */
function modelApply(model: Map<string, number>, op: Op): void {
  const sorted = () => [...model].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (op.op === 'add') {
    model.set(op.member, op.score);
    if (op.cap !== undefined) for (const [doomed] of sorted().slice(0, Math.max(0, model.size - op.cap))) model.delete(doomed);
  } else if (op.op === 'remove') model.delete(op.member);
  else if (op.op === 'trim') for (const [member, score] of sorted()) if (score <= op.max) model.delete(member);
}

const fewMembers = fc.constantFrom('a', 'b', 'ab', 'ba', 'p1|u1', 'p1|u10', 'p10|u1', '', 'é', 'x\0y');
/** Small sets with many score ties (the unpacked path) and members that are substrings of others. */
const tiesArb = opsOf(fewMembers, fc.integer({ min: 0, max: 12 }), 6);
/** Larger sets with distinct-ish scores: inserts deep in a packed set, packed removes, caps. */
const deepArb = opsOf(fc.integer({ min: 0, max: 40 }).map((n) => `p${n}|u${n % 7}`), fc.double({ min: 0, max: 1000, noNaN: true }), 30);

function opsOf(member: fc.Arbitrary<string>, score: fc.Arbitrary<number>, maxCap: number): fc.Arbitrary<Op[]> {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), member, score, cap: fc.option(fc.integer({ min: 1, max: maxCap }), { nil: undefined }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), member }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('trim' as const), max: score }) },
    { weight: 3, arbitrary: fc.constant({ op: 'store' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'bulk' as const }) },
  );
  return fc.array(op, { maxLength: 120 });
}

function checkAgainstModel(ops: Op[]): void {
  const model = new Map<string, number>();
  let set = new SortedSet();
  for (const op of ops) {
    modelApply(model, op);
    if (op.op === 'add') set.add(op.member, op.score, op.cap);
    else if (op.op === 'remove') set.remove(op.member);
    else if (op.op === 'trim') set.removeScoresUpTo(op.max);
    else if (op.op === 'bulk') set.expectChanges(100);
    else set = SortedSet.from(structuredClone(set.toStored()));
    const expected = [...model].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)).map(([m, s]) => ({ member: m, score: s }));
    const stored = set.toStored();
    expect(SortedSet.rangeDesc(stored, { limit: 1000 })).toEqual(expected);
    expect(set.size).toBe(model.size);
    expect(storedSize(stored)).toBe(model.size);
    expect(set.highestScore()).toBe(expected[0]?.score);
  }
}

describe('SortedSet packed form', () => {
  it('matches the model through stored round trips (add on top, caps, removes, trims)', () => {
    fc.assert(fc.property(tiesArb, checkAgainstModel), { numRuns: 500 });
  });

  it('matches the model on larger sets with inserts deep inside, packed removes and caps', () => {
    fc.assert(fc.property(deepArb, checkAgainstModel), { numRuns: 500 });
  });

  it('appends on top without unpacking, and stores members as one string', () => {
    const set = SortedSet.from(SortedSet.of([{ member: 'p1|a', score: 1 }, { member: 'p2|b', score: 2 }]).toStored());
    set.add('p3|a', 3);
    set.keepHighest(2);
    const stored = set.toStored();
    expect(stored).toMatchObject({ t: 'z', j: 'p2|b\0p3|a' });
    expect(storedArrays(stored)).toEqual({ m: ['p2|b', 'p3|a'], s: [2, 3] });
  });

  it('keeps the array form for a member holding a NUL, and still reads the old array form', () => {
    const set = new SortedSet();
    set.add('a\0b', 1);
    expect(set.toStored()).toEqual({ t: 'z', m: ['a\0b'], s: [1] });
    expect(SortedSet.rangeDesc({ t: 'z', m: ['x', 'y'], s: [1, 2] }, { limit: 1 })).toEqual([{ member: 'y', score: 2 }]);
  });
});
