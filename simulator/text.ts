// Words for usernames, captions, comments and hashtags. Plain word lists combined at random: enough
// variety for realistic-looking text, and cheap (a caption is a handful of array lookups).
import { MAX_TEXT_LENGTH } from '../schemas/validate.ts';
import type { Random } from './random.ts';

const ADJECTIVES = [
  'sunny', 'wild', 'quiet', 'golden', 'urban', 'salty', 'cozy', 'bold', 'misty', 'lazy', 'happy', 'tiny',
  'neon', 'rustic', 'vivid', 'frozen', 'dreamy', 'brave', 'lucky', 'silver', 'crimson', 'gentle', 'rapid', 'velvet',
];

const NOUNS = [
  'fox', 'wave', 'coffee', 'trail', 'city', 'garden', 'sunset', 'pixel', 'forest', 'river', 'studio', 'kitchen',
  'mountain', 'beach', 'street', 'cat', 'dog', 'bike', 'vinyl', 'bakery', 'harbor', 'meadow', 'canyon', 'lantern',
];

const TOPICS = [
  'travel', 'food', 'fitness', 'fashion', 'art', 'music', 'nature', 'photography', 'coffee', 'books', 'design',
  'dogs', 'cats', 'surf', 'skate', 'yoga', 'vegan', 'baking', 'hiking', 'gaming', 'football', 'cinema', 'makeup',
  'architecture', 'streetstyle', 'sunrise', 'nightlife', 'roadtrip', 'wedding', 'family', 'garden', 'diy',
  'tech', 'running', 'climbing', 'camping', 'ocean', 'snow', 'vintage', 'tattoo', 'anime', 'jazz', 'pizza', 'sushi',
];

const SUFFIXES = ['', 'life', 'daily', 'lovers', 'gram', 'vibes', 'goals', 'time', 'mood', 'addict', 'world', 'club'];

const CAPTION_WORDS = [
  'today', 'finally', 'weekend', 'with', 'the', 'best', 'crew', 'morning', 'light', 'never', 'gets', 'old',
  'new', 'favorite', 'spot', 'in', 'town', 'cannot', 'believe', 'this', 'view', 'little', 'moments', 'like',
  'these', 'back', 'at', 'it', 'again', 'throwback', 'to', 'summer', 'good', 'times', 'first', 'try', 'and',
  'loved', 'every', 'minute', 'of', 'swipe', 'for', 'more', 'made', 'by', 'hand', 'slow', 'day', 'home',
];

const COMMENT_PHRASES = [
  'love this', 'so good', 'wow', 'amazing shot', 'where is this?', 'need this', 'goals', 'stunning',
  'haha yes', 'miss you', 'take me there', 'this is everything', 'so cute', 'iconic', 'obsessed',
  'congrats!', 'recipe please', 'beautiful colors', 'same', 'legend', '🔥', '😍', '👏👏', '💯', '❤️',
];

const EMOJI = ['✨', '🌅', '☕', '🌊', '📸', '🎶', '🍕', '🌿', '🐶', '💪', '🎉', '❤️'];

/** Longest caption the product accepts. */
export const MAX_CAPTION_LENGTH = MAX_TEXT_LENGTH;

/** The base handle of a user; a rename appends a counter, so handles stay unique and short. */
export function username(user: number, renames: number): string {
  const base = `${ADJECTIVES[user % ADJECTIVES.length]}_${NOUNS[Math.floor(user / ADJECTIVES.length) % NOUNS.length]}${user + 1}`;
  return renames === 0 ? base : `${base}_${renames}`;
}

/**
 * The hashtag vocabulary, in a fixed order (popularity is assigned by the seed elsewhere):
 * every topic with every suffix, e.g. "travel", "travellife", "fooddaily".
 */
export function hashtagVocabulary(): string[] {
  const tags: string[] = [];
  for (const suffix of SUFFIXES) for (const topic of TOPICS) tags.push(topic + suffix);
  for (const adjective of ADJECTIVES) for (const noun of NOUNS) tags.push(adjective + noun);
  return tags;
}

/** A caption of a few words, sometimes an emoji, then the post's hashtags. */
export function caption(random: Random, hashtags: readonly string[]): string {
  // Mostly short captions; one in twenty is a long story.
  const words = random.chance(0.05) ? random.between(40, 120) : random.between(2, 14);
  let text = random.pick(CAPTION_WORDS);
  for (let i = 1; i < words; i++) text += ' ' + random.pick(CAPTION_WORDS);
  if (random.chance(0.4)) text += ' ' + random.pick(EMOJI);
  for (const tag of hashtags) text += ' #' + tag;
  return text.length > MAX_CAPTION_LENGTH ? text.slice(0, MAX_CAPTION_LENGTH) : text;
}

export function commentText(random: Random): string {
  const phrase = random.pick(COMMENT_PHRASES);
  return random.chance(0.2) ? `${phrase} ${random.pick(EMOJI)}` : phrase;
}
