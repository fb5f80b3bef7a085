// The packed form of a sorted set (see sorted-set.ts): members in ONE string joined by NUL, their
// scores ascending in a Float64Array, and per member one 32-bit word holding a hash of the member
// and its length. The words find a member without searching the string (a string search for a post
// id among 800 others took ~6 µs, a scan of 800 words a fraction of that) and place a rank in the
// string by adding lengths instead of looking for separators.

export const SEPARATOR = '\0';

export interface Packed { joined: string; scores: Float64Array; words: Uint32Array; count: number }

/** A change a packed set takes in one pass (applyChanges): the view store's zadd and zrem. */
export type SetChange = { kind: 'zadd' | 'zaddEach'; member: string; score: number; cap?: number } | { kind: 'zrem'; member: string };

/** A length byte of 255 means "255 or more": such a member is placed by looking for separators. */
const LONG = 255;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Redis' order: by score, then by member. */
export function before(scoreA: number, memberA: string, scoreB: number, memberB: string): boolean {
  return scoreA < scoreB || (scoreA === scoreB && memberA < memberB);
}

/** FNV-1a of the member's UTF-16 code units in the high 24 bits, its length (capped) in the low 8. */
function word(hash: number, length: number): number {
  return ((hash << 8) | Math.min(length, LONG)) >>> 0;
}

/**
 * The member's word, or -1 when it holds the separator: such a member is never in a packed set (no
 * word matches -1), and a batch holding one is applied unpacked (applyChanges).
 */
export function memberWord(member: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < member.length; i++) {
    const code = member.charCodeAt(i);
    if (code === 0) return -1;
    hash = Math.imul(hash ^ code, FNV_PRIME);
  }
  return word(hash, member.length);
}

/** The words of the `count` members of a NUL-joined string, in one pass over it. */
export function wordsOfJoined(joined: string, count: number): Uint32Array {
  const words = new Uint32Array(count);
  if (!count) return words;
  let at = 0;
  let hash = FNV_OFFSET;
  let length = 0;
  for (let i = 0; i < joined.length; i++) {
    const code = joined.charCodeAt(i);
    if (code === 0) {
      words[at++] = word(hash, length);
      hash = FNV_OFFSET;
      length = 0;
    } else {
      hash = Math.imul(hash ^ code, FNV_PRIME);
      length++;
    }
  }
  words[at] = word(hash, length);
  return words;
}

export function emptyPacked(): Packed {
  return { joined: '', scores: new Float64Array(0), words: new Uint32Array(0), count: 0 };
}

/** Where the member at `rank` starts in the string (one past the end, as if a separator followed, for rank = count). */
export function startOf(packed: Packed, rank: number): number {
  const { words, count, joined } = packed;
  if (rank >= count) return joined.length + 1;
  let start = 0;
  if (rank <= count - rank) {
    for (let i = 0; i < rank; i++) {
      const length = words[i] & 0xff;
      if (length === LONG) return startBySeparators(packed, rank);
      start += length + 1;
    }
    return start;
  }
  start = joined.length + 1;
  for (let i = count - 1; i >= rank; i--) {
    const length = words[i] & 0xff;
    if (length === LONG) return startBySeparators(packed, rank);
    start -= length + 1;
  }
  return start;
}

function startBySeparators(packed: Packed, rank: number): number {
  let cut = 0;
  for (let i = 0; i < rank; i++) cut = packed.joined.indexOf(SEPARATOR, cut) + 1;
  return cut;
}

export function memberAt(packed: Packed, rank: number): string {
  const start = startOf(packed, rank);
  const end = packed.joined.indexOf(SEPARATOR, start);
  return packed.joined.slice(start, end < 0 ? packed.joined.length : end);
}

/** The rank of `member`, or -1: a scan of the words, each hit checked against the string. */
export function rankOf(packed: Packed, member: string, word = memberWord(member)): number {
  const { words, count } = packed;
  for (let rank = words.indexOf(word); rank >= 0 && rank < count; rank = words.indexOf(word, rank + 1)) {
    if (memberAt(packed, rank) === member) return rank;
  }
  return -1;
}

/** Where (score, member) goes among the packed entries, by Redis' order (score, then member). */
export function insertionRank(packed: Packed, score: number, member: string): number {
  const { scores, count } = packed;
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (scores[mid] < score) lo = mid + 1;
    else hi = mid;
  }
  while (lo < count && scores[lo] === score && memberAt(packed, lo) < member) lo++;
  return lo;
}

