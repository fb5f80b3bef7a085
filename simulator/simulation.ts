// The traffic stream: who does what, and to which post, story or account. Each action below reads
// like the product rule it imitates; when an action is not possible right now (nobody to unfollow,
// no story to watch), the user scrolls the feed instead, and if there is nothing to see yet, posts.
import type {
  Block, Comment, DarkroomEvent, Follow, Like, MediaType, PostCreated, PostDeleted, PostSeen, ProfileUpdated,
  ReelWatched, Share, StoryCreated, StoryViewed, Unblock, Unfollow, Unlike,
} from '../schemas/events.ts';
import { STORY_LIFETIME_MS } from '../schemas/validate.ts';
import { HashtagTrends, type Burst, type BurstOptions } from './hashtags.ts';
import { PowerLaw, type Random } from './random.ts';
import { LikeLedger, RecentPosts } from './recent-posts.ts';
import { caption, commentText, username } from './text.ts';
import type { World } from './world.ts';

export { STORY_LIFETIME_MS };
export const MIN_REEL_MS = 5_000;
export const MAX_REEL_MS = 90_000;

type Action =
  | 'post_seen' | 'like' | 'unlike' | 'comment' | 'share' | 'reel_watched' | 'post_created' | 'post_deleted'
  | 'story_created' | 'story_viewed' | 'follow' | 'unfollow' | 'block' | 'unblock' | 'profile_updated';

/** Relative frequency of each action, per 1000 events: mostly scrolling, watching and liking. */
const ACTION_MIX: ReadonlyArray<[Action, number]> = [
  ['post_seen', 430], ['like', 180], ['reel_watched', 120], ['story_viewed', 110], ['comment', 35],
  ['post_created', 30], ['story_created', 20], ['share', 15], ['unlike', 15], ['follow', 15],
  ['unfollow', 10], ['block', 6], ['profile_updated', 5], ['post_deleted', 5], ['unblock', 4],
];

/** Cumulative thresholds of ACTION_MIX on [0, 1), for one comparison chain per event. */
const ACTION_THRESHOLDS = (() => {
  const total = ACTION_MIX.reduce((sum, [, weight]) => sum + weight, 0);
  let running = 0;
  return ACTION_MIX.map(([action, weight]) => [action, (running += weight) / total] as const);
})();

const MEDIA_MIX: ReadonlyArray<[MediaType, number]> = [['photo', 0.45], ['carousel', 0.65], ['video', 0.75], ['reel', 1]];

/** Share of engagement that comes from the home feed (followees' posts) rather than explore. */
const FEED_SHARE = 0.5;
/** Share of explore picks that follow what others engage with right now (the rest: recent and appealing). */
const SOCIAL_PROOF_SHARE = 0.7;
/** Share of posts and stories written by celebrities rather than by whoever is active. */
const CELEBRITY_AUTHOR_SHARE = 0.15;
/** Pareto index of post appeal: lower means more viral outliers. */
const APPEAL_TAIL = 1.2;
/** How lopsided activity is: rank k acts about k^-0.8 as often as the most active user. */
const ACTIVITY_EXPONENT = 0.8;

export interface StreamOptions {
  startTs: number;
  rate: number;
  recentPosts: number;
  maxLikes: number;
  maxBlocks: number;
  bursts: BurstOptions;
  /** Put between an id's letter and its number (SimulationOptions.run). */
  idPrefix: string;
}

export interface StreamStats {
  events: number;
  /** Event time of the last event, ms. */
  ts: number;
  byType: Record<string, number>;
  posts: number;
  likesTracked: number;
  activeBlocks: number;
  bursts: readonly Burst[];
}

export class TrafficStream {
  private readonly world: World;
  private readonly random: Random;
  private readonly posts: RecentPosts;
  private readonly likes: LikeLedger;
  private readonly trends: HashtagTrends;
  private readonly meanGapMs: number;
  /** Event time as a real number; events carry its floor. */
  private clock: number;
  private ts: number;
  private events = 0;
  private readonly byType: Record<string, number> = {};
  private readonly activity: PowerLaw;
  private readonly celebrity: PowerLaw;

  /** Newest post of each user (0 for none): what their followers' feeds show first. */
  private readonly latestPost: Float64Array;
  /** Latest story of each user and when it expires (0 for none). */
  private readonly storyNumber: Float64Array;
  private readonly storyExpiresAt: Float64Array;
  private stories = 0;
  private readonly idPrefix: string;
  private comments = 0;

