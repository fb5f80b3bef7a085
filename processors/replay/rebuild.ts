// A rebuild: view processors writing a new generation from offset 0 (or from a snapshot), on consumer
// groups of their own, and how far it got. Nothing here switches serving; the callers do
// (live-views.ts inside the platform, standalone.ts from another process).
import type { TopicBackend } from '../../topics/types.ts';
import { onOwnThread, type Pipeline, type WrittenBefore } from '../pipeline.ts';
import type { Topology } from '../topology.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import { pipelineStatus } from '../../serving/status.ts';
import { rebuildBatching, type Batching } from './batching.ts';
import { checkFullHistory, heldRecords, liveGroupPrefix, ownerOf, VIEW_OWNERS, writtenBy } from './plan.ts';
import { ReplayRate, secondsLeft } from './rate.ts';
import { checkSnapshot } from './snapshots.ts';

/**
 * Starts view processors writing `generation` (the composition root knows workers, codec, sinks).
 * Rebuilds pass `batching`: they start far behind, so larger batches pay (see REBUILD_BATCHING);
 * rebuilds pass `ownThreads` (see rebuildThreads), for startPipeline.
 */
export type StartViews = (
  generation: string, groupPrefix: string, only: string[], batching?: Batching, ownThreads?: string[][], writtenBefore?: WrittenBefore,
) => Promise<Pipeline>;

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

/**
 * Starts a rebuild of `processors` into `generation`: from offset 0, or from `snapshot` (its views
 * and offsets of those processors copied first, after checkSnapshot).
 */
export async function beginRebuild(options: {
  views: ViewStore; backend: TopicBackend; topology: Topology; startViews: StartViews;
  from: string; generation: string; processors: string[]; reason?: ReplayProgress['reason']; snapshot?: string;
  rebuildBatchEffects?: number; ownThreads?: string[][];
  /** What the live pipeline of `from` applied (ProcessorView.offsets), when it runs in this process. */
  applied?: WrittenBefore;
}): Promise<Rebuild> {
  const { views, snapshot } = options;
  const batching = rebuildBatching(views.kind, options.rebuildBatchEffects);
  if (snapshot === undefined) {
    await checkFullHistory(options.backend, options.topology, options.processors);
    return startRebuild({ ...options, batching, writtenBefore: await writtenBy(views, options.from, options.processors, options.applied) });
  }
  await checkSnapshot({ views, backend: options.backend, topology: options.topology, snapshot, current: options.from, processors: options.processors });
  const owning = options.processors.filter((p) => VIEW_OWNERS[p]?.length !== 0);
  await views.copyGeneration(snapshot, options.generation, {
    processors: options.processors,
    keys: (key) => { const owner = ownerOf(key); return owner !== undefined && owning.includes(owner); },
  });
  return startRebuild({
    ...options, batching, baseline: await heldRecords(views, options.generation, options.processors),
    writtenBefore: await writtenBy(views, options.from, options.processors, options.applied),
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
  /** What the pipeline of `from` wrote to internal topics (writtenBy): not written again. */
  writtenBefore?: WrittenBefore;
}): Promise<Rebuild> {
  const { backend, generation } = options;
  const baseline = options.baseline ?? 0;
  const groupPrefix = liveGroupPrefix(generation);
  const pipeline = await options.startViews(generation, groupPrefix, options.processors, options.batching, options.ownThreads, options.writtenBefore);
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
      job.pipeline = await options.startViews(generation, groupPrefix, options.processors, undefined, undefined, options.writtenBefore);
    },
    stop: () => (stopping ??= job.pipeline.stop()),
  };
  return job;
}
