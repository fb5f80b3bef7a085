// What darkroom computes: every processor, the topics it reads and the sink it writes. The runtime
// (runtime.ts) runs this list; the rules live in each processor's own folder.
import type { TopicSpec } from '../topics/types.ts';
import type { Processor } from './processor.ts';
import { createFeedFanout } from './feed-fanout/index.ts';
import { feedFanoutInternalTopics } from './feed-fanout/relay.ts';
import { createTrending } from './trending-hashtags/index.ts';
import { createEngagement } from './engagement-counters/index.ts';
import { createSeenState } from './seen-state/index.ts';
import { createAnalytics } from './analytics/index.ts';
import { createAbuse } from './abuse/index.ts';

export interface TopologyOptions {
  partitions: number;
  celebrityFollowers: number;
  feedLength: number;
  trendingHalfLifeMinutes: number;
  /** Follows per hour of event time above which an account is flagged (processors/abuse); default 1000. */
  botFollowsPerHour?: number;
}

export interface TopologyNode {
  processor: Processor<unknown, unknown>;
  /** Replays its inputs on start to rebuild local state (see runtime.ts). */
  stateful: boolean;
  sink: 'views' | 'analytics';
}

export interface Topology {
  nodes: TopologyNode[];
  internalTopics: TopicSpec[];
}

export function buildTopology(options: TopologyOptions): Topology {
  const trending = createTrending({ halfLifeMinutes: options.trendingHalfLifeMinutes });
  const engagement = createEngagement();
  const abuse = createAbuse({ followsPerHour: options.botFollowsPerHour });
  const node = (processor: Processor<any, any>, stateful: boolean, sink: 'views' | 'analytics' = 'views'): TopologyNode =>
    ({ processor, stateful, sink });
  return {
    nodes: [
      node(createFeedFanout({ celebrityFollowers: options.celebrityFollowers, feedLength: options.feedLength }), true),
      node(trending.extract, true),
      node(trending.score, true),
      node(engagement.deletions, false),
      node(engagement.counters, true),
      node(createSeenState(), true),
      node(createAnalytics(), false, 'analytics'),
      node(abuse.followsByFollower, false),
      node(abuse.botFollows, true),
    ],
    internalTopics: [
      ...feedFanoutInternalTopics(options.partitions),
      ...trending.internalTopics(options.partitions),
      ...engagement.internalTopics(options.partitions),
      ...abuse.internalTopics(options.partitions),
    ],
  };
}
