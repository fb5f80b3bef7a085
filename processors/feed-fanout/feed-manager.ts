// The rules of the home feed, in one place (after Mastodon's FeedManager): what enters a feed, what
// leaves it on unfollow, block and delete, who is fanned out on write and who on read. Pure: state in,
// effects out, event time only. Views and their keys are described in keys.ts.
//
// Fanout: a post enters its author's feed and, unless the author is a celebrity, the feed of every
// follower (fanout on write). A celebrity's post stays in the author's timeline, and serving merges the
// timelines listed in celebrities-followed:<user> into the feed when it is read (fanout on read).
//
// Crossing the threshold loses and duplicates nothing that serving shows (it dedups by post id):
// - upwards (followers >= celebrityFollowers): every follower gets the author in celebrities-followed;
//   the posts already fanned out stay in the feeds, the new ones are read from the timeline.
// - downwards (followers < celebrityExitFollowers, a bit lower, so an author hovering at the threshold
//   does not flip every few follows, each flip costing one effect per follower): new posts are fanned
//   out on write again, and the followers keep the author in celebrities-followed, because the posts
//   made while a celebrity exist only in the timeline. Copying them into every feed instead would cost
//   followers × posts effects at once. The entry leaves when the follower unfollows.
//
// Order: all of one user's inputs are in one partition, so "followers at post time" is the follower
// set when the post is processed. Out-of-order graph events follow stamps.ts (last writer wins).
import type {
  Block, DarkroomEvent, Follow, PostCreated, PostDeleted, ProfileUpdated, Unblock, Unfollow,
} from '../../schemas/events.ts';
import { taggedMember, type Effect } from '../effects.ts';
import {
  blockedByKey, blocksKey, celebritiesFollowedKey, feedKey, followingKey, postKey, profileKey, timelineKey,
} from './keys.ts';
import { isBlockRelayed, relayBlock, type BlockRelayed } from './relay.ts';
import type { FeedFanoutState } from './state.ts';
import { isOn, isStale, stampOff, stampOn, stampTime } from './stamps.ts';

export interface FeedRules {
  /** An author with at least this many followers is fanned out on read. */
  celebrityFollowers: number;
  /** A celebrity goes back to fanout on write below this many followers (<= celebrityFollowers). */
  celebrityExitFollowers: number;
  /** Posts kept per feed, newest by post ts. */
  feedLength: number;
  /** Newest posts of an author copied into a new follower's feed. */
  followBackfill: number;
}

export type FeedFanoutInput = DarkroomEvent | BlockRelayed;

export class FeedManager {
  constructor(private readonly rules: FeedRules) {}

  apply(state: FeedFanoutState, input: FeedFanoutInput): Effect[] {
    const out: Effect[] = [];
    if (isBlockRelayed(input)) {
      this.blockRelayed(state, input, out);
      return out;
    }
    switch (input.type) {
      case 'post_created': this.postCreated(state, input, out); break;
      case 'post_deleted': this.postDeleted(state, input, out); break;
      case 'follow': this.follow(state, input, out); break;
      case 'unfollow': this.unfollow(state, input, out); break;
      case 'block': this.block(state, input, out); break;
      case 'unblock': this.unblock(state, input, out); break;
      case 'profile_updated': this.profileUpdated(state, input, out); break;
      default: break; // engagement and stories do not shape the home feed
    }
    return out;
  }

  /** A post enters its author's feed and timeline, and its followers' feeds unless the author is a celebrity. */
  private postCreated(s: FeedFanoutState, post: PostCreated, out: Effect[]): void {
    if (s.earlyDeletions.take(post.post_id)) return;
    const author = s.users.intern(post.author_id);
    if (s.posts.find(author, post.post_id)) return; // the same post sent twice
    const isPrivate = s.privacy.isPrivate(post.author_id);
    out.push({
      kind: 'hset', key: postKey(post.post_id), fields: {
        post_id: post.post_id, author_id: post.author_id, created_at: post.ts, caption: post.caption,
        hashtags: JSON.stringify(post.hashtags), media_type: post.media_type, is_private: isPrivate ? 1 : 0,
      },
    });
    out.push({ kind: 'zadd', key: timelineKey(post.author_id), member: post.post_id, score: post.ts });
    const member = taggedMember(post.post_id, post.author_id);
    const { numbering } = s.feedKeys;
    const numbers = [s.feedKeys.numberOf(author)];
    const feeds = [numbering.key(numbers[0])];
    const fanOutOnWrite = !s.celebrities.has(author);
    if (fanOutOnWrite) {
      // A private account's followers are exactly the people allowed to see it, so the same loop serves.
      s.followers.forEachFollower(author, (follower) => {
        const n = s.feedKeys.numberOf(follower);
        numbers.push(n);
        feeds.push(numbering.key(n));
      });
    }
    out.push({ kind: 'zaddEach', keys: feeds, numbering, numbers, member, score: post.ts, cap: this.rules.feedLength });
    s.posts.add(author, { postId: post.post_id, ts: post.ts, inFollowerFeeds: fanOutOnWrite });
  }

