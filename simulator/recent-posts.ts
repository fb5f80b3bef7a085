// The posts the simulated users can still engage with: a ring of the newest posts (older ones fall
// out of the window, as they fall out of real feeds), with what engagement needs to know about each
// one. Posts are numbered 1, 2, 3...; post n lives in slot n % capacity until post n + capacity
// takes its place, so memory stays fixed however long the stream runs.
import type { MediaType } from '../schemas/events.ts';
import { PowerLaw, type Random } from './random.ts';

/** How strongly engagement favours the newest posts (Zipf exponent over recency rank). */
const RECENCY_EXPONENT = 1.0;
/** Deletions favour recent posts too, less steeply (regret comes within hours, sometimes later). */
const DELETION_EXPONENT = 0.5;
/** How many recent engagements `trending` remembers (a power of two). */
const ENGAGEMENT_MEMORY = 4096;

export class RecentPosts {
  readonly capacity: number;
  /** Number of the newest post; 0 before the first. */
  newest = 0;
  private readonly number: Float64Array;
  private readonly authors: Int32Array;
  private readonly scores: Float32Array;
  private readonly deleted: Uint8Array;
  private readonly durations: Int32Array;
  private readonly ids: string[];
  /** The newest reels, as post numbers, so reel_watched does not have to search the whole window. */
  private readonly reels: Float64Array;
  private reelCount = 0;
  private readonly lastEngaged = new Float64Array(ENGAGEMENT_MEMORY);
  private engagedCount = 0;
  // Recency laws over the current window size; rebuilt only while the window fills up.
  private recency = new PowerLaw(1, RECENCY_EXPONENT);
  private deletion = new PowerLaw(1, DELETION_EXPONENT);
  private reelRecency = new PowerLaw(1, RECENCY_EXPONENT);

  constructor(capacity: number, private readonly idPrefix = '') {
    this.capacity = capacity;
    this.number = new Float64Array(capacity);
    this.authors = new Int32Array(capacity);
    this.scores = new Float32Array(capacity);
    this.deleted = new Uint8Array(capacity);
    this.durations = new Int32Array(capacity);
    this.ids = new Array<string>(capacity).fill('');
    this.reels = new Float64Array(Math.max(16, capacity >> 2));
  }

  /** Adds a post and returns its number. `score` is its appeal before anyone engaged with it. */
  add(author: number, mediaType: MediaType, durationMs: number, score: number): number {
    const post = ++this.newest;
    const slot = post % this.capacity;
    this.number[slot] = post;
    this.authors[slot] = author;
    this.scores[slot] = score;
    this.deleted[slot] = 0;
    this.durations[slot] = durationMs;
    this.ids[slot] = `p${this.idPrefix}${post}`;
    if (mediaType === 'reel') this.reels[this.reelCount++ % this.reels.length] = post;
    return post;
  }

  /** Oldest post number still in the window. */
  get oldest(): number {
    return Math.max(1, this.newest - this.capacity + 1);
  }

  /** Whether `post` exists, is still in the window and was not deleted. */
  isLive(post: number): boolean {
    if (post < 1 || post > this.newest || post < this.oldest) return false;
    const slot = post % this.capacity;
    return this.number[slot] === post && this.deleted[slot] === 0;
  }

  id(post: number): string {
    return this.ids[post % this.capacity];
  }

  author(post: number): number {
    return this.authors[post % this.capacity];
  }

  /** Reel length in ms (0 for other media). */
  durationMs(post: number): number {
    return this.durations[post % this.capacity];
  }

  /**
   * Records engagement: it raises the post's appeal, and the post joins the recent-engagement ring
   * that `trending` draws from. Both make engaged posts more likely to be engaged with again.
   */
  engaged(post: number, by: number): void {
    this.scores[post % this.capacity] += by;
    this.lastEngaged[this.engagedCount++ & (ENGAGEMENT_MEMORY - 1)] = post;
  }

  /**
   * A post someone engaged with moments ago (may be dead; callers check). Picking uniformly among
   * recent engagements picks a post in proportion to how much engagement it is getting right now:
   * preferential attachment, the mechanism behind viral posts and a heavy-tailed like count.
   */
  trending(random: Random): number {
    const size = Math.min(this.engagedCount, ENGAGEMENT_MEMORY);
    return size === 0 ? 0 : this.lastEngaged[random.below(size)];
  }

  delete(post: number): void {
    this.deleted[post % this.capacity] = 1;
  }

