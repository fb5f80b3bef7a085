// How a pipeline batches: live (small batches, short linger: latency) or rebuilding (huge batches:
// throughput), and which processors a rebuild puts on threads of their own.
import type { ViewStore } from '../../sinks/view-store.ts';
import type { Batching } from '../runtime.ts';

export type { Batching } from '../runtime.ts';

/**
 * Batching of the live view processors. The linger sets the event-to-view latency at ordinary rates.
 * On the embedded store 10 ms instead of the runtime's 20 ms measured p50 ~27 against ~38 ms and p99
 * ~90 against ~97 ms into the product views at 10k events/s (bench/pipeline-throughput.ts, five
 * alternating pairs; at 5 ms the p99 was 113-119 ms: more batches rewrite the same feeds more often).
 * Redis keeps 20 ms: its p99 is well inside its target and every batch is a script readers wait for.
 * The size cap matters only when a processor is behind (a burst, a restart on a backlog), where
 * batches grow while the previous one commits. A 200k-effect cap on the embedded store measured ~64k
 * against ~55k events/s on bench/pipeline-throughput.ts, but in the burst fault test
 * (test/integration/faults-burst.test.ts) it raised the child's peak anonymous memory to +958 MB
 * (bound 1 GB): the live views keep the runtime's 50k cap on both stores. On Redis a batch is also
 * one Lua script that blocks every reader while it runs.
 */
export const LIVE_BATCHING: Record<ViewStore['kind'], Batching> = {
  embedded: { lingerMs: 10 },
  redis: {},
};

/**
 * Batching of a rebuild. A rebuild starts millions of records behind, so it is throughput-bound
 * from start to end: bench/replay-throughput.ts (1.19M source events, 20k users) rebuilt at ~20k
 * source events/s with the live 50k effects per batch and 62k with 1.5M, where a feed is decoded and
 * written about once per batch whatever number of posts enter it. At 100k users and 3.95M source
 * events, 3M effects per batch rebuilt at 24.5k events/s against 17.9k with 1.5M (bench/RESULTS.md,
 * "Rebuild batches of 3M effects"). Since a fanout is one effect, a batch holds far fewer objects
 * per effect, and 12M rebuilt the same run 1.26x faster than 3M (median of three standalone replays,
 * 114.1 against 143.7 s) for ~0.9 GB more resident memory at the peak (30M: 103.3 s, ~2.2 GB more;
 * "Rebuild batches of 12M effects"); 40M was no faster than 12M at 3.95M source events (62.6 · 62.4
 * s against 60.3 · 54.8 s, "A full batch written while the next one is folded").
 * DARKROOM_REBUILD_BATCH_EFFECTS sets another cap. Memory is bounded by twice the cap (the batch
 * written and one queued behind it; runtime.ts flushFull). The
 * rebuilt pipeline goes on as the live one after the switch, where the linger (the live one's)
 * keeps batches small. On Redis a batch is one script that blocks serving's reads of the old generation while it runs,
 * and Redis answers BUSY to every other client once a script passes 5 s: the rebuild keeps the
 * runtime's 50k cap there. 200k was tried (bench/RESULTS.md, "Redis rebuild batches"): at 1.25M
 * source events the rebuild ran ~15% faster (fewer TYPE, ZADD and trim calls per feed effect), but at
 * 10M events, with full feeds, its longest script took 4.4 s and reads waited seconds (p99 3.4 s).
 */
export const REBUILD_BATCHING: Record<ViewStore['kind'], Batching> = {
  embedded: { maxBatchEffects: 12_000_000, lingerMs: LIVE_BATCHING.embedded.lingerMs },
  redis: {},
};

/**
 * Processors a rebuild runs on a worker thread each, on the embedded log: feed-fanout is every
 * rebuild's tail, and alone on a thread it has a core to itself.
 */
export const REBUILD_OWN_THREADS: readonly string[] = ['feed-fanout'];

/**
 * The worker threads a rebuild of `processors` asks for (startPipeline's `ownThreads`). A rebuild
 * that ends when it has caught up (`darkroom replay` while no platform runs, `darkroom verify`'s
 * fresh rebuild) puts REBUILD_OWN_THREADS there and the other processors on the first thread.
 * A replay inside the running platform (`offTheFirst`) takes every processor it rebuilds off the
 * first thread, which serves the read API there: a rebuild batch is one write transaction that held
 * it for seconds (event-loop stalls of up to 3.3 s at 3M effects per batch; bench/RESULTS.md,
 * "Serving during a replay inside the platform"). The others share one thread: each thread loads its
 * own modules and state, and they catch up long before feed-fanout does (bench/RESULTS.md, "One
 * thread for the rest of a replay"). Live, such threads cost latency (product-view p99 176 and 253 ms
 * against 101 and 105 ms at 10k events/s, "feed-fanout on a thread of its own"), so once caught up
 * that replay moves its processors back to the first thread before it switches
 * (Rebuild.moveToThisThread).
 */
export function rebuildThreads(processors: readonly string[], offTheFirst: boolean): string[][] {
  const alone = processors.filter((name) => REBUILD_OWN_THREADS.includes(name)).map((name) => [name]);
  const others = processors.filter((name) => !REBUILD_OWN_THREADS.includes(name));
  return offTheFirst && others.length > 0 ? [...alone, others] : alone;
}

/** A rebuild's batching on `kind`, with the effects cap a user set (DARKROOM_REBUILD_BATCH_EFFECTS) if any. */
export function rebuildBatching(kind: ViewStore['kind'], maxBatchEffects?: number): Batching {
  return maxBatchEffects === undefined ? REBUILD_BATCHING[kind] : { ...REBUILD_BATCHING[kind], maxBatchEffects };
}
