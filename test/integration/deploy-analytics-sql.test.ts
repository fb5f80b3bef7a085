// Every ClickHouse query of the Grafana dashboards runs on the real analytics schema: the analytics
// store creates `events` and its rollups on chDB (the ClickHouse engine in-process) in a temp dir,
// rows of every kind the panels read go in through the store, and each panel's SQL — with the Grafana
// macros expanded as the data source does — must run read-only and return rows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries, expandClickHouseMacros } from '../../dashboards/queries.ts';
import { eventsRow } from '../../processors/analytics/analytics.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';
import { createAnalyticsStore, type AnalyticsStore, type RowEffect } from '../../sinks/analytics/analytics-store.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-deploy-sql-'));
let store: AnalyticsStore;
const now = Date.now();
const sqlQueries = dashboardQueries().filter((q) => q.kind === 'sql');

type EventInput = DarkroomEvent extends infer E ? E extends DarkroomEvent ? Omit<E, 'event_id' | 'ts'> & { ts?: number } : never : never;

function rows(topic: string, events: EventInput[]): RowEffect[] {
  return events.map((event, offset) => {
    const full = { event_id: `${topic}-${offset}`, ts: now - 10 * 60_000, ...event } as DarkroomEvent;
    return { kind: 'row', table: 'events', row: eventsRow(full, { topic, partition: 0, offset }) };
  });
}

beforeAll(async () => {
  store = await createAnalyticsStore({ dataDir });
  await store.applyBatch({
    processor: 'analytics',
    rows: [
      ...rows('posts', [
        { type: 'post_created', post_id: 'p1', author_id: 'ana', caption: 'dawn #sunrise #beach', media_type: 'photo', hashtags: ['sunrise', 'beach'] },
        { type: 'post_created', post_id: 'p2', author_id: 'bo', caption: 'again #sunrise', media_type: 'reel', hashtags: ['sunrise'], ts: now - 2 * 3_600_000 },
      ]),
      ...rows('engagement', [
        { type: 'like', user_id: 'bo', post_id: 'p1' },
        { type: 'like', user_id: 'cy', post_id: 'p1' },
        { type: 'unlike', user_id: 'cy', post_id: 'p1' },
        { type: 'comment', comment_id: 'c1', user_id: 'cy', post_id: 'p1', text: 'wow' },
        { type: 'share', user_id: 'dee', post_id: 'p1' },
        { type: 'post_seen', viewer_id: 'dee', post_id: 'p1' },
        { type: 'reel_watched', viewer_id: 'ana', post_id: 'p2', watched_ms: 15_000, duration_ms: 15_000 },
        { type: 'reel_watched', viewer_id: 'cy', post_id: 'p2', watched_ms: 5_000, duration_ms: 15_000 },
      ]),
    ],
  });
});

afterAll(async () => {
  await store?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const range = { from: new Date(now - 24 * 3_600_000), to: new Date(now + 60_000), intervalSeconds: 60 };

describe('dashboard SQL on the analytics schema (chDB)', () => {
  it('the product dashboard has the panels the product asks for', () => {
    const tables = sqlQueries.map((q) => q.text).join('\n');
    for (const table of ['hashtag_uses_per_minute', 'engagement_per_post_minute', 'daily_active_users', 'events']) expect(tables).toContain(table);
    expect(sqlQueries.length).toBeGreaterThanOrEqual(6);
  });

  it('macro expansion leaves plain SQL and refuses macros nobody checked', () => {
    expect(expandClickHouseMacros('SELECT 1 WHERE $__timeFilter(ts)', range)).toMatch(/^SELECT 1 WHERE ts >= toDateTime\(\d+\) AND ts <= toDateTime\(\d+\)$/);
    expect(() => expandClickHouseMacros('SELECT $__conditionalAll(x, $tag)', range)).toThrow(/unknown Grafana macro/);
  });

  it.each(sqlQueries.map((q) => [q.panel, q] as const))('%s runs read-only and returns rows', async (_panel, query) => {
    const result = await store.query(expandClickHouseMacros(query.text, range));
    expect(result.length).toBeGreaterThan(0);
  });

  it('the numbers are the product rules: trending by hour, net likes, completion, DAU', async () => {
    const sql = (panel: string) => expandClickHouseMacros(sqlQueries.find((q) => q.panel === panel)!.text, range);
    const tags = await store.query(sql('Top hashtags by hour'));
    expect(tags.map((r) => `${r.hashtag}:${r.uses}`)).toEqual(expect.arrayContaining(['sunrise:1', 'beach:1']));
    expect(new Set(tags.map((r) => r.hour)).size).toBe(2); // two hours with posts

    const top = await store.query(sql('Top posts by engagement'));
    expect(top[0]).toMatchObject({ post_id: 'p1', net_likes: 1, comments: 1, shares: 1, engagement: 6 });

    const completion = await store.query(sql('Reel completion rate'));
    expect(completion.map((r) => r.completion_rate)).toEqual([0.5]);

    const dau = await store.query(sql('Daily active users'));
    expect(dau.reduce((n, r) => n + Number(r.dau), 0)).toBeGreaterThanOrEqual(4); // ana, bo, cy, dee (per day)
  });
});
