/**
 * The traffic simulator: a deterministic, endless stream of realistic actions of an Instagram-like
 * product, as `DarkroomEvent`s ready for the event producer.
 *
 * ```ts
 * const sim = createSimulation({ users: 10_000, seed: 1, startTs: Date.parse('2025-01-01'), rate: 1000 });
 * for (const event of sim.bootstrap()) ...   // the world at startTs: profiles, then current follows
 * const batch = sim.next(500);                // the next 500 actions; `ts` advances at `rate` per second
 * ```
 *
 * - **The world** (built at creation): `users` accounts `u1..uN`, ~12% private; a follower graph
 *   where 70% of follows go to celebrities chosen by a Zipf law and the rest to uniformly chosen
 *   friends: ~8.5 current follows per user, the top 1% of accounts hold ~32% of all follows at 10k
 *   users and ~46% at 1M (top account: 227k followers). 1M users build in 2-3 s into ~100 MB of
 *   typed arrays (see follower-graph.ts).
 * - **The stream**: Poisson arrivals at `rate` events per second of *event time* (pacing against
 *   the wall clock is the caller's job, see pump.ts). Per 1000 events about 490 post_seen, 165 like,
 *   120 reel_watched, 50-110 story_viewed, 35 comment, 30 post_created, 20 story_created, 15 share,
 *   15 unlike, 10 follow, 10 unfollow, 6 block, 5 profile_updated, 5 post_deleted, 4 unblock.
 *   Engagement favours recent and popular posts of followees (feed) or public accounts (explore,
 *   where what others engage with right now attracts more: preferential attachment);
 *   hashtags are Zipf-popular with bursts (a tail tag suddenly rides on 25% of posts for 2-15 min,
 *   first one within minutes); stories live 24 h and are viewed by followers; reels last 5-90 s and
 *   are mostly skipped, sometimes watched to the end.
 * - **Consistency**: likes, comments, shares, views and watches target live posts only (never after
 *   deletion, no late events); no double likes, unlikes undo real likes; follows and unfollows
 *   change real edges; nothing crosses an active block. This holds for consumers that saw
 *   `bootstrap()` before the stream.
 * - **Determinism**: same options, same events, byte for byte (pure-rand xoroshiro128+; no
 *   Math.random, no Date.now). `bootstrap()` draws from its own stream, so the traffic does not
 *   depend on whether or how often the bootstrap was consumed.
 * - **Bounded memory**: a window of the newest posts (`recentPosts`), the latest story per user,
 *   a capped like ledger and block set; nothing grows with the length of the run.
 */
import type { DarkroomEvent, Follow, ProfileUpdated } from '../schemas/events.ts';
import { DEFAULT_BURSTS, type Burst, type BurstOptions } from './hashtags.ts';
import { randomStreams, type Random } from './random.ts';
import { TrafficStream, type StreamStats } from './simulation.ts';
import { username } from './text.ts';
import { World } from './world.ts';

export { STORY_LIFETIME_MS, MIN_REEL_MS, MAX_REEL_MS, type StreamStats } from './simulation.ts';
export { MAX_CAPTION_LENGTH } from './text.ts';
export type { Burst, BurstOptions } from './hashtags.ts';

export interface SimulationOptions {
  /** Number of accounts (at least 2). */
  users: number;
  /** Any safe integer; the same seed gives the same world and the same stream. */
  seed: number;
  /** Event time of the world's creation and of the stream's start, ms since epoch. */
  startTs: number;
  /** Events per second of event time. Default 1000. */
  rate?: number;
  /** Mean number of accounts a user follows (or will follow). Default 10. */
  meanFollowing?: number;
  /** Share of private accounts. Default 0.12. */
  privateShare?: number;
  /** How many of the newest posts stay engageable. Default 50 000. */
  recentPosts?: number;
  /**
   * Names this run's posts, comments and stories (`p<run>.<n>`, `c<run>.<n>`, `s<run>.<n>`) so that
   * runs into the same topics never give one id to two posts; without it they are p1, p2, ... (the
   * same in every run of a seed, which tests rely on).
   */
  run?: string;
  /** Hashtag bursts; defaults in DEFAULT_BURSTS. */
  bursts?: Partial<BurstOptions>;
}

