// The embedded sorted set kept packed (members in one NUL-joined string, scores in a Float64Array)
// must behave exactly like the unpacked arrays: every operation is checked against a naive model,
// with the set passing through its stored form (and so back to the packed form) between operations,
// as it does between batches of the view store.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SetChange } from '../../sinks/embedded/packed-members.ts';
import { SortedSet, storedArrays, storedSize } from '../../sinks/embedded/sorted-set.ts';

type Op =
  | { op: 'add'; member: string; score: number; cap?: number }
  | { op: 'remove'; member: string }
  | { op: 'trim'; max: number }
  | { op: 'store' }
  /** A batch announcing many changes: the set unpacks and indexes its members. */
  | { op: 'bulk' }
  /** A batch's zadds and zrems applied in one pass (applyChanges), or one by one where it declines. */
  | { op: 'changes'; changes: SetChange[] };

/** Ascending by (score, member) like Redis. */
function modelApply(model: Map<string, number>, op: Op): void {
  const sorted = () => [...model].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (op.op === 'add') {
    model.set(op.member, op.score);
    if (op.cap !== undefined) for (const [doomed] of sorted().slice(0, Math.max(0, model.size - op.cap))) model.delete(doomed);
  } else if (op.op === 'changes') {
    for (const c of op.changes) modelApply(model, c.kind === 'zadd' ? { op: 'add', member: c.member, score: c.score, cap: c.cap } : { op: 'remove', member: c.member });
  } else if (op.op === 'remove') model.delete(op.member);
  else if (op.op === 'trim') for (const [member, score] of sorted()) if (score <= op.max) model.delete(member);
}

/** With members of 255+ characters, whose place in the string is found by separators, not lengths. */
const fewMembers = fc.constantFrom('a', 'b', 'ab', 'ba', 'p1|u1', 'p1|u10', 'p10|u1', '', 'é', 'x\0y', 'L'.repeat(255), `${'L'.repeat(300)}|u1`);
/** Small sets with many score ties (the unpacked path) and members that are substrings of others. */
const tiesArb = opsOf(fewMembers, fc.integer({ min: 0, max: 12 }), 6);
/** Larger sets with distinct-ish scores: inserts deep in a packed set, packed removes, caps. */
const deepArb = opsOf(fc.integer({ min: 0, max: 40 }).map((n) => `p${n}|u${n % 7}`), fc.double({ min: 0, max: 1000, noNaN: true }), 30);

/** Feeds: a member always comes with the same score (a post with its ts), so batches of adds merge. */
const feedArb = opsOf(fc.integer({ min: 0, max: 400 }).map((n) => `p${n}|u${n % 13}`), fc.constant(0), 60)
  .map((ops) => ops.map(feedScores));

/**
 * Sets of hundreds of members taking batches of dozens of changes: past SCANS_WORTH_A_FILTER, a
 * batch finds members through a filter of the old members' hashes. Re-adds with a new score and
 * removes of members the set holds must still find them.
 */
const bigMember = fc.integer({ min: 0, max: 900 }).map((n) => `p${n}|u${n % 11}`);
const bigBatch = fc.array(fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('zadd' as const), member: bigMember, score: fc.integer({ min: 0, max: 5_000 }), cap: fc.option(fc.constant(700), { nil: undefined }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('zrem' as const), member: bigMember }) },
), { minLength: 30, maxLength: 90 });
const bigArb = fc.tuple(fc.integer({ min: 150, max: 600 }), fc.array(bigBatch, { minLength: 1, maxLength: 6 }))
  .map(([size, batches]): Op[] => [
    { op: 'changes', changes: Array.from({ length: size }, (_, n) => ({ kind: 'zadd' as const, member: `p${n}|u${n % 11}`, score: n * 7 })) },
    ...batches.flatMap((changes): Op[] => [{ op: 'store' }, { op: 'changes', changes }]),
  ]);

/** Gives every member of an op the score its post number says. */
function feedScores(op: Op): Op {
  const scoreOf = (member: string) => Number(member.slice(1, member.indexOf('|'))) * 1000;
  if (op.op === 'add') return { ...op, score: scoreOf(op.member) };
  if (op.op === 'changes') return { ...op, changes: op.changes.map((c) => (c.kind === 'zadd' ? { ...c, score: scoreOf(c.member) } : c)) };
  return op;
}