  /** A post number by recency rank (newest most likely); may be dead, callers check isLive. */
  recent(random: Random): number {
    if (this.newest === 0) return 0;
    this.recency = this.recency.resized(this.newest - this.oldest + 1);
    return this.newest - this.recency.sample(random);
  }

  /** A post its author deletes: recent ones most likely. May be dead, callers check isLive. */
  toDelete(random: Random): number {
    if (this.newest === 0) return 0;
    this.deletion = this.deletion.resized(this.newest - this.oldest + 1);
    return this.newest - this.deletion.sample(random);
  }

  /**
   * A live post skewed toward recent and popular: two recent candidates, the more appealing wins
   * (a two-choice tournament, which turns score differences into a strong popularity skew). 0 if none.
   */
  recentPopular(random: Random): number {
    const a = this.recent(random);
    const b = this.recent(random);
    const liveA = this.isLive(a);
    const liveB = this.isLive(b);
    if (liveA && liveB) return this.scores[a % this.capacity] >= this.scores[b % this.capacity] ? a : b;
    return liveA ? a : liveB ? b : 0;
  }

  /** Same as recentPopular, among reels. */
  recentPopularReel(random: Random): number {
    const size = Math.min(this.reelCount, this.reels.length);
    if (size === 0) return 0;
    const newest = this.reelCount - 1;
    const law = (this.reelRecency = this.reelRecency.resized(size));
    const a = this.reels[(newest - law.sample(random)) % this.reels.length];
    const b = this.reels[(newest - law.sample(random)) % this.reels.length];
    const liveA = this.isLive(a);
    const liveB = this.isLive(b);
    if (liveA && liveB) return this.scores[a % this.capacity] >= this.scores[b % this.capacity] ? a : b;
    return liveA ? a : liveB ? b : 0;
  }
}

/**
 * Who likes what, for the posts in the window: no user likes a post twice without unliking it first,
 * and an unlike always undoes a real like. Entries of posts that left the window are swept out; if
 * the ledger is still full, new likes wait (the simulation picks another action), keeping memory bounded.
 */
export class LikeLedger {
  private readonly likes = new Set<number>();
  /** Recent likes, as ledger keys, for choosing what to unlike. */
  private readonly recentLikes: Float64Array;
  private recentCount = 0;
  private readonly users: number;
  private readonly limit: number;
  /** Likes refused since the last sweep: a sweep that freed nothing is not repeated at once. */
  private refusedSinceSweep = 0;

  constructor(users: number, limit: number) {
    this.users = users;
    this.limit = limit;
    this.recentLikes = new Float64Array(Math.min(limit, 65_536));
  }

  get size(): number {
    return this.likes.size;
  }

  private key(user: number, post: number): number {
    return post * this.users + user;
  }

  /** Records the like and returns true, or false if the user already likes it or the ledger is full. */
  like(user: number, post: number, oldestLivePost: number): boolean {
    const key = this.key(user, post);
    if (this.likes.has(key)) return false;
    if (this.likes.size >= this.limit && !this.sweep(oldestLivePost)) {
      this.refusedSinceSweep++;
      return false;
    }
    this.likes.add(key);
    this.recentLikes[this.recentCount++ % this.recentLikes.length] = key;
    return true;
  }

  /** A recent like that still stands, removed from the ledger: [user, post], or null. */
  takeRecentLike(random: Random, isLive: (post: number) => boolean): [user: number, post: number] | null {
    const size = Math.min(this.recentCount, this.recentLikes.length);
    for (let attempt = 0; attempt < 3 && size > 0; attempt++) {
      const key = this.recentLikes[random.below(size)];
      const post = Math.floor(key / this.users);
      if (!this.likes.has(key) || !isLive(post)) continue;
      this.likes.delete(key);
      return [key - post * this.users, post];
    }
    return null;
  }

  /** Forgets likes of posts older than the window; true if that made room. */
  private sweep(oldestLivePost: number): boolean {
    // A sweep costs a pass over the ledger; after a fruitless one, let the window move on first.
    if (this.refusedSinceSweep > 0 && this.refusedSinceSweep < this.limit >> 4) return false;
    this.refusedSinceSweep = 0;
    const cutoff = oldestLivePost * this.users;
    for (const key of this.likes) if (key < cutoff) this.likes.delete(key);
    return this.likes.size < this.limit * 0.9;
  }
}
