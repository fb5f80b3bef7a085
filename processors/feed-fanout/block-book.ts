// Block relations touching the users of a partition, in both directions. "B blocks X" is keyed by X,
// so X's partition learns it from social-graph; B's partition learns it from the relay record
// (relay.ts). Blocks are rare, so a Map keyed by the pair is small enough.
import { isOn, type Stamp } from './stamps.ts';

const pair = (blocker: number, blocked: number): string => `${blocker}>${blocked}`;

export class BlockBook {
  private readonly stamps = new Map<string, Stamp>();
  /** Users in any block relation, ever: lets the common case (no blocks at all) skip building pair keys. */
  private readonly involved = new Set<number>();

  stamp(blocker: number, blocked: number): Stamp | undefined {
    return this.stamps.get(pair(blocker, blocked));
  }

  set(blocker: number, blocked: number, stamp: Stamp): void {
    this.stamps.set(pair(blocker, blocked), stamp);
    this.involved.add(blocker);
    this.involved.add(blocked);
  }

  /** A block in either direction stands between the two users. */
  standsBetween(a: number, b: number): boolean {
    if (!this.involved.has(a) || !this.involved.has(b)) return false;
    return isOn(this.stamps.get(pair(a, b))) || isOn(this.stamps.get(pair(b, a)));
  }
}
