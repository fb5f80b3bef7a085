import { describe, expect, it } from 'vitest';
import {
  POST_SEEN_TTL_MS, activeStoriesKey, buildStoryTray, createSeenState, seenPostsKey, seenStoriesKey, type SeenState,
} from '../../processors/seen-state/index.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';

const T0 = Date.UTC(2026, 2, 1, 12);
const HOUR = 3600_000;
const source = { topic: 'stories', partition: 0, offset: 0 };
let seq = 0;
const id = () => `e${++seq}`;
const created = (story_id: string, author_id: string, ts: number, expires_at = ts + 24 * HOUR): DarkroomEvent =>
  ({ type: 'story_created', event_id: id(), ts, story_id, author_id, expires_at });
const viewed = (story_id: string, viewer_id: string, ts: number): DarkroomEvent =>
  ({ type: 'story_viewed', event_id: id(), ts, story_id, viewer_id });

function run(events: DarkroomEvent[]): { state: SeenState; effects: ReturnType<ReturnType<typeof createSeenState>['apply']> } {
  const processor = createSeenState();
  const state = processor.init(0);
  return { state, effects: events.flatMap((e) => processor.apply(state, e, source)) };
}

describe('seen-state', () => {
  it("an active story joins its author's stories until it expires", () => {
    const { effects } = run([created('s1', 'ann', T0, T0 + 24 * HOUR)]);
    expect(effects).toEqual([{ kind: 'sadd', key: activeStoriesKey('ann'), member: 's1', expiresAt: T0 + 24 * HOUR }]);
  });

  it('a story already expired when created is ignored', () => {
    expect(run([created('s1', 'ann', T0, T0)]).effects).toEqual([]);
  });

  it('story_viewed marks the story seen by that viewer until the story expires', () => {
    const { effects } = run([created('s1', 'ann', T0, T0 + 5 * HOUR), viewed('s1', 'bob', T0 + HOUR)]);
    expect(effects.at(-1)).toEqual({ kind: 'sadd', key: seenStoriesKey('bob'), member: 's1', expiresAt: T0 + 5 * HOUR });
  });

  it('a view of an expired or unknown story marks nothing', () => {
    const { effects } = run([
      created('s1', 'ann', T0, T0 + HOUR), viewed('s1', 'bob', T0 + HOUR), viewed('nope', 'bob', T0 + HOUR),
    ]);
    expect(effects).toHaveLength(1);
  });

  it('post_seen marks the post seen by the viewer for 7 days', () => {
    const { effects } = run([{ type: 'post_seen', event_id: id(), ts: T0, viewer_id: 'bob', post_id: 'p1' }]);
    expect(effects).toEqual([{ kind: 'sadd', key: seenPostsKey('bob'), member: 'p1', expiresAt: T0 + POST_SEEN_TTL_MS }]);
  });

  it('a watched reel is seen too', () => {
    const { effects } = run([{ type: 'reel_watched', event_id: id(), ts: T0, viewer_id: 'bob', post_id: 'r1', watched_ms: 1, duration_ms: 9 }]);
    expect(effects).toEqual([{ kind: 'sadd', key: seenPostsKey('bob'), member: 'r1', expiresAt: T0 + POST_SEEN_TTL_MS }]);
  });

  it('every effect carries an expiry, so views never need a full scan', () => {
    const { effects } = run([
      created('s1', 'ann', T0), viewed('s1', 'bob', T0 + 1),
      { type: 'post_seen', event_id: id(), ts: T0, viewer_id: 'bob', post_id: 'p1' },
    ]);
    for (const effect of effects) expect(effect).toHaveProperty('expiresAt');
  });

  it('state keeps only active stories', () => {
    const { state } = run([created('old', 'ann', T0, T0 + HOUR), created('new', 'ann', T0 + 3 * HOUR)]);
    expect([...state.stories.keys()]).toEqual(['new']);
  });
});

describe('story tray', () => {
  const now = T0 + 2 * HOUR;
  const tray = (blocked: string[] = []) => buildStoryTray({
    following: ['ann', 'bob', 'cat', 'dan', 'eve'],
    blocked: new Set(blocked),
    seenStories: new Set(['a1', 'b1', 'b2']),
    activeStories: new Map([
      ['ann', [{ story_id: 'a2', expires_at: now + 5 * HOUR }, { story_id: 'a1', expires_at: now + 3 * HOUR }]],
      ['bob', [{ story_id: 'b1', expires_at: now + 9 * HOUR }, { story_id: 'b2', expires_at: now + 10 * HOUR }]],
      ['cat', [{ story_id: 'c1', expires_at: now + 1 * HOUR }]],
      ['dan', [{ story_id: 'd1', expires_at: now - 1 }]], // expired, not swept yet
      ['zed', [{ story_id: 'z1', expires_at: now + HOUR }]], // not followed
    ]),
    now,
  });

  it('lists followed authors with active stories, unseen first, then most recent; stories oldest first', () => {
    const result = tray();
    expect(result.map((a) => a.author_id)).toEqual(['ann', 'cat', 'bob']);
    expect(result[0].stories).toEqual([
      { story_id: 'a1', expires_at: now + 3 * HOUR, seen: true },
      { story_id: 'a2', expires_at: now + 5 * HOUR, seen: false },
    ]);
    expect(result[2].has_unseen).toBe(false);
  });

  it('blocked authors are excluded', () => {
    expect(tray(['ann']).map((a) => a.author_id)).toEqual(['cat', 'bob']);
  });
});
