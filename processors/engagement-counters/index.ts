// Engagement counters: stats:<post_id> from `engagement`, with deletions re-keyed from `posts`:
//   posts ──deletions──▶ engagement-post-deletions (keyed by post_id) ─┐
//   engagement (keyed by post_id) ─────────────────────────────────────┴─counters──▶ stats:<post_id>
import { internalValueSchema } from '../../schemas/internal-records.ts';
import type { TopicSpec } from '../../topics/types.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';
import type { Processor } from '../processor.ts';
import { createEngagementCounters as createCountersProcessor, type CountersState, type EngagementInput } from './counters.ts';
import { createDeletionRouter } from './deletions.ts';
import { ENGAGEMENT_DELETIONS_TOPIC } from './keys.ts';

export * from './keys.ts';
export { COMPLETION_THRESHOLD, isCompletedWatch, type CountersState, type EngagementInput } from './counters.ts';
export { CompactIdSet } from './id-set.ts';
export { IdInterner } from './interner.ts';

export interface EngagementCounters {
  /** Stage on `posts`: re-keys post_deleted by post_id. Stateless. */
  deletions: Processor<null, DarkroomEvent>;
  /** Consumes `engagement` + the deletions topic; stateful (likers, deleted posts). */
  counters: Processor<CountersState, EngagementInput>;
  internalTopics(partitions: number): TopicSpec[];
}

export function createEngagement(): EngagementCounters {
  return {
    deletions: createDeletionRouter(),
    counters: createCountersProcessor(),
    internalTopics: (partitions) => [{
      name: ENGAGEMENT_DELETIONS_TOPIC, key: 'post_id', partitions,
      // The counters rebuild their "deleted" set by replaying this topic: keep it as long as the sources.
      retentionMs: -1, retentionBytes: -1, compacted: false, internal: true,
      valueSchema: internalValueSchema('post_deleted'),
    }],
  };
}
