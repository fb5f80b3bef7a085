// Replay: rebuild views from offset 0 of the topics into a new generation while serving keeps reading
// the current one, then switch in one atomic pointer update and drop the old generation.
//
// A rebuild needs nothing from the runtime: it is `startPipeline` with fresh processors, its own
// consumer groups (`darkroom-replay-<gen>`) and sinks writing the new generation. That generation
// holds no offsets, so every processor starts at offset 0. Live ingest goes on throughout: the live
// pipeline keeps the old generation current, the rebuild follows the same topics into the new one,
// and since each generation has its own offsets, nothing is lost or counted twice across the switch.
//
// Who replays what:
// - Processors that write views (feed-fanout, trending-hashtags, ...) are rebuilt from 0.
// - Forwarders (they only write internal topics: trending-hashtags-extract, engagement-deletions,
//   abuse-follows-by-follower) are not: replaying them would only append copies of their internal
//   topics. At the switch their offsets are carried into the new generation.
// - A partial replay (`--processor feed-fanout`) carries the other processors' views and offsets over
//   at the switch, after the old pipeline stopped, so the copy is exact (see VIEW_OWNERS).
// - Analytics rows are facts, not derived views, and are deduplicated by (topic, partition, offset):
//   replay leaves the analytics tables and the analytics processor untouched.
import type { TopicBackend, TopicPartitionOffset } from '../topics/types.ts';
import { onOwnThread, type Pipeline, type ProcessorView } from './pipeline.ts';
import type { Topology } from './topology.ts';
import { checkGeneration, type ViewEntry, type ViewStore } from '../sinks/view-store.ts';
import { pipelineStatus } from '../serving/status.ts';
import { blockedByKey, blocksKey, celebritiesFollowedKey, feedKey, followingKey, postKey, profileKey, timelineKey } from './feed-fanout/keys.ts';
import { statsKey } from './engagement-counters/keys.ts';
import { ReplayRate, secondsLeft } from './replay-rate.ts';
import { activeStoriesKey, seenPostsKey, seenStoriesKey } from './seen-state/keys.ts';
import { FLAGGED_SET_KEY, flaggedKey } from './abuse/keys.ts';

/**
 * The logical key prefixes each processor owns (from each processor's keys.ts), so a partial replay
 * knows which views to rebuild and which to carry over. An empty list marks a forwarder.
 */
export const VIEW_OWNERS: Record<string, string[]> = {
  'feed-fanout': [feedKey(''), timelineKey(''), postKey(''), followingKey(''), celebritiesFollowedKey(''), blocksKey(''), blockedByKey(''), profileKey('')],
  'trending-hashtags': ['trending:'],
  'engagement-counters': [statsKey('')],
  'seen-state': [seenPostsKey(''), seenStoriesKey(''), activeStoriesKey('')],
  'abuse-bot-follows': [flaggedKey(''), FLAGGED_SET_KEY],
  'trending-hashtags-extract': [],
  'engagement-deletions': [],
  'abuse-follows-by-follower': [],
};

/** A replay that must not run; the message is for the person who asked. */
export class ReplayRefused extends Error {}

/** Runtime batching for a pipeline (processors/runtime.ts defaults when absent). */
export interface Batching { maxBatchEffects?: number; lingerMs?: number }

/**
 * Starts view processors writing `generation` (the composition root knows workers, codec, sinks).
 * Rebuilds pass `batching`: they start far behind, so larger batches pay (see REBUILD_BATCHING);
 * rebuilds pass `ownThreads` (see rebuildThreads), for startPipeline.
 */
export type StartViews = (generation: string, groupPrefix: string, only: string[], batching?: Batching, ownThreads?: string[][]) => Promise<Pipeline>;

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
 * "Rebuild batches of 12M effects"). DARKROOM_REBUILD_BATCH_EFFECTS sets another cap. Memory is
 * bounded by the cap. The
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

export type ReplayPhase = 'replaying' | 'switching' | 'done' | 'failed';

export interface ReplayProgress {
  generation: string;
  from: string;
  processors: string[];
  reason: 'requested' | 'recovery';
  /** The snapshot the rebuild started from (views and offsets copied), absent for a rebuild from offset 0. */
  snapshot?: string;
  phase: ReplayPhase;
  /** Input records the rebuild has applied, summed over its processors (a topic read by 3 counts 3 times). */
  replayed: number;
  /** Records on those inputs right now; grows with live ingest. */
  total: number;
  lag: number;
  /** Lag of each rebuilt processor: which one holds the replay back. */
  lagByProcessor: Record<string, number>;
  eventsPerSecond: number;
  secondsLeft: number | null;
  startedAt: number;
  finishedAt?: number;
  error?: string;
}