  /** Active blocks as blocker * users + blocked; the array allows picking one to lift. */
  private readonly blocks = new Set<number>();
  private readonly blockList: number[] = [];
  private readonly maxBlocks: number;

  constructor(world: World, random: Random, options: StreamOptions) {
    this.world = world;
    this.random = random;
    this.posts = new RecentPosts(options.recentPosts, options.idPrefix);
    this.idPrefix = options.idPrefix;
    this.likes = new LikeLedger(world.users, options.maxLikes);
    this.trends = new HashtagTrends(random, options.startTs, options.bursts);
    this.meanGapMs = 1000 / options.rate;
    this.clock = options.startTs;
    this.ts = options.startTs;
    this.latestPost = new Float64Array(world.users);
    this.storyNumber = new Float64Array(world.users);
    this.storyExpiresAt = new Float64Array(world.users);
    this.maxBlocks = options.maxBlocks;
    this.activity = new PowerLaw(world.users, ACTIVITY_EXPONENT);
    this.celebrity = new PowerLaw(world.users, 1.0);
  }

  /** The next `count` events, in event-time order. */
  next(count: number): DarkroomEvent[] {
    const out: DarkroomEvent[] = new Array(count);
    for (let i = 0; i < count; i++) {
      // Poisson arrivals at `rate` per second of event time.
      this.clock += this.random.exponential(this.meanGapMs);
      this.ts = Math.floor(this.clock);
      const event = this.act(this.pickAction());
      out[i] = event;
      this.byType[event.type] = (this.byType[event.type] ?? 0) + 1;
    }
    this.events += count;
    return out;
  }

  stats(): StreamStats {
    return {
      events: this.events,
      ts: this.ts,
      byType: { ...this.byType },
      posts: this.posts.newest,
      likesTracked: this.likes.size,
      activeBlocks: this.blocks.size,
      bursts: [...this.trends.bursts()],
    };
  }

  get now(): number {
    return this.ts;
  }

  private pickAction(): Action {
    const roll = this.random.float();
    for (const [action, threshold] of ACTION_THRESHOLDS) if (roll < threshold) return action;
    return 'post_seen';
  }

  private act(action: Action): DarkroomEvent {
    const event = this.attempt(action) ?? this.postSeen();
    return event ?? this.postCreated();
  }

  private attempt(action: Action): DarkroomEvent | null {
    switch (action) {
      case 'post_seen': return this.postSeen();
      case 'like': return this.like();
      case 'unlike': return this.unlike();
      case 'comment': return this.comment();
      case 'share': return this.share();
      case 'reel_watched': return this.reelWatched();
      case 'post_created': return this.postCreated();
      case 'post_deleted': return this.postDeleted();
      case 'story_created': return this.storyCreated();
      case 'story_viewed': return this.storyViewed();
      case 'follow': return this.follow();
      case 'unfollow': return this.unfollow();
      case 'block': return this.block();
      case 'unblock': return this.unblock();
      case 'profile_updated': return this.profileUpdated();
    }
  }

  // --- who acts -------------------------------------------------------------------------------

  /** Whoever is acting now: a few heavy users act far more often than the rest. */
  private actor(): number {
    return this.world.userByActivity[this.activity.sample(this.random)];
  }

  /** Who publishes: celebrities publish a lot, everybody else in proportion to their activity. */
  private author(): number {
    return this.random.chance(CELEBRITY_AUTHOR_SHARE)
      ? this.world.userByPopularity[this.celebrity.sample(this.random)]
      : this.actor();
  }

  private blockedBetween(a: number, b: number): boolean {
    if (this.blocks.size === 0) return false;
    const users = this.world.users;
    return this.blocks.has(a * users + b) || this.blocks.has(b * users + a);
  }

  /**
   * A post `viewer` may see, skewed toward recent and popular, or 0: usually the latest post of
   * someone they follow (home feed), otherwise a public post from explore, which shows what is
   * getting engagement right now and recent appealing posts. Never their own, never deleted, never
   * across a block.
   */
  private postFor(viewer: number): number {
    const { graph, isPrivate } = this.world;
    if (this.random.chance(FEED_SHARE)) {
      const followee = graph.randomFollowee(this.random, viewer);
      if (followee >= 0) {
        const post = this.latestPost[followee];
        if (this.posts.isLive(post) && !this.blockedBetween(viewer, followee)) return post;
      }
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const post = this.random.chance(SOCIAL_PROOF_SHARE) ? this.posts.trending(this.random) : this.posts.recentPopular(this.random);
      if (!this.posts.isLive(post)) continue;
      const author = this.posts.author(post);
      if (author !== viewer && isPrivate[author] === 0 && !this.blockedBetween(viewer, author)) return post;
    }
    return 0;
  }

