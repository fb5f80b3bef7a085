// Seen-state and active stories, from `stories` (keyed by story_id) and `engagement` (keyed by
// post_id). The rules:
//
// - story_created: the story is active for its author until `expires_at` (a story that is already
//   expired when created is ignored).
// - story_viewed: the story is seen by that viewer until the story expires. A view of a story this
//   partition never saw created (it is keyed by story_id, so its creation precedes it) or of an
//   expired story marks nothing.
// - post_seen: the post is seen by that viewer for 7 days from the view. A watched reel has been
//   seen too, so reel_watched marks it the same way.
// - State holds only active stories (author, expiry), swept once per hour of event time.
import { TOPICS, type DarkroomEvent, type StoryCreated, type StoryViewed } from '../../schemas/events.ts';
import type { Effect } from '../effects.ts';
import type { Processor } from '../processor.ts';
import { POST_SEEN_TTL_MS, activeStoriesKey, seenPostsKey, seenStoriesKey } from './keys.ts';

const SWEEP_EVERY_MS = 3600_000;

interface ActiveStory {
  authorId: string;
  expiresAt: number;
}

export interface SeenState {
  stories: Map<string, ActiveStory>;
  /** Latest event time seen in this partition. */
  now: number;
  lastSweepSlot: number;
}

function storyCreated(state: SeenState, event: StoryCreated): Effect[] {
  if (event.expires_at <= event.ts) return [];
  state.stories.set(event.story_id, { authorId: event.author_id, expiresAt: event.expires_at });
  return [{ kind: 'sadd', key: activeStoriesKey(event.author_id), member: event.story_id, expiresAt: event.expires_at }];
}

function storyViewed(state: SeenState, event: StoryViewed): Effect[] {
  const story = state.stories.get(event.story_id);
  if (!story || event.ts >= story.expiresAt) return [];
  return [{ kind: 'sadd', key: seenStoriesKey(event.viewer_id), member: event.story_id, expiresAt: story.expiresAt }];
}

function postSeen(viewerId: string, postId: string, ts: number): Effect[] {
  return [{ kind: 'sadd', key: seenPostsKey(viewerId), member: postId, expiresAt: ts + POST_SEEN_TTL_MS }];
}

function forgetExpired(state: SeenState): void {
  for (const [storyId, story] of state.stories) {
    if (story.expiresAt <= state.now) state.stories.delete(storyId);
  }
}

export function createSeenState(): Processor<SeenState, DarkroomEvent> {
  return {
    name: 'seen-state',
    inputs: [TOPICS.stories, TOPICS.engagement],
    init: () => ({ stories: new Map(), now: -Infinity, lastSweepSlot: -Infinity }),
    apply(state, event) {
      state.now = Math.max(state.now, event.ts);
      const sweepSlot = Math.floor(state.now / SWEEP_EVERY_MS);
      if (sweepSlot > state.lastSweepSlot) {
        state.lastSweepSlot = sweepSlot;
        forgetExpired(state);
      }
      switch (event.type) {
        case 'story_created': return storyCreated(state, event);
        case 'story_viewed': return storyViewed(state, event);
        case 'post_seen': return postSeen(event.viewer_id, event.post_id, event.ts);
        case 'reel_watched': return postSeen(event.viewer_id, event.post_id, event.ts);
        default: return [];
      }
    },
  };
}
