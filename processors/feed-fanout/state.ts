// What one partition of feed-fanout remembers. The partition of user A holds A's followers (follow
// and unfollow are keyed by the followee), the blocks involving A (directly, or relayed), A's privacy
// and A's newest posts.
import { BlockBook } from './block-book.ts';
import { FollowerIndex } from './follower-index.ts';
import { InternedKeys, NumberedKeys, UserInterner } from './interner.ts';
import { PrivacyBook } from './privacy.ts';
import { EarlyDeletions, RecentPosts } from './recent-posts.ts';

export interface FeedFanoutState {
  users: UserInterner;
  /** feed:<user> of each interned user and its number, shared by the processor's partitions (see InternedKeys). */
  feedKeys: InternedKeys;
  followers: FollowerIndex;
  /** Authors fanned out on read right now (interned ids). */
  celebrities: Set<number>;
  blocks: BlockBook;
  privacy: PrivacyBook;
  posts: RecentPosts;
  earlyDeletions: EarlyDeletions;
}

/** `feedKeys` numbers the feeds of every partition of one processor (createFeedFanout makes it). */
export function createFeedFanoutState(retainPostsPerAuthor: number, feedKeys: NumberedKeys): FeedFanoutState {
  const users = new UserInterner();
  return {
    users,
    feedKeys: new InternedKeys(users, feedKeys),
    followers: new FollowerIndex(),
    celebrities: new Set(),
    blocks: new BlockBook(),
    privacy: new PrivacyBook(),
    posts: new RecentPosts(retainPostsPerAuthor),
    earlyDeletions: new EarlyDeletions(),
  };
}
