// Trending hashtags, as two stages like a Kafka Streams topology:
//   posts + profiles ──extract──▶ trending-hashtags-repartition (keyed by tag) ──score──▶ trending:p<n>
// See extract.ts and score.ts for the rules, keys.ts for the view, merge.ts for serving's merge.
import { internalValueSchema } from '../../schemas/internal-records.ts';
import type { TopicSpec } from '../../topics/types.ts';
import { trendingConfig, type TrendingConfig, type TrendingOptions } from './config.ts';
import { createHashtagExtractor, type ExtractState } from './extract.ts';
import { TRENDING_REPARTITION_TOPIC } from './keys.ts';
import { createTrendingScorer, type TrendingScorer } from './score.ts';
import type { Processor } from '../processor.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';
import type { AccountFlagged } from '../abuse/index.ts';

export * from './keys.ts';
export { mergePartitionTops, type PublishedTop, type TrendingTag } from './merge.ts';
export { TrendingConfigError, type TrendingOptions, type TrendingConfig } from './config.ts';
export type { HashtagUse, ExtractState } from './extract.ts';
export type { ScoreState, TagScore, TrendingScorer } from './score.ts';

export interface Trending {
  config: TrendingConfig;
  /** Stage 1: consumes posts + profiles, emits repartition effects keyed by tag. */
  extract: Processor<ExtractState, DarkroomEvent | AccountFlagged>;
  /** Stage 2: consumes the repartition topic, publishes each partition's top. */
  score: TrendingScorer;
  /** The internal topic to create next to the source topics. */
  internalTopics(partitions: number): TopicSpec[];
}

export function createTrending(options: TrendingOptions): Trending {
  const config = trendingConfig(options);
  return {
    config,
    extract: createHashtagExtractor(),
    score: createTrendingScorer(config),
    internalTopics: (partitions) => [{
      name: TRENDING_REPARTITION_TOPIC,
      key: 'hashtag',
      partitions,
      // Stage 2 rebuilds its state by replaying this topic, so it keeps what the sources keep.
      retentionMs: -1,
      retentionBytes: -1,
      compacted: false,
      internal: true,
      valueSchema: internalValueSchema('hashtag_use'),
    }],
  };
}