/** `array` with room for `count + 1` entries, its first `count` kept (grown by doubling). */
function withRoom<T extends Float64Array | Uint32Array>(array: T, count: number, make: (length: number) => T): T {
  if (array.byteOffset + (count + 1) * array.BYTES_PER_ELEMENT > array.buffer.byteLength) {
    const grown = make(Math.max(16, count * 2));
    grown.set(array.subarray(0, count));
    return grown;
  }
  if (array.length >= count + 1) return array;
  return (array instanceof Float64Array
    ? new Float64Array(array.buffer, array.byteOffset, count + 1)
    : new Uint32Array(array.buffer, array.byteOffset, count + 1)) as T;
}

/** Puts a member that is not in the set at `rank` (its place by score). */
export function insertAt(packed: Packed, rank: number, member: string, score: number): void {
  const { joined, count } = packed;
  if (count === 0) packed.joined = member;
  else if (rank === count) packed.joined = joined + SEPARATOR + member; // the common case: on top of a feed
  else if (rank === 0) packed.joined = member + SEPARATOR + joined;
  else {
    const start = startOf(packed, rank);
    packed.joined = joined.slice(0, start) + member + SEPARATOR + joined.slice(start);
  }
  packed.scores = withRoom(packed.scores, count, (length) => new Float64Array(length));
  packed.words = withRoom(packed.words, count, (length) => new Uint32Array(length));
  if (rank < count) {
    packed.scores.copyWithin(rank + 1, rank, count);
    packed.words.copyWithin(rank + 1, rank, count);
  }
  packed.scores[rank] = score;
  packed.words[rank] = memberWord(member);
  packed.count = count + 1;
}

export function removeAt(packed: Packed, rank: number): void {
  const { joined, count } = packed;
  const start = startOf(packed, rank);
  const end = startOf(packed, rank + 1) - 1;
  if (count === 1) packed.joined = '';
  else if (end >= joined.length) packed.joined = joined.slice(0, start - 1);
  else packed.joined = joined.slice(0, start) + joined.slice(end + 1);
  packed.scores.copyWithin(rank, rank + 1, count);
  packed.words.copyWithin(rank, rank + 1, count);
  packed.count = count - 1;
}

/** Drops the `n` lowest entries: a slice of the string, subarrays of scores and words. */
export function dropLowest(packed: Packed, n: number): void {
  const cut = Math.min(n, packed.count);
  packed.joined = cut >= packed.count ? '' : packed.joined.slice(startOf(packed, cut));
  packed.scores = packed.scores.subarray(cut);
  packed.words = packed.words.subarray(cut);
  packed.count -= cut;
}

/**
 * A batch's zadds and zrems on one set, in order, in one pass: the old entries stay where they are,
 * and the changes are kept beside them (entries added, old ranks removed, how many of the lowest
 * old ones a cap trimmed) until the new set is written once, copying the old entries in runs. A
 * fanout batch brings a feed dozens of posts (and takes some out); one at a time, each would copy
 * the string, and unpacking the set into arrays costs more than the changes. Undefined, with the
 * set unchanged, when a member holds the separator: the caller applies the changes unpacked.
 * `words`, when given, holds memberWord of each change's member (and no member holds the separator).
 */
export function applyChanges(packed: Packed, changes: readonly SetChange[], words?: Uint32Array): Packed | undefined {
  const overlay = new Overlay(packed, changes.length);
  for (let i = 0; i < changes.length; i++) {
    const change = changes[i];
    // Each member's word is made once, for finding it and for storing it: by the caller when it
    // applies one change to many sets (a fanout), else here.
    const word = words ? words[i] : memberWord(change.member);
    if (word < 0) return undefined;
    if (change.kind === 'zrem') overlay.remove(change.member, word);
    else overlay.add(change.member, word, change.score, change.cap);
  }
  return overlay.result();
}

/** Old words the changes of a batch would scan, past which a filter of them pays (scratch micro-benchmark). */
const SCANS_WORTH_A_FILTER = 4_096;

/**
 * A bitmap of members' hashes (their words but the length byte), at least 16 bits per member: a
 * member whose bit is clear is not among them, without a scan of the words.
 */
class HashFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor({ words, count }: Packed) {
    let size = 512;
    while (size < count * 16) size <<= 1;
    this.bits = new Uint32Array(size >>> 5);
    this.mask = size - 1;
    for (let i = 0; i < count; i++) {
      const bit = (words[i] >>> 8) & this.mask;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
    }
  }

  mayHold(word: number): boolean {
    const bit = (word >>> 8) & this.mask;
    return (this.bits[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }
}

/** An entry a batch adds, with its member's word. */
interface Added { member: string; score: number; word: number }

class Overlay {
  /** Old ranks below this were trimmed by a cap. */
  private low = 0;
  /** Old ranks taken out (zrem, or a zadd that moved the member). */
  private readonly removed = new Set<number>();
  /** Entries added, ascending by (score, member), and their scores by member. */
  private readonly added: Added[] = [];
  private readonly addedScores = new Map<string, number>();
  private size: number;
  /** The old members' hashes, made when the changes would scan more words than it costs to make. */
  private readonly oldFilter: HashFilter | undefined;

  constructor(private readonly old: Packed, changes: number) {
    this.size = old.count;
    this.oldFilter = changes * old.count >= SCANS_WORTH_A_FILTER ? new HashFilter(old) : undefined;
  }

  add(member: string, word: number, score: number, cap: number | undefined): void {
    const current = this.addedScores.get(member);
    if (current !== undefined) {
      if (current !== score) {
        this.takeAdded(member, current);
        this.putAdded(member, word, score);
      }
    } else {
      const rank = this.oldRank(member, word);
      if (rank < 0) {
        this.putAdded(member, word, score);
        this.size++;
      } else if (this.old.scores[rank] !== score) {
        this.removed.add(rank);
        this.putAdded(member, word, score);
      }
    }
    if (cap !== undefined) while (this.size > cap) this.dropLowest();
  }

  remove(member: string, word: number): void {
    const current = this.addedScores.get(member);
    if (current !== undefined) {
      this.takeAdded(member, current);
      this.size--;
      return;
    }
    const rank = this.oldRank(member, word);
    if (rank >= 0) {
      this.removed.add(rank);
      this.size--;
    }
  }

  /** The new packed set: old runs between removed ranks, with the added entries in their places. */
  result(): Packed {
    const old = this.old;
    const removed = [...this.removed].sort((a, b) => a - b); // those below `low` are passed over
    const scores = new Float64Array(this.size);
    const words = new Uint32Array(this.size);
    const parts: string[] = [];
    let out = 0;
    let nextRemoved = 0;
    const copyOld = (from: number, to: number) => {
      while (from < to) {
        while (nextRemoved < removed.length && removed[nextRemoved] < from) nextRemoved++;
        const stop = nextRemoved < removed.length && removed[nextRemoved] < to ? removed[nextRemoved] : to;
        if (stop > from) {
          parts.push(old.joined.slice(startOf(old, from), startOf(old, stop) - 1));
          scores.set(old.scores.subarray(from, stop), out);
          words.set(old.words.subarray(from, stop), out);
          out += stop - from;
        }
        from = stop < to ? stop + 1 : to; // past the removed rank
      }
    };
    let at = this.low;
    for (const entry of this.added) {
      const rank = Math.max(at, insertionRank(old, entry.score, entry.member));
      copyOld(at, rank);
      at = rank;
      parts.push(entry.member);
      scores[out] = entry.score;
      words[out++] = entry.word;
    }
    copyOld(at, old.count);
    return { joined: parts.join(SEPARATOR), scores, words, count: out };
  }

  /** The old rank of a member still in the set, or -1. */
  private oldRank(member: string, word: number): number {
    if (this.oldFilter?.mayHold(word) === false) return -1;
    const rank = rankOf(this.old, member, word);
    return rank < this.low || this.removed.has(rank) ? -1 : rank;
  }

  /** Removes the lowest entry of the set as it stands (old or added), as a cap does. */
  private dropLowest(): void {
    const old = this.old;
    while (this.low < old.count && this.removed.has(this.low)) this.low++;
    const first = this.added[0];
    const oldIsLower = this.low < old.count && (first === undefined || old.scores[this.low] < first.score
      || (old.scores[this.low] === first.score && memberAt(old, this.low) < first.member)); // the member only on a tie: finding it costs
    if (oldIsLower) this.low++;
    else {
      this.added.shift();
      this.addedScores.delete(first.member);
    }
    this.size--;
  }

  private addedAt(score: number, member: string): number {
    const added = this.added;
    let lo = 0;
    let hi = added.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = added[mid];
      if (before(e.score, e.member, score, member)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private putAdded(member: string, word: number, score: number): void {
    const added = this.added;
    const last = added.length === 0 ? undefined : added[added.length - 1];
    // Posts come in time order, so most adds go on top of those before them: no search, no splice.
    if (last === undefined || before(last.score, last.member, score, member)) added.push({ member, score, word });
    else added.splice(this.addedAt(score, member), 0, { member, score, word });
    this.addedScores.set(member, score);
  }

  private takeAdded(member: string, score: number): void {
    this.added.splice(this.addedAt(score, member), 1);
    this.addedScores.delete(member);
  }
}
