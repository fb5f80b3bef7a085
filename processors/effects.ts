// Effects are data: a processor says what should change in the views, a view store (sinks/) turns
// that into its own commands (Redis MULTI, in-memory maps). Keys are logical; the view store adds the
// generation prefix, so a replay can write a new generation while serving reads the old one.

export type Effect =
  /** Ordered set member (feed entry, timeline entry, top-K entry). `cap` keeps only the `cap` highest scores. */
  | { kind: 'zadd'; key: string; member: string; score: number; cap?: number }
  /**
   * The same zadd on each of `keys`, in order (a post into its author's and followers' feeds). One
   * effect for a fanout instead of one per follower: at 20 followers a post, a rebuild made ~20M
   * effect objects per 1M events, and creating, batching and grouping them cost more than applying them.
   */
  | {
    kind: 'zaddEach'; keys: string[]; member: string; score: number; cap?: number;
    /**
     * When the processor numbers the keys it names: `keys[i]` is the key numbered `numbers[i]` in
     * `numbering`. A view store may then group a batch's fanouts by number instead of hashing every
     * key (bench/RESULTS.md, "Fanout keys by number"); one that does not ignores both.
     */
    numbering?: KeyNumbering; numbers?: number[];
  }
  | { kind: 'zrem'; key: string; member: string }
  /** Removes every member whose `tag` (see zadd members built with `taggedMember`) equals `tag`. */
  | { kind: 'zremTagged'; key: string; tag: string }
  /** Replaces a whole ordered set (e.g. the trending top 100) in one step. */
  | { kind: 'zreplace'; key: string; entries: Array<{ member: string; score: number }> }
  /** Set member that disappears at `expiresAt` (wall-clock ms); no expiry when omitted. */
  | { kind: 'sadd'; key: string; member: string; expiresAt?: number }
  | { kind: 'srem'; key: string; member: string }
  | { kind: 'hset'; key: string; fields: Record<string, string | number> }
  | { kind: 'hincr'; key: string; field: string; by: number }
  | { kind: 'del'; key: string }
  /** A row for the analytics store (ClickHouse / chDB). */
  | { kind: 'row'; table: string; row: Record<string, unknown> }
  /** A record for an internal repartition topic, keyed by another field (Kafka Streams' through()). */
  | { kind: 'repartition'; topic: string; key: string; value: Record<string, unknown> };

/**
 * Dense numbers (0, 1, 2... up to size - 1) that a processor gives the keys it names: a key keeps its
 * number, and no two keys share one, for as long as the numbering lives.
 */
export interface KeyNumbering {
  readonly size: number;
}

/** How many single-key changes an effect stands for: what a batch's size counts. */
export function effectWeight(effect: Effect): number {
  return effect.kind === 'zaddEach' ? effect.keys.length : 1;
}

/** Members of tagged sets are "<id>|<tag>", so all of one author's posts can leave a feed at once. */
export function taggedMember(id: string, tag: string): string {
  return `${id}|${tag}`;
}

export function splitTaggedMember(member: string): { id: string; tag: string } {
  const cut = member.lastIndexOf('|');
  return cut < 0 ? { id: member, tag: '' } : { id: member.slice(0, cut), tag: member.slice(cut + 1) };
}
