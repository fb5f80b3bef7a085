// A sorted set with Redis' ordering (score, then member), kept as two parallel arrays sorted
// ascending plus a member → score map. Views are small (a feed is capped at a few hundred entries,
// trending at a hundred), so binary search + splice beats a tree and stores compactly.
import type { ScoreRange, ScoredMember } from '../view-store.ts';

/** How a sorted set is stored in lmdb; `x` is when the whole key expires (expiring sets only). */
export interface StoredSortedSet { t: 'z'; m: string[]; s: number[]; x?: number }

function before(scoreA: number, memberA: string, scoreB: number, memberB: string): boolean {
  return scoreA < scoreB || (scoreA === scoreB && memberA < memberB);
}

export class SortedSet {
  private members: string[];
  private scores: number[];
  private byMember: Map<string, number> | undefined;
  /** Lookups without the index; past a few, building the member → score map pays off. */
  private scans = 0;

  constructor(members: string[] = [], scores: number[] = []) {
    this.members = members;
    this.scores = scores;
  }

  /** Takes ownership of the stored arrays (lmdb hands every read its own freshly decoded copy). */
  static from(stored: StoredSortedSet): SortedSet {
    return new SortedSet(stored.m, stored.s);
  }

  static of(entries: ScoredMember[]): SortedSet {
    const latest = new Map<string, number>();
    for (const e of entries) latest.set(e.member, e.score);
    const sorted = [...latest].sort(([ma, sa], [mb, sb]) => (before(sa, ma, sb, mb) ? -1 : before(sb, mb, sa, ma) ? 1 : 0));
    return new SortedSet(sorted.map(([m]) => m), sorted.map(([, s]) => s));
  }

  toStored(): StoredSortedSet {
    return { t: 'z', m: this.members, s: this.scores };
  }

  get size(): number { return this.members.length; }

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
    if (this.byMember || ++this.scans > 8) return this.index().get(member);
    const at = this.members.indexOf(member);
    return at < 0 ? undefined : this.scores[at];
  }

  add(member: string, score: number): void {
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

  remove(member: string): boolean {
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
    const keep = this.members.map((m) => !doomed(m));
    this.members = this.members.filter((_, i) => keep[i]);
    this.scores = this.scores.filter((_, i) => keep[i]);
    this.byMember = undefined;
  }

  /** Keeps the `cap` highest entries (Redis: ZREMRANGEBYRANK key 0 -(cap+1)). */
  keepHighest(cap: number): void {
    const excess = this.members.length - cap;
    if (excess <= 0) return;
    this.members.splice(0, excess);
    this.scores.splice(0, excess);
    this.byMember = undefined;
  }

  /** Drops entries scored at or below `max` (Redis: ZREMRANGEBYSCORE key -inf max). */
  removeScoresUpTo(max: number): void {
    let cut = 0;
    while (cut < this.scores.length && this.scores[cut] <= max) cut++;
    if (cut === 0) return;
    this.members.splice(0, cut);
    this.scores.splice(0, cut);
    this.byMember = undefined;
  }

  highestScore(): number | undefined {
    return this.scores.length ? this.scores[this.scores.length - 1] : undefined;
  }

  /** From the highest score down, within range (Redis: ZRANGE key max min BYSCORE REV LIMIT 0 n). */
  static rangeDesc(stored: StoredSortedSet, range: ScoreRange): ScoredMember[] {
    const max = range.max ?? Infinity;
    const min = range.min ?? -Infinity;
    const out: ScoredMember[] = [];
    for (let i = stored.s.length - 1; i >= 0 && out.length < range.limit; i--) {
      const score = stored.s[i];
      if (score > max || (range.exclusiveMax && score === max)) continue;
      if (score < min) break;
      out.push({ member: stored.m[i], score });
    }
    return out;
  }

  /** Members scored above `after`, ascending (Redis: ZRANGE key (after +inf BYSCORE). */
  static membersAbove(stored: StoredSortedSet, after: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < stored.s.length; i++) if (stored.s[i] > after) out.push(stored.m[i]);
    return out;
  }
}
