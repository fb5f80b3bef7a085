// Topics and view keys of the abuse signal (see index.ts).

/** Internal topic: every follow, re-keyed by the follower (social-graph is keyed by the followee). */
export const ABUSE_FOLLOWS_TOPIC = 'abuse-follows-by-follower';

/**
 * Internal topic: one record per flagged account, keyed by that account. Keyed like posts and
 * profiles (by user, same partitioner and partition count), so the partition of the trending
 * extractor that sees a user's posts also sees that user's flag.
 */
export const ABUSE_FLAGS_TOPIC = 'abuse-flags';

/** hash: reason, count (follows in the hour that tripped the flag), at (event time, ms). */
export const flaggedKey = (user: string): string => `flagged:${user}`;

/** set: every flagged account, so operators can list them (GET /v1/admin/flagged). */
export const FLAGGED_SET_KEY = 'flagged-accounts';
