// feed-fanout: turns the social graph, profiles and posts into home feeds, timelines and the sets
// serving needs to merge celebrities' posts on read. The rules are in feed-manager.ts, the views in
// keys.ts, the block relay in relay.ts.
import { TOPICS } from '../../schemas/events.ts';
import type { Processor } from '../processor.ts';
import { FeedManager, type FeedFanoutInput, type FeedRules } from './feed-manager.ts';
import { FEED_FANOUT_REPARTITION_TOPIC } from './relay.ts';
import { NumberedKeys } from './interner.ts';
import { feedKey } from './keys.ts';
import { createFeedFanoutState, type FeedFanoutState } from './state.ts';

export interface FeedFanoutOptions {
  /** Default 100000. */
  celebrityFollowers?: number;
  /** Default 90% of celebrityFollowers: hysteresis, so an author at the threshold does not flip back and forth. */
  celebrityExitFollowers?: number;
  /** Default 800. */
  feedLength?: number;
  /** Default 200. */
  followBackfill?: number;
}

export class FeedFanoutOptionsError extends Error {}

export const FEED_FANOUT = 'feed-fanout';

export function createFeedFanout(options: FeedFanoutOptions = {}): Processor<FeedFanoutState, FeedFanoutInput> {
  const rules = resolveRules(options);
  const manager = new FeedManager(rules);
  // One numbering for all partitions: a batch mixes their fanouts, and a feed is one key in all of them.
  const feedKeys = new NumberedKeys(feedKey);
  return {
    name: FEED_FANOUT,
    inputs: [TOPICS.socialGraph, TOPICS.profiles, TOPICS.posts, FEED_FANOUT_REPARTITION_TOPIC],
    init: () => createFeedFanoutState(rules.followBackfill, feedKeys),
    apply: (state, input) => manager.apply(state, input),
  };
}

export function resolveRules(options: FeedFanoutOptions): FeedRules {
  const celebrityFollowers = whole('celebrityFollowers', options.celebrityFollowers ?? 100_000, 1);
  const celebrityExitFollowers = whole(
    'celebrityExitFollowers', options.celebrityExitFollowers ?? Math.floor(celebrityFollowers * 0.9), 0,
  );
  if (celebrityExitFollowers > celebrityFollowers) {
    throw new FeedFanoutOptionsError(
      `celebrityExitFollowers (${celebrityExitFollowers}) must not exceed celebrityFollowers (${celebrityFollowers})`,
    );
  }
  return {
    celebrityFollowers,
    celebrityExitFollowers,
    feedLength: whole('feedLength', options.feedLength ?? 800, 1),
    followBackfill: whole('followBackfill', options.followBackfill ?? 200, 0),
  };
}

function whole(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new FeedFanoutOptionsError(`feed-fanout option ${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

export type { FeedFanoutInput, FeedRules } from './feed-manager.ts';
export type { FeedFanoutState } from './state.ts';
export {
  FEED_FANOUT_REPARTITION_TOPIC, feedFanoutInternalTopics, isBlockRelayed, type BlockRelayed,
} from './relay.ts';
export { PrivacyBook } from './privacy.ts';
export * from './keys.ts';
