// The analytics schema: one wide `events` table (every action, one row, the Kafka position it came
// from) and rollups kept by materialized views. Same SQL on chDB and on a ClickHouse server.
//
// Why this shape:
// - ORDER BY (type, toStartOfHour(ts), post_id, ts): analysts filter by event type and a time range
//   first ("likes in the last hour", "reels watched today"), then group or look up by post.
// - PARTITION BY toDate(ts): retention and backfills work a day at a time.
// - The `resume_point` projection keeps max(offset) per (processor, topic, partition) inside every data
//   part, written atomically with the rows; the store's resume point is a tiny query over it.
// - Rollups are materialized views, so they are filled by the same INSERT. A part of a view is written
//   just after the part of `events`: a crash between the two can leave a rollup one batch short;
//   `rebuildRollups()` recomputes them from `events`, which is the source of truth.
//
// Analyst queries (ANALYST_QUERIES below; `darkroom sql "<query>"` runs any of them read-only):
//   top posts in the last hour, trending tags by hour, daily active users, reel completion.
import { EVENTS_COLUMNS, EVENTS_TABLE, eventsColumnsSql } from '../../processors/analytics/columns.ts';

export { EVENTS_TABLE };

/**
 * The columns are the analytics processor's contract (processors/analytics/columns.ts); the sink adds
 * its bookkeeping (`processor`, `inserted_at`) and the resume-point projection.
 */
export const EVENTS_DDL = `
CREATE TABLE IF NOT EXISTS events (
  ${eventsColumnsSql()},
  \`processor\` LowCardinality(String),
  \`inserted_at\` DateTime64(3, 'UTC') DEFAULT now64(3),
  PROJECTION resume_point (SELECT processor, topic, partition, max(offset) GROUP BY processor, topic, partition)
) ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (type, toStartOfHour(ts), post_id, ts)`;

/** Columns that hold a time: rows carry ms since epoch, ClickHouse gets decimal seconds (no unit guessing). */
export const TIME_COLUMNS = Object.entries(EVENTS_COLUMNS)
  .filter(([, type]) => type.includes('DateTime64'))
  .map(([name]) => name);

interface Rollup { table: string; ddl: string; select: string }

export const ROLLUPS: Rollup[] = [
  {
    table: 'engagement_per_post_minute',
    ddl: `
CREATE TABLE IF NOT EXISTS engagement_per_post_minute (
  minute DateTime('UTC'), post_id String,
  likes UInt64, unlikes UInt64, comments UInt64, shares UInt64, seen UInt64,
  reel_watches UInt64, reel_completions UInt64, reel_watched_ms UInt64
) ENGINE = SummingMergeTree PARTITION BY toDate(minute) ORDER BY (minute, post_id)`,
    select: `
SELECT toStartOfMinute(ts) AS minute, post_id,
  countIf(type = 'like') AS likes, countIf(type = 'unlike') AS unlikes,
  countIf(type = 'comment') AS comments, countIf(type = 'share') AS shares, countIf(type = 'post_seen') AS seen,
  countIf(type = 'reel_watched') AS reel_watches,
  countIf(type = 'reel_watched' AND duration_ms > 0 AND watched_ms >= 0.95 * duration_ms) AS reel_completions,
  sumIf(toUInt64(watched_ms), type = 'reel_watched') AS reel_watched_ms
FROM events
WHERE type IN ('like', 'unlike', 'comment', 'share', 'post_seen', 'reel_watched')
GROUP BY minute, post_id`,
  },
  {
    table: 'hashtag_uses_per_minute',
    ddl: `
CREATE TABLE IF NOT EXISTS hashtag_uses_per_minute (minute DateTime('UTC'), hashtag String, uses UInt64)
ENGINE = SummingMergeTree PARTITION BY toDate(minute) ORDER BY (minute, hashtag)`,
    select: `
SELECT toStartOfMinute(ts) AS minute, arrayJoin(hashtags) AS hashtag, count() AS uses
FROM events WHERE type = 'post_created'
GROUP BY minute, hashtag`,
  },
  {
    table: 'daily_active_users',
    ddl: `
CREATE TABLE IF NOT EXISTS daily_active_users (day Date, users AggregateFunction(uniq, String))
ENGINE = AggregatingMergeTree ORDER BY day`,
    select: `
SELECT toDate(ts) AS day, uniqState(actor_id) AS users
FROM events WHERE actor_id != ''
GROUP BY day`,
  },
];

export const rollupViewDdl = (rollup: Rollup) =>
  `CREATE MATERIALIZED VIEW IF NOT EXISTS ${rollup.table}_mv TO ${rollup.table} AS ${rollup.select}`;

/** Queries analysts ask every day; tested on chDB (test/integration/analytics-chdb.test.ts). */
export const ANALYST_QUERIES = {
  /** Posts with the most engagement in the last hour (likes net of unlikes, comments x2, shares x3). */
  topPostsLastHour: `
SELECT post_id,
  toInt64(sum(likes)) - toInt64(sum(unlikes)) AS net_likes, sum(comments) AS comments, sum(shares) AS shares,
  net_likes + 2 * comments + 3 * shares AS engagement
FROM engagement_per_post_minute
WHERE minute >= now() - INTERVAL 1 HOUR
GROUP BY post_id ORDER BY engagement DESC, post_id LIMIT 10`,
  /** The ten most used hashtags of each hour of the last day. */
  trendingTagsByHour: `
SELECT toStartOfHour(minute) AS hour, hashtag, sum(uses) AS uses
FROM hashtag_uses_per_minute
WHERE minute >= now() - INTERVAL 24 HOUR
GROUP BY hour, hashtag ORDER BY hour DESC, uses DESC, hashtag LIMIT 10 BY hour`,
  /** Distinct users who did anything, per day, last 30 days. */
  dailyActiveUsers: `
SELECT day, uniqMerge(users) AS dau
FROM daily_active_users
WHERE day >= today() - 30
GROUP BY day ORDER BY day DESC`,
  /** Reels by watches in the last day, with the share of watches that reached 95% of the reel (the product's completion rule). */
  reelCompletion: `
SELECT post_id, count() AS watches,
  round(countIf(watched_ms >= 0.95 * duration_ms) / count(), 3) AS completion_rate,
  round(avg(least(watched_ms / duration_ms, 1)), 3) AS avg_watched_fraction
FROM events
WHERE type = 'reel_watched' AND duration_ms > 0 AND ts >= now() - INTERVAL 1 DAY
GROUP BY post_id ORDER BY watches DESC, post_id LIMIT 20`,
} as const;
