// A sorted set with Redis' ordering (score, then member), kept as two parallel arrays sorted
// ascending plus a member → score map. Views are small (a feed is capped at a few hundred entries,
// trending at a hundred), so binary search + splice beats a tree and stores compactly.
//
// Stored compactly: a batch that touches a feed reads and rewrites the whole set, so the stored form
// must cost little per member. Members go as ONE string joined by NUL and scores as one buffer of
// little-endian doubles: msgpack then packs two blobs instead of 2 × 800 small values.
//
// And kept packed while it can be: the common writes are "a post into a feed, drop the oldest beyond
// the cap" and "a post out of a feed", which need neither the member list nor a score array. A packed
// set answers them with a binary search over the scores, a scan of per-member words (hash and length,
// stored beside the scores) and slicing: no string per member, no garbage per member
// (packed-members.ts). A replay, which reads partitions at different speeds, inserts deep into feeds
// as often as on top; a fanout batch brings a feed dozens of posts, applied in one pass
// (applyChanges). Other changes unpack it into the arrays first. A set with a member holding a NUL
// stays unpacked and is stored in the plain array form.
import type { ScoreRange, ScoredMember } from '../view-store.ts';
import {
  SEPARATOR, applyChanges, before, dropLowest, emptyPacked, insertAt, insertionRank, rankOf, removeAt, wordsOfJoined,
  type Packed, type SetChange,
} from './packed-members.ts';

/** Parallel arrays: the original stored form, still read, and written for members holding a NUL. */
export interface ArraySortedSet { t: 'z'; m: string[]; s: number[]; x?: number }
/**
 * Compact form: `j` = members joined by NUL, `d` = their scores as f64 (host order, little-endian),
 * `k` = each member's word (hash and length, packed-members.ts) as u32, absent in sets stored before.
 */
export interface CompactSortedSet { t: 'z'; j: string; d: Uint8Array; k?: Uint8Array; x?: number }
/** How a sorted set is stored in lmdb; `x` is when the whole key expires (expiring sets only). */
export type StoredSortedSet = ArraySortedSet | CompactSortedSet;

/** More changes than this to one set in one batch unpack it first (see expectChanges). */
const BULK_CHANGES = 32;

/** Bytes as a typed array: a view when aligned, else a copy. */
function viewOf<T extends Float64Array | Uint32Array>(bytes: Uint8Array, type: { new (buffer: ArrayBufferLike, offset: number, length: number): T; BYTES_PER_ELEMENT: number }): T {
  const size = type.BYTES_PER_ELEMENT;
  return bytes.byteOffset % size === 0
    ? new type(bytes.buffer, bytes.byteOffset, bytes.byteLength / size)
    : new type(bytes.slice().buffer, 0, bytes.byteLength / size);
}

/** The scores of a compact stored set as doubles. */
function scoresOf(stored: CompactSortedSet): Float64Array {
  return viewOf(stored.d, Float64Array);
}

/** The member words of a compact stored set, or computed from `j` (sets stored before words existed). */
function wordsOf(stored: CompactSortedSet, count: number): Uint32Array {
  const bytes = stored.k;
  if (!bytes || bytes.byteLength !== count * 4) return wordsOfJoined(stored.j, count);
  return viewOf(bytes, Uint32Array);
}

/** The members and scores of a stored set, as arrays the caller may keep and change. */
export function storedArrays(stored: StoredSortedSet): { m: string[]; s: number[] } {
  if ('m' in stored) return { m: stored.m, s: stored.s };
  const doubles = scoresOf(stored);
  const s = new Array<number>(doubles.length);
  for (let i = 0; i < doubles.length; i++) s[i] = doubles[i];
  return { m: doubles.length === 0 ? [] : stored.j.split(SEPARATOR), s };
}

/** Number of members of a stored set. */
export function storedSize(stored: StoredSortedSet): number {
  return 'm' in stored ? stored.m.length : stored.d.byteLength / 8;
}

export class SortedSet {
  private members: string[];
  private scores: number[];
  private packed: Packed | undefined;
  private byMember: Map<string, number> | undefined;
  /** Lookups without the index; past a few, building the member → score map pays off. */
  private scans = 0;
  /** Some member holds the separator, so the compact form cannot be used. */
  private plain = false;

  constructor(members: string[] = [], scores: number[] = []) {
    this.members = members;
    this.scores = scores;
  }