  /** A deleted post leaves every feed and timeline, and its metadata goes. */
  private postDeleted(s: FeedFanoutState, deletion: PostDeleted, out: Effect[]): void {
    const author = s.users.intern(deletion.author_id);
    const retained = s.posts.remove(author, deletion.post_id);
    if (!retained) s.earlyDeletions.remember(deletion.post_id);
    const member = taggedMember(deletion.post_id, deletion.author_id);
    out.push({ kind: 'del', key: postKey(deletion.post_id) });
    out.push({ kind: 'zrem', key: timelineKey(deletion.author_id), member: deletion.post_id });
    out.push({ kind: 'zrem', key: feedKey(deletion.author_id), member });
    // A post we no longer hold may have been fanned out before the author became a celebrity.
    if (retained && !retained.inFollowerFeeds) return;
    s.followers.forEachFollower(author, (follower) => {
      out.push({ kind: 'zrem', key: s.feedKeys.of(follower), member });
    });
  }

  /** U follows A: A's newest posts enter U's feed, or A joins U's celebrities-followed. */
  private follow(s: FeedFanoutState, event: Follow, out: Effect[]): void {
    if (event.follower_id === event.followee_id) return;
    const followee = s.users.intern(event.followee_id);
    const follower = s.users.intern(event.follower_id);
    const stamp = s.followers.stamp(followee, follower);
    if (isStale(stamp, event.ts)) return; // an unfollow (or block) newer than this follow came first
    if (s.blocks.standsBetween(followee, follower)) return; // nobody follows across a block
    s.followers.set(followee, follower, stampOn(event.ts));
    if (isOn(stamp)) return; // already following
    out.push({ kind: 'sadd', key: followingKey(event.follower_id), member: event.followee_id });
    if (!s.celebrities.has(followee) && s.followers.followerCount(followee) >= this.rules.celebrityFollowers) {
      this.becomeCelebrity(s, followee, out); // includes the new follower
    } else if (s.celebrities.has(followee)) {
      out.push({ kind: 'sadd', key: celebritiesFollowedKey(event.follower_id), member: event.followee_id });
    } else {
      this.backfill(s, followee, follower, out);
    }
  }

  /** U unfollows A: all of A's posts leave U's feed. */
  private unfollow(s: FeedFanoutState, event: Unfollow, out: Effect[]): void {
    if (event.follower_id === event.followee_id) return;
    const followee = s.users.intern(event.followee_id);
    const follower = s.users.intern(event.follower_id);
    const stamp = s.followers.stamp(followee, follower);
    if (isStale(stamp, event.ts)) return; // a newer follow came first
    // The tombstone is written even if U was not following: a late, older follow must not win.
    s.followers.set(followee, follower, stampOff(event.ts));
    if (isOn(stamp)) this.followEnded(s, followee, event.follower_id, out);
  }

  /**
   * B blocks X (keyed by X, so this is X's partition): X's half of the cut happens here, B's half
   * where the relayed record lands. Serving also gets the block itself, to filter what it merges.
   */
  private block(s: FeedFanoutState, event: Block, out: Effect[]): void {
    if (!this.recordBlock(s, event.blocker_id, event.blocked_id, true, event.ts)) return;
    out.push({ kind: 'sadd', key: blocksKey(event.blocker_id), member: event.blocked_id });
    out.push({ kind: 'sadd', key: blockedByKey(event.blocked_id), member: event.blocker_id });
    this.cutTies(s, event.blocked_id, event.blocker_id, event.ts, out);
    out.push(relayBlock({
      type: 'block_relayed', event_id: event.event_id, ts: event.ts,
      blocker_id: event.blocker_id, blocked_id: event.blocked_id, blocked: true,
    }));
  }

