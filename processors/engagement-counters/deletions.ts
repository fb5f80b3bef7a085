// A small stage on `posts`: a deletion is keyed by author there, but the counters of a post live in the
// partition of its post_id. Re-keying deletions through an internal topic brings each one to the
// partition that holds the post's counters (Kafka Streams' repartition).
import { TOPICS, type DarkroomEvent, type PostDeleted } from '../../schemas/events.ts';
import type { Processor } from '../processor.ts';
import { ENGAGEMENT_DELETIONS_TOPIC } from './keys.ts';

export function createDeletionRouter(): Processor<null, DarkroomEvent> {
  return {
    name: 'engagement-deletions',
    inputs: [TOPICS.posts],
    init: () => null,
    apply(_state, event) {
      if (event.type !== 'post_deleted') return [];
      const value: PostDeleted = {
        type: 'post_deleted', event_id: event.event_id, ts: event.ts, post_id: event.post_id, author_id: event.author_id,
      };
      return [{ kind: 'repartition', topic: ENGAGEMENT_DELETIONS_TOPIC, key: event.post_id, value: { ...value } }];
    },
  };
}
