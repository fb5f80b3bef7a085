// Validation of events arriving over HTTP: the product's input rules in one place. A batch is all or
// nothing: the first invalid event rejects the request with its index and one line that names the
// field and the rule, e.g. `events[3].caption: must be at most 2200 characters`.
//
// Rules:
// - the body is one event object or an array of 1 to 10,000 events;
// - `type` is one of the catalog (schemas/events.ts); fields are snake_case as there; unknown fields
//   are rejected (a typo must not silently drop data);
// - IDs are non-empty strings of at most 64 characters; caption and comment text at most 2,200;
// - `event_id` is a UUID, assigned when absent; `ts` an integer ms timestamp, the ingest time when absent;
// - story `expires_at` defaults to ts + 24 h and must be after ts;
// - post `hashtags` default to the caption's (see hashtags.ts); given ones are normalized the same
//   way (a leading # is optional) and at most 30, Instagram's limit; extraction keeps the first 30;
// - profile `username` may be absent or null; `watched_ms`/`duration_ms` are non-negative integers.
import { z } from 'zod';
import { EVENT_TYPES, MEDIA_TYPES, type DarkroomEvent, type EventType } from './events.ts';
import { extractHashtags, isHashtagWord, normalizeHashtag } from './hashtags.ts';

export const MAX_EVENTS_PER_REQUEST = 10_000;
export const MAX_ID_LENGTH = 64;
export const MAX_TEXT_LENGTH = 2_200;
export const MAX_HASHTAGS = 30;
export const STORY_LIFETIME_MS = 24 * 3600_000;

export type ValidationResult =
  | { ok: true; events: DarkroomEvent[] }
  /** `index` is the offending event's position, or -1 when the body as a whole is wrong. */
  | { ok: false; index: number; message: string };

export interface ValidationContext {
  /** Ingest time, ms since epoch: the `ts` of events that carry none. */
  now: number;
  /** A fresh UUID for events without `event_id`. */
  newId: () => string;
}

// --- field rules -----------------------------------------------------------------------------------

type Issue = { input?: unknown };
const expected = (what: string) => (issue: Issue) => (issue.input === undefined ? 'is required' : `must be ${what}`);

const id = z.string({ error: expected('a string') })
  .min(1, { error: 'must not be empty' })
  .max(MAX_ID_LENGTH, { error: `must be at most ${MAX_ID_LENGTH} characters` });
const text = z.string({ error: expected('a string') })
  .max(MAX_TEXT_LENGTH, { error: `must be at most ${MAX_TEXT_LENGTH} characters` });
const timestamp = z.int({ error: expected('an integer (ms since epoch)') })
  .min(0, { error: 'must not be negative' });
const duration = z.int({ error: expected('an integer number of milliseconds') })
  .min(0, { error: 'must not be negative' });
const hashtag = z.string({ error: expected('a string') })
  .max(MAX_TEXT_LENGTH, { error: `must be at most ${MAX_TEXT_LENGTH} characters` });

// Defaults are filled by zod itself so that every parsed event of a type has the same fields in the
// same order (one object shape per type keeps the downstream hot paths monomorphic). They read the
// context of the validateEvents call in progress, which runs synchronously.
let current: ValidationContext = { now: 0, newId: () => '' };

const common = {
  type: z.string(),
  event_id: z.uuid({ error: 'must be a UUID' }).default(() => current.newId()),
  ts: timestamp.default(() => current.now),
};

function event<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.strictObject({ ...common, ...shape });
}

const pair = <A extends string, B extends string>(a: A, b: B) => event({ [a]: id, [b]: id } as Record<A | B, typeof id>);

const EVENT_SHAPES: { [T in EventType]: z.ZodType<Record<string, unknown>> } = {
  follow: pair('follower_id', 'followee_id'),
  unfollow: pair('follower_id', 'followee_id'),
  block: pair('blocker_id', 'blocked_id'),
  unblock: pair('blocker_id', 'blocked_id'),
  profile_updated: event({
    user_id: id,
    username: id.nullable().default(null),
    is_private: z.boolean({ error: expected('true or false') }),
  }),
  post_created: event({
    post_id: id,
    author_id: id,
    caption: text,
    media_type: z.enum(MEDIA_TYPES, { error: expected(`one of ${MEDIA_TYPES.join(', ')}`) }),
    hashtags: z.array(hashtag, { error: expected('an array of strings') })
      .max(MAX_HASHTAGS, { error: `must contain at most ${MAX_HASHTAGS} hashtags` })
      .default([]), // absent: extracted from the caption below
  }),
  post_deleted: pair('post_id', 'author_id'),
  like: pair('user_id', 'post_id'),
  unlike: pair('user_id', 'post_id'),
  comment: event({ comment_id: id, user_id: id, post_id: id, text }),
  share: pair('user_id', 'post_id'),
  post_seen: pair('viewer_id', 'post_id'),
  story_created: event({ story_id: id, author_id: id, expires_at: timestamp.default(-1) }), // -1: ts + 24 h
  story_viewed: pair('story_id', 'viewer_id'),
  reel_watched: event({ viewer_id: id, post_id: id, watched_ms: duration, duration_ms: duration }),
};

