// One row per event of every source topic, for table `events` (columns.ts). Stateless: the row of an
// event depends only on the event and its position, so the sink can deduplicate a re-sent batch by
// (topic, partition, offset).
import { TOPICS, type DarkroomEvent } from '../../schemas/events.ts';
import type { Effect } from '../effects.ts';
import type { Processor, Source } from '../processor.ts';
import { EVENTS_TABLE, type EventsRow } from './columns.ts';

type Fields = Partial<Omit<EventsRow, 'event_id' | 'type' | 'ts' | 'topic' | 'partition' | 'offset'>>;

/** Who acted and on what, per event type: the type's fields flattened onto the columns. */
export function fieldsOf(event: DarkroomEvent): Fields {
  switch (event.type) {
    case 'follow':
    case 'unfollow':
      return { actor_id: event.follower_id, target_user_id: event.followee_id };
    case 'block':
    case 'unblock':
      return { actor_id: event.blocker_id, target_user_id: event.blocked_id };
    case 'profile_updated':
      return { actor_id: event.user_id, username: event.username, is_private: event.is_private };
    case 'post_created':
      return {
        actor_id: event.author_id, post_id: event.post_id, media_type: event.media_type, hashtags: event.hashtags,
        text: event.caption,
      };
    case 'post_deleted':
      return { actor_id: event.author_id, post_id: event.post_id };
    case 'like':
    case 'unlike':
    case 'share':
      return { actor_id: event.user_id, post_id: event.post_id };
    case 'comment':
      return { actor_id: event.user_id, post_id: event.post_id, comment_id: event.comment_id, text: event.text };
    case 'post_seen':
      return { actor_id: event.viewer_id, post_id: event.post_id };
    case 'reel_watched':
      return {
        actor_id: event.viewer_id, post_id: event.post_id,
        watched_ms: clampUInt32(event.watched_ms), duration_ms: clampUInt32(event.duration_ms),
      };
    case 'story_created':
      return { actor_id: event.author_id, story_id: event.story_id, expires_at: event.expires_at };
    case 'story_viewed':
      return { actor_id: event.viewer_id, story_id: event.story_id };
    default: {
      const unhandled: never = event; // a new event type must say here who acted
      void unhandled;
      return {}; // a type newer than this code still gets its common columns
    }
  }
}

/** watched_ms / duration_ms are UInt32 columns: a bad value must not fail the whole insert. */
function clampUInt32(ms: number): number {
  return Math.min(0xffff_ffff, Math.max(0, Math.round(ms)));
}

export function eventsRow(event: DarkroomEvent, source: Source): EventsRow {
  return {
    event_id: event.event_id,
    type: event.type,
    ts: event.ts,
    actor_id: '',
    target_user_id: '',
    post_id: '',
    story_id: '',
    comment_id: '',
    media_type: '',
    hashtags: [],
    text: '',
    watched_ms: 0,
    duration_ms: 0,
    username: null,
    is_private: null,
    expires_at: null,
    topic: source.topic,
    partition: source.partition,
    offset: source.offset,
    ...fieldsOf(event),
  };
}

export function createAnalytics(): Processor<null, DarkroomEvent> {
  return {
    name: 'analytics',
    inputs: [TOPICS.socialGraph, TOPICS.profiles, TOPICS.posts, TOPICS.engagement, TOPICS.stories],
    init: () => null,
    apply(_state, event, source): Effect[] {
      return [{ kind: 'row', table: EVENTS_TABLE, row: eventsRow(event, source) }];
    },
  };
}