  /** Takes ownership of the stored value (lmdb hands every read its own freshly decoded copy). */
  static from(stored: StoredSortedSet): SortedSet {
    if ('m' in stored) {
      const set = new SortedSet(stored.m, stored.s);
      set.plain = true;
      return set;
    }
    const set = new SortedSet();
    const scores = scoresOf(stored);
    set.packed = { joined: scores.length ? stored.j : '', scores, words: wordsOf(stored, scores.length), count: scores.length };
    return set;
  }

  static of(entries: ScoredMember[]): SortedSet {
    const latest = new Map<string, number>();
    for (const e of entries) latest.set(e.member, e.score);
    const sorted = [...latest].sort(([ma, sa], [mb, sb]) => (before(sa, ma, sb, mb) ? -1 : before(sb, mb, sa, ma) ? 1 : 0));
    const set = new SortedSet(sorted.map(([m]) => m), sorted.map(([, s]) => s));
    set.plain = set.members.some((m) => m.includes(SEPARATOR));
    return set;
  }

  toStored(): StoredSortedSet {
    const packed = this.packed;
    if (packed) {
      return {
        t: 'z', j: packed.joined,
        d: new Uint8Array(packed.scores.buffer, packed.scores.byteOffset, packed.count * 8),
        k: new Uint8Array(packed.words.buffer, packed.words.byteOffset, packed.count * 4),
      };
    }
    if (this.plain && this.members.some((m) => m.includes(SEPARATOR))) return { t: 'z', m: this.members, s: this.scores };
    const doubles = new Float64Array(this.scores);
    return { t: 'z', j: this.members.join(SEPARATOR), d: new Uint8Array(doubles.buffer) };
  }

  /**
   * Called before `changes` changes in a row (one batch's effects on this key): past a few dozen,
   * the arrays with a member index answer each change in O(log n) plus a splice, where the packed
   * form copies the whole string every time. Unpacking and indexing 800 members costs about as much
   * as 40 packed changes (measured on feeds of 800 posts).
   */
  expectChanges(changes: number): void {
    if (changes <= BULK_CHANGES) return;
    this.unpack();
    this.index();
  }

  private has(member: string): boolean {
    if (this.packed) return rankOf(this.packed, member) >= 0;
    return this.score(member) !== undefined;
  }

  private lowestScore(): number {
    return this.packed ? this.packed.scores[0] : this.scores[0];
  }

  get size(): number { return this.packed ? this.packed.count : this.members.length; }

  /** Turns the packed form into the arrays, for any change other than the ones packed sets answer. */
  private unpack(): void {
    const packed = this.packed;
    if (!packed) return;
    this.packed = undefined;
    this.members = packed.count ? packed.joined.split(SEPARATOR) : [];
    const scores = new Array<number>(packed.count);
    for (let i = 0; i < packed.count; i++) scores[i] = packed.scores[i];
    this.scores = scores;
  }

  private index(): Map<string, number> {
    if (!this.byMember) {
      this.byMember = new Map();
      for (let i = 0; i < this.members.length; i++) this.byMember.set(this.members[i], this.scores[i]);
    }
    return this.byMember;
  }

  /** First position whose entry is not before (score, member). */
  private lowerBound(score: number, member: string): number {
    let lo = 0;
    let hi = this.members.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.scores[mid], this.members[mid], score, member)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * A batch usually touches a big set (a feed of 800 entries) once or twice: a linear scan is far
   * cheaper than building a map of every member, so the map is built only once a set gets busy.
   */
  score(member: string): number | undefined {
    this.unpack();
    if (this.byMember || ++this.scans > 8) return this.index().get(member);
    const at = this.members.indexOf(member);
    return at < 0 ? undefined : this.scores[at];
  }

  /**
   * ZADD, then with `cap` ZREMRANGEBYRANK 0 -(cap+1). An entry that would land below a full set's
   * lowest is dropped by the cap at once: a replay of a feed's history brings many of those.
   */
  add(member: string, score: number, cap?: number): void {
    if (cap !== undefined && this.size >= cap && this.size > 0 && score < this.lowestScore() && !this.has(member)) {
      this.keepHighest(cap);
      return;
    }
    this.addMember(member, score);
    if (cap !== undefined) this.keepHighest(cap);
  }

  /**
   * A batch's zadds and zrems on this set, in order, without unpacking it (packed-members.ts
   * applyChanges; `words` as there). False, with nothing changed, when the set is in the array form
   * or a member holds the separator: the caller then applies them one by one.
   */
  applyChanges(changes: readonly SetChange[], words?: Uint32Array): boolean {
    const packed = this.packed ?? (this.members.length === 0 && !this.plain ? emptyPacked() : undefined);
    if (!packed) return false;
    const changed = applyChanges(packed, changes, words);
    if (!changed) return false;
    this.packed = changed;
    this.byMember = undefined; // an empty set may have been indexed while in the array form
    return true;
  }