const KNOWN_TYPES = new Set<string>(EVENT_TYPES);
const FIELDS = Object.fromEntries(
  EVENT_TYPES.map((type) => [type, new Set(Object.keys((EVENT_SHAPES[type] as z.ZodObject).shape))]),
) as Record<EventType, Set<string>>;

// --- validation ------------------------------------------------------------------------------------

class Invalid {
  constructor(readonly path: string, readonly message: string) {}
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pathOf(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}

/** Validates one event and fills in its defaults; throws Invalid. */
function validateOne(input: unknown, where: string): DarkroomEvent {
  if (!isObject(input)) throw new Invalid(where, 'must be an event object');
  const type = input.type;
  if (type === undefined) throw new Invalid(`${where}.type`, 'is required');
  if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) {
    throw new Invalid(`${where}.type`, `must be one of ${EVENT_TYPES.join(', ')}`);
  }
  const parsed = EVENT_SHAPES[type as EventType].safeParse(input);
  if (!parsed.success) {
    // An unknown field is usually why a required one is "missing" (userId for user_id): report it first.
    const issues = parsed.error.issues;
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
    if (issue.code === 'unrecognized_keys') {
      const field = issue.keys[0];
      const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      const hint = snake !== field && snake in input === false && FIELDS[type as EventType].has(snake) ? ` (did you mean ${snake}?)` : '';
      throw new Invalid(pathOf(where, [...issue.path, field]), `is not a field of ${type}${hint}`);
    }
    throw new Invalid(pathOf(where, issue.path), issue.message);
  }
  const data = parsed.data;
  switch (type as EventType) {
    case 'story_created':
      if (input.expires_at === undefined) data.expires_at = (data.ts as number) + STORY_LIFETIME_MS;
      if ((data.expires_at as number) <= (data.ts as number)) throw new Invalid(`${where}.expires_at`, 'must be after ts');
      break;
    case 'post_created':
      data.hashtags = input.hashtags === undefined
        ? extractHashtags(data.caption as string).slice(0, MAX_HASHTAGS)
        : givenHashtags(data.hashtags as string[], `${where}.hashtags`);
      break;
  }
  return data as unknown as DarkroomEvent;
}

function givenHashtags(tags: string[], where: string): string[] {
  const seen = new Set<string>();
  tags.forEach((tag, i) => {
    const normalized = normalizeHashtag(tag.startsWith('#') || tag.startsWith('＃') ? tag.slice(1) : tag);
    if (!isHashtagWord(normalized)) {
      throw new Invalid(`${where}[${i}]`, 'must be one hashtag word (letters, digits, underscore)');
    }
    seen.add(normalized);
  });
  return [...seen];
}

export function validateEvents(input: unknown, context: ValidationContext): ValidationResult {
  const batch = Array.isArray(input);
  if (!batch && !isObject(input)) {
    return { ok: false, index: -1, message: 'body: must be an event object or an array of events' };
  }
  if (batch && input.length === 0) return { ok: false, index: -1, message: 'events: must contain at least 1 event' };
  if (batch && input.length > MAX_EVENTS_PER_REQUEST) {
    return { ok: false, index: -1, message: `events: must contain at most ${MAX_EVENTS_PER_REQUEST} events, got ${input.length}` };
  }
  current = context;
  const items: unknown[] = batch ? input : [input];
  const events: DarkroomEvent[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    try {
      events[i] = validateOne(items[i], batch ? `events[${i}]` : 'event');
    } catch (err) {
      if (err instanceof Invalid) return { ok: false, index: i, message: `${err.path}: ${err.message}` };
      throw err;
    }
  }
  return { ok: true, events };
}
