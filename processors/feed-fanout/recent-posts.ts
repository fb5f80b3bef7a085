// The newest posts of each author, kept so that a new follower can be backfilled and so that a
// deletion knows whether the post was ever pushed into followers' feeds. Only `retain` posts per author
// are kept (followBackfill): older ones are no longer needed for backfill, and a deletion of a post we
// no longer hold is treated conservatively (removed from every follower's feed).

export interface RetainedPost {
  postId: string;
  ts: number;
  /** The post may be in some follower's feed: fanned out on write, or backfilled on a follow. */
  inFollowerFeeds: boolean;
}

export class RecentPosts {
  /** Per author, oldest first by ts (ties in arrival order). */
  private readonly byAuthor = new Map<number, RetainedPost[]>();

  constructor(private readonly retain: number) {}

  add(author: number, post: RetainedPost): void {
    if (this.retain === 0) return;
    let posts = this.byAuthor.get(author);
    if (!posts) this.byAuthor.set(author, (posts = []));
    let at = posts.length;
    while (at > 0 && posts[at - 1].ts > post.ts) at--; // posts mostly arrive in ts order: short walk
    posts.splice(at, 0, post);
    if (posts.length > this.retain) posts.shift();
  }

  find(author: number, postId: string): RetainedPost | undefined {
    const posts = this.byAuthor.get(author);
    if (!posts) return undefined;
    for (let i = posts.length - 1; i >= 0; i--) if (posts[i].postId === postId) return posts[i];
    return undefined;
  }

  remove(author: number, postId: string): RetainedPost | undefined {
    const posts = this.byAuthor.get(author);
    if (!posts) return undefined;
    for (let i = posts.length - 1; i >= 0; i--) {
      if (posts[i].postId !== postId) continue;
      const [removed] = posts.splice(i, 1);
      if (posts.length === 0) this.byAuthor.delete(author);
      return removed;
    }
    return undefined;
  }

  /** Up to `count` of the author's posts, newest first. */
  newest(author: number, count: number): RetainedPost[] {
    const posts = this.byAuthor.get(author);
    if (!posts || count <= 0) return [];
    return posts.slice(Math.max(0, posts.length - count)).reverse();
  }
}

/**
 * Deletions that arrived before their post (two producers racing): the late post_created is dropped.
 * Bounded, oldest forgotten first, so a stream of deletes of long-gone posts cannot grow it forever.
 */
export class EarlyDeletions {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = 100_000) {}

  remember(postId: string): void {
    this.ids.add(postId);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value!);
  }

  /** True (and forgets it) if the post was deleted before it arrived. */
  take(postId: string): boolean {
    return this.ids.delete(postId);
  }
}
