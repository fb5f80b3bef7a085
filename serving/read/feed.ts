// GET /v1/users/{user_id}/feed: the home feed, read as feed-fanout built it (processors/feed-fanout/
// feed-manager.ts). The rules serving adds at read time:
//
// - Hybrid fanout: the feed is feed:<user> (fanned out on write) merged with the timelines of the
//   authors in celebrities-followed:<user> (fanned out on read), newest first by created_at, ties by
//   post_id descending, each post once (a post can be in both while an author crosses the threshold).
// - Never across a block: authors in blocks:<user> ∪ blocked-by:<user> are dropped. A block is applied
//   in two partitions, so for a moment one side's feed may still hold the other's posts.
// - Never an account the user no longer follows (their own posts excepted): checked against
//   following:<user> for the page's authors.
// - Never a deleted post: a post without its post:<id> hash is dropped.
// - Pages are strictly below the cursor's (created_at, post_id), so new posts never shift a page.
//
// Cost per page, whatever its length: round trip 1 reads the user's sets and feed:<user> together;
// round trip 2 the celebrity timelines (through the hot cache: a celebrity's timeline is read once per
// burst, not once per follower); round trip 3 hydrates the page and checks following:<user> alongside.
// Hydration reads, for every candidate, whether post:<id> still exists and the four counters of
// stats:<id>, in one store command where the store offers it (ViewStore.hashFieldsMany: one script
// call on Redis); a post's content is immutable, so it comes from memory (post-cache.ts) once read.
// When filters drop so many posts that the page is short, the sources are read again deeper (rare;
// O(log n) rounds).
import type { ScoredMember, ViewStore } from '../../sinks/view-store.ts';
import { splitTaggedMember } from '../../processors/effects.ts';
import {
  blockedByKey, blocksKey, celebritiesFollowedKey, feedKey, followingKey, postKey, timelineKey,
} from '../../processors/feed-fanout/keys.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import type { HotCache } from '../single-flight.ts';
import { comparePositions, encodeCursor, isBelow, type FeedPosition } from './cursor.ts';
import { PostContentCache, type PostContent } from './post-cache.ts';

export interface FeedItem extends PostContent {
  stats: { likes: number; comments: number; shares: number; views: number };
}

export interface FeedPage {
  items: FeedItem[];
  next_cursor: string | null;
}

export interface FeedQuery {
  generation: string;
  user: string;
  limit: number;
  cursor?: FeedPosition;
  now: number;
}

/** A post as one source lists it, before hydration. */
interface Candidate extends FeedPosition {
  authorId: string;
}

/** One sorted source of the merge: the user's feed or one celebrity's timeline. */
interface Source {
  toCandidate(member: ScoredMember): Candidate;
  entries: Candidate[];
  /** Fewer entries than asked came back: nothing older is left. */
  exhausted: boolean;
}

/** Extra entries read beyond the page, so that filtered posts rarely cost another round. */
const SLACK = 10;
/** Safety net on round trips beyond the usual three; geometric growth never needs it in practice. */
const MAX_EXTRA_ROUNDS = 12;
/** The counters a feed item shows (stats:<id> holds more, for the stats endpoint). */
const ITEM_STATS = ['likes', 'comments', 'shares', 'views'] as const;
/** A read of a cached post only checks that its hash still exists. */
const EXISTS_ONLY: readonly string[] = [];
/** Posts whose content is kept in memory when the caller does not pass a cache of its own. */
const DEFAULT_POST_CACHE_ENTRIES = 100_000;

export class FeedReader {
  constructor(
    private readonly views: ViewStore,
    /** Celebrity timelines by (generation, author, position, depth). */
    private readonly timelines: HotCache<ScoredMember[]>,
    /** Post content by (generation, post_id); see post-cache.ts. */
    readonly posts: PostContentCache = new PostContentCache(DEFAULT_POST_CACHE_ENTRIES),
  ) {}

