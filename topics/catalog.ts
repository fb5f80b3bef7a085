import { TOPICS } from '../schemas/events.ts';
import type { TopicSpec } from './types.ts';

const FOREVER = -1;

/**
 * Source topics keep every record: any view can be rebuilt by replaying them from offset 0.
 * Operators who must bound disk set retention here and rebuild from a view snapshot instead.
 */
export function topicCatalog(
  partitions: number,
  retention: { ms: number; bytes: number } = { ms: FOREVER, bytes: FOREVER },
): TopicSpec[] {
  const source = (name: string, key: string, compacted = false): TopicSpec => ({
    name, key, partitions, retentionMs: retention.ms, retentionBytes: retention.bytes, compacted,
  });
  return [
    source(TOPICS.socialGraph, 'followee_id (follow, unfollow) / blocked_id (block, unblock)'),
    source(TOPICS.profiles, 'user_id', true),
    source(TOPICS.posts, 'author_id'),
    source(TOPICS.engagement, 'post_id'),
    source(TOPICS.stories, 'story_id'),
    {
      name: TOPICS.deadLetters, key: 'source topic', partitions: 1,
      retentionMs: 7 * 24 * 3600_000, retentionBytes: FOREVER, compacted: false, internal: true,
    },
  ];
}