/** The view processors of a topology: what replay can rebuild, forwarders included. */
export function viewProcessors(topology: Topology): string[] {
  return topology.nodes.filter((n) => n.sink === 'views').map((n) => n.processor.name);
}

/** Which processors a request rebuilds from 0: the named ones, or every one that owns views. */
export function replaySet(topology: Topology, requested: string[] | 'all'): string[] {
  const all = viewProcessors(topology);
  if (requested === 'all') return all.filter((name) => VIEW_OWNERS[name]?.length !== 0);
  for (const name of requested) {
    if (!all.includes(name)) throw new ReplayRefused(`unknown processor "${name}" (view processors: ${all.join(', ')})`);
  }
  return [...new Set(requested)];
}

/** g1 → g2 → ...; never reuses a name that still has data. */
export function nextGeneration(existing: string[], current: string): string {
  const numbers = [...existing, current].map((g) => /^g(\d+)$/.exec(g)?.[1]).filter(Boolean).map(Number);
  return `g${Math.max(1, ...numbers) + 1}`;
}

/**
 * Retention: a rebuild from offset 0 of a topic that already lost its oldest records would give
 * partial views without saying so. Refuse, naming the first hole.
 */
export async function checkFullHistory(backend: TopicBackend, topology: Topology, processors: string[]): Promise<void> {
  const topics = new Set(topology.nodes.filter((n) => processors.includes(n.processor.name)).flatMap((n) => n.processor.inputs));
  for (const topic of [...topics].sort()) {
    for (const start of await backend.startOffsets(topic)) {
      if (start.offset > 0) {
        throw new ReplayRefused(`cannot replay: topic ${topic} partition ${start.partition} starts at offset ${start.offset} (older records were removed by retention), so a rebuild from offset 0 would be partial; replaying needs the full history, or a snapshot of the views (see README, Replay)`);
      }
    }
  }
}

// Snapshots. A snapshot is a generation nobody writes any more, together with the offsets it holds:
// the views at a known offset of every input. `darkroom snapshot create` copies the current
// generation into one (snap-<UTC time>); a generation kept by `replay --keep-old` is one too. A replay
// from a snapshot copies the snapshot's views and offsets of the replayed processors into the new
// generation and processes from those offsets, so it needs only the records after the snapshot: the
// way out when retention removed the start of a topic. The trade-off, by design: stateful processors
// rebuild their in-memory state from what the topics still hold, so state older than retention
// (follower lists, like ledgers, active stories) is missing for later events, and a logic change
// applies only to events after the snapshot.

/** A snapshot as `darkroom snapshot list` shows it. */
export interface SnapshotInfo {
  generation: string;
  /** Records of the view processors' inputs the snapshot's views reflect, per processor. */
  records: Record<string, number>;
  /** Why a replay cannot start from it (retention went past it, a processor is missing), or null. */
  unusable: string | null;
}

