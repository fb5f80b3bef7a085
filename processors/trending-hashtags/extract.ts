// Stage 1 of trending: from posts (keyed by author) to uses of a tag (keyed by tag).
//
// Rules:
// - Only public accounts' posts count: profiles is co-partitioned with posts (both keyed by the user),
//   so this partition knows whether the author is private right now.
// - Each distinct tag of a post is one use, at the post's event time.
// - post_deleted is ignored: trending reflects what was posted and seen at the time; undoing a past
//   burst would make scores depend on deletion timing and break "replay gives the same ranking".
// - Accounts flagged by the abuse processor (abuse-flags, keyed by user like posts) do not count:
//   their posts from the moment the flag arrives on are ignored.
import { TOPICS, type DarkroomEvent, type PostCreated } from '../../schemas/events.ts';
import type { Effect } from '../effects.ts';
import type { Processor } from '../processor.ts';
import { hashtagsOfPost } from './hashtags.ts';
import { TRENDING_REPARTITION_TOPIC } from './keys.ts';
import { ABUSE_FLAGS_TOPIC, type AccountFlagged } from '../abuse/index.ts';

/** The value of a record of the repartition topic. */
export interface HashtagUse {
  hashtag: string;
  author_id: string;
  post_id: string;
  ts: number;
}

export interface ExtractState {
  privateAccounts: Set<string>;
  flaggedAccounts: Set<string>;
}

export function createHashtagExtractor(): Processor<ExtractState, DarkroomEvent | AccountFlagged> {
  return {
    name: 'trending-hashtags-extract',
    // Profiles first: records of equal timestamps fold in input order, and ingest gives every event of
    // a request the same ts, so "go private, then post" in one request must fold the switch first (as
    // feed-fanout, which reads profiles before posts, already did).
    inputs: [TOPICS.profiles, TOPICS.posts, ABUSE_FLAGS_TOPIC],
    init: () => ({ privateAccounts: new Set(), flaggedAccounts: new Set() }),
    apply(state, event) {
      switch (event.type) {
        case 'profile_updated':
          if (event.is_private) state.privateAccounts.add(event.user_id);
          else state.privateAccounts.delete(event.user_id);
          return [];
        case 'account_flagged':
          state.flaggedAccounts.add(event.user_id);
          return [];
        case 'post_created':
          if (state.privateAccounts.has(event.author_id) || state.flaggedAccounts.has(event.author_id)) return [];
          return usesOf(event);
        default:
          return [];
      }
    },
  };
}

function usesOf(post: PostCreated): Effect[] {
  return hashtagsOfPost(post.hashtags).map((hashtag) => {
    const use: HashtagUse = { hashtag, author_id: post.author_id, post_id: post.post_id, ts: post.ts };
    return { kind: 'repartition', topic: TRENDING_REPARTITION_TOPIC, key: hashtag, value: { ...use } };
  });
}
