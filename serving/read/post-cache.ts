// What a feed item shows of a post, apart from its counters, never changes once the post exists:
// post_created writes post:<id> once and post_deleted removes it (processors/feed-fanout/keys.ts).
// So the serving process keeps it in memory and, per page, asks the store only whether each post
// still exists (a deletion hides the post at once) and for its counters (read fresh every time).
//
// Bounded, approximately least-recently-used at the cost of two Map lookups: entries go into a young
// generation; when it holds half the capacity it becomes the old one (the previous old one is
// dropped), and an old entry read again moves back to the young one. Keys carry the view generation,
// so a replay's switch starts from the rebuilt views, and the old generation's entries age out.

export interface PostContent {
  post_id: string;
  author_id: string;
  created_at: number;
  caption: string;
  hashtags: string[];
  media_type: string;
}

export class PostContentCache {
  private young = new Map<string, PostContent>();
  private old = new Map<string, PostContent>();
  private readonly half: number;
  /** Lookups answered from memory and not, since the start: the hit rate for metrics and benchmarks. */
  hits = 0;
  misses = 0;

  /** `maxEntries` 0 keeps nothing (every page reads every post's hash). */
  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new RangeError(`post cache size must be an integer >= 0, got ${maxEntries}`);
    this.half = Math.ceil(maxEntries / 2);
  }

  get(generation: string, postId: string): PostContent | undefined {
    const key = cacheKey(generation, postId);
    let content = this.young.get(key);
    if (content === undefined) {
      content = this.old.get(key);
      if (content !== undefined) { this.old.delete(key); this.put(key, content); }
    }
    if (content === undefined) this.misses++;
    else this.hits++;
    return content;
  }

  set(generation: string, postId: string, content: PostContent): void {
    if (this.maxEntries > 0) this.put(cacheKey(generation, postId), content);
  }

  /** A post found deleted: nothing to keep (existence is checked on every read anyway). */
  delete(generation: string, postId: string): void {
    const key = cacheKey(generation, postId);
    this.young.delete(key);
    this.old.delete(key);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  private put(key: string, content: PostContent): void {
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, content);
  }
}

const cacheKey = (generation: string, postId: string) => `${generation}\u0000${postId}`;
