// Logical keys of seen-state and the story tray (the view store adds the generation prefix). Every
// member carries its own expiry (`expiresAt` on sadd/zadd) that the view store honours through its
// expiry index, so nothing ever scans a whole view to drop old entries.
//
//   seen:posts:<viewer>    set   post_id               expires 7 days after the view (post_seen, reel_watched)
//   seen:stories:<viewer>  set   story_id              expires with the story
//   stories:<author>       zset  story_id → expires_at  active stories of the author; expires with the story
//
// Story tray of viewer V in two round trips (serving; see tray.ts for the pure assembly):
//   1. SMEMBERS following:<V>, the block sets of V (both maintained by feed-fanout), SMEMBERS seen:stories:<V>
//   2. for each followed, unblocked author A: ZRANGEBYSCORE stories:<A> (now +inf WITHSCORES (pipelined)
//      — the score bound also hides a story whose expiry the store has not swept yet.

export const seenPostsKey = (viewerId: string): string => `seen:posts:${viewerId}`;
export const seenStoriesKey = (viewerId: string): string => `seen:stories:${viewerId}`;
export const activeStoriesKey = (authorId: string): string => `stories:${authorId}`;

/** How long a seen post stays seen. */
export const POST_SEEN_TTL_MS = 7 * 24 * 3600_000;