  /** Unblocking lifts the ban on following; it does not bring back the follows the block ended. */
  private unblock(s: FeedFanoutState, event: Unblock, out: Effect[]): void {
    if (!this.recordBlock(s, event.blocker_id, event.blocked_id, false, event.ts)) return;
    out.push({ kind: 'srem', key: blocksKey(event.blocker_id), member: event.blocked_id });
    out.push({ kind: 'srem', key: blockedByKey(event.blocked_id), member: event.blocker_id });
    out.push(relayBlock({
      type: 'block_relayed', event_id: event.event_id, ts: event.ts,
      blocker_id: event.blocker_id, blocked_id: event.blocked_id, blocked: false,
    }));
  }

  /** The blocker's half of a block (this is B's partition). */
  private blockRelayed(s: FeedFanoutState, relayed: BlockRelayed, out: Effect[]): void {
    if (!this.recordBlock(s, relayed.blocker_id, relayed.blocked_id, relayed.blocked, relayed.ts)) return;
    if (relayed.blocked) this.cutTies(s, relayed.blocker_id, relayed.blocked_id, relayed.ts, out);
  }

  private profileUpdated(s: FeedFanoutState, event: ProfileUpdated, out: Effect[]): void {
    if (!s.privacy.update(event)) return;
    const fields: Record<string, string | number> = { user_id: event.user_id, is_private: event.is_private ? 1 : 0 };
    if (event.username !== null) fields.username = event.username;
    out.push({ kind: 'hset', key: profileKey(event.user_id), fields });
  }

  /** Records a block or unblock unless a newer one was seen; false when stale or a self-block. */
  private recordBlock(s: FeedFanoutState, blockerId: string, blockedId: string, blocked: boolean, ts: number): boolean {
    if (blockerId === blockedId) return false;
    const blocker = s.users.intern(blockerId);
    const target = s.users.intern(blockedId);
    if (isStale(s.blocks.stamp(blocker, target), ts)) return false;
    s.blocks.set(blocker, target, blocked ? stampOn(ts) : stampOff(ts));
    return true;
  }

  /**
   * Half of a block, done in the partition of `owner`: `other` stops following `owner` and `owner`'s
   * posts leave `other`'s feed. The other half runs in the partition of `other`.
   */
  private cutTies(s: FeedFanoutState, ownerId: string, otherId: string, ts: number, out: Effect[]): void {
    const owner = s.users.intern(ownerId);
    const other = s.users.intern(otherId);
    const stamp = s.followers.stamp(owner, other);
    // Never move an edge's time backwards: a follow newer than the block still ends, but the tombstone
    // keeps the newer time so that event stays the last writer of the edge.
    s.followers.set(owner, other, stampOff(Math.max(ts, stamp === undefined ? 0 : stampTime(stamp))));
    if (isOn(stamp)) this.followEnded(s, owner, otherId, out);
    else out.push({ kind: 'zremTagged', key: feedKey(otherId), tag: ownerId });
  }

  /** The follow of `followerId` → `followee` just ended (unfollow or block). */
  private followEnded(s: FeedFanoutState, followee: number, followerId: string, out: Effect[]): void {
    const followeeId = s.users.name(followee);
    out.push({ kind: 'srem', key: followingKey(followerId), member: followeeId });
    out.push({ kind: 'zremTagged', key: feedKey(followerId), tag: followeeId });
    out.push({ kind: 'srem', key: celebritiesFollowedKey(followerId), member: followeeId });
    if (s.celebrities.has(followee) && s.followers.followerCount(followee) < this.rules.celebrityExitFollowers) {
      s.celebrities.delete(followee); // back to fanout on write; see the header for why sets stay
    }
  }

  private becomeCelebrity(s: FeedFanoutState, author: number, out: Effect[]): void {
    s.celebrities.add(author);
    const authorId = s.users.name(author);
    s.followers.forEachFollower(author, (follower) => {
      out.push({ kind: 'sadd', key: celebritiesFollowedKey(s.users.name(follower)), member: authorId });
    });
  }

  /** A new follower gets the author's newest posts, like the ones they would have received. */
  private backfill(s: FeedFanoutState, author: number, follower: number, out: Effect[]): void {
    const authorId = s.users.name(author);
    const key = s.feedKeys.of(follower);
    for (const post of s.posts.newest(author, this.rules.followBackfill)) {
      post.inFollowerFeeds = true;
      out.push(this.feedEntry(key, taggedMember(post.postId, authorId), post.ts));
    }
  }

  /** A post into the feed whose key is `key` (feedKey), capped. */
  private feedEntry(key: string, member: string, ts: number): Effect {
    return { kind: 'zadd', key, member, score: ts, cap: this.rules.feedLength };
  }
}
