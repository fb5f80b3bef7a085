// Top-K over scores that only fall while a tag is idle, without rescoring every tag.
//
// Each entry sits in a max-heap under `bound`: its score when last evaluated, at a time no later than
// now. A velocity score never rises between two uses of the tag (see score.ts), so every bound is an
// upper bound of the entry's current score. To read the top K at `now`, look at the heap top: if its
// bound was evaluated at `now` it is exact, and no other entry can beat it, so it is the next winner;
// otherwise rescore it at `now` and let it sink. Only entries near the top are ever rescored.

export interface Ranked {
  readonly name: string;
  /** Score when last evaluated; an upper bound of the current score. */
  bound: number;
  /** Event time at which `bound` was evaluated. */
  evaluatedAt: number;
  /** Position in the heap, -1 when not in it. */
  heapIndex: number;
}

/** Higher score first; equal scores by name, so every replay ranks ties the same way. */
function before(a: Ranked, b: Ranked): boolean {
  return a.bound > b.bound || (a.bound === b.bound && a.name < b.name);
}

export class LazyTopK<T extends Ranked> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Inserts the entry or, when already in, moves it to its new bound. */
  upsert(entry: T): void {
    if (entry.heapIndex < 0) {
      entry.heapIndex = this.heap.length;
      this.heap.push(entry);
    }
    this.siftUp(entry.heapIndex);
    this.siftDown(entry.heapIndex);
  }

  remove(entry: T): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop()!;
    entry.heapIndex = -1;
    if (last === entry) return;
    this.heap[i] = last;
    last.heapIndex = i;
    this.siftUp(i);
    this.siftDown(i);
  }

  /** The `k` best entries at `now`, best first; `scoreAt` gives an entry's exact score at `now`. */
  top(k: number, now: number, scoreAt: (entry: T, now: number) => number): T[] {
    const winners: T[] = [];
    while (winners.length < k && this.heap.length > 0) {
      const head = this.heap[0];
      if (head.evaluatedAt !== now) {
        head.bound = scoreAt(head, now);
        head.evaluatedAt = now;
        this.siftDown(0);
        continue;
      }
      this.remove(head);
      winners.push(head);
    }
    for (const winner of winners) this.upsert(winner);
    return winners;
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const entry = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].heapIndex = i;
      i = parent;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const entry = heap[i];
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right], heap[left]) ? right : left;
      if (!before(heap[child], entry)) break;
      heap[i] = heap[child];
      heap[i].heapIndex = i;
      i = child;
    }
    heap[i] = entry;
    entry.heapIndex = i;
  }
}
