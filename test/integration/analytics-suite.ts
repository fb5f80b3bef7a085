// The analytics store's contract, run against each engine: chDB in-process (analytics-chdb.test.ts)
// and a ClickHouse server over HTTP (analytics-clickhouse.test.ts): DDL, exactly-once by source
// offsets (also across a restart and a kill -9 of the writer), read-only queries and their guard,
// rollups, and the analyst queries documented in schema.ts.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DarkroomEvent } from '../../schemas/events.ts';
import { createAnalyticsStore, type AnalyticsStore, type AnalyticsStoreOptions, type RowEffect } from '../../sinks/analytics/analytics-store.ts';
import { eventsRow } from '../../processors/analytics/analytics.ts';
import { ANALYST_QUERIES } from '../../sinks/analytics/schema.ts';

/** An event without id and time (filled in), any type. */
type EventInput = DarkroomEvent extends infer E ? E extends DarkroomEvent ? Omit<E, 'event_id' | 'ts'> & { ts?: number } : never : never;

/**
 * `target()` says where the store lives ({ dataDir } for chDB, { url, dataDir } for a server); it is
 * called after the caller's beforeAll, and must name an empty store.
 */
export function analyticsStoreSuite(engine: 'chdb' | 'clickhouse', target: () => AnalyticsStoreOptions): void {
  let store: AnalyticsStore;
  let offset = 0;
  const now = Date.now();

  function row(event: EventInput, topic = 'engagement', partition = 0, at = offset++): RowEffect {
    const full = { event_id: `e-${topic}-${partition}-${at}`, ts: now, ...event } as DarkroomEvent;
    return { kind: 'row', table: 'events', row: eventsRow(full, { topic, partition, offset: at }) };
  }

  beforeAll(async () => { store = await createAnalyticsStore(target()); });
  afterAll(async () => { await store?.close(); });

  describe(`analytics store on ${engine}`, () => {
    it('inserts each source offset once, even when a batch is re-sent', async () => {
      offset = 0;
      const batch = [
        row({ type: 'like', user_id: 'u1', post_id: 'p1' }),
        row({ type: 'like', user_id: 'u2', post_id: 'p1' }),
        row({ type: 'comment', user_id: 'u3', post_id: 'p1', comment_id: 'c1', text: 'nice' }),
        row({ type: 'like', user_id: 'u1', post_id: 'p2' }, 'engagement', 1, 0),
      ];
      expect(await store.applyBatch({ processor: 'analytics', rows: batch })).toEqual({ inserted: 4, skipped: 0 });
      expect(await store.applyBatch({ processor: 'analytics', rows: batch })).toEqual({ inserted: 0, skipped: 4 });
      // overlapping: two old, one new
      const next = row({ type: 'share', user_id: 'u4', post_id: 'p1' });
      expect(await store.applyBatch({ processor: 'analytics', rows: [batch[1], batch[2], next] })).toEqual({ inserted: 1, skipped: 2 });
      expect(await store.offsets('analytics')).toEqual([
        { topic: 'engagement', partition: 0, offset: 4 }, { topic: 'engagement', partition: 1, offset: 1 },
      ]);
      expect(await store.query("SELECT count() AS n FROM events WHERE processor = 'analytics'")).toEqual([{ n: 5 }]);
    });

    it('keeps event time to the millisecond', async () => {
      const ts = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
      await store.applyBatch({ processor: 'clock', rows: [row({ type: 'story_created', story_id: 's', author_id: 'a', expires_at: ts + 86_400_123, ts }, 'stories', 0, 0)] });
      expect(await store.query("SELECT toUnixTimestamp64Milli(ts) AS ms, toUnixTimestamp64Milli(expires_at) AS exp FROM events WHERE processor = 'clock'"))
        .toEqual([{ ms: ts, exp: ts + 86_400_123 }]);
    });

    it('keeps text, arrays, nulls and booleans exactly as the event had them', async () => {
      const text = 'say "hi"\\ \n\ttab, ],[ 日本語 👋 \u0001 end';
      await store.applyBatch({ processor: 'text', rows: [
        row({ type: 'comment', user_id: 'u"1', post_id: 'p\n1', comment_id: 'c1', text }, 'engagement', 0, 0),
        row({ type: 'post_created', post_id: 'p2', author_id: 'a', caption: '#über #日本 x', media_type: 'photo', hashtags: ['über', '日本'] }, 'posts', 0, 0),
        row({ type: 'profile_updated', user_id: 'u9', username: "o'neil", is_private: true }, 'profiles', 0, 0),
      ] });
      expect(await store.query("SELECT type, actor_id, post_id, text, hashtags, username, is_private FROM events WHERE processor = 'text' ORDER BY type")).toEqual([
        { type: 'comment', actor_id: 'u"1', post_id: 'p\n1', text, hashtags: [], username: null, is_private: null },
        { type: 'post_created', actor_id: 'a', post_id: 'p2', text: '#über #日本 x', hashtags: ['über', '日本'], username: null, is_private: null },
        { type: 'profile_updated', actor_id: 'u9', post_id: '', text: '', hashtags: [], username: "o'neil", is_private: true },
      ]);
    });

    it('resumes from the data after a restart, and a batch across midnight lands whole', async () => {
      const day1 = Date.UTC(2026, 0, 5, 23, 59, 59, 900);
      const rows = [0, 1, 2, 3].map((i) => row({ type: 'like', user_id: `u${i}`, post_id: 'pm', ts: day1 + i * 50 }, 'engagement', 2, i));
      await store.applyBatch({ processor: 'midnight', rows });
      await store.close();
      store = await createAnalyticsStore(target()); // DDL again: idempotent
      expect(await store.offsets('midnight')).toEqual([{ topic: 'engagement', partition: 2, offset: 4 }]);
      expect(await store.applyBatch({ processor: 'midnight', rows })).toEqual({ inserted: 0, skipped: 4 });
      expect(await store.query("SELECT toDate(ts) AS day, count() AS n FROM events WHERE processor = 'midnight' GROUP BY day ORDER BY day"))
        .toEqual([{ day: '2026-01-05', n: 2 }, { day: '2026-01-06', n: 2 }]);
    });

    it('answers reads and refuses writes in query()', async () => {
      expect(await store.query('SELECT 1 + {n:UInt8} AS two;', { n: 1 })).toEqual([{ two: 2 }]);
      await expect(store.query('DROP TABLE events')).rejects.toThrow(/only reads are allowed/);
      await expect(store.query("INSERT INTO events (event_id) VALUES ('x')")).rejects.toThrow(/only reads are allowed/);
      await expect(store.query('SELECT nope FROM events')).rejects.toThrow(/^query failed: .*nope/);
      // the writer is unaffected by the reader's readonly session
      expect((await store.applyBatch({ processor: 'after-ro', rows: [row({ type: 'share', user_id: 'u', post_id: 'p' }, 'engagement', 9, 0)] })).inserted).toBe(1);
    });

    it('rejects rows it cannot place, with the reason', async () => {
      await expect(store.applyBatch({ processor: 'x', rows: [{ kind: 'row', table: 'clicks', row: {} }] })).rejects.toThrow(/unknown analytics table "clicks"/);
      await expect(store.applyBatch({ processor: 'x', rows: [{ kind: 'row', table: 'events', row: { ts: 1 } }] })).rejects.toThrow(/lacks its source/);
    });

    it('fills rollups and answers the analyst queries', async () => {
      const t = 'posts';
      let o = 0;
      const rows: RowEffect[] = [
        row({ type: 'post_created', post_id: 'hot', author_id: 'a1', caption: 'x', media_type: 'reel', hashtags: ['cats', 'sun'] }, t, 5, o++),
        row({ type: 'post_created', post_id: 'cold', author_id: 'a2', caption: 'y', media_type: 'photo', hashtags: ['cats'] }, t, 5, o++),
        ...['v1', 'v2', 'v3'].map((v) => row({ type: 'like', user_id: v, post_id: 'hot' }, t, 5, o++)),
        row({ type: 'unlike', user_id: 'v3', post_id: 'hot' }, t, 5, o++),
        row({ type: 'share', user_id: 'v1', post_id: 'cold' }, t, 5, o++),
        row({ type: 'reel_watched', viewer_id: 'v1', post_id: 'hot', watched_ms: 15_000, duration_ms: 15_000 }, t, 5, o++),
        row({ type: 'reel_watched', viewer_id: 'v2', post_id: 'hot', watched_ms: 5_000, duration_ms: 15_000 }, t, 5, o++),
      ];
      await store.applyBatch({ processor: 'rollups', rows });
      const top = await store.query(ANALYST_QUERIES.topPostsLastHour);
      expect(top.find((r) => r.post_id === 'hot')).toMatchObject({ net_likes: 2, engagement: 2 });
      expect(top.find((r) => r.post_id === 'cold')).toMatchObject({ shares: 1, engagement: 3 });
      const tags = await store.query(ANALYST_QUERIES.trendingTagsByHour);
      expect(tags.slice(0, 2).map((r) => [r.hashtag, Number(r.uses)])).toEqual([['cats', 2], ['sun', 1]]);
      const dau = await store.query(ANALYST_QUERIES.dailyActiveUsers);
      expect(Number(dau.find((r) => r.day === new Date(now).toISOString().slice(0, 10))?.dau)).toBeGreaterThanOrEqual(5);
      expect(await store.query(ANALYST_QUERIES.reelCompletion)).toEqual([
        { post_id: 'hot', watches: 2, completion_rate: 0.5, avg_watched_fraction: 0.667 },
      ]);
      const before = await store.query('SELECT sum(likes) AS likes, sum(reel_completions) AS done FROM engagement_per_post_minute');
      await store.rebuildRollups();
      expect(await store.query('SELECT sum(likes) AS likes, sum(reel_completions) AS done FROM engagement_per_post_minute')).toEqual(before);
    });

    it('kill -9 of a writer: every offset below the resume point stored exactly once', async () => {
      await store.close(); // chDB: one process per data directory at a time, the child takes it over
      const source = `
        import { createAnalyticsStore } from ${JSON.stringify(path.resolve('sinks/analytics/analytics-store.ts'))};
        const store = await createAnalyticsStore(${JSON.stringify(target())});
        const held = new Map((await store.offsets('crash')).map((o) => [o.partition, o.offset]));
        process.stdout.write('ready\\n');
        for (let n = 0; ; n++) {
          const rows = [];
          for (const partition of [0, 1]) {
            const start = held.get(partition) ?? 0;
            for (let i = 0; i < 200; i++) rows.push({ kind: 'row', table: 'events', row: {
              event_id: 'c' + partition + '-' + (start + i), type: 'like', ts: Date.now(), actor_id: 'u', post_id: 'p',
              topic: 'engagement', partition, offset: start + i } });
            held.set(partition, start + 200);
          }
          // every third batch is re-sent, as a runtime would after a failed acknowledgement
          await store.applyBatch({ processor: 'crash', rows });
          if (n % 3 === 0) await store.applyBatch({ processor: 'crash', rows });
        }`;
      for (let round = 0; round < 2; round++) {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
          child.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
        });
        await new Promise((r) => setTimeout(r, 1500));
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      store = await createAnalyticsStore(target());
      const resume = await store.offsets('crash');
      expect(resume.map((o) => o.partition)).toEqual([0, 1]);
      const stats = await store.query(`SELECT partition, count() AS n, uniqExact(offset) AS distinct, max(offset) + 1 AS next
        FROM events WHERE processor = 'crash' GROUP BY partition ORDER BY partition`);
      for (const [i, s] of stats.entries()) {
        // no offset twice, none missing below the resume point
        expect(Number(s.n)).toBe(Number(s.distinct));
        expect(Number(s.n)).toBe(resume[i].offset);
      }
      expect(resume[0].offset).toBeGreaterThan(200);
    });
  });


  describe(`read-only queries on ${engine}`, () => {
    it.each([
      ["SELECT * FROM file('/etc/passwd', 'LineAsString')", /file\(\) reaches files/],
      ["SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", /url\(\) reaches files/],
      ["SELECT * FROM remote('127.0.0.1:1', system.one)", /remote\(\) reaches/],
      ["SELECT * FROM executable('id', 'TSV', 'x String')", /executable\(\) reaches/],
      ["INSERT INTO events (topic, partition, offset) VALUES ('x', 0, 0)", /INSERT is not a read/],
      ['DROP TABLE events', /DROP is not a read/],
      ['SELECT 1; DROP TABLE events', /one statement/],
    ])('refuses %s before it reaches the engine', async (query, reason) => {
      await expect(store.query(query)).rejects.toThrow(reason);
    });

    it('left nothing behind: the events table is there and holds no row of the refused INSERT', async () => {
      expect(await store.query("SELECT count() AS n FROM events WHERE topic = 'x'")).toEqual([{ n: 0 }]);
    });
  });
}
