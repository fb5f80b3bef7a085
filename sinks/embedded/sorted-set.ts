// A sorted set with Redis' ordering (score, then member), kept as two parallel arrays sorted
// ascending plus a member → score map. Views are small (a feed is capped at a few hundred entries,
// trending at a hundred), so binary search + splice beats a tree and stores compactly.
//
// Stored compactly: a batch that touches a feed reads and rewrites the whole set, so the stored form
// must cost little per member. Members go as ONE string joined by NUL and scores as one buffer of
// little-endian doubles: msgpack then packs two blobs instead of 2 × 800 small values.
//
// And kept packed while it can be: the common write is "newest post on top of a feed, drop the
// oldest beyond the cap", which needs neither the member list nor a score array. A packed set
// answers it with string search and slicing (no string per member, no garbage per member); any
// other change unpacks it into the arrays first. A set with a member holding a NUL stays unpacked
// and is stored in the plain array form.
import type { ScoreRange, ScoredMember } from '../view-store.ts';

/** Parallel arrays: the original stored form, still read, and written for members holding a NUL. */
export interface ArraySortedSet { t: 'z'; m: string[]; s: number[]; x?: number }
/** Compact form: `j` = members joined by NUL, `d` = their scores as f64 (host order, little-endian). */
export interface CompactSortedSet { t: 'z'; j: string; d: Uint8Array; x?: number }
/** How a sorted set is stored in lmdb; `x` is when the whole key expires (expiring sets only). */
export type StoredSortedSet = ArraySortedSet | CompactSortedSet;

const SEPARATOR = '\0';
/** How far below the top a packed set takes an insert before unpacking is as cheap. */
const MAX_PACKED_WALK = 64;

/** The scores of a compact stored set as doubles (a view when aligned, else a copy). */
function scoresOf(stored: CompactSortedSet): Float64Array {
  const bytes = stored.d;
  const count = bytes.byteLength / 8;
  return bytes.byteOffset % 8 === 0
    ? new Float64Array(bytes.buffer, bytes.byteOffset, count)
    : new Float64Array(bytes.slice().buffer, 0, count);
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

function before(scoreA: number, memberA: string, scoreB: number, memberB: string): boolean {
  return scoreA < scoreB || (scoreA === scoreB && memberA < memberB);
}

/** Packed members: the joined string, and the scores in the first `count` slots of `scores`. */
interface Packed { joined: string; scores: Float64Array; count: number }

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
    set.packed = { joined: scores.length ? stored.j : '', scores, count: scores.length };
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
      return { t: 'z', j: packed.joined, d: new Uint8Array(packed.scores.buffer, packed.scores.byteOffset, packed.count * 8) };
    }
    if (this.plain && this.members.some((m) => m.includes(SEPARATOR))) return { t: 'z', m: this.members, s: this.scores };
    const doubles = new Float64Array(this.scores);
    return { t: 'z', j: this.members.join(SEPARATOR), d: new Uint8Array(doubles.buffer) };
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

  /** Is `member` one of the packed members? A string search, checked at separator boundaries. */
  private static packedHas(packed: Packed, member: string): boolean {
    const { joined } = packed;
    if (!packed.count) return false;
    for (let at = joined.indexOf(member); at >= 0; at = joined.indexOf(member, at + 1)) {
      const end = at + member.length;
      if ((at === 0 || joined.charCodeAt(at - 1) === 0) && (end === joined.length || joined.charCodeAt(end) === 0)) return true;
      if (at >= joined.length) break; // an empty member is "found" at every position, the end included
    }
    return false;
  }

  /** Drops the `n` lowest packed entries: a slice after the n-th separator, a subarray of the scores. */
  private static packedDropLowest(packed: Packed, n: number): void {
    if (n >= packed.count) {
      packed.joined = '';
      packed.scores = packed.scores.subarray(packed.count);
      packed.count = 0;
      return;
    }
    let cut = 0;
    for (let i = 0; i < n; i++) cut = packed.joined.indexOf(SEPARATOR, cut) + 1;
    packed.joined = packed.joined.slice(cut);
    packed.scores = packed.scores.subarray(n);
    packed.count -= n;
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

  add(member: string, score: number): void {
    if (member.includes(SEPARATOR)) {
      this.unpack();
      this.plain = true;
    }
    const packed = this.packed;
    if (packed) {
      if (this.packedInsert(packed, member, score)) return;
      this.unpack();
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

  /**
   * A new member near the top of a packed set (a feed gets posts about in time order, a little out
   * of order across partitions): walk down from the top past the higher scores, then splice the
   * member into the string and the score into the array. False when the member is already there,
   * ties a score (the order then depends on members) or would go deep: the caller unpacks.
   */
  private packedInsert(packed: Packed, member: string, score: number): boolean {
    if (SortedSet.packedHas(packed, member)) return false;
    const { count } = packed;
    const joined = packed.joined;
    let at = count;
    let cut = joined.length; // where the member at `at` starts, minus its separator
    while (at > 0 && packed.scores[at - 1] > score) {
      if (count - at >= MAX_PACKED_WALK) return false;
      at--;
      cut = joined.lastIndexOf(SEPARATOR, cut - 1);
    }
    if (at > 0 && packed.scores[at - 1] === score) return false;
    if (packed.scores.byteOffset + (count + 1) * 8 > packed.scores.buffer.byteLength) {
      const grown = new Float64Array(Math.max(16, count * 2));
      grown.set(packed.scores.subarray(0, count));
      packed.scores = grown;
    } else if (packed.scores.length < count + 1) {
      packed.scores = new Float64Array(packed.scores.buffer, packed.scores.byteOffset, count + 1);
    }
    if (at < count) packed.scores.copyWithin(at + 1, at, count);
    packed.scores[at] = score;
    if (count === 0) packed.joined = member;
    else if (at === count) packed.joined = joined + SEPARATOR + member;
    else if (at === 0) packed.joined = member + SEPARATOR + joined;
    else packed.joined = joined.slice(0, cut) + SEPARATOR + member + joined.slice(cut);
    packed.count = count + 1;
    return true;
  }

  remove(member: string): boolean {
    if (this.packed && !SortedSet.packedHas(this.packed, member)) return false;
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
      SortedSet.packedDropLowest(this.packed, excess);
      return;
    }
    this.members.splice(0, excess);
    this.scores.splice(0, excess);
    this.byMember = undefined;
  }

  /** Drops entries scored at or below `max` (Redis: ZREMRANGEBYSCORE key -inf max). */
  removeScoresUpTo(max: number): void {
    const packed = this.packed;
    if (packed) {
      let cut = 0;
      while (cut < packed.count && packed.scores[cut] <= max) cut++;
      if (cut) SortedSet.packedDropLowest(packed, cut);
      return;
    }
    let cut = 0;
    while (cut < this.scores.length && this.scores[cut] <= max) cut++;
    if (cut === 0) return;
    this.members.splice(0, cut);
    this.scores.splice(0, cut);
    this.byMember = undefined;
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
