// GET /v1/posts/{post_id}/stats: the engagement counters of one post (processors/engagement-counters/
// keys.ts). A post is known while its post:<id> hash exists (feed-fanout deletes it with the post), so
// an unknown or deleted post is a 404 even if engagement for it is still in flight.
import type { ViewStore } from '../../sinks/view-store.ts';
import { postKey } from '../../processors/feed-fanout/keys.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import { HttpError } from '../errors.ts';

export interface PostStats {
  post_id: string;
  likes: number;
  comments: number;
  shares: number;
  views: number;
  watch_ms: number;
  completion_rate: number;
}

export async function readPostStats(views: ViewStore, generation: string, postId: string): Promise<PostStats> {
  const [post, stats] = await views.hgetallMany(generation, [postKey(postId), statsKey(postId)]);
  if (!post) throw new HttpError(404, 'not_found', `no post "${postId}"`);
  // A counter that never changed is absent from the hash: it reads as 0.
  const count = (field: string) => Number(stats?.[field] ?? 0);
  const watched = count('reels_watched');
  return {
    post_id: postId,
    likes: count('likes'),
    comments: count('comments'),
    shares: count('shares'),
    views: count('views'),
    watch_ms: count('watch_ms'),
    completion_rate: watched > 0 ? count('reels_completed') / watched : 0,
  };
}
