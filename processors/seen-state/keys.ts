// Logical keys of seen-state and the story tray (the view store adds the generation prefix). Every
// member is an `sadd` with its own `expiresAt`; the view store keeps such sets scored by expiry and
// hides/trims expired members, so nothing ever scans a whole view to drop old entries.
//
//   seen:posts:<viewer>    set  post_id   expires 7 days after the view (post_seen, reel_watched)
//   seen:stories:<viewer>  set  story_id  expires with the story
//   stories:<author>       set  story_id  active stories of the author; expires with the story, so the
//                                         member's score in the store is the story's expires_at
//
// Story tray of viewer V in two round trips (serving; see tray.ts for the pure assembly):
//   1. smembersMany: following:<V> and V's block sets (both maintained by feed-fanout), seen:stories:<V>
//   2. zrangeByScoreDescMany over stories:<A> for each followed, unblocked author A, min = now: story
//      ids with their expires_at as score (expiring sets are sorted sets scored by expiry).

export const seenPostsKey = (viewerId: string): string => `seen:posts:${viewerId}`;
export const seenStoriesKey = (viewerId: string): string => `seen:stories:${viewerId}`;
export const activeStoriesKey = (authorId: string): string => `stories:${authorId}`;

/** How long a seen post stays seen. */
export const POST_SEEN_TTL_MS = 7 * 24 * 3600_000;
