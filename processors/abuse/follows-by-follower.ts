// Stage 1 of the abuse signal: a follow lives on social-graph in the partition of the followee (what
// fanout needs); counting what one account follows needs them by follower. Re-keying through an
// internal topic brings all follows of one follower to one partition (Kafka Streams' repartition).
import { TOPICS, type DarkroomEvent } from '../../schemas/events.ts';
import type { Processor } from '../processor.ts';
import { ABUSE_FOLLOWS_TOPIC } from './keys.ts';

/** The value of a record of ABUSE_FOLLOWS_TOPIC. */
export interface FollowByFollower {
  follower_id: string;
  followee_id: string;
  ts: number;
}

export function createFollowsByFollower(): Processor<null, DarkroomEvent> {
  return {
    name: 'abuse-follows-by-follower',
    inputs: [TOPICS.socialGraph],
    init: () => null,
    apply(_state, event) {
      if (event.type !== 'follow') return [];
      const value: FollowByFollower = { follower_id: event.follower_id, followee_id: event.followee_id, ts: event.ts };
      return [{ kind: 'repartition', topic: ABUSE_FOLLOWS_TOPIC, key: event.follower_id, value: { ...value } }];
    },
  };
}
