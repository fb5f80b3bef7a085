import { Router } from 'express';
import type { TopicBackend, TopicPartitionOffset } from '../topics/types.ts';

export interface ProcessorStatusSource {
  name: string;
  inputs: readonly string[];
  /** Offsets the processor's sink holds (what is really in the views). */
  offsets(): Promise<TopicPartitionOffset[]>;
  /** Extra fields for the status page: restoring, restore time, errors... */
  details?(): Record<string, unknown>;
}

/**
 * The same sources, with the offsets `stored` reads for each (a sink shared with other processes)
 * instead of those this process applied: on Kafka a process applies only its share of partitions.
 */
export function readingStored<S extends ProcessorStatusSource>(sources: S[], stored: (name: string) => Promise<TopicPartitionOffset[]>): S[] {
  return sources.map((source) => ({ ...source, offsets: () => stored(source.name) }));
}

export interface ProcessorStatus {
  lag: number;
  [detail: string]: unknown;
}

/**
 * lag = events on the topics that are not yet in every view: for each processor, the end offsets
 * of its inputs minus the offsets its sink holds. lag 0 means every view reflects every accepted event.
 *
 * Every sink's offsets are read before any end offset. A forwarder writes its internal records before
 * its sink takes its offsets, so an internal topic's end read afterwards includes whatever the
 * forwarders had forwarded when their offsets were read. Read the other way round (a processor's
 * offsets, then its topics' ends, one processor after the other) a forwarder could flush between
 * its consumer's turn and its own and both would show lag 0 while the consumer lacked the records
 * just forwarded: a "caught up" that was not (seen after a rebuild, which lists the rebuilt
 * consumers before the forwarders).
 */
export async function pipelineStatus(backend: TopicBackend, processors: ProcessorStatusSource[], options: {
  /** Only partitions the offsets name (those this process applies), not every partition from 0. */
  heldOnly?: boolean;
} = {}) {
  const held = await Promise.all(processors.map(async (p) => new Map((await p.offsets()).map((o) => [`${o.topic}:${o.partition}`, o.offset]))));
  const ends = new Map<string, TopicPartitionOffset[]>();
  for (const topic of new Set(processors.flatMap((p) => p.inputs))) ends.set(topic, await backend.endOffsets(topic));
  const result: Record<string, ProcessorStatus> = {};
  let total = 0;
  processors.forEach((p, i) => {
    let lag = 0;
    for (const topic of p.inputs) {
      for (const end of ends.get(topic)!) {
        const at = held[i].get(`${topic}:${end.partition}`);
        if (at === undefined && options.heldOnly) continue;
        lag += Math.max(0, end.offset - (at ?? 0));
      }
    }
    total += lag;
    result[p.name] = { lag, ...p.details?.() };
  });
  return { lag: total, processors: result };
}

export function statusRouter(backend: TopicBackend, processors: () => ProcessorStatusSource[], extra: () => Record<string, unknown> | Promise<Record<string, unknown>> = () => ({})): Router {
  const router = Router();
  router.get('/v1/status', async (_req, res, next) => {
    try {
      res.json({ ...(await pipelineStatus(backend, processors())), ...(await extra()) });
    } catch (error) {
      next(error);
    }
  });
  return router;
}