  // --- posts and engagement -------------------------------------------------------------------

  private postCreated(): PostCreated {
    const author = this.author();
    const random = this.random;
    const roll = random.float();
    let mediaType: MediaType = 'reel';
    for (const [type, threshold] of MEDIA_MIX) if (roll < threshold) { mediaType = type; break; }
    // Reel lengths lean short: most under 30 s, a few up to the 90 s limit.
    const durationMs = mediaType === 'reel'
      ? MIN_REEL_MS + Math.floor((MAX_REEL_MS - MIN_REEL_MS) * Math.pow(random.float(), 2.2))
      : 0;
    // Appeal grows with the author's audience and has a heavy (Pareto) tail: now and then a post goes viral.
    const appeal = (1 + Math.log1p(this.world.graph.followerCount[author])) * Math.pow(1 - random.float(), -1 / APPEAL_TAIL);
    const post = this.posts.add(author, mediaType, durationMs, appeal);
    this.latestPost[author] = post;
    const hashtags = this.trends.tagsFor(random, this.ts);
    return {
      type: 'post_created', event_id: random.uuid(), ts: this.ts,
      post_id: this.posts.id(post), author_id: this.world.userId(author),
      caption: caption(random, hashtags), media_type: mediaType, hashtags,
    };
  }

  private postDeleted(): PostDeleted | null {
    // Regret is quick: deletions hit recent posts.
    const post = this.posts.toDelete(this.random);
    if (!this.posts.isLive(post)) return null;
    this.posts.delete(post);
    return {
      type: 'post_deleted', event_id: this.random.uuid(), ts: this.ts,
      post_id: this.posts.id(post), author_id: this.world.userId(this.posts.author(post)),
    };
  }

  private postSeen(): PostSeen | null {
    const viewer = this.actor();
    const post = this.postFor(viewer);
    if (post === 0) return null;
    this.posts.engaged(post, 0.05);
    return {
      type: 'post_seen', event_id: this.random.uuid(), ts: this.ts,
      viewer_id: this.world.userId(viewer), post_id: this.posts.id(post),
    };
  }

  private like(): Like | null {
    const user = this.actor();
    const post = this.postFor(user);
    if (post === 0 || !this.likes.like(user, post, this.posts.oldest)) return null;
    this.posts.engaged(post, 1);
    return {
      type: 'like', event_id: this.random.uuid(), ts: this.ts,
      user_id: this.world.userId(user), post_id: this.posts.id(post),
    };
  }

  private unlike(): Unlike | null {
    const taken = this.likes.takeRecentLike(this.random, (post) => this.posts.isLive(post));
    if (taken === null) return null;
    const [user, post] = taken;
    this.posts.engaged(post, -1);
    return {
      type: 'unlike', event_id: this.random.uuid(), ts: this.ts,
      user_id: this.world.userId(user), post_id: this.posts.id(post),
    };
  }

  private comment(): Comment | null {
    const user = this.actor();
    const post = this.postFor(user);
    if (post === 0) return null;
    this.posts.engaged(post, 3);
    return {
      type: 'comment', event_id: this.random.uuid(), ts: this.ts, comment_id: `c${this.idPrefix}${++this.comments}`,
      user_id: this.world.userId(user), post_id: this.posts.id(post), text: commentText(this.random),
    };
  }

  private share(): Share | null {
    const user = this.actor();
    const post = this.postFor(user);
    if (post === 0) return null;
    this.posts.engaged(post, 5);
    return {
      type: 'share', event_id: this.random.uuid(), ts: this.ts,
      user_id: this.world.userId(user), post_id: this.posts.id(post),
    };
  }

  /** Reels are a discovery surface: public reels, recent and popular, with realistic watch times. */
  private reelWatched(): ReelWatched | null {
    const viewer = this.actor();
    let post = 0;
    for (let attempt = 0; attempt < 3 && post === 0; attempt++) {
      post = this.posts.recentPopularReel(this.random);
      const author = this.posts.author(post);
      if (author === viewer || this.world.isPrivate[author] === 1 || this.blockedBetween(viewer, author)) post = 0;
    }
    if (post === 0) return null;
    const durationMs = this.posts.durationMs(post);
    const random = this.random;
    const roll = random.float();
    // Most views are skips within 3 s, a third stop part way, a quarter watch to the end.
    const watchedMs = roll < 0.45 ? Math.min(durationMs, 200 + random.below(2_800))
      : roll < 0.75 ? Math.floor(durationMs * (0.1 + 0.85 * random.float()))
      : durationMs;
    this.posts.engaged(post, watchedMs === durationMs ? 0.5 : 0.05);
    return {
      type: 'reel_watched', event_id: random.uuid(), ts: this.ts,
      viewer_id: this.world.userId(viewer), post_id: this.posts.id(post), watched_ms: watchedMs, duration_ms: durationMs,
    };
  }

