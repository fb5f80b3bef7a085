// The follower graph: who follows whom. Most follows go to a few celebrities (in-degree follows a
// Zipf law over a shuffled popularity order, like preferential attachment's outcome), the rest to
// "friends" picked uniformly. Stored as compressed rows of typed arrays (CSR): 1M users with 10M
// edges take about 60 MB and a few seconds to build.
//
// The graph also holds the follows that have not happened yet: every edge is either active (a
// current follow, emitted by the bootstrap) or pending (a follow the stream may emit later). A
// follow activates a pending edge, an unfollow deactivates an active one, so the stream never
// follows twice or unfollows someone it does not follow, with one bit of state per edge.
import { PowerLaw, type Random } from './random.ts';

export interface FollowerGraphOptions {
  users: number;
  /** Mean number of accounts a user follows (active and pending together). */
  meanFollowing: number;
  /** Nobody follows more than this many accounts. */
  maxFollowing: number;
  /** Share of follows that go to popular accounts (Zipf) rather than to friends (uniform). */
  celebrityShare: number;
  /** Zipf exponent of popularity: 1 gives the top account about 7% of all follows at 1M users. */
  popularityExponent: number;
  /** Share of edges that are already follows when the stream starts. */
  activeShare: number;
  /** popularity rank -> user index. */
  userByPopularity: Int32Array;
}

const ACTIVE = 1;
const PENDING = 0;

export class FollowerGraph {
  /** Row u of `followees` is followees[rowStart[u] .. rowStart[u + 1]). */
  readonly rowStart: Int32Array;
  readonly followees: Int32Array;
  /** ACTIVE or PENDING per edge. */
  private readonly state: Uint8Array;
  /** Current (active) followers per user. */
  readonly followerCount: Int32Array;

  private constructor(rowStart: Int32Array, followees: Int32Array, state: Uint8Array, followerCount: Int32Array) {
    this.rowStart = rowStart;
    this.followees = followees;
    this.state = state;
    this.followerCount = followerCount;
  }

  static generate(random: Random, options: FollowerGraphOptions): FollowerGraph {
    const { users, meanFollowing, maxFollowing, celebrityShare, popularityExponent, activeShare, userByPopularity } = options;
    const cap = Math.min(maxFollowing, users - 1);

    // Out-degrees first, so the edge arrays are allocated once at their exact size.
    const rowStart = new Int32Array(users + 1);
    for (let u = 0; u < users; u++) {
      // Geometric-like spread around the mean: many follow a handful, a few follow hundreds.
      const degree = Math.min(cap, Math.max(1, Math.round(random.exponential(meanFollowing))));
      rowStart[u + 1] = rowStart[u] + degree;
    }
    const edges = rowStart[users];
    if (edges > 0x7fffffff) throw new RangeError('follower graph too large: lower users or meanFollowing');

    const followees = new Int32Array(edges);
    const state = new Uint8Array(edges);
    const followerCount = new Int32Array(users);
    const celebrities = new PowerLaw(users, popularityExponent);
    const seen = new Set<number>();
    for (let u = 0; u < users; u++) {
      const start = rowStart[u];
      const want = rowStart[u + 1] - start;
      let filled = 0;
      seen.clear();
      // Bounded retries: a user who wants more celebrities than there are simply follows fewer.
      for (let attempt = 0; filled < want && attempt < want * 4 + 16; attempt++) {
        const target = random.chance(celebrityShare)
          ? userByPopularity[celebrities.sample(random)]
          : random.below(users);
        if (target === u || seen.has(target)) continue;
        seen.add(target);
        followees[start + filled] = target;
        filled++;
      }
      // A row that came up short keeps its unused tail at -1; every reader skips those slots.
      for (let i = filled; i < want; i++) followees[start + i] = -1;
    }
    for (let e = 0; e < edges; e++) {
      const target = followees[e];
      if (target < 0) continue;
      if (random.chance(activeShare)) {
        state[e] = ACTIVE;
        followerCount[target]++;
      } else {
        state[e] = PENDING;
      }
    }
    return new FollowerGraph(rowStart, followees, state, followerCount);
  }

  get users(): number {
    return this.rowStart.length - 1;
  }

  /** Number of edge slots (active, pending and unused). */
  get edgeSlots(): number {
    return this.followees.length;
  }

  /** Every current follow, in user order (for the bootstrap). */
  *activeEdges(): Generator<[follower: number, followee: number]> {
    const users = this.users;
    for (let u = 0; u < users; u++) {
      for (let e = this.rowStart[u]; e < this.rowStart[u + 1]; e++) {
        if (this.state[e] === ACTIVE) yield [u, this.followees[e]];
      }
    }
  }

  activeEdgeCount(): number {
    let count = 0;
    for (let e = 0; e < this.state.length; e++) if (this.state[e] === ACTIVE && this.followees[e] >= 0) count++;
    return count;
  }

  /** A random current followee of `user`, or -1 after a few misses (the user follows few people). */
  randomFollowee(random: Random, user: number, tries = 3): number {
    const edge = this.randomEdge(random, user, ACTIVE, tries);
    return edge < 0 ? -1 : this.followees[edge];
  }

  /** Whether `follower` currently follows `followee` (a scan of the follower's row, which is short). */
  follows(follower: number, followee: number): boolean {
    for (let e = this.rowStart[follower]; e < this.rowStart[follower + 1]; e++) {
      if (this.followees[e] === followee) return this.state[e] === ACTIVE;
    }
    return false;
  }

  /** Turns a pending edge of `user` into a follow; returns the followee or -1 if none was found. */
  follow(random: Random, user: number, accept: (followee: number) => boolean): number {
    const edge = this.randomEdge(random, user, PENDING, 8);
    if (edge < 0 || !accept(this.followees[edge])) return -1;
    this.state[edge] = ACTIVE;
    this.followerCount[this.followees[edge]]++;
    return this.followees[edge];
  }

  /** Ends one of `user`'s follows; returns the former followee or -1 if none was found. */
  unfollow(random: Random, user: number): number {
    const edge = this.randomEdge(random, user, ACTIVE, 4);
    if (edge < 0) return -1;
    this.state[edge] = PENDING;
    this.followerCount[this.followees[edge]]--;
    return this.followees[edge];
  }

  private randomEdge(random: Random, user: number, wanted: number, tries: number): number {
    const start = this.rowStart[user];
    const length = this.rowStart[user + 1] - start;
    if (length === 0) return -1;
    for (let i = 0; i < tries; i++) {
      const edge = start + random.below(length);
      if (this.state[edge] === wanted && this.followees[edge] >= 0) return edge;
    }
    return -1;
  }
}
