// Engagement counters of each post, from `engagement` (keyed by post_id) and the re-keyed deletions
// (same key, same partition). The rules:
//
// - likes: the number of distinct users whose latest like/unlike of the post is a like. A second like
//   changes nothing; an unlike without a like changes nothing. "Latest" is log order within the post's
//   partition, which is the order the product emitted them for that post.
// - comments and shares: one per event.
// - views: one per post_seen and per reel_watched; watch_ms: the sum of watched_ms (negative is 0).
// - completion: reels_watched counts reel_watched, reels_completed those with watched_ms >= 95% of a
//   known duration; serving divides the two.
// - A deleted post's counters disappear, and later events for it are ignored, so nothing brings them
//   back. Events that raced ahead of the deletion are removed with the rest by the `del`.
import { TOPICS, type Like, type PostDeleted, type ReelWatched, type Unlike } from '../../schemas/events.ts';
import type { Effect } from '../effects.ts';
import type { Processor } from '../processor.ts';
import { CompactIdSet } from './id-set.ts';
import { IdInterner } from './interner.ts';
import { ENGAGEMENT_DELETIONS_TOPIC, statsKey, type StatsField } from './keys.ts';
import type { EventOf } from '../../schemas/events.ts';

/** A reel counts as completed when at least this fraction of it was watched. */
export const COMPLETION_THRESHOLD = 0.95;

export type EngagementInput =
  | Like | Unlike | EventOf<'comment'> | EventOf<'share'> | EventOf<'post_seen'> | ReelWatched | PostDeleted;

export interface CountersState {
  users: IdInterner;
  /** post_id → interned ids of users whose latest like/unlike is a like. */
  likers: Map<string, CompactIdSet>;
  /** Posts deleted so far: their later events are ignored. */
  deleted: Set<string>;
}

const incr = (postId: string, field: StatsField, by = 1): Effect => ({ kind: 'hincr', key: statsKey(postId), field, by });

export function isCompletedWatch(watch: Pick<ReelWatched, 'watched_ms' | 'duration_ms'>): boolean {
  return watch.duration_ms > 0 && watch.watched_ms >= COMPLETION_THRESHOLD * watch.duration_ms;
}

function like(state: CountersState, event: Like): Effect[] {
  let likers = state.likers.get(event.post_id);
  if (!likers) state.likers.set(event.post_id, (likers = new CompactIdSet()));
  return likers.add(state.users.intern(event.user_id)) ? [incr(event.post_id, 'likes', 1)] : [];
}

function unlike(state: CountersState, event: Unlike): Effect[] {
  const user = state.users.lookup(event.user_id);
  const likers = state.likers.get(event.post_id);
  if (user === undefined || !likers?.delete(user)) return [];
  if (likers.size === 0) state.likers.delete(event.post_id);
  return [incr(event.post_id, 'likes', -1)];
}

function reelWatched(event: ReelWatched): Effect[] {
  const effects = [
    incr(event.post_id, 'views'),
    incr(event.post_id, 'reels_watched'),
    incr(event.post_id, 'watch_ms', Math.max(0, event.watched_ms)),
  ];
  if (isCompletedWatch(event)) effects.push(incr(event.post_id, 'reels_completed'));
  return effects;
}

function postDeleted(state: CountersState, event: PostDeleted): Effect[] {
  state.deleted.add(event.post_id);
  state.likers.delete(event.post_id);
  return [{ kind: 'del', key: statsKey(event.post_id) }];
}

export function createEngagementCounters(): Processor<CountersState, EngagementInput> {
  return {
    name: 'engagement-counters',
    inputs: [TOPICS.engagement, ENGAGEMENT_DELETIONS_TOPIC],
    init: () => ({ users: new IdInterner(), likers: new Map(), deleted: new Set() }),
    apply(state, event) {
      if (event.type === 'post_deleted') return postDeleted(state, event);
      if (state.deleted.has(event.post_id)) return [];
      switch (event.type) {
        case 'like': return like(state, event);
        case 'unlike': return unlike(state, event);
        case 'comment': return [incr(event.post_id, 'comments')];
        case 'share': return [incr(event.post_id, 'shares')];
        case 'post_seen': return [incr(event.post_id, 'views')];
        case 'reel_watched': return reelWatched(event);
        default: return []; // other event types never reach this processor's topics
      }
    },
  };
}
