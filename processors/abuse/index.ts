// The abuse signal, as two stages like a Kafka Streams topology:
//   social-graph (keyed by followee) ──follows-by-follower──▶ abuse-follows-by-follower (keyed by follower)
//     ──bot-follows──▶ flagged:<user>, flagged-accounts, and abuse-flags (keyed by user)
// abuse-flags is read by the trending extractor, which ignores the posts of flagged accounts.
import { internalValueSchema } from '../../schemas/internal-records.ts';
import type { TopicSpec } from '../../topics/types.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';
import type { Processor } from '../processor.ts';
import { createBotFollowsDetector, type BotFollowsState } from './bot-follows.ts';
import { createFollowsByFollower, type FollowByFollower } from './follows-by-follower.ts';
import { ABUSE_FLAGS_TOPIC, ABUSE_FOLLOWS_TOPIC } from './keys.ts';

export * from './keys.ts';
export { HOUR_MS, type AccountFlagged, type BotFollowsState } from './bot-follows.ts';
export type { FollowByFollower } from './follows-by-follower.ts';

export const DEFAULT_BOT_FOLLOWS_PER_HOUR = 1_000;

export interface Abuse {
  /** Stateless: re-keys follows by follower. */
  followsByFollower: Processor<null, DarkroomEvent>;
  /** Stateful: sliding hour per follower; flags. */
  botFollows: Processor<BotFollowsState, FollowByFollower>;
  internalTopics(partitions: number): TopicSpec[];
}

export function createAbuse(options: { followsPerHour?: number } = {}): Abuse {
  const topic = (name: string, key: string, value: string, partitions: number): TopicSpec => ({
    // Both are replayed to rebuild the next stage's state: they keep what the sources keep.
    name, key, partitions, retentionMs: -1, retentionBytes: -1, compacted: false, internal: true,
    valueSchema: internalValueSchema(value),
  });
  return {
    followsByFollower: createFollowsByFollower(),
    botFollows: createBotFollowsDetector({ followsPerHour: options.followsPerHour ?? DEFAULT_BOT_FOLLOWS_PER_HOUR }),
    internalTopics: (partitions) => [
      topic(ABUSE_FOLLOWS_TOPIC, 'follower_id', 'follow_by_follower', partitions),
      topic(ABUSE_FLAGS_TOPIC, 'flagged user', 'account_flagged', partitions),
    ],
  };
}
