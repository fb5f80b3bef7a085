// The event catalog: every action of the product, the fields it carries, the topic it lives on and
// the field its records are keyed by. Keys are chosen so that each processor finds the state it needs
// in one partition (see "Co-partitioning" in DESIGN.md and the catalog table in the README).

export const MEDIA_TYPES = ['photo', 'video', 'carousel', 'reel'] as const;
export type MediaType = (typeof MEDIA_TYPES)[number];

interface Base {
  /** UUID; assigned at ingest when absent. */
  event_id: string;
  /** Event time, ms since epoch; the ingest time when absent. */
  ts: number;
}

export interface Follow extends Base { type: 'follow'; follower_id: string; followee_id: string }
export interface Unfollow extends Base { type: 'unfollow'; follower_id: string; followee_id: string }
export interface Block extends Base { type: 'block'; blocker_id: string; blocked_id: string }
export interface Unblock extends Base { type: 'unblock'; blocker_id: string; blocked_id: string }
export interface ProfileUpdated extends Base {
  type: 'profile_updated'; user_id: string; username: string | null; is_private: boolean;
}
export interface PostCreated extends Base {
  type: 'post_created'; post_id: string; author_id: string; caption: string;
  media_type: MediaType; hashtags: string[];
}
export interface PostDeleted extends Base { type: 'post_deleted'; post_id: string; author_id: string }
export interface Like extends Base { type: 'like'; user_id: string; post_id: string }
export interface Unlike extends Base { type: 'unlike'; user_id: string; post_id: string }
export interface Comment extends Base {
  type: 'comment'; comment_id: string; user_id: string; post_id: string; text: string;
}
export interface Share extends Base { type: 'share'; user_id: string; post_id: string }
export interface PostSeen extends Base { type: 'post_seen'; viewer_id: string; post_id: string }
export interface StoryCreated extends Base {
  type: 'story_created'; story_id: string; author_id: string; expires_at: number;
}
export interface StoryViewed extends Base { type: 'story_viewed'; story_id: string; viewer_id: string }
export interface ReelWatched extends Base {
  type: 'reel_watched'; viewer_id: string; post_id: string; watched_ms: number; duration_ms: number;
}

export type DarkroomEvent =
  | Follow | Unfollow | Block | Unblock | ProfileUpdated | PostCreated | PostDeleted
  | Like | Unlike | Comment | Share | PostSeen | StoryCreated | StoryViewed | ReelWatched;

export type EventType = DarkroomEvent['type'];
export type EventOf<T extends EventType> = Extract<DarkroomEvent, { type: T }>;

export const TOPICS = {
  socialGraph: 'social-graph',
  profiles: 'profiles',
  posts: 'posts',
  engagement: 'engagement',
  stories: 'stories',
  deadLetters: 'dead-letters',
} as const;

/** Where each event type is written and which of its fields is the record key. */
export const EVENT_ROUTES: { [T in EventType]: { topic: string; key: keyof EventOf<T> & string } } = {
  follow: { topic: TOPICS.socialGraph, key: 'followee_id' },
  unfollow: { topic: TOPICS.socialGraph, key: 'followee_id' },
  block: { topic: TOPICS.socialGraph, key: 'blocked_id' },
  unblock: { topic: TOPICS.socialGraph, key: 'blocked_id' },
  profile_updated: { topic: TOPICS.profiles, key: 'user_id' },
  post_created: { topic: TOPICS.posts, key: 'author_id' },
  post_deleted: { topic: TOPICS.posts, key: 'author_id' },
  like: { topic: TOPICS.engagement, key: 'post_id' },
  unlike: { topic: TOPICS.engagement, key: 'post_id' },
  comment: { topic: TOPICS.engagement, key: 'post_id' },
  share: { topic: TOPICS.engagement, key: 'post_id' },
  post_seen: { topic: TOPICS.engagement, key: 'post_id' },
  reel_watched: { topic: TOPICS.engagement, key: 'post_id' },
  story_created: { topic: TOPICS.stories, key: 'story_id' },
  story_viewed: { topic: TOPICS.stories, key: 'story_id' },
};

export const EVENT_TYPES = Object.keys(EVENT_ROUTES) as EventType[];

export function routeOf(event: DarkroomEvent): { topic: string; key: string } {
  const route = EVENT_ROUTES[event.type] as { topic: string; key: string };
  return { topic: route.topic, key: (event as unknown as Record<string, string>)[route.key] };
}