  async page(q: FeedQuery): Promise<FeedPage> {
    const { views, timelines } = this;
    const { generation: gen, user, limit, cursor, now } = q;
    // Inclusive of the cursor's time: posts at the same ms with a smaller post_id come next.
    const range = (depth: number) => ({ max: cursor?.ts, limit: depth });
    let depth = limit + SLACK;

    // Round trip 1: who is merged and who is hidden, with the first slice of the fanned-out feed.
    const [[celebrities, blocks, blockedBy], feedEntries] = await Promise.all([
      views.smembersMany(gen, [celebritiesFollowedKey(user), blocksKey(user), blockedByKey(user)], now),
      views.zrangeByScoreDesc(gen, feedKey(user), range(depth)),
    ]);
    const hidden = new Set([...blocks, ...blockedBy]);

    const readFeed = (d: number) => views.zrangeByScoreDesc(gen, feedKey(user), range(d));
    const feed: Source = {
      toCandidate: (m) => {
        const { id, tag } = splitTaggedMember(m.member);
        return { postId: id, authorId: tag, ts: m.score };
      },
      entries: [], exhausted: false,
    };
    const celebritySources = celebrities.filter((c) => !hidden.has(c)).map((author): Source & { author: string } => ({
      author,
      toCandidate: (m) => ({ postId: m.member, authorId: author, ts: m.score }),
      entries: [], exhausted: false,
    }));
    const sources: Source[] = [feed, ...celebritySources];
    const fill = (source: Source, members: ScoredMember[], d: number) => {
      source.entries = members.map(source.toCandidate);
      source.exhausted = members.length < d;
    };
    fill(feed, feedEntries, depth);

    // Round trip 2: every celebrity timeline in one pipeline (only those not cached or in flight).
    const readTimelines = async (pending: Array<Source & { author: string }>, d: number) => {
      const lists = await Promise.all(timelines.getMany(
        pending.map((s) => timelineCacheKey(gen, s.author, cursor, d)),
        (missing) => views.zrangeByScoreDescMany(gen, missing.map((key) => timelineKey(authorOfCacheKey(key))), range(d)),
      ));
      pending.forEach((s, i) => fill(s, lists[i], d));
    };
    if (celebritySources.length) await readTimelines(celebritySources, depth);

    // Hydration results by post_id across rounds; null = dropped (deleted, or author not followed).
    const checked = new Map<string, FeedItem | null>();
    // Hydrate a little more than the page so a dropped post rarely costs a round; doubled each time
    // posts were dropped, so even a feed full of stale entries takes O(log n) rounds.
    let batch = limit + Math.ceil(limit / 10) + 1;
    let ordered = merge(sources, cursor, hidden);
    for (let extraRounds = 0; ; extraRounds++) {
      const unchecked = ordered.filter((c) => !checked.has(c.postId));
      if (stillNeeded(ordered, checked, limit) > 0 && unchecked.length) {
        // Round trip 3 (and, when posts were dropped, again): hydrate the next candidates in order.
        await this.hydrate(gen, user, unchecked.slice(0, batch), now, checked);
        batch *= 2;
      } else {
        const items: FeedItem[] = [];
        let last: Candidate | undefined;
        for (const c of ordered) {
          if (items.length === limit) break;
          const item = checked.get(c.postId);
          if (item === undefined) break;
          last = c;
          if (item) items.push(item);
        }
        const moreInSources = sources.some((s) => !s.exhausted) || (last !== undefined && ordered.at(-1) !== last);
        if (items.length === limit || !moreInSources || extraRounds >= MAX_EXTRA_ROUNDS) {
          // With a full page the cursor is its last item; with a short page cut by MAX_EXTRA_ROUNDS it
          // is the last post examined, so the next request moves on instead of re-reading dropped posts.
          return { items, next_cursor: moreInSources && last ? encodeCursor(last) : null };
        }
        depth *= 4;
        const deeper = sources.filter((s) => !s.exhausted);
        await Promise.all([
          deeper.includes(feed) ? readFeed(depth).then((m) => fill(feed, m, depth)) : undefined,
          readTimelines(celebritySources.filter((s) => deeper.includes(s)), depth),
        ]);
        ordered = merge(sources, cursor, hidden);
      }
    }
  }

