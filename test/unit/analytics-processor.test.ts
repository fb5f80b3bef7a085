import { Session } from 'chdb';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EVENTS_COLUMNS, EVENTS_TABLE, createAnalytics, eventsColumnsSql, type EventsRow,
} from '../../processors/analytics/index.ts';
import { EVENT_ROUTES, EVENT_TYPES, type DarkroomEvent, type EventType } from '../../schemas/events.ts';

const ts = Date.UTC(2026, 2, 1, 12, 0, 0, 123);
const base = { event_id: '7f1d4a52-7c2b-4a3e-9f0e-2b1c5d6e7f80', ts };

/** One example of every event type, and who acted in it. */
const EXAMPLES: { [T in EventType]: { event: Extract<DarkroomEvent, { type: T }>; actor: string } } = {
  follow: { event: { ...base, type: 'follow', follower_id: 'u1', followee_id: 'u2' }, actor: 'u1' },
  unfollow: { event: { ...base, type: 'unfollow', follower_id: 'u1', followee_id: 'u2' }, actor: 'u1' },
  block: { event: { ...base, type: 'block', blocker_id: 'u3', blocked_id: 'u4' }, actor: 'u3' },
  unblock: { event: { ...base, type: 'unblock', blocker_id: 'u3', blocked_id: 'u4' }, actor: 'u3' },
  profile_updated: { event: { ...base, type: 'profile_updated', user_id: 'u5', username: 'ann', is_private: true }, actor: 'u5' },
  post_created: {
    event: { ...base, type: 'post_created', post_id: 'p1', author_id: 'u6', caption: 'hi', media_type: 'reel', hashtags: ['a', 'b'] },
    actor: 'u6',
  },
  post_deleted: { event: { ...base, type: 'post_deleted', post_id: 'p1', author_id: 'u6' }, actor: 'u6' },
  like: { event: { ...base, type: 'like', user_id: 'u7', post_id: 'p1' }, actor: 'u7' },
  unlike: { event: { ...base, type: 'unlike', user_id: 'u7', post_id: 'p1' }, actor: 'u7' },
  comment: { event: { ...base, type: 'comment', comment_id: 'c1', user_id: 'u8', post_id: 'p1', text: 'wow' }, actor: 'u8' },
  share: { event: { ...base, type: 'share', user_id: 'u9', post_id: 'p1' }, actor: 'u9' },
  post_seen: { event: { ...base, type: 'post_seen', viewer_id: 'u10', post_id: 'p1' }, actor: 'u10' },
  story_created: { event: { ...base, type: 'story_created', story_id: 's1', author_id: 'u11', expires_at: ts + 86_400_000 }, actor: 'u11' },
  story_viewed: { event: { ...base, type: 'story_viewed', story_id: 's1', viewer_id: 'u12' }, actor: 'u12' },
  reel_watched: {
    event: { ...base, type: 'reel_watched', viewer_id: 'u13', post_id: 'p1', watched_ms: 4000, duration_ms: 5000 }, actor: 'u13',
  },
};

const analytics = createAnalytics();
function rowOf(event: DarkroomEvent, offset = 42): EventsRow {
  const effects = analytics.apply(null, event, { topic: EVENT_ROUTES[event.type].topic, partition: 3, offset });
  expect(effects).toHaveLength(1);
  const [effect] = effects;
  if (effect.kind !== 'row') throw new Error(`expected a row, got ${effect.kind}`);
  expect(effect.table).toBe(EVENTS_TABLE);
  return effect.row as EventsRow;
}

describe('analytics processor', () => {
  it('consumes every source topic', () => {
    expect(new Set(analytics.inputs)).toEqual(new Set(Object.values(EVENT_ROUTES).map((r) => r.topic)));
  });

  it.each(EVENT_TYPES)('a %s event becomes one row with its actor, type, time and position', (type) => {
    const { event, actor } = EXAMPLES[type];
    const row = rowOf(event);
    expect(row).toMatchObject({ event_id: base.event_id, type, ts, actor_id: actor, topic: EVENT_ROUTES[type].topic, partition: 3, offset: 42 });
  });

  it('rows have exactly the columns of columns.ts', () => {
    for (const type of EVENT_TYPES) expect(Object.keys(rowOf(EXAMPLES[type].event)).sort()).toEqual(Object.keys(EVENTS_COLUMNS).sort());
  });

  it("flattens each type's fields onto the columns", () => {
    expect(rowOf(EXAMPLES.follow.event).target_user_id).toBe('u2');
    expect(rowOf(EXAMPLES.block.event).target_user_id).toBe('u4');
    expect(rowOf(EXAMPLES.post_created.event)).toMatchObject({ post_id: 'p1', media_type: 'reel', hashtags: ['a', 'b'], text: 'hi' });
    expect(rowOf(EXAMPLES.comment.event).text).toBe('wow');
    expect(rowOf(EXAMPLES.reel_watched.event)).toMatchObject({ post_id: 'p1', watched_ms: 4000, duration_ms: 5000 });
    expect(rowOf(EXAMPLES.profile_updated.event)).toMatchObject({ username: 'ann', is_private: true });
    expect(rowOf(EXAMPLES.story_created.event)).toMatchObject({ story_id: 's1', expires_at: ts + 86_400_000 });
    expect(rowOf(EXAMPLES.comment.event)).toMatchObject({ comment_id: 'c1', post_id: 'p1' });
    expect(rowOf(EXAMPLES.like.event)).toMatchObject({ post_id: 'p1', target_user_id: '', hashtags: [], is_private: null });
  });

  describe('columns.ts is a table ClickHouse accepts (chDB in-process)', () => {
    const session = new Session();
    afterAll(() => session.cleanup());

    it('every row inserts and reads back with its values', () => {
      session.query(`CREATE TABLE ${EVENTS_TABLE} (\n  ${eventsColumnsSql()}\n) ENGINE = MergeTree ORDER BY (topic, partition, offset)`);
      const rows = EVENT_TYPES.map((type, i) => rowOf(EXAMPLES[type].event, i));
      session.query(`INSERT INTO ${EVENTS_TABLE} FORMAT JSONEachRow ${rows.map((r) => JSON.stringify(r)).join('\n')}`);
      const back = session.query(
        `SELECT type, actor_id, toUnixTimestamp64Milli(ts) AS ms, hashtags, is_private, toUnixTimestamp64Milli(expires_at) AS exp
         FROM ${EVENTS_TABLE} ORDER BY \`offset\``, 'JSONEachRow',
      ).trim().split('\n').map((line) => JSON.parse(line));
      expect(back).toHaveLength(EVENT_TYPES.length);
      expect(back.map((r) => r.actor_id)).toEqual(EVENT_TYPES.map((t) => EXAMPLES[t].actor));
      expect(new Set(back.map((r) => Number(r.ms)))).toEqual(new Set([ts]));
      expect(back.find((r) => r.type === 'post_created').hashtags).toEqual(['a', 'b']);
      expect(back.find((r) => r.type === 'profile_updated').is_private).toBe(true);
      expect(Number(back.find((r) => r.type === 'story_created').exp)).toBe(ts + 86_400_000);
    });
  });
});
