// What a replay covers: which processors it rebuilds, which views each owns, what is carried over at
// the switch, and whether the topics still hold the history a rebuild from offset 0 needs.
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
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { TopicBackend, TopicPartitionOffset } from '../../topics/types.ts';
import type { WrittenBefore } from '../pipeline.ts';
import type { Topology } from '../topology.ts';
import { INITIAL_GENERATION, offsetField, type ViewStore } from '../../sinks/view-store.ts';
import { blockedByKey, blocksKey, celebritiesFollowedKey, feedKey, followingKey, postKey, profileKey, timelineKey } from '../feed-fanout/keys.ts';
import { statsKey } from '../engagement-counters/keys.ts';
import { activeStoriesKey, seenPostsKey, seenStoriesKey } from '../seen-state/keys.ts';
import { FLAGGED_SET_KEY, flaggedKey } from '../abuse/keys.ts';

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

/** The view processors of a topology: what replay can rebuild, forwarders included. */
export function viewProcessors(topology: Topology): string[] {
  return topology.nodes.filter((n) => n.sink === 'views').map((n) => n.processor.name);
}

/** Which processors a request rebuilds from 0: the named ones, or every one that owns views. */
export function replaySet(topology: Topology, requested: string[] | 'all'): string[] {
  const all = viewProcessors(topology);
  const owning = all.filter((name) => VIEW_OWNERS[name]?.length !== 0);
  if (requested === 'all') return owning;
  for (const name of requested) {
    if (!all.includes(name)) throw new ReplayRefused(`unknown processor "${name}" (processors a replay rebuilds: ${owning.join(', ')})`);
    if (!owning.includes(name)) {
      throw new ReplayRefused(`${name} owns no views, it only forwards records to an internal topic: replaying it would append copies of them; replay the processors that own views (${owning.join(', ')})`);
    }
  }
  return [...new Set(requested)];
}

/**
 * The consumer-group prefix of a generation's live view processors, the same in every process. A
 * rebuild of generation G runs in it and goes on live in it after the switch, and every replica that
 * follows the pointer to G joins it, so the group spreads G's partitions over all of them. (Replicas
 * that followed used to join the first generation's group while the rebuilt pipeline stayed in its
 * own: both groups applied every partition, and counters counted twice.) The first generation keeps
 * the prefix of earlier releases, so a rolling upgrade does not run two groups side by side.
 */
export function liveGroupPrefix(generation: string): string {
  return generation === INITIAL_GENERATION ? 'darkroom' : `darkroom-replay-${generation}`;
}

/**
 * The group of a replayed generation's forwarders. They are not rebuilt, so at the switch they start
 * beside the rebuilt pipeline, in a group of their own: in one group with it, members reading
 * different topics would split a topic's partitions between them.
 */
export function forwardersGroupPrefix(generation: string): string {
  return `${liveGroupPrefix(generation)}-forwarders`;
}

/** How long a rebuild lease runs unless renewed (every poll): a rebuilder that died frees it by then. */
export const REBUILD_LEASE_MS = 30_000;

/** Who holds a rebuild lease, as other processes see it: host, pid, and a tag unique to this holder. */
export function rebuildOwner(): string {
  return `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

/**
 * Takes the store's rebuild lease for `owner`, or refuses naming who holds it: processes sharing a
 * store (`darkroom process` replicas, a `darkroom replay` beside them) rebuild one at a time, or two
 * would write the same next generation, or switch the pointer back and forth.
 */
export async function takeRebuildLease(views: ViewStore, owner: string): Promise<void> {
  if (!(await views.leaseRebuild(owner, REBUILD_LEASE_MS))) {
    throw new ReplayRefused(`another process is rebuilding the views (${(await views.rebuildLeaseHolder()) ?? 'its lease just ended'}); try again once it has switched`);
  }
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

/**
 * Per processor, the offsets `generation` holds: its pipeline wrote the internal records (and dead
 * letters) of every input record below them before the batch that holds them, so a rebuild that
 * replaces it need not append them again (RuntimeOptions.writtenBefore). A generation that lost its
 * data (recovery) holds fewer, and the rebuild writes what it cannot vouch for; readers drop re-sent
 * internal records by their origin.
 */
export async function writtenBy(views: ViewStore, generation: string, processors: string[], applied: WrittenBefore = {}): Promise<WrittenBefore> {
  return Object.fromEntries(await Promise.all(processors.map(async (name) => {
    // With `applied`, what the running pipeline of `generation` reports it applied: more than the
    // store holds once the store lost data (recovery).
    const furthest = new Map<string, TopicPartitionOffset>();
    for (const o of [...await views.offsets(generation, name), ...(applied[name] ?? [])]) {
      const key = offsetField(o);
      if ((furthest.get(key)?.offset ?? -1) < o.offset) furthest.set(key, o);
    }
    return [name, [...furthest.values()]];
  })));
}

/** Sum of the offsets a generation holds for `processors`: where a rebuild from it starts counting. */
export async function heldRecords(views: ViewStore, generation: string, processors: string[]): Promise<number> {
  let total = 0;
  for (const name of processors) for (const o of await views.offsets(generation, name)) total += o.offset;
  return total;
}

export const ownerOf = (key: string): string | undefined =>
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
