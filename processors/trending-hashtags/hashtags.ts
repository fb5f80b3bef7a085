// What counts as the same hashtag: "#Sunset", "sunset" and "ＳＵＮＳＥＴ" are one tag.

/** Instagram allows 30 hashtags per post; more than that is spam and only the first 30 count. */
export const MAX_HASHTAGS_PER_POST = 30;
const MAX_HASHTAG_LENGTH = 100;

export function normalizeHashtag(raw: string): string {
  return raw.normalize('NFKC').trim().replace(/^#+/, '').toLowerCase();
}

/** The distinct normalized tags of one post, in first-seen order; a tag repeated in a post counts once. */
export function hashtagsOfPost(raw: readonly string[], max = MAX_HASHTAGS_PER_POST): string[] {
  const tags: string[] = [];
  const seen = new Set<string>();
  for (const candidate of raw) {
    const tag = normalizeHashtag(candidate);
    if (!tag || tag.length > MAX_HASHTAG_LENGTH || seen.has(tag)) continue;
    seen.add(tag);
    tags.push(tag);
    if (tags.length === max) break;
  }
  return tags;
}
