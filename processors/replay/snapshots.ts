// Snapshots. A snapshot is a generation nobody writes any more, together with the offsets it holds:
// the views at a known offset of every input. `darkroom snapshot create` copies the current
// generation into one (snap-<UTC time>); a generation kept by `replay --keep-old` is one too. A replay
// from a snapshot copies the snapshot's views and offsets of the replayed processors into the new
// generation and processes from those offsets, so it needs only the records after the snapshot: the
// way out when retention removed the start of a topic. The trade-off, by design: stateful processors
// rebuild their in-memory state from what the topics still hold, so state older than retention
// (follower lists, like ledgers, active stories) is missing for later events, and a logic change
// applies only to events after the snapshot.
import type { TopicBackend } from '../../topics/types.ts';
import type { Topology } from '../topology.ts';
import { checkGeneration, type ViewStore } from '../../sinks/view-store.ts';
import { heldRecords, ReplayRefused, replaySet, viewProcessors } from './plan.ts';

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
