// The followers of every followee of a partition, compact enough for 10M edges in about a gigabyte.
//
// Each followee owns one Float64Array of slots; a slot is two numbers: (follower id + 1, stamp). The +1
// lets a fresh (zero-filled) array mean "all slots empty". The stamp (see stamps.ts) says whether the
// edge is live and when it last changed; unfollowed edges stay as tombstones so an older follow that
// arrives late cannot resurrect them.
//
// Most users have a handful of followers, so small tables (up to SMALL_SLOTS) are dense and scanned
// linearly; bigger ones become open-addressing hash tables with linear probing (power-of-two size,
// load <= 3/4). Per-followee counters live in shared Int32Arrays, not in one object per followee.
import { isOn, type Stamp } from './stamps.ts';

const SMALL_SLOTS = 8;
const MAX_LOAD = 0.75;
const EMPTY = 0;

function mix(id: number): number {
  let h = Math.imul(id ^ (id >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

export class FollowerIndex {
  private tables: Array<Float64Array | undefined> = [];
  /** Slots in use per followee, tombstones included. */
  private used = new Int32Array(1024);
  /** Live followers per followee. */
  private live = new Int32Array(1024);
  private liveEdges = 0;

  /** The stamp of edge follower → followee, or undefined if no event ever touched it. */
  stamp(followee: number, follower: number): Stamp | undefined {
    const table = this.tables[followee];
    if (table === undefined) return undefined;
    const slot = this.find(table, this.used[followee], follower + 1);
    return slot < 0 ? undefined : table[2 * slot + 1];
  }

  /** Records the new stamp of edge follower → followee. */
  set(followee: number, follower: number, stamp: Stamp): void {
    this.ensureCounters(followee);
    const key = follower + 1;
    let table = this.tables[followee];
    let slot = table === undefined ? -1 : this.find(table, this.used[followee], key);
    if (slot >= 0) {
      const wasLive = isOn(table![2 * slot + 1]);
      table![2 * slot + 1] = stamp;
      this.countChange(followee, wasLive, isOn(stamp));
      return;
    }
    table = this.makeRoom(followee);
    slot = table.length / 2 <= SMALL_SLOTS ? this.used[followee] : ~this.find(table, this.used[followee], key);
    table[2 * slot] = key;
    table[2 * slot + 1] = stamp;
    this.used[followee]++;
    this.countChange(followee, false, isOn(stamp));
  }

  followerCount(followee: number): number {
    return followee < this.live.length ? this.live[followee] : 0;
  }

  /** Live edges in the whole partition. */
  get edges(): number {
    return this.liveEdges;
  }

  /** Calls `visit` with every live follower of `followee` (order is deterministic for a given history). */
  forEachFollower(followee: number, visit: (follower: number) => void): void {
    const table = this.tables[followee];
    if (table === undefined) return;
    const slots = table.length / 2 <= SMALL_SLOTS ? this.used[followee] : table.length / 2;
    for (let slot = 0; slot < slots; slot++) {
      const key = table[2 * slot];
      if (key !== EMPTY && table[2 * slot + 1] >= 0) visit(key - 1);
    }
  }

  /** Slot of `key`, or (hash tables only) ~insertion slot when absent; -1 when absent from a small table. */
  private find(table: Float64Array, used: number, key: number): number {
    const capacity = table.length / 2;
    if (capacity <= SMALL_SLOTS) {
      for (let slot = 0; slot < used; slot++) if (table[2 * slot] === key) return slot;
      return -1;
    }
    const mask = capacity - 1;
    for (let slot = mix(key) & mask; ; slot = (slot + 1) & mask) {
      const held = table[2 * slot];
      if (held === key) return slot;
      if (held === EMPTY) return ~slot;
    }
  }

  /** The followee's table, grown if one more slot would not fit. */
  private makeRoom(followee: number): Float64Array {
    const table = this.tables[followee];
    const used = this.used[followee];
    if (table === undefined) return (this.tables[followee] = new Float64Array(2));
    const capacity = table.length / 2;
    if (capacity <= SMALL_SLOTS) {
      if (used < capacity) return table;
      if (capacity < SMALL_SLOTS) {
        const grown = new Float64Array(table.length * 2);
        grown.set(table);
        return (this.tables[followee] = grown);
      }
    } else if (used + 1 <= capacity * MAX_LOAD) {
      return table;
    }
    return (this.tables[followee] = this.rehash(table, used, capacity * 2));
  }

  private rehash(table: Float64Array, used: number, capacity: number): Float64Array {
    const grown = new Float64Array(capacity * 2);
    const oldSlots = table.length / 2 <= SMALL_SLOTS ? used : table.length / 2;
    for (let slot = 0; slot < oldSlots; slot++) {
      const key = table[2 * slot];
      if (key === EMPTY) continue;
      const at = ~this.find(grown, 0, key);
      grown[2 * at] = key;
      grown[2 * at + 1] = table[2 * slot + 1];
    }
    return grown;
  }

  private countChange(followee: number, wasLive: boolean, isLive: boolean): void {
    if (wasLive === isLive) return;
    const delta = isLive ? 1 : -1;
    this.live[followee] += delta;
    this.liveEdges += delta;
  }

  private ensureCounters(followee: number): void {
    // Pushing keeps `tables` a packed array; assigning far past its end would make it a slow dictionary.
    while (this.tables.length <= followee) this.tables.push(undefined);
    if (followee < this.used.length) return;
    let length = this.used.length;
    while (length <= followee) length *= 2;
    const used = new Int32Array(length);
    used.set(this.used);
    const live = new Int32Array(length);
    live.set(this.live);
    this.used = used;
    this.live = live;
  }
}