/** snap-20261122-023500: sorts by time, and is a valid generation name. */
export function snapshotName(now: number): string {
  return `snap-${new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

const inputsOf = (topology: Topology, name: string): readonly string[] =>
  topology.nodes.find((n) => n.processor.name === name)?.processor.inputs ?? [];

/**
 * Can a replay of `processors` start from `snapshot`? It must hold offsets of every one of them, and
 * every input partition must still hold the records from the snapshot's offset on (retention must
 * not have gone past the snapshot). Refuses with the first reason, naming it.
 */
export async function checkSnapshot(options: {
  views: ViewStore; backend: TopicBackend; topology: Topology; snapshot: string; current: string; processors: string[];
}): Promise<void> {
  const { views, backend, topology, snapshot, processors } = options;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(snapshot)) throw new ReplayRefused(`invalid snapshot name "${snapshot}": use 1-64 letters, digits, '-' or '_'`);
  const known = await views.generations();
  if (!known.includes(snapshot)) {
    const others = known.filter((g) => g !== options.current);
    throw new ReplayRefused(`no snapshot ${snapshot} (snapshots: ${others.join(', ') || 'none'}; take one with darkroom snapshot create)`);
  }
  if (snapshot === options.current) {
    throw new ReplayRefused(`${snapshot} is the generation serving reads, not a snapshot: take one with darkroom snapshot create`);
  }
  const starts = new Map<string, Map<number, number>>();
  const startOf = async (topic: string, partition: number) => {
    let topicStarts = starts.get(topic);
    if (!topicStarts) starts.set(topic, (topicStarts = new Map((await backend.startOffsets(topic)).map((o) => [o.partition, o.offset]))));
    return topicStarts.get(partition) ?? 0;
  };
  for (const name of processors) {
    const held = new Map((await views.offsets(snapshot, name)).map((o) => [`${o.topic}:${o.partition}`, o.offset]));
    if (held.size === 0) throw new ReplayRefused(`snapshot ${snapshot} holds no offsets of ${name}, so its views are not at a known offset; use another snapshot`);
    const stateful = topology.nodes.find((n) => n.processor.name === name)?.stateful ?? false;
    for (const topic of [...inputsOf(topology, name)].sort()) {
      for (const end of await backend.endOffsets(topic)) {
        const at = held.get(`${topic}:${end.partition}`) ?? 0;
        const start = await startOf(topic, end.partition);
        if (start > at) {
          throw new ReplayRefused(`cannot replay from snapshot ${snapshot}: topic ${topic} partition ${end.partition} starts at offset ${start} (older records were removed by retention) but the snapshot's ${name} views stop at offset ${at}, so the records in between are gone; use a newer snapshot`);
        }
        // The runtime restores a stateful task by reading its partitions from their first record up to
        // the resume point, and waits for the record just before it: a partition that retention emptied
        // up to exactly the snapshot would never finish restoring (processors/runtime.ts onAssigned).
        if (stateful && at > 0 && start === at) {
          throw new ReplayRefused(`cannot replay ${name} from snapshot ${snapshot}: topic ${topic} partition ${end.partition} holds no record before the snapshot's offset ${at}, and the runtime restores the processor's state from those; take snapshots more often than retention removes records`);
        }
      }
    }
  }
}

/** Every generation other than the current one that holds offsets: what a replay could start from. */
export async function listSnapshots(views: ViewStore, backend: TopicBackend, topology: Topology): Promise<SnapshotInfo[]> {
  const current = await views.currentGeneration();
  const processors = replaySet(topology, 'all');
  const out: SnapshotInfo[] = [];
  for (const generation of await views.generations()) {
    if (generation === current) continue;
    const records: Record<string, number> = {};
    for (const name of processors) records[name] = (await views.offsets(generation, name)).reduce((sum, o) => sum + o.offset, 0);
    if (Object.values(records).every((n) => n === 0)) continue; // scratch or empty: not a snapshot
    const unusable = await checkSnapshot({ views, backend, topology, snapshot: generation, current, processors })
      .then(() => null, (error: Error) => error.message);
    out.push({ generation, records, unusable });
  }
  return out;
}

/**
 * Copies `from` (every view, every view processor's offsets) into a new snapshot generation. The
 * store makes the copy consistent against this process's writers (one lmdb transaction; on Redis the
 * batches of this process wait meanwhile); writers in other processes are not held, so with several
 * `darkroom process` replicas keep a generation with `replay --keep-old` instead.
 */
export async function createSnapshot(views: ViewStore, topology: Topology, from: string, name: string): Promise<{ generation: string; views: number }> {
  try { checkGeneration(name); } catch { throw new ReplayRefused(`invalid snapshot name "${name}": use 1-64 letters, digits, '-' or '_'`); }
  if ((await views.generations()).includes(name) || name === from) throw new ReplayRefused(`generation ${name} already exists; choose another snapshot name`);
  if (/^g\d+$/.test(name) || name.startsWith('verify-')) throw new ReplayRefused(`snapshot names g<N> and verify-* are reserved for replays and verify`);
  if ((await heldRecords(views, from, viewProcessors(topology))) === 0) throw new ReplayRefused(`generation ${from} holds no processed records yet: nothing to snapshot`);
  const copied = await views.copyGeneration(from, name, { processors: viewProcessors(topology) });
  return { generation: name, views: copied };
}

/** Sum of the offsets a generation holds for `processors`: where a rebuild from it starts counting. */
async function heldRecords(views: ViewStore, generation: string, processors: string[]): Promise<number> {
  let total = 0;
  for (const name of processors) for (const o of await views.offsets(generation, name)) total += o.offset;
  return total;
}

/**
 * Starts a rebuild of `processors` into `generation`: from offset 0, or from `snapshot` (its views
 * and offsets of those processors copied first, after checkSnapshot).
 */
