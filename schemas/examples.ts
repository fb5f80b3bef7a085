// One example of every event type, typed against the catalog (an extra or missing field is a compile
// error). Tests use them to prove that every field survives Avro and validation.
import type { DarkroomEvent, EventOf, EventType } from './events.ts';

const ts = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

export const EXAMPLE_EVENTS: { [T in EventType]: EventOf<T> } = {
  follow: { type: 'follow', event_id: uuid(1), ts, follower_id: 'u-ana', followee_id: 'u-bo' },
  unfollow: { type: 'unfollow', event_id: uuid(2), ts, follower_id: 'u-ana', followee_id: 'u-bo' },
  block: { type: 'block', event_id: uuid(3), ts, blocker_id: 'u-ana', blocked_id: 'u-troll' },
  unblock: { type: 'unblock', event_id: uuid(4), ts, blocker_id: 'u-ana', blocked_id: 'u-troll' },
  profile_updated: { type: 'profile_updated', event_id: uuid(5), ts, user_id: 'u-ana', username: 'ana', is_private: true },
  post_created: {
    type: 'post_created', event_id: uuid(6), ts, post_id: 'p-1', author_id: 'u-bo',
    caption: 'Sunrise in Lisboa #travel #café', media_type: 'carousel', hashtags: ['travel', 'café'],
  },
  post_deleted: { type: 'post_deleted', event_id: uuid(7), ts, post_id: 'p-1', author_id: 'u-bo' },
  like: { type: 'like', event_id: uuid(8), ts, user_id: 'u-ana', post_id: 'p-1' },
  unlike: { type: 'unlike', event_id: uuid(9), ts, user_id: 'u-ana', post_id: 'p-1' },
  comment: { type: 'comment', event_id: uuid(10), ts, comment_id: 'c-1', user_id: 'u-ana', post_id: 'p-1', text: 'Wow 😍' },
  share: { type: 'share', event_id: uuid(11), ts, user_id: 'u-ana', post_id: 'p-1' },
  post_seen: { type: 'post_seen', event_id: uuid(12), ts, viewer_id: 'u-ana', post_id: 'p-1' },
  story_created: { type: 'story_created', event_id: uuid(13), ts, story_id: 's-1', author_id: 'u-bo', expires_at: ts + 86_400_000 },
  story_viewed: { type: 'story_viewed', event_id: uuid(14), ts, story_id: 's-1', viewer_id: 'u-ana' },
  reel_watched: { type: 'reel_watched', event_id: uuid(15), ts, viewer_id: 'u-ana', post_id: 'p-2', watched_ms: 12_500, duration_ms: 30_000 },
};

export const ALL_EXAMPLE_EVENTS: DarkroomEvent[] = Object.values(EXAMPLE_EVENTS);
