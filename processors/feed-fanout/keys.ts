// Logical keys of the views the feed-fanout processor maintains (the view store adds the generation
// prefix). Serving reads these; nothing else writes them.
//
//   feed:<user>                  zset  the home feed. Member "<post_id>|<author_id>" (taggedMember, tag =
//                                      author, so all of one author's posts leave with one zremTagged),
//                                      score = post ts (ms). Capped at feedLength, newest kept.
//   timeline:<author>            zset  every live post of the author. Member post_id, score = post ts.
//                                      Not capped: it is the profile grid and the read side of fanout
//                                      on read.
//   post:<post_id>               hash  post_id, author_id, created_at (ms), caption, hashtags (JSON array),
//                                      media_type, is_private ("1" when the author was private at post
//                                      time: trending and explore must ignore the post). Deleted with the post.
//   following:<user>             set   ids the user follows (story tray, "following" list).
//   celebrities-followed:<user>  set   followed authors served by fanout on read: authors who were
//                                      celebrities while the user followed them, so some of their posts
//                                      are only in their timeline. An author who drops below the threshold
//                                      stays in the set (their celebrity-era posts are still only there)
//                                      until the user unfollows. Home feed = feed:<user> ∪ newest of
//                                      timeline:<a> for a in this set, deduplicated by post_id.
//   blocks:<user>                set   ids the user has blocked.
//   blocked-by:<user>            set   ids that have blocked the user. Serving hides content between U and X
//                                      when X ∈ blocks:U ∪ blocked-by:U.
//   profile:<user>               hash  user_id, username, is_private ("1"/"0"): lets serving keep a private
//                                      author's timeline from non-followers.

export const feedKey = (user: string): string => `feed:${user}`;
export const timelineKey = (author: string): string => `timeline:${author}`;
export const postKey = (postId: string): string => `post:${postId}`;
export const followingKey = (user: string): string => `following:${user}`;
export const celebritiesFollowedKey = (user: string): string => `celebrities-followed:${user}`;
export const blocksKey = (blocker: string): string => `blocks:${blocker}`;
export const blockedByKey = (blocked: string): string => `blocked-by:${blocked}`;
export const profileKey = (user: string): string => `profile:${user}`;
