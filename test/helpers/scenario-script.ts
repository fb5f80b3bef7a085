// The scripted side of the scenario suite (scenario.ts): a clock of event times anchored to the wall
// clock, builders for events, a log of every event sent (what the analytics rows must add up to), and
// readers that look at the views the way serving does.
import { randomUUID } from 'node:crypto';
import type { DarkroomEvent, EventOf, EventType } from '../../schemas/events.ts';
import { splitTaggedMember } from '../../processors/effects.ts';
import { feedKey, followingKey, blocksKey, blockedByKey, timelineKey } from '../../processors/feed-fanout/keys.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import { activeStoriesKey, buildStoryTray, seenStoriesKey, type TrayAuthor } from '../../processors/seen-state/index.ts';
import {
  mergePartitionTops, trendingMetaKey, trendingTopKey, trendingUsesKey, type PublishedTop, type TrendingTag,
} from '../../processors/trending-hashtags/index.ts';
import type { TestPlatform } from './platform.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Event times of the scenario. The analyst queries look back from ClickHouse's now() (last hour, last
 * day) and the view stores expire set members by wall clock, so the script lives just behind the
 * wall clock: each product area gets a two-minute slot in the last half hour, and `old` is three
 * hours back (a hashtag's old heavy use).
 */
export function scenarioClock(wallClock = Date.now()) {
  const base = Math.floor(wallClock / MINUTE) * MINUTE;
  const first = base - 30 * MINUTE;
  return {
    old: base - 3 * HOUR,
    /** Event time `seconds` into slot `n` (0..13). */
    at: (slot: number, seconds = 0) => first + slot * 2 * MINUTE + seconds * 1000,
  };
}

type Fields<T extends EventType> = Omit<EventOf<T>, 'type' | 'event_id' | 'ts'>;

/** One event of any type at event time `ts`, with a fresh event_id as ingest would give it. */
export function event<T extends EventType>(type: T, ts: number, fields: Fields<T>): EventOf<T> {
  return { type, event_id: randomUUID(), ts, ...fields } as unknown as EventOf<T>;
}

/** Shorthands for the events the scenarios send most. */
export const ev = {
  follow: (ts: number, follower_id: string, followee_id: string) => event('follow', ts, { follower_id, followee_id }),
  unfollow: (ts: number, follower_id: string, followee_id: string) => event('unfollow', ts, { follower_id, followee_id }),
  block: (ts: number, blocker_id: string, blocked_id: string) => event('block', ts, { blocker_id, blocked_id }),
  unblock: (ts: number, blocker_id: string, blocked_id: string) => event('unblock', ts, { blocker_id, blocked_id }),
  post: (ts: number, author_id: string, post_id: string, hashtags: string[] = [], media_type: EventOf<'post_created'>['media_type'] = 'photo') =>
    event('post_created', ts, {
      author_id, post_id, media_type, hashtags, caption: hashtags.length ? hashtags.map((t) => `#${t}`).join(' ') : `post ${post_id}`,
    }),
  deletePost: (ts: number, author_id: string, post_id: string) => event('post_deleted', ts, { author_id, post_id }),
  like: (ts: number, user_id: string, post_id: string) => event('like', ts, { user_id, post_id }),
  unlike: (ts: number, user_id: string, post_id: string) => event('unlike', ts, { user_id, post_id }),
  comment: (ts: number, user_id: string, post_id: string, comment_id: string) => event('comment', ts, { user_id, post_id, comment_id, text: `comment ${comment_id}` }),
  share: (ts: number, user_id: string, post_id: string) => event('share', ts, { user_id, post_id }),
  seen: (ts: number, viewer_id: string, post_id: string) => event('post_seen', ts, { viewer_id, post_id }),
  reel: (ts: number, viewer_id: string, post_id: string, watched_ms: number, duration_ms: number) =>
    event('reel_watched', ts, { viewer_id, post_id, watched_ms, duration_ms }),
  story: (ts: number, author_id: string, story_id: string, expires_at = ts + 24 * HOUR) => event('story_created', ts, { author_id, story_id, expires_at }),
  viewStory: (ts: number, viewer_id: string, story_id: string) => event('story_viewed', ts, { viewer_id, story_id }),
  privacy: (ts: number, user_id: string, is_private: boolean) => event('profile_updated', ts, { user_id, username: user_id, is_private }),
};

/**
 * Sends events through the platform's producer and remembers them: the analytics expectations are
 * computed from this log. `platform` is a getter because the restart scenario swaps the platform.
 */
export class ScenarioScript {
  readonly sent: DarkroomEvent[] = [];
  constructor(private readonly platform: () => TestPlatform) {}

  async send(...events: DarkroomEvent[]): Promise<void> {
    await this.platform().producer.send(events);
    this.sent.push(...events);
  }

  /** Sends, then waits until every processor's sink holds every record (lag 0). */
  async settle(...events: DarkroomEvent[]): Promise<void> {
    if (events.length) await this.send(...events);
    await this.platform().caughtUp(30_000);
  }
}

/** Reads views the way serving does (keys from processors/*\/keys.ts, the generation serving reads). */
export class ViewReader {
  constructor(private readonly platform: () => TestPlatform, private readonly halfLifeMinutes = 60) {}

  private get p() { return this.platform(); }

  /** Post ids of feed:<user>, newest first; checks every member is tagged with its post's author. */
  async feed(user: string): Promise<string[]> {
    const members = await this.p.views.zrangeByScoreDesc(this.p.generation, feedKey(user), { limit: 1000 });
    return members.map((m) => splitTaggedMember(m.member).id);
  }

  /** feed:<user> as "post|author@ts", to check scores (post time) too. */
  async feedEntries(user: string): Promise<string[]> {
    const members = await this.p.views.zrangeByScoreDesc(this.p.generation, feedKey(user), { limit: 1000 });
    return members.map((m) => `${m.member}@${m.score}`);
  }

  async timeline(author: string): Promise<string[]> {
    const members = await this.p.views.zrangeByScoreDesc(this.p.generation, timelineKey(author), { limit: 1000 });
    return members.map((m) => m.member);
  }

  /** Members of a set view alive now, sorted. */
  async set(key: string): Promise<string[]> {
    return (await this.p.views.smembers(this.p.generation, key, Date.now())).sort();
  }

  async hash(key: string): Promise<Record<string, string> | null> {
    const [value] = await this.p.views.hgetallMany(this.p.generation, [key]);
    return value;
  }

  /** stats:<post> with every field as a number (an absent field is 0); null when there is no key. */
  async stats(postId: string): Promise<Record<string, number> | null> {
    const raw = await this.hash(statsKey(postId));
    return raw && Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  /** The partitions' published tops, and their merge as serving computes it. */
  async trending(partitions: number): Promise<{ parts: PublishedTop[]; merged: TrendingTag[] }> {
    const gen = this.p.generation;
    const ids = Array.from({ length: partitions }, (_, n) => n);
    const tops = await this.p.views.zrangeByScoreDescMany(gen, ids.map(trendingTopKey), { limit: 100 });
    const uses = await this.p.views.hgetallMany(gen, ids.map(trendingUsesKey));
    const metas = await this.p.views.hgetallMany(gen, ids.map(trendingMetaKey));
    const parts: PublishedTop[] = [];
    ids.forEach((n) => {
      if (!metas[n]) return; // a partition that never published
      parts.push({
        asOf: Number(metas[n]!.as_of),
        entries: tops[n].map((e) => ({ tag: e.member, score: e.score, uses1h: Number(uses[n]?.[e.member] ?? 0) })),
      });
    });
    return { parts, merged: mergePartitionTops(parts, this.halfLifeMinutes) };
  }

  /** The story tray of `viewer` now, read in serving's two round trips and assembled by buildStoryTray. */
  async storyTray(viewer: string): Promise<TrayAuthor[]> {
    const gen = this.p.generation;
    const now = Date.now();
    const [following, blocks, blockedBy, seen] = await this.p.views.smembersMany(
      gen, [followingKey(viewer), blocksKey(viewer), blockedByKey(viewer), seenStoriesKey(viewer)], now);
    const blocked = new Set([...blocks, ...blockedBy]);
    const authors = following.filter((a) => !blocked.has(a));
    const stories = await this.p.views.zrangeByScoreDescMany(gen, authors.map(activeStoriesKey), { min: now, limit: 100 });
    return buildStoryTray({
      following, blocked, seenStories: new Set(seen), now,
      activeStories: new Map(authors.map((a, i) => [a, stories[i].map((s) => ({ story_id: s.member, expires_at: s.score }))])),
    });
  }
}
