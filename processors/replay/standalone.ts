import type { TopicBackend } from '../../topics/types.ts';
import type { Topology } from '../topology.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import { rebuildThreads } from './batching.ts';
import { carryOver, nextGeneration, REBUILD_LEASE_MS, rebuildOwner, replaySet, takeRebuildLease, viewProcessors } from './plan.ts';
import { beginRebuild, type ReplayProgress, type StartViews } from './rebuild.ts';

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
  // Replicas that lost their store rebuild under the same lease: one rebuild at a time.
  const owner = rebuildOwner();
  await takeRebuildLease(views, owner);
  try {
    return await rebuild();
  } finally {
    await views.releaseRebuild(owner).catch(() => {});
  }

  async function rebuild(): Promise<ReplayProgress> {
    const from = await views.currentGeneration();
    const generation = nextGeneration(await views.generations(), from);
    const job = await beginRebuild({
      views, backend, topology, startViews: options.startViews, from, generation, processors: replayed, snapshot: options.fromSnapshot,
      rebuildBatchEffects: options.rebuildBatchEffects, ownThreads: rebuildThreads(replayed, false),
    });
    try {
      for (;;) {
        await views.leaseRebuild(owner, REBUILD_LEASE_MS);
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
}
