import { describe, expect, it } from 'vitest';
import { validateEvents, type ValidationResult } from '../../schemas/validate.ts';
import { ALL_EXAMPLE_EVENTS, EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import { EVENT_TYPES } from '../../schemas/events.ts';

const NOW = 1_767_225_600_000;
const ID = '11111111-2222-4333-8444-555555555555';
const context = { now: NOW, newId: () => ID };
const validate = (input: unknown) => validateEvents(input, context);
const like = { type: 'like', user_id: 'u1', post_id: 'p1' };

function failure(result: ValidationResult): { index: number; message: string } {
  if (result.ok) throw new Error('expected a validation failure');
  return { index: result.index, message: result.message };
}
function events(result: ValidationResult) {
  if (!result.ok) throw new Error(`expected success, got ${result.message}`);
  return result.events;
}
/** The message for one invalid event at position 3 of a batch. */
function messageAt3(bad: object): string {
  const result = failure(validate([like, like, like, bad]));
  expect(result.index).toBe(3);
  return result.message;
}

describe('request shape', () => {
  it('accepts one event object', () => {
    expect(events(validate(like))).toHaveLength(1);
  });

  it('accepts an array and keeps its order', () => {
    const out = events(validate([like, { ...like, post_id: 'p2' }]));
    expect(out.map((e) => (e as { post_id: string }).post_id)).toEqual(['p1', 'p2']);
  });

  it('rejects a body that is neither an object nor an array', () => {
    expect(failure(validate('like'))).toEqual({ index: -1, message: 'body: must be an event object or an array of events' });
    expect(failure(validate(null)).index).toBe(-1);
  });

  it('rejects an empty array', () => {
    expect(failure(validate([]))).toEqual({ index: -1, message: 'events: must contain at least 1 event' });
  });

  it('accepts 10,000 events and rejects 10,001', () => {
    expect(events(validate(Array(10_000).fill(like)))).toHaveLength(10_000);
    expect(failure(validate(Array(10_001).fill(like)))).toEqual({ index: -1, message: 'events: must contain at most 10000 events, got 10001' });
  });

  it('names a single event "event" in messages', () => {
    expect(failure(validate({ ...like, user_id: '' }))).toEqual({ index: 0, message: 'event.user_id: must not be empty' });
  });

  it('rejects array items that are not objects', () => {
    expect(messageAt3(['x'] as unknown as object)).toBe('events[3]: must be an event object');
  });

  it('does not modify the input', () => {
    const input = { type: 'post_created', post_id: 'p', author_id: 'a', caption: '#x', media_type: 'photo' };
    const copy = structuredClone(input);
    validate(input);
    expect(input).toEqual(copy);
  });
});

describe('type and fields', () => {
  it('accepts every catalog example unchanged', () => {
    expect(events(validate(ALL_EXAMPLE_EVENTS))).toEqual(ALL_EXAMPLE_EVENTS);
  });

  it('type is required', () => {
    expect(messageAt3({ user_id: 'u', post_id: 'p' })).toBe('events[3].type: is required');
  });

  it('type must be one of the catalog', () => {
    expect(messageAt3({ ...like, type: 'poke' })).toBe(`events[3].type: must be one of ${EVENT_TYPES.join(', ')}`);
  });

  it('unknown fields are rejected', () => {
    expect(messageAt3({ ...like, color: 'red' })).toBe('events[3].color: is not a field of like');
    expect(messageAt3({ type: 'like', user_id: 'u', postId: 'p', post_id: 'p' })).toBe('events[3].postId: is not a field of like');
  });

  it('a camelCase field gets its snake_case name as a hint', () => {
    expect(messageAt3({ type: 'like', userId: 'u', post_id: 'p' })).toBe('events[3].userId: is not a field of like (did you mean user_id?)');
  });

  it('a required field that is absent is named', () => {
    expect(messageAt3({ type: 'like', user_id: 'u' })).toBe('events[3].post_id: is required');
  });
});

describe('IDs', () => {
  it('must be strings', () => {
    expect(messageAt3({ ...like, user_id: 42 })).toBe('events[3].user_id: must be a string');
  });
  it('must not be empty', () => {
    expect(messageAt3({ ...like, post_id: '' })).toBe('events[3].post_id: must not be empty');
  });
  it('may be 64 characters but not 65', () => {
    expect(events(validate({ ...like, post_id: 'p'.repeat(64) }))).toHaveLength(1);
    expect(messageAt3({ ...like, post_id: 'p'.repeat(65) })).toBe('events[3].post_id: must be at most 64 characters');
  });
});

describe('event_id and ts', () => {
  it('event_id is assigned when absent', () => {
    expect(events(validate(like))[0].event_id).toBe(ID);
  });
  it('a given event_id is kept', () => {
    const given = '9b2f3c4d-1e2f-4a5b-8c7d-0e1f2a3b4c5d';
    expect(events(validate({ ...like, event_id: given }))[0].event_id).toBe(given);
  });
  it('event_id must be a UUID', () => {
    expect(messageAt3({ ...like, event_id: 'abc' })).toBe('events[3].event_id: must be a UUID');
  });
  it('ts is the ingest time when absent', () => {
    expect(events(validate(like))[0].ts).toBe(NOW);
  });
  it('ts must be an integer', () => {
    expect(messageAt3({ ...like, ts: 1.5 })).toBe('events[3].ts: must be an integer (ms since epoch)');
    expect(messageAt3({ ...like, ts: '2026-01-01' })).toBe('events[3].ts: must be an integer (ms since epoch)');
  });
  it('ts must not be negative', () => {
    expect(messageAt3({ ...like, ts: -1 })).toBe('events[3].ts: must not be negative');
  });
});

describe('posts', () => {
  const post = { type: 'post_created', post_id: 'p', author_id: 'a', caption: 'Hello #World #world #Café', media_type: 'photo' };

  it('caption may be 2200 characters but not 2201', () => {
    expect(events(validate({ ...post, caption: 'x'.repeat(2200) }))).toHaveLength(1);
    expect(messageAt3({ ...post, caption: 'x'.repeat(2201) })).toBe('events[3].caption: must be at most 2200 characters');
  });

  it('media_type must be one of the enum', () => {
    expect(messageAt3({ ...post, media_type: 'gif' })).toBe('events[3].media_type: must be one of photo, video, carousel, reel');
  });

  it('hashtags are extracted from the caption when absent', () => {
    expect(events(validate(post))[0]).toMatchObject({ hashtags: ['world', 'café'] });
  });

  it('extraction keeps the first 30 hashtags', () => {
    const caption = Array.from({ length: 35 }, (_, i) => `#t${i}`).join(' ');
    const [event] = events(validate({ ...post, caption }));
    expect((event as { hashtags: string[] }).hashtags).toEqual(Array.from({ length: 30 }, (_, i) => `t${i}`));
  });

  it('given hashtags are normalized like extracted ones and deduplicated', () => {
    const [event] = events(validate({ ...post, hashtags: ['#Travel', 'travel', 'CAFE\u0301'] }));
    expect((event as { hashtags: string[] }).hashtags).toEqual(['travel', 'caf\u00e9']);
  });

  it('given hashtags must be single words', () => {
    expect(messageAt3({ ...post, hashtags: ['ok', 'two words'] })).toBe('events[3].hashtags[1]: must be one hashtag word (letters, digits, underscore)');
    expect(messageAt3({ ...post, hashtags: ['ok', 7] })).toBe('events[3].hashtags[1]: must be a string');
  });

  it('at most 30 hashtags may be given', () => {
    expect(messageAt3({ ...post, hashtags: Array.from({ length: 31 }, (_, i) => `t${i}`) })).toBe('events[3].hashtags: must contain at most 30 hashtags');
  });

  it('comment text may be at most 2200 characters', () => {
    const comment = { ...EXAMPLE_EVENTS.comment, text: 'y'.repeat(2201) };
    expect(messageAt3(comment)).toBe('events[3].text: must be at most 2200 characters');
  });
});

describe('stories, profiles, reels', () => {
  const story = { type: 'story_created', story_id: 's', author_id: 'a', ts: 1000 };

  it('expires_at defaults to ts + 24h', () => {
    expect(events(validate(story))[0]).toMatchObject({ expires_at: 1000 + 86_400_000 });
  });

  it('expires_at must be after ts', () => {
    expect(messageAt3({ ...story, expires_at: 1000 })).toBe('events[3].expires_at: must be after ts');
  });

  it('username may be absent (null) and is_private is required', () => {
    expect(events(validate({ type: 'profile_updated', user_id: 'u', is_private: false }))[0]).toMatchObject({ username: null });
    expect(messageAt3({ type: 'profile_updated', user_id: 'u' })).toBe('events[3].is_private: is required');
    expect(messageAt3({ type: 'profile_updated', user_id: 'u', is_private: 'yes' })).toBe('events[3].is_private: must be true or false');
  });

  it('watched_ms and duration_ms are non-negative integers', () => {
    const reel = { type: 'reel_watched', viewer_id: 'v', post_id: 'p', watched_ms: 10, duration_ms: 20 };
    expect(messageAt3({ ...reel, watched_ms: -1 })).toBe('events[3].watched_ms: must not be negative');
    expect(messageAt3({ ...reel, duration_ms: 2.5 })).toBe('events[3].duration_ms: must be an integer number of milliseconds');
  });
});

describe('validation speed', () => {
  it('validates 50,000 mixed events within the 1 s budget of 50k events/s (3 s on a loaded box)', () => {
    const input = Array.from({ length: 10_000 }, (_, i) => {
      const { event_id: _id, ...event } = ALL_EXAMPLE_EVENTS[i % ALL_EXAMPLE_EVENTS.length];
      return event;
    });
    validate(input); // warm up
    const t0 = performance.now();
    for (let round = 0; round < 5; round++) expect(validate(input).ok).toBe(true);
    const ms = performance.now() - t0;
    console.log(`validation: ${((ms * 1000) / 50_000).toFixed(2)} µs/event, ${Math.round(50_000 / (ms / 1000))} events/s`);
    expect(ms).toBeLessThan(3000);
  });
});
