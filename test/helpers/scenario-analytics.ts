// What the analyst queries (sinks/analytics/schema.ts ANALYST_QUERIES) must answer, worked out by
// hand from the events a scenario sent: the definitions the queries document, restated over a plain
// list, so a wrong rollup, a lost or a doubled row shows up as a different number.
import type { DarkroomEvent } from '../../schemas/events.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const day = (ts: number) => new Date(ts).toISOString().slice(0, 10);
const clickhouseDateTime = (ts: number) => new Date(ts).toISOString().slice(0, 19).replace('T', ' ');
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The user who acted, as the README's event catalog names them. */
export function actorOf(e: DarkroomEvent): string {
  switch (e.type) {
    case 'follow': case 'unfollow': return e.follower_id;
    case 'block': case 'unblock': return e.blocker_id;
    case 'profile_updated': return e.user_id;
    case 'post_created': case 'post_deleted': case 'story_created': return e.author_id;
    case 'like': case 'unlike': case 'share': case 'comment': return e.user_id;
    case 'post_seen': case 'reel_watched': case 'story_viewed': return e.viewer_id;
  }
}

/** Rows of `events` per type: one per event sent. */
export function rowsByType(events: DarkroomEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) out[e.type] = (out[e.type] ?? 0) + 1;
  return out;
}

/** topPostsLastHour: likes net of unlikes (raw events), comments x2, shares x3; top 10. */
export function expectedTopPosts(events: DarkroomEvent[], now: number) {
  const posts = new Map<string, { likes: number; unlikes: number; comments: number; shares: number }>();
  for (const e of events) {
    if (!['like', 'unlike', 'comment', 'share', 'post_seen', 'reel_watched'].includes(e.type)) continue;
    if (Math.floor(e.ts / MINUTE) * MINUTE < now - HOUR) continue;
    const postId = (e as { post_id: string }).post_id;
    let p = posts.get(postId);
    if (!p) posts.set(postId, (p = { likes: 0, unlikes: 0, comments: 0, shares: 0 }));
    if (e.type === 'like') p.likes++;
    if (e.type === 'unlike') p.unlikes++;
    if (e.type === 'comment') p.comments++;
    if (e.type === 'share') p.shares++;
  }
  return [...posts].map(([post_id, p]) => {
    const net_likes = p.likes - p.unlikes;
    return { post_id, net_likes, comments: p.comments, shares: p.shares, engagement: net_likes + 2 * p.comments + 3 * p.shares };
  }).sort((a, b) => b.engagement - a.engagement || byId(a.post_id, b.post_id)).slice(0, 10);
}

/** trendingTagsByHour: uses of each tag per hour of the last day, ten per hour. */
export function expectedTagsByHour(events: DarkroomEvent[], now: number) {
  const uses = new Map<string, number>(); // "hour\ttag" → uses
  for (const e of events) {
    if (e.type !== 'post_created' || Math.floor(e.ts / MINUTE) * MINUTE < now - 24 * HOUR) continue;
    const hour = clickhouseDateTime(Math.floor(e.ts / HOUR) * HOUR);
    for (const tag of e.hashtags) uses.set(`${hour}\t${tag}`, (uses.get(`${hour}\t${tag}`) ?? 0) + 1);
  }
  const rows = [...uses].map(([k, n]) => { const [hour, hashtag] = k.split('\t'); return { hour, hashtag, uses: n }; })
    .sort((a, b) => byId(b.hour, a.hour) || b.uses - a.uses || byId(a.hashtag, b.hashtag));
  const perHour = new Map<string, number>();
  return rows.filter((r) => { const n = (perHour.get(r.hour) ?? 0) + 1; perHour.set(r.hour, n); return n <= 10; });
}

/** dailyActiveUsers: distinct actors per day, newest day first. */
export function expectedDailyActiveUsers(events: DarkroomEvent[]) {
  const days = new Map<string, Set<string>>();
  for (const e of events) {
    const d = day(e.ts);
    if (!days.has(d)) days.set(d, new Set());
    days.get(d)!.add(actorOf(e));
  }
  return [...days].map(([d, users]) => ({ day: d, dau: users.size })).sort((a, b) => byId(b.day, a.day));
}

/** reelCompletion: per reel watched in the last day, watches, share watched to the end, mean fraction. */
export function expectedReelCompletion(events: DarkroomEvent[], now: number) {
  const reels = new Map<string, Array<{ watched: number; duration: number }>>();
  for (const e of events) {
    if (e.type !== 'reel_watched' || e.duration_ms <= 0 || e.ts < now - 24 * HOUR) continue;
    if (!reels.has(e.post_id)) reels.set(e.post_id, []);
    reels.get(e.post_id)!.push({ watched: e.watched_ms, duration: e.duration_ms });
  }
  return [...reels].map(([post_id, w]) => ({
    post_id,
    watches: w.length,
    completion_rate: round3(w.filter((x) => x.watched >= 0.95 * x.duration).length / w.length),
    avg_watched_fraction: round3(w.reduce((s, x) => s + Math.min(x.watched / x.duration, 1), 0) / w.length),
  })).sort((a, b) => b.watches - a.watches || byId(a.post_id, b.post_id)).slice(0, 20);
}

/** Query rows with every numeric-looking field as a number (64-bit integers may come back as text). */
export function numeric(rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) =>
    [k, typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v])));
}