export interface Simulation {
  readonly users: number;
  readonly rate: number;
  readonly startTs: number;
  /** Number of events `bootstrap()` yields: one profile per user plus every current follow. */
  readonly bootstrapSize: number;
  /**
   * The world at `startTs`: a profile_updated per user, then a follow per current edge, all with
   * `ts = startTs`. Lazy (10M follows are never held at once) and repeatable; describes the
   * initial world, so it must be consumed before the first `next()`.
   */
  bootstrap(): Iterable<DarkroomEvent>;
  /** The next `count` actions, `ts` non-decreasing. */
  next(count: number): DarkroomEvent[];
  /** Event time of the last event (startTs before the first). */
  now(): number;
  /** Counters for progress output and tests. */
  stats(): StreamStats;
  /** Hashtag bursts started so far (the last 100). */
  bursts(): readonly Burst[];
}

export class SimulationOptionsError extends Error {
  override name = 'SimulationOptionsError';
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new SimulationOptionsError(message);
}

export function createSimulation(options: SimulationOptions): Simulation {
  const { users, seed } = options;
  const startTs = Math.floor(options.startTs);
  const rate = options.rate ?? 1000;
  const meanFollowing = options.meanFollowing ?? 10;
  const privateShare = options.privateShare ?? 0.12;
  const recentPosts = options.recentPosts ?? 50_000;
  const bursts: BurstOptions = { ...DEFAULT_BURSTS, ...options.bursts };
  check(Number.isInteger(users) && users >= 2 && users <= 50_000_000, `users must be an integer from 2 to 50000000, got ${users}`);
  check(Number.isSafeInteger(seed), `seed must be an integer, got ${seed}`);
  check(Number.isFinite(startTs) && startTs >= 0, `startTs must be ms since epoch, got ${startTs}`);
  check(Number.isFinite(rate) && rate > 0, `rate must be a positive number of events per second, got ${rate}`);
  check(Number.isFinite(meanFollowing) && meanFollowing >= 1, `meanFollowing must be at least 1, got ${meanFollowing}`);
  check(privateShare >= 0 && privateShare <= 1, `privateShare must be between 0 and 1, got ${privateShare}`);
  check(options.run === undefined || /^[a-z0-9]{1,16}$/.test(options.run), `run must be 1 to 16 lowercase letters and digits, got ${options.run}`);
  check(Number.isInteger(recentPosts) && recentPosts >= 100, `recentPosts must be an integer of at least 100, got ${recentPosts}`);
  check(bursts.minDurationMs > 0 && bursts.maxDurationMs >= bursts.minDurationMs && bursts.meanGapMs > 0,
    'bursts need 0 < minDurationMs <= maxDurationMs and meanGapMs > 0');

  const [worldRandom, bootstrapRandom, trafficRandom] = randomStreams(seed, 3);
  const world = new World(worldRandom, { users, meanFollowing, privateShare });
  const bootstrapSize = users + world.graph.activeEdgeCount();
  const stream = new TrafficStream(world, trafficRandom, {
    startTs,
    rate,
    recentPosts,
    // About ten likes per post in the window fit before the ledger sweeps out old posts.
    maxLikes: recentPosts * 10,
    maxBlocks: Math.max(10, Math.min(100_000, users)),
    bursts,
    idPrefix: options.run === undefined ? '' : `${options.run}.`,
  });
  let started = false;

  return {
    users,
    rate,
    startTs,
    bootstrapSize,
    bootstrap() {
      if (started) throw new Error('bootstrap() describes the world at startTs: consume it before the first next()');
      return bootstrapEvents(world, bootstrapRandom.clone(), startTs);
    },
    next(count) {
      check(Number.isInteger(count) && count >= 0, `next() takes a non-negative integer, got ${count}`);
      started = true;
      return stream.next(count);
    },
    now: () => stream.now,
    stats: () => stream.stats(),
    bursts: () => stream.stats().bursts,
  };
}

function* bootstrapEvents(world: World, random: Random, ts: number): Generator<DarkroomEvent> {
  for (let user = 0; user < world.users; user++) {
    const profile: ProfileUpdated = {
      type: 'profile_updated', event_id: random.uuid(), ts,
      user_id: world.userId(user), username: username(user, 0), is_private: world.isPrivate[user] === 1,
    };
    yield profile;
  }
  for (const [follower, followee] of world.graph.activeEdges()) {
    const follow: Follow = {
      type: 'follow', event_id: random.uuid(), ts,
      follower_id: world.userId(follower), followee_id: world.userId(followee),
    };
    yield follow;
  }
}
