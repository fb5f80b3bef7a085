// The feed cursor: the (created_at, post_id) position of the last item a page showed, as base64url
// JSON. Opaque to clients; the next page reads strictly below it, so posts that arrive between two
// page reads (always newer) neither shift nor repeat what follows.
import { badParameter } from './params.ts';

export interface FeedPosition {
  /** created_at of the post, ms. */
  ts: number;
  postId: string;
}

export function encodeCursor(position: FeedPosition): string {
  return Buffer.from(JSON.stringify({ t: position.ts, p: position.postId })).toString('base64url');
}

export function decodeCursor(text: string): FeedPosition {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,400}$/.test(text)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badParameter('cursor', 'is not a cursor this API returned');
  }
  const { t, p } = (parsed ?? {}) as { t?: unknown; p?: unknown };
  if (typeof t !== 'number' || !Number.isFinite(t) || typeof p !== 'string' || p.length === 0) {
    throw badParameter('cursor', 'is not a cursor this API returned');
  }
  return { ts: t, postId: p };
}

/** Feed order: newest first by created_at, ties by post_id descending. */
export function comparePositions(a: FeedPosition, b: FeedPosition): number {
  if (a.ts !== b.ts) return b.ts - a.ts;
  return a.postId < b.postId ? 1 : a.postId > b.postId ? -1 : 0;
}

/** Is `p` strictly after `cursor` in feed order (older, or same time with a smaller post_id)? */
export function isBelow(p: FeedPosition, cursor: FeedPosition | undefined): boolean {
  return cursor === undefined || comparePositions(cursor, p) < 0;
}
