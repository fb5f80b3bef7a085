// The feed cursor and the parameter checks of the read API.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { comparePositions, decodeCursor, encodeCursor, isBelow } from '../../serving/read/cursor.ts';
import { HttpError } from '../../serving/errors.ts';

describe('feed cursor', () => {
  it('round-trips any position and is URL-safe', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 47 }), fc.string({ minLength: 1, maxLength: 64 }), (ts, postId) => {
      const text = encodeCursor({ ts, postId });
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(text)).toEqual({ ts, postId });
    }));
  });

  it('rejects what the API never returned with a 400 naming the cursor', () => {
    for (const bad of ['', '!!', 'e30', Buffer.from('{"t":1}').toString('base64url'), Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('{"t":1,"p":""}').toString('base64url'), 'x'.repeat(500)]) {
      let error: unknown;
      try { decodeCursor(bad); } catch (e) { error = e; }
      expect(error, bad).toBeInstanceOf(HttpError);
      expect((error as HttpError).status).toBe(400);
      expect((error as HttpError).message).toBe('cursor is not a cursor this API returned');
    }
  });

  it('orders newest first, ties by post_id descending; below = strictly after in that order', () => {
    const items = [{ ts: 5, postId: 'a' }, { ts: 7, postId: 'b' }, { ts: 5, postId: 'c' }, { ts: 1, postId: 'z' }];
    expect([...items].sort(comparePositions).map((p) => p.postId)).toEqual(['b', 'c', 'a', 'z']);
    const cursor = { ts: 5, postId: 'c' };
    expect(items.filter((p) => isBelow(p, cursor)).map((p) => p.postId)).toEqual(['a', 'z']);
    expect(items.filter((p) => isBelow(p, undefined))).toHaveLength(4);
  });
});
