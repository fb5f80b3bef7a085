// The view processors of a running platform: the live pipeline, replays inside the process and the
// switch, following a pointer moved by another process, and recovery when the store lost its data.
import type { TopicBackend } from '../../topics/types.ts';
import type { Pipeline, ProcessorView } from '../pipeline.ts';
import type { Topology } from '../topology.ts';
import { INITIAL_GENERATION, type ViewStore } from '../../sinks/view-store.ts';
import { pipelineStatus, readingStored } from '../../serving/status.ts';
import { LIVE_BATCHING, rebuildBatching, rebuildThreads, type Batching } from './batching.ts';
import {
  carryOver, forwardersGroupPrefix, liveGroupPrefix, nextGeneration, REBUILD_LEASE_MS, rebuildOwner, ReplayRefused, replaySet, takeRebuildLease, viewProcessors, writtenBy,
} from './plan.ts';
import { beginRebuild, type Rebuild, type ReplayProgress, type StartViews } from './rebuild.ts';
import { createSnapshot, snapshotName } from './snapshots.ts';

/** How long the old generation outlives the switch: well past the 250 ms readers cache the pointer. */
const OLD_GENERATION_GRACE_MS = 1_000;

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
  const startViews: StartViews = (generation, groupPrefix, only, batching = LIVE_BATCHING[views.kind], ownThreads, writtenBefore) =>
    options.startViews(generation, groupPrefix, only, batching, ownThreads, writtenBefore);
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
  /** This process as a holder of the store's rebuild lease (plan.ts takeRebuildLease). */
  const owner = rebuildOwner();
  /** The store lost data and another process holds the lease: its switch is awaited (watch). */
  let awaitedRebuilder: string | undefined;
  /** The store's identity as this process knows it (lostData). */
  let identity = await views.identity();

  const processors = () => pipelines.flatMap((p) => p.processors);
  /** What each live processor has applied (ProcessorView.offsets), which a store that lost data no longer holds. */
  const appliedOffsets = async () => Object.fromEntries(await Promise.all(processors().map(async (p) => [p.name, await p.offsets()] as const)));
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
  // up it switches to the live batching in place (watch), whose smaller cap bounds a burst's memory.
  let rebuildBatched = rebuilding && views.kind === 'embedded';

  /**
   * The live pipelines of a generation, started alike in every process so that replicas share its
   * groups: the first generation's in one group; a replayed one's as its switch left them, the
   * processors that own views in the group they were rebuilt in, the forwarders in one of their own.
   */
  const owners = replaySet(topology, 'all');
  const forwarders = all.filter((name) => !owners.includes(name));
  async function startGeneration(target: string, batching?: Batching): Promise<Pipeline[]> {
    if (target === INITIAL_GENERATION || forwarders.length === 0) return [await startViews(target, liveGroupPrefix(target), all, batching)];
    return [await startViews(target, liveGroupPrefix(target), owners, batching), await startViews(target, forwardersGroupPrefix(target), forwarders, batching)];
  }
  pipelines = await startGeneration(generation, rebuildBatched ? rebuildBatching(views.kind, options.rebuildBatchEffects) : undefined);

  /**
   * The lag of the live processors over the partitions this process applies. On Kafka other replicas
   * apply the rest, and counting those from 0 made a rebuild look caught up while it was not.
   */
  async function lagOf(list: ProcessorView[]): Promise<number> {
    return (await pipelineStatus(backend, list, { heldOnly: true })).lag;
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
        // Processors that were already here (one core: no threads of their own) keep their state and
        // take on the live batching in place; a rebuild's cap would let a burst after the switch
        // hold millions of effects.
        job.pipeline.setBatching(LIVE_BATCHING[views.kind]);
        // Not past a stop of the platform: it waits for this replay to settle.
        const restored = job.pipeline.restored().then(() => true);
        while (!stopped && !(await Promise.race([restored, new Promise<boolean>((r) => setTimeout(() => r(false), pollMs))])));
        await catchUp();
      }
      progress.phase = 'switching';
      const switching = Date.now();
      const took = () => `${Date.now() - switching} ms`;
      // What the old pipeline applied, before its stop revokes its partitions (and forgets them).
      const applied = await appliedOffsets();
      // The old pipeline stops first, so what is carried over is exactly what it wrote.
      for (const p of pipelines) await p.stop();
      pipelines = [];
      const stoppedIn = took();
      const others = all.filter((name) => !replayed.includes(name));
      const copied = await carryOver(views, old, progress.generation, others, false);
      // Where the carried processors really got: after a recovery the old generation lost part of
      // their offsets, and forwarders restarted from 0 appended a copy of all they had forwarded.
      // Its last batches are in the store, what it applied before is in `applied`: the furthest of both.
      const furthest = await writtenBy(views, progress.generation, others, applied);
      for (const name of others) {
        if (furthest[name].length) await views.applyBatch({ generation: progress.generation, processor: name, effects: [], offsets: furthest[name] });
      }
      // After a whole replay the others are the forwarders, started as startGeneration starts them.
      // A partial replay's (other view owners too) get a group that no other process joins: a
      // partial replay is for a platform with one processing process.
      const whole = owners.every((name) => replayed.includes(name));
      const rest = others.length ? [await startViews(progress.generation, whole ? forwardersGroupPrefix(progress.generation) : `${liveGroupPrefix(progress.generation)}-carried`, others)] : [];
      // The switch: one pointer write. Readers see the old generation before it, the new one after.
      await views.setCurrentGeneration(progress.generation);
      const pointerIn = took();
      generation = progress.generation;
      pipelines = [job.pipeline, ...rest];
      rebuilding = false;
      rebuildBatched = false;
      // Readers cache the pointer for a moment (serving/read hotCacheMs): the old generation stays
      // readable until none can still be reading it, or a feed read then comes back empty. On Redis
      // other replicas may still write it until they follow the pointer (a poll, then their stop):
      // dropped before, their last batches brought part of it back, as `darkroom replay` knew already.
      if (!keepOld) {
        await new Promise((r) => setTimeout(r, views.kind === 'redis' ? Math.max(OLD_GENERATION_GRACE_MS, 3 * pollMs) : OLD_GENERATION_GRACE_MS));
        await views.dropGeneration(old);
      }
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
      if (pipelines.length === 0 && !stopped) pipelines = await startGeneration(generation);
    } finally {
      rebuild = undefined;
      await views.releaseRebuild(owner).catch(() => {});
    }
  }

  async function beginReplay(requested: string[] | 'all', keepOld: boolean, reason: ReplayProgress['reason'], snapshot?: string): Promise<ReplayProgress> {
    if (rebuild) throw new ReplayRefused(`a replay into ${rebuild.progress.generation} is already running`);
    if (starting) throw new ReplayRefused(`${starting} is being set up; try again when it has started`);
    const replayed = replaySet(topology, requested);
    starting = 'a replay';
    try {
      await takeRebuildLease(views, owner);
      const target = nextGeneration(await views.generations(), generation);
      const start = snapshot === undefined ? 'offset 0' : `snapshot ${snapshot}`;
      rebuild = await beginRebuild({
        views, backend, topology, startViews, from: generation, generation: target, processors: replayed, reason, snapshot,
        // Every rebuilt processor off this thread, which serves (rebuildThreads).
        rebuildBatchEffects: options.rebuildBatchEffects, ownThreads: rebuildThreads(replayed, true),
        applied: await appliedOffsets(),
      });
      log(`replay: rebuilding ${replayed.join(', ')} from ${start} into generation ${target} (${reason}); serving stays on ${generation}`);
    } catch (error) {
      await views.releaseRebuild(owner).catch(() => {});
      throw error;
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

  /** Another process (darkroom replay on Kafka + Redis) switched the pointer: follow it. */
  async function follow(target: string): Promise<void> {
    log(`views: generation pointer moved ${generation} → ${target}; moving the processors`);
    for (const p of pipelines) await p.stop();
    generation = target;
    awaitedRebuilder = undefined;
    identity = await views.identity();
    pipelines = await startGeneration(generation);
  }

  /**
   * The store lost data (e.g. Redis restarted empty) when its identity changed, or when its offsets
   * are behind what this process applied. Offsets alone tell late under traffic: the live pipeline's
   * next batch of a partition writes its offset again, and the loss showed only on partitions that
   * had no batch since (the identity check was added for that).
   */
  async function lostData(): Promise<string | undefined> {
    const now = await views.identity();
    if (now !== identity) return `its identity changed from ${identity} to ${now}: emptied or replaced`;
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
      // From the offsets in the store: on Kafka other replicas apply the partitions this one does not.
      if (rebuilding && !rebuild && (await pipelineStatus(backend, readingStored(processors(), (name) => views.offsets(generation, name)))).lag === 0) {
        // The same processors go on live, with their state: no restart, no second restore.
        const switched = rebuildBatched;
        if (switched) {
          rebuildBatched = false;
          for (const p of pipelines) p.setBatching(LIVE_BATCHING[views.kind]);
        }
        rebuilding = false;
        log(`views: rebuild of generation ${generation} complete${switched ? '; processors go on with the live batching' : ''}`);
      }
      if (rebuild) {
        // Renewed every poll; a rebuilder that died leaves it to end within REBUILD_LEASE_MS.
        if (!(await views.leaseRebuild(owner, REBUILD_LEASE_MS))) log(`replay: the rebuild lease is held by ${await views.rebuildLeaseHolder()}, not by this process`);
        return;
      }
      const pointer = await views.currentGeneration();
      if (pointer !== generation && (await views.generations()).includes(pointer)
        && (await Promise.all(all.map((n) => views.offsets(pointer, n)))).some((o) => o.length)) {
        await follow(pointer);
        return;
      }
      const lost = await lostData();
      if (lost) {
        // Replicas sharing the store all notice; one rebuilds, the others follow its switch.
        if (!(await views.leaseRebuild(owner, REBUILD_LEASE_MS))) {
          const holder = (await views.rebuildLeaseHolder()) ?? 'another process';
          if (awaitedRebuilder !== holder) log(`views: the view store lost data (${lost}); ${holder} is rebuilding every view, this process follows its switch`);
          awaitedRebuilder = holder;
          return;
        }
        awaitedRebuilder = undefined;
        const current = await views.identity();
        log(`views: the view store lost data (${lost}); rebuilding every view into a new generation`);
        rebuilding = true;
        await beginReplay('all', false, 'recovery');
        identity = current; // once the rebuild runs: a refused one is tried again at the next check
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
    status: () => ({ generation, state: rebuilding || awaitedRebuilder ? 'rebuilding' : 'serving', replay }),
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