function opsOf(member: fc.Arbitrary<string>, score: fc.Arbitrary<number>, maxCap: number): fc.Arbitrary<Op[]> {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), member, score, cap: fc.option(fc.integer({ min: 1, max: maxCap }), { nil: undefined }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), member }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('trim' as const), max: score }) },
    { weight: 3, arbitrary: fc.constant({ op: 'store' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'bulk' as const }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('changes' as const),
        changes: fc.array(fc.oneof(
          { weight: 4, arbitrary: fc.record({ kind: fc.constant('zadd' as const), member, score, cap: fc.option(fc.integer({ min: 1, max: maxCap }), { nil: undefined }) }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('zrem' as const), member }) },
        ), { minLength: 1, maxLength: 40 }),
      }),
    },
  );
  return fc.array(op, { maxLength: 120 });
}

/** How often applyChanges took a batch (rather than declined), so a test can tell it was exercised. */
let merges = 0;

function checkAgainstModel(ops: Op[]): void {
  const model = new Map<string, number>();
  let set = new SortedSet();
  for (const op of ops) {
    modelApply(model, op);
    if (op.op === 'add') set.add(op.member, op.score, op.cap);
    else if (op.op === 'remove') set.remove(op.member);
    else if (op.op === 'trim') set.removeScoresUpTo(op.max);
    else if (op.op === 'bulk') set.expectChanges(100);
    else if (op.op === 'changes') {
      if (set.applyChanges(op.changes)) merges++;
      else for (const c of op.changes) if (c.kind === 'zadd') set.add(c.member, c.score, c.cap); else set.remove(c.member);
    }
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
    merges = 0;
    fc.assert(fc.property(deepArb, checkAgainstModel), { numRuns: 500 });
    expect(merges).toBeGreaterThan(20);
  });

  it('matches the model on feed-shaped sets (one score per member, as a post keeps its ts), merging most batches', () => {
    merges = 0;
    fc.assert(fc.property(feedArb, checkAgainstModel), { numRuns: 300 });
    expect(merges).toBeGreaterThan(60);
  });

  it('matches the model on large sets taking large batches (members found through the filter of the old ones)', () => {
    merges = 0;
    fc.assert(fc.property(bigArb, checkAgainstModel), { numRuns: 150 });
    expect(merges).toBeGreaterThan(150);
  });

  it('applies a batch of adds and removes to a packed set in one pass, and it stays packed', () => {
    const set = SortedSet.from(SortedSet.of([1, 2, 3, 4].map((n) => ({ member: `p${n}|a`, score: n }))).toStored());
    expect(set.applyChanges([
      { kind: 'zadd', member: 'p6|b', score: 6, cap: 4 }, // trims p1
      { kind: 'zrem', member: 'p3|a' },
      { kind: 'zadd', member: 'p0|b', score: 0, cap: 4 }, // below a full set's lowest: in and out
      { kind: 'zadd', member: 'p5|c', score: 2.5, cap: 4 },
      { kind: 'zadd', member: 'p2|a', score: 2, cap: 4 }, // already there
      { kind: 'zadd', member: 'p7|d', score: 7, cap: 4 }, // trims p2
    ])).toBe(true);
    expect(set.toStored()).toMatchObject({ t: 'z', j: 'p5|c\0p4|a\0p6|b\0p7|d' });
    expect(set.applyChanges([{ kind: 'zadd', member: 'x\0y', score: 1 }, { kind: 'zrem', member: 'p5|c' }])).toBe(false);
    expect(storedArrays(set.toStored()).m).toEqual(['p5|c', 'p4|a', 'p6|b', 'p7|d']);
  });

  it('trims by member where a new entry ties the lowest old one', () => {
    const trimmed = (member: string) => {
      const set = SortedSet.from(SortedSet.of([{ member: 'b', score: 1 }, { member: 'd', score: 2 }]).toStored());
      expect(set.applyChanges([{ kind: 'zadd', member, score: 1, cap: 2 }, { kind: 'zrem', member: 'x' }])).toBe(true);
      return storedArrays(set.toStored()).m;
    };
    expect(trimmed('a')).toEqual(['b', 'd']);
    expect(trimmed('c')).toEqual(['c', 'd']);
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
