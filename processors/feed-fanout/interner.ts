// User ids are strings on the wire but small integers in state: a follower set of int32 is a fraction
// of the size of a Set<string>, and the string itself is stored once per partition.

export class UserInterner {
  private readonly idOf = new Map<string, number>();
  private readonly names: string[] = [];

  /** The integer of `user`, assigning the next one on first sight. */
  intern(user: string): number {
    let id = this.idOf.get(user);
    if (id === undefined) {
      id = this.names.length;
      this.idOf.set(user, id);
      this.names.push(user);
    }
    return id;
  }

  /** The integer of `user`, or undefined when this partition has never seen it. */
  lookup(user: string): number | undefined {
    return this.idOf.get(user);
  }

  name(id: number): string {
    return this.names[id];
  }

  get size(): number {
    return this.names.length;
  }
}

/**
 * One key string per interned user (e.g. feed:<user>), made on first use. A fanout names the same
 * feeds post after post; one string per key instead of a new concatenation per effect made the
 * processor's fanout ~1.3x faster (bench/RESULTS.md, "Feed keys made once per user"). The view
 * store's grouping by key measured no faster: its cost is the table of keys, not their text.
 */
export class InternedKeys {
  private readonly keys: Array<string | undefined> = [];

  constructor(private readonly users: UserInterner, private readonly keyOf: (user: string) => string) {}

  of(id: number): string {
    const keys = this.keys;
    while (keys.length <= id) keys.push(undefined); // dense, so the array stays a fast one
    return (keys[id] ??= this.keyOf(this.users.name(id)));
  }
}