async function beginRebuild(options: {
  views: ViewStore; backend: TopicBackend; topology: Topology; startViews: StartViews;
  from: string; generation: string; processors: string[]; reason?: ReplayProgress['reason']; snapshot?: string;
  rebuildBatchEffects?: number; ownThreads?: string[][];
}): Promise<Rebuild> {
  const { views, snapshot } = options;
  const batching = rebuildBatching(views.kind, options.rebuildBatchEffects);
  if (snapshot === undefined) {
    await checkFullHistory(options.backend, options.topology, options.processors);
    return startRebuild({ ...options, batching });
  }
  await checkSnapshot({ views, backend: options.backend, topology: options.topology, snapshot, current: options.from, processors: options.processors });
  const owning = options.processors.filter((p) => VIEW_OWNERS[p]?.length !== 0);
  await views.copyGeneration(snapshot, options.generation, {
    processors: options.processors,
    keys: (key) => { const owner = ownerOf(key); return owner !== undefined && owning.includes(owner); },
  });
  return startRebuild({ ...options, batching, baseline: await heldRecords(views, options.generation, options.processors) });
}

async function* entriesOf(views: ViewStore, generation: string, pageSize = 500): AsyncGenerator<ViewEntry> {
  let cursor: string | undefined;
  do {
    const page = await views.scan(generation, cursor, pageSize);
    yield* page.entries;
    cursor = page.cursor;
  } while (cursor !== undefined);
}

const ownerOf = (key: string): string | undefined =>
  Object.entries(VIEW_OWNERS).find(([, prefixes]) => prefixes.some((p) => key === p || key.startsWith(p)))?.[0];

/**
 * Copies the views owned by `processors` (by VIEW_OWNERS, plus keys no processor claims when
 * `unclaimed`) and their offsets from one generation to another, inside the store. The writers of
 * `from` must be stopped, or views and offsets would not match.
 */
export async function carryOver(views: ViewStore, from: string, to: string, processors: string[], unclaimed: boolean): Promise<number> {
  const owning = processors.filter((p) => VIEW_OWNERS[p]?.length !== 0);
  return views.copyGeneration(from, to, {
    processors,
    // Forwarders own no views: then only offsets move, without a walk over the whole generation.
    offsetsOnly: owning.length === 0 && !unclaimed,
    keys: (key) => { const owner = ownerOf(key); return owner ? owning.includes(owner) : unclaimed; },
  });
}

