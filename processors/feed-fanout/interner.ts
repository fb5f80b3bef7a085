// User ids are strings on the wire but small integers in state: a follower set of int32 is a fraction
// of the size of a Set<string>, and the string itself is stored once per partition.
import type { KeyNumbering } from '../effects.ts';

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
 * The key (e.g. feed:<user>) and its number of every user a processor names, across all its
 * partitions: one string per key instead of one per partition, and a number a view store groups a
 * fanout by (KeyNumbering in effects.ts). With one string per partition, the store's grouping met up
 * to eight different strings for a key and compared them character by character.
 */
export class NumberedKeys implements KeyNumbering {
  /** A key's number is its user's interned id in this processor-wide interner. */
  private readonly users = new UserInterner();
  private readonly keys: string[] = [];

  constructor(private readonly keyOf: (user: string) => string) {}

  get size(): number {
    return this.keys.length;
  }

  /** The number of `user`'s key, assigning the next one on first sight. */
  number(user: string): number {
    const n = this.users.intern(user);
    if (n === this.keys.length) this.keys.push(this.keyOf(user));
    return n;
  }

  key(n: number): string {
    return this.keys[n];
  }
}

/**
 * A partition's way to its users' keys: its interned ids to their numbers in the processor's
 * NumberedKeys, looked up once per user. A fanout names the same feeds post after post; one string per
 * key instead of a new concatenation per effect made the processor's fanout ~1.3x faster
 * (bench/RESULTS.md, "Feed keys made once per user").
 */
export class InternedKeys {
  /** Number of each interned id's key, -1 until first use. */
  private numbers: Int32Array = new Int32Array(64).fill(-1);

  constructor(private readonly users: UserInterner, readonly numbering: NumberedKeys) {}

  /** The number of interned user `id`'s key in `numbering`. */
  numberOf(id: number): number {
    if (id >= this.numbers.length) {
      const grown = new Int32Array(Math.max(id + 1, this.numbers.length * 2)).fill(-1);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    let n = this.numbers[id];
    if (n < 0) this.numbers[id] = n = this.numbering.number(this.users.name(id));
    return n;
  }

  of(id: number): string {
    return this.numbering.key(this.numberOf(id));
  }
}