  private addMember(member: string, score: number): void {
    if (member.includes(SEPARATOR)) {
      this.unpack();
      this.plain = true;
    }
    if (this.packed) {
      SortedSet.packedAdd(this.packed, member, score);
      return;
    }
    const old = this.score(member);
    if (old !== undefined) {
      if (old === score) return;
      this.removeAt(this.lowerBound(old, member));
    }
    const at = this.lowerBound(score, member);
    if (at === this.members.length) {
      this.members.push(member); // the common case: the newest post goes on top of a feed
      this.scores.push(score);
    } else {
      this.members.splice(at, 0, member);
      this.scores.splice(at, 0, score);
    }
    this.byMember?.set(member, score);
  }

  /** ZADD on a packed set: the member found by its word, placed by a binary search, spliced into the string. */
  private static packedAdd(packed: Packed, member: string, score: number): void {
    const rank = rankOf(packed, member);
    if (rank >= 0) {
      if (packed.scores[rank] === score) return;
      removeAt(packed, rank);
    }
    insertAt(packed, insertionRank(packed, score, member), member, score);
  }

  remove(member: string): boolean {
    const packed = this.packed;
    if (packed) {
      const rank = rankOf(packed, member);
      if (rank < 0) return false;
      removeAt(packed, rank);
      return true;
    }
    const score = this.score(member);
    if (score === undefined) return false;
    this.removeAt(this.lowerBound(score, member));
    this.byMember?.delete(member);
    return true;
  }

  private removeAt(at: number): void {
    this.members.splice(at, 1);
    this.scores.splice(at, 1);
  }

  removeWhere(doomed: (member: string) => boolean): void {
    this.unpack();
    const keep = this.members.map((m) => !doomed(m));
    this.members = this.members.filter((_, i) => keep[i]);
    this.scores = this.scores.filter((_, i) => keep[i]);
    this.byMember = undefined;
  }

  /** Keeps the `cap` highest entries (Redis: ZREMRANGEBYRANK key 0 -(cap+1)). */
  keepHighest(cap: number): void {
    const excess = this.size - cap;
    if (excess <= 0) return;
    if (this.packed) {
      dropLowest(this.packed, excess);
      return;
    }
    this.dropLowest(excess);
  }

  /** Drops the `n` lowest entries of the arrays, keeping the member index (if any) in step. */
  private dropLowest(n: number): void {
    const byMember = this.byMember;
    if (byMember) for (let i = 0; i < n; i++) byMember.delete(this.members[i]);
    this.members.splice(0, n);
    this.scores.splice(0, n);
  }

  /** Drops entries scored at or below `max` (Redis: ZREMRANGEBYSCORE key -inf max). */
  removeScoresUpTo(max: number): void {
    const packed = this.packed;
    if (packed) {
      let cut = 0;
      while (cut < packed.count && packed.scores[cut] <= max) cut++;
      if (cut) dropLowest(packed, cut);
      return;
    }
    let cut = 0;
    while (cut < this.scores.length && this.scores[cut] <= max) cut++;
    if (cut) this.dropLowest(cut);
  }

  highestScore(): number | undefined {
    const packed = this.packed;
    if (packed) return packed.count ? packed.scores[packed.count - 1] : undefined;
    return this.scores.length ? this.scores[this.scores.length - 1] : undefined;
  }

  /** From the highest score down, within range (Redis: ZRANGE key max min BYSCORE REV LIMIT 0 n). */
  static rangeDesc(stored: StoredSortedSet, range: ScoreRange): ScoredMember[] {
    const { m, s } = storedArrays(stored);
    const max = range.max ?? Infinity;
    const min = range.min ?? -Infinity;
    const out: ScoredMember[] = [];
    for (let i = s.length - 1; i >= 0 && out.length < range.limit; i--) {
      const score = s[i];
      if (score > max || (range.exclusiveMax && score === max)) continue;
      if (score < min) break;
      out.push({ member: m[i], score });
    }
    return out;
  }

  /** Members scored above `after`, ascending (Redis: ZRANGE key (after +inf BYSCORE). */
  static membersAbove(stored: StoredSortedSet, after: number): string[] {
    const { m, s } = storedArrays(stored);
    const out: string[] = [];
    for (let i = 0; i < s.length; i++) if (s[i] > after) out.push(m[i]);
    return out;
  }
}
