// Hot keys (a celebrity's timeline, the trending top) are read by many requests at once. Without care
// every one of them goes to the view store, so one popular post becomes thousands of identical Redis
// reads in the same millisecond. A HotCache makes concurrent reads of one key share a single backend
// read (single flight) and keeps the answer for a short time (`ttlMs`, e.g. 250 ms), so a burst costs
// one read per key per `ttlMs` whatever its size. Staleness is bounded by `ttlMs` (plus `serveStaleMs`
// where a cache allows it, see below); failures are never cached (the next caller retries).

export interface HotCacheOptions {
  /** How long a loaded value is served without reading again; 0 keeps only the single flight. */
  ttlMs: number;
  /**
   * For `get`: for this long after `ttlMs`, a request gets the old value at once while ONE read
   * refreshes it in the background (stale-while-revalidate), so no request of a hot key waits for the
   * store when its period ends. Values are then at most ttlMs + serveStaleMs old. Default 0.
   */
  serveStaleMs?: number;
  /** Entries kept at most (oldest dropped first), so many cold keys cannot grow the process. */
  maxEntries?: number;
  /** Monotonic clock in ms (tests pass a fake). */
  clock?: () => number;
}

interface Entry<V> {
  /** Settled value once loaded; the in-flight promise until then. */
  promise: Promise<V>;
  /** Clock time after which the entry is stale; +Infinity while in flight. */
  freshUntil: number;
  /** A background refresh of this entry is running (serveStaleMs). */
  refreshing?: boolean;
}

export class HotCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly ttlMs: number;
  private readonly serveStaleMs: number;
  private readonly maxEntries: number;
  private readonly clock: () => number;
  /** Backend loads started (one per key per flight); tests and metrics read it. */
  loads = 0;

  constructor(options: HotCacheOptions) {
    if (!(options.ttlMs >= 0)) throw new RangeError(`ttlMs must be >= 0, got ${options.ttlMs}`);
    this.ttlMs = options.ttlMs;
    this.serveStaleMs = options.serveStaleMs ?? 0;
    if (!(this.serveStaleMs >= 0)) throw new RangeError(`serveStaleMs must be >= 0, got ${options.serveStaleMs}`);
    this.maxEntries = options.maxEntries ?? 10_000;
    this.clock = options.clock ?? (() => performance.now());
  }

  /** The value of `key`: fresh from the cache, shared with a read in flight, or loaded now. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    // Fast path for the common case, a fresh hit: no arrays, no closures (every request reads the
    // generation and trending through here).
    const entry = this.entries.get(key);
    if (entry) {
      const now = this.clock();
      if (entry.freshUntil > now) return entry.promise;
      if (entry.freshUntil + this.serveStaleMs > now) {
        if (!entry.refreshing) this.refresh(key, entry, load);
        return entry.promise;
      }
    }
    return this.getMany([key], async () => [await load()])[0];
  }

  /** Replaces a stale entry once `load` succeeds; until then (or if it fails) the old value stays. */
  private refresh(key: string, stale: Entry<V>, load: () => Promise<V>): void {
    stale.refreshing = true;
    this.loads++;
    load().then(
      (value) => {
        if (this.entries.get(key) !== stale) return; // replaced or evicted meanwhile
        this.store(key, { promise: Promise.resolve(value), freshUntil: this.clock() + this.ttlMs });
      },
      () => { stale.refreshing = false; },
    );
  }

  /**
   * The values of several keys, loading all the missing ones with ONE call of `loadMany` (so a page
   * that needs ten timelines still costs one round trip), while keys already cached or in flight are
   * shared. `loadMany` must return one value per key it is given, in order.
   */
  getMany(keys: string[], loadMany: (missing: string[]) => Promise<V[]>): Array<Promise<V>> {
    const now = this.clock();
    const missing: string[] = [];
    const result: Array<Promise<V> | undefined> = keys.map((key) => {
      const entry = this.entries.get(key);
      if (entry && entry.freshUntil > now) return entry.promise;
      missing.push(key);
      return undefined;
    });
    if (missing.length === 0) return result as Array<Promise<V>>;

    const unique = [...new Set(missing)];
    this.loads += unique.length;
    const batch = loadMany(unique).then((values) => {
      if (values.length !== unique.length) throw new Error(`loadMany returned ${values.length} values for ${unique.length} keys`);
      return values;
    });
    unique.forEach((key, i) => {
      const entry: Entry<V> = { promise: batch.then((values) => values[i]), freshUntil: Infinity };
      this.store(key, entry);
      entry.promise.then(
        () => {
          if (this.ttlMs > 0) entry.freshUntil = this.clock() + this.ttlMs;
          else if (this.entries.get(key) === entry) this.entries.delete(key);
        },
        () => { if (this.entries.get(key) === entry) this.entries.delete(key); },
      );
    });
    return keys.map((key, i) => result[i] ?? this.entries.get(key)!.promise);
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, entry: Entry<V>): void {
    this.entries.delete(key); // re-insert at the end: Map order is the eviction order
    this.entries.set(key, entry);
    if (this.entries.size <= this.maxEntries) return;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      // Never drop a flight in progress that others may be about to join: it ends soon on its own.
      if (e.freshUntil !== Infinity) this.entries.delete(k);
    }
  }
}