  /**
   * Existence (or, the first time, content) of post:<id> and the counters of stats:<id> for every
   * candidate in one store command, following:<user> checked alongside in the same round trip.
   */
  private async hydrate(gen: string, user: string, need: Candidate[], now: number, checked: Map<string, FeedItem | null>) {
    const { views, posts } = this;
    const authors = [...new Set(need.map((c) => c.authorId).filter((a) => a !== user))];
    const cached = need.map((c) => posts.get(gen, c.postId));
    const reads: Array<{ key: string; fields?: readonly string[] }> = new Array(need.length * 2);
    need.forEach((c, i) => {
      reads[i] = { key: postKey(c.postId), fields: cached[i] ? EXISTS_ONLY : undefined };
      reads[need.length + i] = { key: statsKey(c.postId), fields: ITEM_STATS };
    });
    const [hashes, followed] = await Promise.all([
      views.hashFieldsMany ? views.hashFieldsMany(gen, reads) : views.hgetallMany(gen, reads.map((r) => r.key)),
      authors.length ? views.sismemberMany(gen, followingKey(user), authors, now) : Promise.resolve([]),
    ]);
    const follows = new Set(authors.filter((_, i) => followed[i]));
    need.forEach((c, i) => {
      const post = hashes[i];
      if (post === null) {
        // Deleted: hidden at once, and nothing left to keep.
        if (cached[i]) posts.delete(gen, c.postId);
        checked.set(c.postId, null);
        return;
      }
      let content = cached[i];
      if (content === undefined) posts.set(gen, c.postId, (content = toContent(post, c)));
      const visible = c.authorId === user || follows.has(c.authorId);
      checked.set(c.postId, visible ? withStats(content, hashes[need.length + i]) : null);
    });
  }
}

/** How many more of `ordered`'s unchecked posts the page needs (0: the page can be assembled). */
function stillNeeded(ordered: Candidate[], checked: Map<string, FeedItem | null>, limit: number): number {
  let usable = 0;
  for (const c of ordered) {
    const known = checked.get(c.postId);
    if (known === undefined) return limit - usable;
    if (known) usable++;
    if (usable >= limit) return 0;
  }
  return 0;
}

/**
 * The sources' entries merged in feed order, below the cursor, without hidden authors or duplicates.
 * Only positions every source has read past are included: a source that returned a full slice may
 * hold more posts at its last score (ties) or below it, which could come before another source's
 * entries at that score; those wait for a deeper read.
 */
function merge(sources: Source[], cursor: FeedPosition | undefined, hidden: ReadonlySet<string>) {
  let bound = -Infinity;
  for (const s of sources) {
    if (!s.exhausted && s.entries.length) bound = Math.max(bound, s.entries.at(-1)!.ts);
    else if (!s.exhausted) bound = Infinity;
  }
  const seen = new Set<string>();
  const ordered: Candidate[] = [];
  for (const s of sources) {
    for (const c of s.entries) {
      if (!isBelow(c, cursor) || hidden.has(c.authorId) || seen.has(c.postId)) continue;
      if (c.ts <= bound) continue;
      seen.add(c.postId);
      ordered.push(c);
    }
  }
  return ordered.sort(comparePositions);
}

function toContent(post: Record<string, string>, c: Candidate): PostContent {
  return Object.freeze({
    post_id: post.post_id ?? c.postId,
    author_id: post.author_id ?? c.authorId,
    created_at: Number(post.created_at ?? c.ts),
    caption: post.caption ?? '',
    hashtags: Object.freeze(parseHashtags(post.hashtags)) as string[],
    media_type: post.media_type ?? '',
  });
}

/** A counter that never changed is absent from the hash (or the hash is): it reads as 0. */
function withStats(content: PostContent, stats: Record<string, string> | null): FeedItem {
  return {
    post_id: content.post_id,
    author_id: content.author_id,
    created_at: content.created_at,
    caption: content.caption,
    hashtags: content.hashtags,
    media_type: content.media_type,
    stats: {
      likes: Number(stats?.likes ?? 0),
      comments: Number(stats?.comments ?? 0),
      shares: Number(stats?.shares ?? 0),
      views: Number(stats?.views ?? 0),
    },
  };
}

function parseHashtags(text: string | undefined): string[] {
  if (!text) return [];
  try {
    const tags = JSON.parse(text) as unknown;
    return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
  } catch {
    return [];
  }
}

/** Cache key of a celebrity timeline slice; the author comes last so it can be read back. */
function timelineCacheKey(gen: string, author: string, cursor: FeedPosition | undefined, depth: number): string {
  return `${gen}\u0000${cursor ? cursor.ts : 'top'}\u0000${depth}\u0000${author}`;
}

function authorOfCacheKey(key: string): string {
  return key.slice(key.lastIndexOf('\u0000') + 1);
}
