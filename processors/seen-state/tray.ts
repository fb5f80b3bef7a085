// The story tray of one viewer, assembled from what serving read (see keys.ts for the two round
// trips). Pure, so the product rules live here next to the processor that feeds them:
// - only authors the viewer follows, with at least one active story;
// - authors the viewer blocked or who blocked the viewer never appear;
// - authors with an unseen story come first, then the most recent stories; stories play oldest first.

export interface TrayStory {
  story_id: string;
  expires_at: number;
  seen: boolean;
}

export interface TrayAuthor {
  author_id: string;
  stories: TrayStory[];
  has_unseen: boolean;
}

export interface TrayInputs {
  following: Iterable<string>;
  /** Authors hidden from the viewer by a block in either direction. */
  blocked: ReadonlySet<string>;
  seenStories: ReadonlySet<string>;
  /** stories:<author> as read: story_id → expires_at. */
  activeStories: ReadonlyMap<string, ReadonlyArray<{ story_id: string; expires_at: number }>>;
  now: number;
}

/** Which authors serving must read stories for in round trip 2. */
export function trayCandidates(following: Iterable<string>, blocked: ReadonlySet<string>): string[] {
  return [...following].filter((author) => !blocked.has(author));
}

export function buildStoryTray(inputs: TrayInputs): TrayAuthor[] {
  const tray: TrayAuthor[] = [];
  for (const author of trayCandidates(inputs.following, inputs.blocked)) {
    const stories = (inputs.activeStories.get(author) ?? [])
      .filter((s) => s.expires_at > inputs.now)
      .map((s) => ({ story_id: s.story_id, expires_at: s.expires_at, seen: inputs.seenStories.has(s.story_id) }))
      .sort((a, b) => a.expires_at - b.expires_at || compare(a.story_id, b.story_id));
    if (stories.length) tray.push({ author_id: author, stories, has_unseen: stories.some((s) => !s.seen) });
  }
  return tray.sort((a, b) =>
    Number(b.has_unseen) - Number(a.has_unseen) ||
    b.stories.at(-1)!.expires_at - a.stories.at(-1)!.expires_at ||
    compare(a.author_id, b.author_id));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
