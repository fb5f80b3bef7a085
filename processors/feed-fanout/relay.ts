// The internal repartition topic of feed-fanout (Kafka Streams' through()).
//
// "B blocks X" is keyed by X, so it lands in X's partition, which holds X's followers and X's posts.
// But the block must also cut B's side: X must stop following B (an edge held in B's partition), B's
// posts must leave X's feed, and B's partition must refuse X's follows while the block stands. So X's
// partition relays the block, keyed by B, and B's partition applies its half when the record comes back.
//
// Until it comes back (one micro-batch, typically milliseconds), B's posts still reach X and a follow
// X → B is still accepted; the relayed block then removes both. The price of that rule: a follow made
// after a block *and* its unblock, all within the relay delay, is also ended (B's partition cannot tell
// it from a follow across the block, and the block is the safer side to err on).
import { internalValueSchema } from '../../schemas/internal-records.ts';
import type { TopicSpec } from '../../topics/types.ts';
import type { Effect } from '../effects.ts';

export const FEED_FANOUT_REPARTITION_TOPIC = 'feed-fanout-repartition';

/** A block or unblock, relayed to the blocker's partition. The runtime produces it and feeds it back. */
export interface BlockRelayed {
  type: 'block_relayed';
  /** The event_id of the block/unblock it relays. */
  event_id: string;
  /** Event time of the block/unblock. */
  ts: number;
  blocker_id: string;
  blocked_id: string;
  /** true for block, false for unblock. */
  blocked: boolean;
}

export function relayBlock(relayed: BlockRelayed): Effect {
  return {
    kind: 'repartition', topic: FEED_FANOUT_REPARTITION_TOPIC, key: relayed.blocker_id, value: { ...relayed },
  };
}

export function isBlockRelayed(input: { type: string }): input is BlockRelayed {
  return input.type === 'block_relayed';
}

/**
 * The internal topic, co-partitioned with the source topics. Kept forever: a stateful restore replays
 * it from offset 0 together with social-graph, as the block state of blockers lives only there.
 */
export function feedFanoutInternalTopics(partitions: number): TopicSpec[] {
  return [{
    name: FEED_FANOUT_REPARTITION_TOPIC, key: 'blocker_id', partitions,
    retentionMs: -1, retentionBytes: -1, compacted: false, internal: true,
    valueSchema: internalValueSchema('block_relayed'),
  }];
}