  // --- stories ---------------------------------------------------------------------------------

  private storyCreated(): StoryCreated {
    const author = this.author();
    const story = ++this.stories;
    const expiresAt = this.ts + STORY_LIFETIME_MS;
    this.storyNumber[author] = story;
    this.storyExpiresAt[author] = expiresAt;
    return {
      type: 'story_created', event_id: this.random.uuid(), ts: this.ts,
      story_id: `s${this.idPrefix}${story}`, author_id: this.world.userId(author), expires_at: expiresAt,
    };
  }

  /** Followers watch the latest unexpired story of someone they follow. */
  private storyViewed(): StoryViewed | null {
    const viewer = this.actor();
    for (let attempt = 0; attempt < 3; attempt++) {
      const author = this.world.graph.randomFollowee(this.random, viewer, 2);
      if (author < 0) return null;
      if (this.storyNumber[author] === 0 || this.storyExpiresAt[author] <= this.ts) continue;
      if (this.blockedBetween(viewer, author)) continue;
      return {
        type: 'story_viewed', event_id: this.random.uuid(), ts: this.ts,
        story_id: `s${this.idPrefix}${this.storyNumber[author]}`, viewer_id: this.world.userId(viewer),
      };
    }
    return null;
  }

  // --- the social graph ------------------------------------------------------------------------

  private follow(): Follow | null {
    let follower = -1;
    let followee = -1;
    for (let attempt = 0; attempt < 2 && followee < 0; attempt++) {
      follower = this.actor();
      const candidateOf = follower;
      followee = this.world.graph.follow(this.random, follower, (candidate) => !this.blockedBetween(candidateOf, candidate));
    }
    if (followee < 0) return null;
    return {
      type: 'follow', event_id: this.random.uuid(), ts: this.ts,
      follower_id: this.world.userId(follower), followee_id: this.world.userId(followee),
    };
  }

  private unfollow(): Unfollow | null {
    const follower = this.actor();
    const followee = this.world.graph.unfollow(this.random, follower);
    if (followee < 0) return null;
    return {
      type: 'unfollow', event_id: this.random.uuid(), ts: this.ts,
      follower_id: this.world.userId(follower), followee_id: this.world.userId(followee),
    };
  }

  /**
   * Blocks go to very active accounts (the people who get blocked are the ones who are everywhere).
   * While a block stands, neither side sees, likes, views or follows the other. Follows are left
   * as they are: what a block does to follows is the processors' rule, not the traffic's.
   */
  private block(): Block | null {
    if (this.blocks.size >= this.maxBlocks) return null;
    const blocker = this.actor();
    const blocked = this.actor();
    const key = blocker * this.world.users + blocked;
    if (blocker === blocked || this.blocks.has(key)) return null;
    this.blocks.add(key);
    this.blockList.push(key);
    return {
      type: 'block', event_id: this.random.uuid(), ts: this.ts,
      blocker_id: this.world.userId(blocker), blocked_id: this.world.userId(blocked),
    };
  }

  private unblock(): Unblock | null {
    if (this.blockList.length === 0) return null;
    const index = this.random.below(this.blockList.length);
    const key = this.blockList[index];
    this.blockList[index] = this.blockList[this.blockList.length - 1];
    this.blockList.pop();
    this.blocks.delete(key);
    const blocker = Math.floor(key / this.world.users);
    return {
      type: 'unblock', event_id: this.random.uuid(), ts: this.ts,
      blocker_id: this.world.userId(blocker), blocked_id: this.world.userId(key - blocker * this.world.users),
    };
  }

  /** Someone changes their handle, or switches their account between public and private. */
  private profileUpdated(): ProfileUpdated {
    const user = this.actor();
    const { isPrivate, renames } = this.world;
    if (this.random.chance(0.3)) isPrivate[user] ^= 1;
    else if (renames[user] < 0xffff) renames[user]++;
    return {
      type: 'profile_updated', event_id: this.random.uuid(), ts: this.ts,
      user_id: this.world.userId(user), username: username(user, renames[user]), is_private: isPrivate[user] === 1,
    };
  }
}
