// A set of small non-negative integers (interned user ids) that stays compact at every size: a sorted
// Uint32Array (4 bytes per member, binary search) while the set is sparse, a bitmap (1 bit per possible
// id) once that is smaller. Most posts have a handful of likers; a viral one gets the bitmap.

const INITIAL_CAPACITY = 4;

export class CompactIdSet {
  private sorted: Uint32Array | null = new Uint32Array(INITIAL_CAPACITY);
  private bits: Uint32Array | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    if (this.bits) return id >>> 5 < this.bits.length && (this.bits[id >>> 5] & (1 << (id & 31))) !== 0;
    return this.indexOf(id) >= 0;
  }

  /** Adds `id`; returns false when it was already a member. */
  add(id: number): boolean {
    if (this.bits) return this.setBit(id);
    const at = this.indexOf(id);
    if (at >= 0) return false;
    const insertAt = ~at;
    let sorted = this.sorted!;
    if (this.count === sorted.length) {
      const grown = new Uint32Array(sorted.length * 2);
      grown.set(sorted);
      this.sorted = sorted = grown;
    }
    sorted.copyWithin(insertAt + 1, insertAt, this.count);
    sorted[insertAt] = id;
    this.count++;
    if (this.bitmapWouldBeSmaller()) this.toBitmap();
    return true;
  }

  /** Removes `id`; returns false when it was not a member. */
  delete(id: number): boolean {
    if (this.bits) {
      if (!this.has(id)) return false;
      this.bits[id >>> 5] &= ~(1 << (id & 31));
      this.count--;
      return true;
    }
    const at = this.indexOf(id);
    if (at < 0) return false;
    this.sorted!.copyWithin(at, at + 1, this.count);
    this.count--;
    return true;
  }

  /** Approximate bytes held, for memory reports. */
  get bytes(): number {
    return (this.bits ?? this.sorted!).byteLength;
  }

  /** Index of `id` in the sorted array, or ~(insertion point) when absent. */
  private indexOf(id: number): number {
    const sorted = this.sorted!;
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const value = sorted[mid];
      if (value < id) low = mid + 1;
      else if (value > id) high = mid - 1;
      else return mid;
    }
    return ~low;
  }

  private bitmapWouldBeSmaller(): boolean {
    const maxId = this.sorted![this.count - 1];
    return (maxId >>> 5) + 1 < this.count;
  }

  private toBitmap(): void {
    const sorted = this.sorted!;
    this.bits = new Uint32Array((sorted[this.count - 1] >>> 5) + 1);
    for (let i = 0; i < this.count; i++) this.bits[sorted[i] >>> 5] |= 1 << (sorted[i] & 31);
    this.sorted = null;
  }

  private setBit(id: number): boolean {
    const word = id >>> 5;
    if (word >= this.bits!.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.bits!.length * 2));
      grown.set(this.bits!);
      this.bits = grown;
    }
    const mask = 1 << (id & 31);
    if (this.bits![word] & mask) return false;
    this.bits![word] |= mask;
    this.count++;
    return true;
  }
}
