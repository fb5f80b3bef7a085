// Logical keys of the trending view (the view store adds the generation prefix).
//
// Every use of a tag is repartitioned by tag, so each tag lives in exactly one partition and the
// global top 100 is the merge of the partitions' top 100s. Each partition <n> publishes, at most once
// per event-time second:
//   trending:p<n>          zset  tag → velocity score at `as_of` (whole set replaced with zreplace)
//   trending:p<n>:uses_1h  hash  tag → uses in the last hour of event time (same tags as the zset)
//   trending:p<n>:meta     hash  as_of (event time of the scores, ms), tags (tags tracked)
// Serving reads the 8 small sets in one round trip and merges them (see mergePartitionTops).

/** Internal topic of stage 1 → stage 2, keyed by hashtag (Kafka Streams' repartition topic). */
export const TRENDING_REPARTITION_TOPIC = 'trending-hashtags-repartition';

export const trendingTopKey = (partition: number): string => `trending:p${partition}`;
export const trendingUsesKey = (partition: number): string => `trending:p${partition}:uses_1h`;
export const trendingMetaKey = (partition: number): string => `trending:p${partition}:meta`;
