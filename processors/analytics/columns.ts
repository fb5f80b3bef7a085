// The contract between the analytics processor (which builds rows) and the analytics sink (which
// creates the table and its rollups): the columns of table `events`, name → ClickHouse type. One row
// per event of every source topic; fields a type does not have hold the column's empty value ('' / 0 /
// [] / NULL), so analysts filter by `type`. The sink adds its own bookkeeping columns (`processor`,
// `inserted_at`); every other column of the table is listed here, and the sink's DDL can be built
// from eventsColumnsSql().
//
// Values in a row are plain JSON: DateTime64 columns receive ms since epoch as a number (ClickHouse
// reads an integer into DateTime64(3) as milliseconds), Bool receives true/false.

export const EVENTS_TABLE = 'events';

export const EVENTS_COLUMNS = {
  event_id: 'String',
  type: 'LowCardinality(String)',
  ts: "DateTime64(3, 'UTC')",
  /** The user who acted: follower, blocker, profile owner, author, liker/commenter/sharer, viewer. */
  actor_id: 'String',
  /** The user acted upon: followee (follow, unfollow), blocked user (block, unblock). */
  target_user_id: 'String',
  post_id: 'String',
  story_id: 'String',
  comment_id: 'String',
  media_type: 'LowCardinality(String)',
  hashtags: 'Array(LowCardinality(String))',
  /** Caption of a post, text of a comment. */
  text: 'String',
  watched_ms: 'UInt32',
  duration_ms: 'UInt32',
  /** profile_updated only. */
  username: 'Nullable(String)',
  is_private: 'Nullable(Bool)',
  /** story_created only. */
  expires_at: "Nullable(DateTime64(3, 'UTC'))",
  topic: 'LowCardinality(String)',
  partition: 'UInt16',
  offset: 'UInt64',
} as const;

export type EventsColumn = keyof typeof EVENTS_COLUMNS;

/** A record's position in its topic: the same position twice is the same event (re-sent batch). */
export const EVENTS_DEDUP_KEY = ['topic', 'partition', 'offset'] as const satisfies readonly EventsColumn[];

export type EventsRow = {
  event_id: string;
  type: string;
  ts: number;
  actor_id: string;
  target_user_id: string;
  post_id: string;
  story_id: string;
  comment_id: string;
  media_type: string;
  hashtags: string[];
  text: string;
  watched_ms: number;
  duration_ms: number;
  username: string | null;
  is_private: boolean | null;
  expires_at: number | null;
  topic: string;
  partition: number;
  offset: number;
};

/** The column list of a CREATE TABLE, names back-quoted (`offset` and `partition` are keywords). */
export function eventsColumnsSql(): string {
  return Object.entries(EVENTS_COLUMNS).map(([name, type]) => `\`${name}\` ${type}`).join(',\n  ');
}
