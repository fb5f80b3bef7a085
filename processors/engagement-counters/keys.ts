// Logical keys of the engagement view (the view store adds the generation prefix).
//
//   stats:<post_id>  hash  likes           users whose latest like/unlike of the post is a like
//                          comments        comment events
//                          shares          share events
//                          views           post_seen + reel_watched events
//                          watch_ms        sum of reel_watched.watched_ms
//                          reels_watched   reel_watched events
//                          reels_completed reel_watched with watched_ms >= 95% of duration_ms
// Serving computes completion_rate = reels_completed / reels_watched (0 when no reel was watched).
// A field that never changed is absent (read it as 0). A deleted post has no stats key at all.

export const statsKey = (postId: string): string => `stats:${postId}`;

export const STATS_FIELDS = ['likes', 'comments', 'shares', 'views', 'watch_ms', 'reels_watched', 'reels_completed'] as const;
export type StatsField = (typeof STATS_FIELDS)[number];

/** Internal topic carrying post deletions from `posts` (keyed by author) re-keyed by post_id. */
export const ENGAGEMENT_DELETIONS_TOPIC = 'engagement-post-deletions';