/** A rebuild in progress: its pipeline and how far it got. */
export interface Rebuild {
  readonly progress: ReplayProgress;
  pipeline: Pipeline;
  /** Measures lag and rate again (call every second or so). */
  refresh(): Promise<ReplayProgress>;
  /**
   * Moves the rebuilt processors onto this thread when some run on threads of their own (`ownThreads`):
   * stops the rebuild's pipeline and starts a live-batched one from the offsets it committed, which
   * restores their state from the topics. The rebuild's generation is not served meanwhile.
   */
  moveToThisThread(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRebuild(options: {
  backend: TopicBackend; topology: Topology; startViews: StartViews;
  from: string; generation: string; processors: string[]; reason?: ReplayProgress['reason'];
  /** A rebuild from a snapshot: its name, and the input records its offsets already cover (not counted as replayed). */
  snapshot?: string; baseline?: number;
  batching?: Batching;
  /** Processors on threads of their own while it rebuilds (rebuildThreads; see moveToThisThread). */
  ownThreads?: string[][];
}): Promise<Rebuild> {
  const { backend, generation } = options;
  const baseline = options.baseline ?? 0;
  const groupPrefix = `darkroom-replay-${generation}`;
  const pipeline = await options.startViews(generation, groupPrefix, options.processors, options.batching, options.ownThreads);
  const progress: ReplayProgress = {
    generation, from: options.from, processors: options.processors, reason: options.reason ?? 'requested',
    ...(options.snapshot ? { snapshot: options.snapshot } : {}), phase: 'replaying',
    replayed: 0, total: 0, lag: 0, lagByProcessor: {}, eventsPerSecond: 0, secondsLeft: null, startedAt: Date.now(),
  };
  const rate = new ReplayRate(progress.startedAt);
  let stopping: Promise<void> | undefined;
  const job: Rebuild = {
    progress,
    pipeline,
    async refresh() {
      const status = await pipelineStatus(backend, job.pipeline.processors);
      let total = 0;
      for (const p of job.pipeline.processors) {
        for (const topic of p.inputs) for (const end of await backend.endOffsets(topic)) total += end.offset;
      }
      const now = Date.now();
      progress.total = total - baseline;
      progress.lag = status.lag;
      progress.lagByProcessor = Object.fromEntries(Object.entries(status.processors).map(([name, p]) => [name, p.lag]));
      progress.replayed = Math.max(0, total - status.lag - baseline);
      progress.eventsPerSecond = rate.record(now, progress.replayed);
      progress.secondsLeft = secondsLeft(progress.lag, progress.eventsPerSecond);
      return progress;
    },
    async moveToThisThread() {
      if (!job.pipeline.processors.some(onOwnThread)) return;
      await job.pipeline.stop();
      job.pipeline = await options.startViews(generation, groupPrefix, options.processors);
    },
    stop: () => (stopping ??= job.pipeline.stop()),
  };
  return job;
}

export interface ViewsStatus {
  generation: string;
  /** `rebuilding` while the views are known to be incomplete (lost store, first start on old topics). */
  state: 'serving' | 'rebuilding';
  replay: ReplayProgress | null;
}

export interface LiveViewsOptions {
  views: ViewStore;
  backend: TopicBackend;
  topology: Topology;
  startViews: StartViews;
  log?: (line: string) => void;
  /** How often the generation pointer and the stored offsets are checked. Default 1000 ms. */
  pollMs?: number;
  /** The rebuild may switch once it is within this many records of the live pipeline. Default 100. */
  catchUpSlack?: number;
  /** Effects per batch of a rebuild, instead of REBUILD_BATCHING's. */
  rebuildBatchEffects?: number;
}

export interface LiveViews {
  /** The generation this process writes and serves. */
  generation(): string;
  /** The live view processors, for /v1/status, /healthz and the dashboard. */
  processors(): ProcessorView[];
  status(): ViewsStatus;
  /**
   * Starts a replay (from offset 0, or from `fromSnapshot`); resolves once it runs (progress in
   * status().replay), rejects with ReplayRefused.
   */
  replay(request: { processors: string[] | 'all'; keepOld?: boolean; fromSnapshot?: string }): Promise<ReplayProgress>;
  /** Copies the current generation into a snapshot (default name snap-<UTC time>). */
  snapshot(name?: string): Promise<{ generation: string; from: string; views: number }>;
  /** Resolves when the replay in progress (if any) has switched or failed. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The view processors of a running platform and their generation. It moves them to a new
 * generation after a replay (its own, or one done by `darkroom replay` in another process, seen as
 * a change of the pointer), and rebuilds when the view store lost its data.
 */
export async function startLiveViews(options: LiveViewsOptions): Promise<LiveViews> {
  const { views, backend, topology } = options;
  // Live pipelines batch as LIVE_BATCHING says; a rebuild passes its own (REBUILD_BATCHING).
  const startViews: StartViews = (generation, groupPrefix, only, batching = LIVE_BATCHING[views.kind], ownThreads) =>
    options.startViews(generation, groupPrefix, only, batching, ownThreads);
  const log = options.log ?? (() => {});
  const pollMs = options.pollMs ?? 1000;
  const slack = options.catchUpSlack ?? 100;
  const all = viewProcessors(topology);

  let generation = await views.currentGeneration();
  let pipelines: Pipeline[] = [];
  let replay: ReplayProgress | null = null;
  let rebuild: Rebuild | undefined;
  let settledPromise: Promise<void> = Promise.resolve();
  let rebuilding = false;
  let stopped = false;
  let busy = false;
  /** A replay or snapshot being set up (copies take a while): one at a time. */
  let starting: string | undefined;

  const processors = () => pipelines.flatMap((p) => p.processors);
  const inputEnds = async (names: string[]) => {
    let total = 0;
    for (const node of topology.nodes) {
      if (!names.includes(node.processor.name)) continue;
      for (const topic of node.processor.inputs) for (const end of await backend.endOffsets(topic)) total += end.offset;
    }
    return total;
  };

  // Recovery on start: a processor with no offsets while its inputs hold records rebuilds from 0
  // (the runtime does that by itself); until it has caught up the views are incomplete, and say so.
  for (const name of all) {
    if ((await views.offsets(generation, name)).length === 0 && (await inputEnds([name])) > 0) {
      rebuilding = true;
      log(`views: ${name} has no offsets in generation ${generation} but its topics hold records: rebuilding from offset 0`);
    }
  }
  // Behind by a whole history, the pipeline batches as a rebuild does: with the live cap a first start
  // on 1.95M source events took 390-421 s against 50-60 s (bench/RESULTS.md, 2026-12-06). Once caught
  // up it starts again with the live batching (watch), whose smaller cap bounds a burst's memory.
  let rebuildBatched = rebuilding && views.kind === 'embedded';
  pipelines = [await startViews(generation, 'darkroom', all, rebuildBatched ? rebuildBatching(views.kind, options.rebuildBatchEffects) : undefined)];

  async function lagOf(list: ProcessorView[]): Promise<number> {
    return (await pipelineStatus(backend, list)).lag;
  }

  async function runReplay(job: Rebuild, replayed: string[], keepOld: boolean): Promise<void> {
    const progress = job.progress;
    const old = generation;
    try {
      // Caught up: the rebuild is as close to the topics' ends as the live pipeline is.
      const catchUp = async () => {
        for (;;) {
          if (stopped) throw new Error('platform stopping');
          await job.refresh();
          const live = processors().filter((p) => replayed.includes(p.name));
          if (progress.lag <= (await lagOf(live)) + slack) return;
          await new Promise((r) => setTimeout(r, Math.min(pollMs, 500)));
        }
      };
      await catchUp();
      // The rebuilt processors go on live after the switch, and live they belong on this thread
      // (rebuildThreads): they move here while the old generation still serves, and the switch
      // waits until they have caught up again.
      if (!stopped) {
        await job.moveToThisThread();
        // Not past a stop of the platform: it waits for this replay to settle.
        const restored = job.pipeline.restored().then(() => true);
        while (!stopped && !(await Promise.race([restored, new Promise<boolean>((r) => setTimeout(() => r(false), pollMs))])));
        await catchUp();
      }
      progress.phase = 'switching';
      const switching = Date.now();
      const took = () => `${Date.now() - switching} ms`;
      // The old pipeline stops first, so what is carried over is exactly what it wrote.
      for (const p of pipelines) await p.stop();
      pipelines = [];
      const stoppedIn = took();
      const others = all.filter((name) => !replayed.includes(name));
      const copied = await carryOver(views, old, progress.generation, others, false);
      const rest = others.length ? [await startViews(progress.generation, 'darkroom', others)] : [];
      // The switch: one pointer write. Readers see the old generation before it, the new one after.
      await views.setCurrentGeneration(progress.generation);
      const pointerIn = took();
      generation = progress.generation;
      pipelines = [job.pipeline, ...rest];
      rebuilding = false;
      rebuildBatched = false;
      if (!keepOld) await views.dropGeneration(old);
      await job.refresh();
      progress.phase = 'done';
      progress.finishedAt = Date.now();
      log(`replay: switched to generation ${generation} (${progress.replayed} records replayed, ${copied} views carried over${keepOld ? `, ${old} kept` : `, ${old} dropped`}; old pipeline stopped at +${stoppedIn}, pointer at +${pointerIn}, done at +${took()})`);
    } catch (error) {
      progress.phase = 'failed';
      progress.error = (error as Error).message;
      progress.finishedAt = Date.now();
      log(`replay into ${progress.generation} failed: ${progress.error}`);
      if (!pipelines.includes(job.pipeline)) await job.stop().catch(() => {});
      if (pipelines.length === 0 && !stopped) pipelines = [await startViews(generation, 'darkroom', all)];
    } finally {
      rebuild = undefined;
    }
  }

  async function beginReplay(requested: string[] | 'all', keepOld: boolean, reason: ReplayProgress['reason'], snapshot?: string): Promise<ReplayProgress> {
    if (rebuild) throw new ReplayRefused(`a replay into ${rebuild.progress.generation} is already running`);
    if (starting) throw new ReplayRefused(`${starting} is being set up; try again when it has started`);
    const replayed = replaySet(topology, requested);
    starting = 'a replay';
    try {
      const target = nextGeneration(await views.generations(), generation);
      const start = snapshot === undefined ? 'offset 0' : `snapshot ${snapshot}`;
      rebuild = await beginRebuild({
        views, backend, topology, startViews, from: generation, generation: target, processors: replayed, reason, snapshot,
        // Every rebuilt processor off this thread, which serves (rebuildThreads).
        rebuildBatchEffects: options.rebuildBatchEffects, ownThreads: rebuildThreads(replayed, true),
      });
      log(`replay: rebuilding ${replayed.join(', ')} from ${start} into generation ${target} (${reason}); serving stays on ${generation}`);
    } finally {
      starting = undefined;
    }
    replay = rebuild.progress;
    settledPromise = runReplay(rebuild, replayed, keepOld);
    return replay;
  }

  async function takeSnapshot(name: string | undefined): Promise<{ generation: string; from: string; views: number }> {
    if (rebuild) throw new ReplayRefused(`a replay into ${rebuild.progress.generation} is running; take the snapshot once it has switched`);
    if (starting) throw new ReplayRefused(`${starting} is being set up; try again when it has started`);
    starting = 'a snapshot';
    try {
      const from = generation;
      const made = await createSnapshot(views, topology, from, name ?? snapshotName(Date.now()));
      log(`snapshot: copied generation ${from} into ${made.generation} (${made.views} views, with the offsets they hold)`);
      return { ...made, from };
    } finally {
      starting = undefined;
    }
  }

  /** Stops the live pipelines and starts them again on `target`, with the live batching. */
  async function restartLive(target: string): Promise<void> {
    for (const p of pipelines) await p.stop();
    generation = target;
    pipelines = [await startViews(generation, 'darkroom', all)];
  }

  /** Another process (darkroom replay on Kafka + Redis) switched the pointer: follow it. */
  async function follow(target: string): Promise<void> {
    log(`views: generation pointer moved ${generation} → ${target}; moving the processors`);
    await restartLive(target);
  }

  /** Stored offsets behind what this process applied means the store lost data (e.g. Redis restarted empty). */
  async function lostData(): Promise<string | undefined> {
    for (const p of processors()) {
      // Snapshot first: the store only moves ahead of what the runtime reports, never behind.
      const applied = new Map(p.running.progress().offsets);
      const stored = new Map((await views.offsets(generation, p.name)).map((o) => [`${o.topic}:${o.partition}`, o.offset]));
      for (const [key, offset] of applied) {
        if (offset > 0 && (stored.get(key) ?? 0) < offset) return `${p.name} applied ${key} up to ${offset} but the store holds ${stored.get(key) ?? 'nothing'}`;
      }
    }
    return undefined;
  }

  async function watch(): Promise<void> {
    if (busy || stopped) return;
    busy = true;
    try {
      if (rebuilding && !rebuild && (await lagOf(processors())) === 0) {
        // Still "rebuilding" (healthz 503) until the live pipeline has taken over.
        const restart = rebuildBatched;
        if (restart) {
          rebuildBatched = false;
          await restartLive(generation);
        }
        rebuilding = false;
        log(`views: rebuild of generation ${generation} complete${restart ? '; processors restarted with the live batching' : ''}`);
        if (restart) return;
      }
      if (rebuild) return;
      const pointer = await views.currentGeneration();
      if (pointer !== generation && (await views.generations()).includes(pointer)
        && (await Promise.all(all.map((n) => views.offsets(pointer, n)))).some((o) => o.length)) {
        await follow(pointer);
        return;
      }
      const lost = await lostData();
      if (lost) {
        log(`views: the view store lost data (${lost}); rebuilding every view into a new generation`);
        rebuilding = true;
        await beginReplay('all', false, 'recovery');
      }
    } catch (error) {
      log(`views: check failed: ${(error as Error).message}`);
    } finally {
      busy = false;
    }
  }
  /** The check in progress: stop waits for it, as it may be moving the processors. */
  let watching: Promise<void> = Promise.resolve();
  const timer = setInterval(() => { if (!busy) watching = watch(); }, pollMs);
  timer.unref?.();

  return {
    generation: () => generation,
    processors,
    status: () => ({ generation, state: rebuilding ? 'rebuilding' : 'serving', replay }),
    replay: (request) => beginReplay(request.processors, request.keepOld ?? false, 'requested', request.fromSnapshot),
    snapshot: (name) => takeSnapshot(name),
    settled: () => settledPromise,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await watching;
      await settledPromise.catch(() => {});
      for (const p of pipelines) await p.stop();
      pipelines = [];
    },
  };
}

/**
 * A replay run by a process that is not the live one (`darkroom replay` on Kafka + Redis, or on the
 * embedded store while no platform runs): rebuild, stop, carry the forwarders' offsets over, switch
 * the pointer. Live processes follow the pointer (startLiveViews polls it). Only a whole replay can
 * run this way: the views of processors that are not replayed keep changing in the live process.
 */
export async function replayStandalone(options: {
  views: ViewStore; backend: TopicBackend; topology: Topology; startViews: StartViews;
  keepOld?: boolean; onProgress?: (p: ReplayProgress) => void; pollMs?: number;
  /** The live processes follow the pointer within this; the old generation is dropped after it. */
  followGraceMs?: number;
  /** Start from this snapshot's views and offsets instead of offset 0. */
  fromSnapshot?: string;
  /** Effects per batch of the rebuild, instead of REBUILD_BATCHING's. */
  rebuildBatchEffects?: number;
}): Promise<ReplayProgress> {
  const { views, backend, topology } = options;
  const replayed = replaySet(topology, 'all');
  const from = await views.currentGeneration();
  const generation = nextGeneration(await views.generations(), from);
  const job = await beginRebuild({
    views, backend, topology, startViews: options.startViews, from, generation, processors: replayed, snapshot: options.fromSnapshot,
    rebuildBatchEffects: options.rebuildBatchEffects, ownThreads: rebuildThreads(replayed, false),
  });
  try {
    for (;;) {
      const p = await job.refresh();
      options.onProgress?.(p);
      if (p.lag === 0) break;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
    job.progress.phase = 'switching';
    // The progress stays as measured at lag 0: a stopped pipeline holds no partitions, so measuring
    // again would count nothing replayed.
    await job.stop();
    // Forwarders keep running live; their offsets as of now (a little behind at most: whatever they
    // forward again is dropped downstream by its source position, see runtime.ts).
    await carryOver(views, from, generation, viewProcessors(topology).filter((n) => !replayed.includes(n)), false);
    await views.setCurrentGeneration(generation);
    if (!options.keepOld) {
      await new Promise((r) => setTimeout(r, options.followGraceMs ?? 3000));
      await views.dropGeneration(from);
    }
    job.progress.phase = 'done';
    job.progress.finishedAt = Date.now();
    options.onProgress?.(job.progress);
    return job.progress;
  } catch (error) {
    job.progress.phase = 'failed';
    job.progress.error = (error as Error).message;
    await job.stop().catch(() => {});
    throw error;
  }
}

export interface Difference { key: string; a: string | null; b: string | null }

/** Canonical text of a view, so two generations (or two stores) compare by value. */
function canonical(entry: ViewEntry): string {
  if (entry.type === 'hash') return `hash ${JSON.stringify(Object.entries(entry.fields).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))}`;
  return `zset ${JSON.stringify(entry.members.map((m) => [m.member, m.score === Infinity ? 'inf' : m.score]))}`;
}

/** Compares two generations view by view; `limit` caps the differences listed (all are counted). */
export async function compareGenerations(views: ViewStore, a: string, b: string, limit = 100, otherStore: ViewStore = views): Promise<{ keys: number; differing: number; differences: Difference[] }> {
  const left = new Map<string, string>();
  for await (const entry of entriesOf(views, a)) left.set(entry.key, canonical(entry));
  const right = new Map<string, string>();
  for await (const entry of entriesOf(otherStore, b)) right.set(entry.key, canonical(entry));
  const differences: Difference[] = [];
  let differing = 0;
  for (const key of [...new Set([...left.keys(), ...right.keys()])].sort()) {
    const x = left.get(key) ?? null;
    const y = right.get(key) ?? null;
    if (x === y) continue;
    differing++;
    if (differences.length < limit) differences.push({ key, a: x, b: y });
  }
  return { keys: new Set([...left.keys(), ...right.keys()]).size, differing, differences };
}

/** Offsets a generation holds per view processor, to tell whether two generations saw the same input. */
export async function generationOffsets(views: ViewStore, generation: string, names: string[]): Promise<Record<string, TopicPartitionOffset[]>> {
  const out: Record<string, TopicPartitionOffset[]> = {};
  for (const name of names) out[name] = await views.offsets(generation, name);
  return out;
}

/**
 * `darkroom verify` without a second generation: rebuilds every view into a scratch generation from
 * offset 0, waits until it holds every record, compares it with `generation` and drops it. Meaningful
 * when no events arrive meanwhile (the compared generation must have seen the same records).
 */
export async function verifyAgainstRebuild(options: {
  views: ViewStore; backend: TopicBackend; topology: Topology; startViews: StartViews; generation: string; limit?: number;
  /** Effects per batch of the rebuild, instead of REBUILD_BATCHING's. */
  rebuildBatchEffects?: number;
}): Promise<{ scratch: string; keys: number; differing: number; differences: Difference[] }> {
  const { views, backend, topology } = options;
  const replayed = replaySet(topology, 'all');
  await checkFullHistory(backend, topology, replayed);
  const scratch = `verify-${Date.now().toString(36)}`;
  const job = await startRebuild({
    backend, topology, startViews: options.startViews, from: options.generation, generation: scratch, processors: replayed,
    batching: rebuildBatching(views.kind, options.rebuildBatchEffects), ownThreads: rebuildThreads(replayed, false),
  });
  try {
    while ((await job.refresh()).lag > 0) await new Promise((r) => setTimeout(r, 200));
    await job.stop();
    return { scratch, ...(await compareGenerations(views, options.generation, scratch, options.limit)) };
  } finally {
    await job.stop().catch(() => {});
    await views.dropGeneration(scratch).catch(() => {});
  }
}
