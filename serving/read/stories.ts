// GET /v1/users/{user_id}/stories: the story tray, in the two round trips described in
// processors/seen-state/keys.ts; the ordering rules are buildStoryTray's (processors/seen-state/tray.ts).
import type { ViewStore } from '../../sinks/view-store.ts';
import { blockedByKey, blocksKey, followingKey } from '../../processors/feed-fanout/keys.ts';
import { activeStoriesKey, seenStoriesKey } from '../../processors/seen-state/keys.ts';
import { buildStoryTray, trayCandidates } from '../../processors/seen-state/tray.ts';
import { STORY_LIFETIME_MS } from '../../schemas/validate.ts';

/** Active stories read per author; nobody keeps more than this many alive in a day. */
const STORIES_PER_AUTHOR = 100;

export interface TrayEntry {
  author_id: string;
  has_unseen: boolean;
  stories: Array<{ story_id: string; created_at: number; expires_at: number; seen: boolean }>;
}

export async function readStoryTray(views: ViewStore, generation: string, user: string, now: number): Promise<TrayEntry[]> {
  const [following, blocks, blockedBy, seen] = await views.smembersMany(
    generation, [followingKey(user), blocksKey(user), blockedByKey(user), seenStoriesKey(user)], now);
  const blocked = new Set([...blocks, ...blockedBy]);
  const authors = trayCandidates(following, blocked);
  // Expiring sets are scored by expiry, so "min = now" reads exactly the active stories.
  const lists = authors.length
    ? await views.zrangeByScoreDescMany(generation, authors.map(activeStoriesKey), { min: now, limit: STORIES_PER_AUTHOR })
    : [];
  const activeStories = new Map(authors.map((author, i) =>
    [author, lists[i].map((m) => ({ story_id: m.member, expires_at: m.score }))]));
  const tray = buildStoryTray({ following: authors, blocked, seenStories: new Set(seen), activeStories, now });
  return tray.map((entry) => ({
    author_id: entry.author_id,
    has_unseen: entry.has_unseen,
    stories: entry.stories.map((s) => ({
      story_id: s.story_id,
      // The view keeps a story's expiry, not its creation. Stories live STORY_LIFETIME_MS unless the
      // producer sets expires_at itself, so this is exact for every story made with the default.
      created_at: s.expires_at - STORY_LIFETIME_MS,
      expires_at: s.expires_at,
      seen: s.seen,
    })),
  }));
}
