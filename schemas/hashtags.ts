// Hashtags of a caption, normalized so that one tag is one key everywhere (trending, search):
//
// - A hashtag is `#` (or the fullwidth `＃` of CJK keyboards) followed by a word.
// - A word starts with a Unicode letter, decimal digit or underscore, and goes on over letters,
//   combining marks, decimal digits and underscores. Marks belong to the word because many scripts
//   need them (Devanagari vowel signs, decomposed accents); they cannot start it, so the keycap
//   emoji "#️⃣" (# + U+FE0F + U+20E3) is not a hashtag. Anything else (space, punctuation, emoji,
//   another #) ends the word: "#summer!" is "summer", "#a-b" is "a".
// - The `#` must not follow a letter, digit or underscore: "C#", "foo#bar" and "x#1" are no tags.
//   "##tag" is "tag" (the second # starts it).
// - Normalization: Unicode NFC, then lowercase, then NFC again (lowercasing can decompose, e.g.
//   Turkish "İ"), so "Café" typed as NFC or NFD (e + combining acute) is the one tag "café".
// - Duplicates (after normalization) are removed; tags keep the order of their first appearance.

const HASHTAG = /(?<![\p{L}\p{M}\p{Nd}_])[#＃]([\p{L}\p{Nd}_][\p{L}\p{M}\p{Nd}_]*)/gu;

/** Normalizes one tag as `extractHashtags` does (no `#` stripping, no validation). */
export function normalizeHashtag(tag: string): string {
  return tag.normalize('NFC').toLowerCase().normalize('NFC');
}

/** True when `tag` (without `#`) is a single hashtag word. */
export function isHashtagWord(tag: string): boolean {
  return /^[\p{L}\p{Nd}_][\p{L}\p{M}\p{Nd}_]*$/u.test(tag);
}

export function extractHashtags(caption: string): string[] {
  // Most captions have no hashtag; skip normalization and the regex for them.
  if (!caption.includes('#') && !caption.includes('＃')) return [];
  const seen = new Set<string>();
  for (const match of caption.normalize('NFC').matchAll(HASHTAG)) {
    seen.add(match[1].toLowerCase().normalize('NFC'));
  }
  return [...seen];
}
