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

export interface ProcessorStatus {
  lag: number;
  [detail: string]: unknown;
}

/**
 * lag = events on the topics that are not yet in every view: for each processor, the end offsets
 * of its inputs minus the offsets its sink holds. lag 0 means every view reflects every accepted event.
 */
export async function pipelineStatus(backend: TopicBackend, processors: ProcessorStatusSource[]) {
  const ends = new Map<string, TopicPartitionOffset[]>();
  const endsOf = async (topic: string) => {
    let e = ends.get(topic);
    if (!e) ends.set(topic, (e = await backend.endOffsets(topic)));
    return e;
  };
  const result: Record<string, ProcessorStatus> = {};
  let total = 0;
  for (const p of processors) {
    const held = new Map((await p.offsets()).map((o) => [`${o.topic}:${o.partition}`, o.offset]));
    let lag = 0;
    for (const topic of p.inputs) {
      for (const end of await endsOf(topic)) lag += Math.max(0, end.offset - (held.get(`${topic}:${end.partition}`) ?? 0));
    }
    total += lag;
    result[p.name] = { lag, ...p.details?.() };
  }
  return { lag: total, processors: result };
}

export function statusRouter(backend: TopicBackend, processors: () => ProcessorStatusSource[], extra: () => Record<string, unknown> = () => ({})): Router {
  const router = Router();
  router.get('/v1/status', async (_req, res, next) => {
    try {
      res.json({ ...(await pipelineStatus(backend, processors())), ...extra() });
    } catch (error) {
      next(error);
    }
  });
  return router;
}
