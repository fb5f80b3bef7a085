// Stage 2 of the abuse signal: an account that follows more than `followsPerHour` accounts within one
// hour of event time is flagged as a likely bot.
//
// Rules:
// - every follow action counts, a re-follow of the same account too: follow/unfollow churn is what
//   follow bots do;
// - the window slides in event time: the count of a follow is the number of follows of the same
//   follower in the hour ending at it, and also in the hour ending at that follower's newest follow
//   (a late follow can complete either); a follow more than an hour older than the newest one of its
//   follower is too late to count;
// - the flag is for good: it is written once (`flagged:<user>` with reason, count and time, the user
//   added to `flagged-accounts`), and published on ABUSE_FLAGS_TOPIC for the processors that must
//   ignore flagged accounts (trending). Lifting a flag is an operator's decision, not the stream's.
// Pure: no clock (event time only), so replaying the internal topic rebuilds the same state.
import type { Effect } from '../effects.ts';
import type { Processor } from '../processor.ts';
import type { FollowByFollower } from './follows-by-follower.ts';
import { ABUSE_FLAGS_TOPIC, ABUSE_FOLLOWS_TOPIC, FLAGGED_SET_KEY, flaggedKey } from './keys.ts';

export const HOUR_MS = 3_600_000;
/** Followers whose newest follow is over an hour behind the partition's newest are forgotten every this many follows. */
const SWEEP_EVERY = 10_000;

export interface BotFollowsState {
  /** Per follower: event times of their follows in the last hour, ascending. */
  windows: Map<string, number[]>;
  flagged: Set<string>;
  /** Newest event time seen in this partition. */
  watermark: number;
  sinceSweep: number;
}

/** The value of a record of ABUSE_FLAGS_TOPIC. */
export interface AccountFlagged {
  type: 'account_flagged';
  user_id: string;
  reason: string;
  count: number;
  ts: number;
}

/** Index of the first element > value (ascending array). */
function upperBound(values: number[], value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] <= value) lo = mid + 1; else hi = mid;
  }
  return lo;
}

export function createBotFollowsDetector(options: { followsPerHour: number }): Processor<BotFollowsState, FollowByFollower> {
  const limit = options.followsPerHour;
  return {
    name: 'abuse-bot-follows',
    inputs: [ABUSE_FOLLOWS_TOPIC],
    init: () => ({ windows: new Map(), flagged: new Set(), watermark: -Infinity, sinceSweep: 0 }),
    apply(state, follow) {
      const user = follow.follower_id;
      const ts = follow.ts;
      if (ts > state.watermark) state.watermark = ts;
      if (++state.sinceSweep >= SWEEP_EVERY) sweep(state);
      if (state.flagged.has(user)) return [];

      let window = state.windows.get(user);
      if (!window) state.windows.set(user, (window = []));
      const newest = window.length ? Math.max(window[window.length - 1], ts) : ts;
      if (ts <= newest - HOUR_MS) return []; // too late for any window still open
      window.splice(upperBound(window, ts), 0, ts);
      const expired = upperBound(window, newest - HOUR_MS);
      if (expired) window.splice(0, expired);

      const endingHere = upperBound(window, ts) - upperBound(window, ts - HOUR_MS);
      const count = Math.max(endingHere, window.length);
      if (count <= limit) return [];

      state.flagged.add(user);
      state.windows.delete(user);
      const reason = `followed ${count} accounts within one hour (limit ${limit})`;
      const flag: AccountFlagged = { type: 'account_flagged', user_id: user, reason, count, ts };
      const effects: Effect[] = [
        { kind: 'hset', key: flaggedKey(user), fields: { reason, count, at: ts } },
        { kind: 'sadd', key: FLAGGED_SET_KEY, member: user },
        { kind: 'repartition', topic: ABUSE_FLAGS_TOPIC, key: user, value: { ...flag } },
      ];
      return effects;
    },
  };
}

function sweep(state: BotFollowsState): void {
  state.sinceSweep = 0;
  for (const [user, window] of state.windows) {
    if (!window.length || window[window.length - 1] <= state.watermark - HOUR_MS) state.windows.delete(user);
  }
}
