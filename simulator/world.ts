// The initial world: users with profiles (some private), who is popular, who is active, and the
// follower graph. Built once from its own random stream; the traffic stream then changes it.
import { FollowerGraph } from './follower-graph.ts';
import type { Random } from './random.ts';

export interface WorldOptions {
  users: number;
  meanFollowing: number;
  privateShare: number;
}

export class World {
  readonly users: number;
  readonly graph: FollowerGraph;
  /** 1 for private accounts: their posts reach followers only, never the explore surfaces. */
  readonly isPrivate: Uint8Array;
  /** How often each user has changed their handle (usernames are derived from it). */
  readonly renames: Uint16Array;
  /** popularity rank -> user: rank 0 is the biggest celebrity. */
  readonly userByPopularity: Int32Array;
  /** activity rank -> user: rank 0 acts most often. Independent of popularity. */
  readonly userByActivity: Int32Array;
  private readonly ids: string[];

  constructor(random: Random, options: WorldOptions) {
    const { users, meanFollowing, privateShare } = options;
    this.users = users;
    this.userByPopularity = random.permutation(users);
    this.userByActivity = random.permutation(users);
    this.isPrivate = new Uint8Array(users);
    for (let u = 0; u < users; u++) this.isPrivate[u] = random.chance(privateShare) ? 1 : 0;
    this.renames = new Uint16Array(users);
    this.graph = FollowerGraph.generate(random, {
      users,
      meanFollowing: Math.min(meanFollowing, users - 1),
      maxFollowing: 2_000,
      celebrityShare: 0.7,
      popularityExponent: 1.0,
      activeShare: 0.85,
      userByPopularity: this.userByPopularity,
    });
    this.ids = new Array<string>(users);
  }

  /** "u1".."uN": short ids, cached because every event carries one or two. */
  userId(user: number): string {
    return (this.ids[user] ??= `u${user + 1}`);
  }
}
