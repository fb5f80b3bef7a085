// A comparable picture of the views: the feeds and timelines of every user, the stats of every post,
// each partition's trending top, and the analytics row count. Crash and replay tests compare two.
import { feedKey, timelineKey } from '../../processors/feed-fanout/keys.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import { trendingTopKey } from '../../processors/trending-hashtags/keys.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import type { AnalyticsStore } from '../../sinks/analytics/analytics-store.ts';

export interface ViewsSnapshot {
  feeds: Record<string, string[]>;
  timelines: Record<string, string[]>;
  stats: Record<string, Record<string, string>>;
  trending: Array<Array<{ member: string; score: number }>>;
  analyticsRows: number;
}

async function chunked<T>(ids: string[], size: number, read: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += size) out.push(...(await read(ids.slice(i, i + size))));
  return out;
}

export async function snapshotViews(
  views: ViewStore, generation: string, analytics: AnalyticsStore | undefined,
  scope: { users: number; posts: number; partitions: number },
): Promise<ViewsSnapshot> {
  const users = Array.from({ length: scope.users }, (_, i) => `u${i + 1}`);
  const posts = Array.from({ length: scope.posts }, (_, i) => `p${i + 1}`);
  const range = { limit: 10_000 };
  const feeds = await chunked(users, 500, (c) => views.zrangeByScoreDescMany(generation, c.map(feedKey), range));
  const timelines = await chunked(users, 500, (c) => views.zrangeByScoreDescMany(generation, c.map(timelineKey), range));
  const stats = await chunked(posts, 500, (c) => views.hgetallMany(generation, c.map(statsKey)));
  const trending = await views.zrangeByScoreDescMany(generation, Array.from({ length: scope.partitions }, (_, p) => trendingTopKey(p)), { limit: 100 });
  const snapshot: ViewsSnapshot = { feeds: {}, timelines: {}, stats: {}, trending, analyticsRows: -1 };
  users.forEach((u, i) => {
    if (feeds[i].length) snapshot.feeds[u] = feeds[i].map((m) => `${m.member}@${m.score}`);
    if (timelines[i].length) snapshot.timelines[u] = timelines[i].map((m) => `${m.member}@${m.score}`);
  });
  posts.forEach((p, i) => { if (stats[i]) snapshot.stats[p] = stats[i]!; });
  if (analytics) {
    const [row] = await analytics.query('SELECT count() AS n FROM events');
    snapshot.analyticsRows = Number(row.n);
  }
  return snapshot;
}
