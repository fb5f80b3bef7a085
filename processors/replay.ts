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
import type { Effect } from './effects.ts';
import type { Pipeline, ProcessorView } from './pipeline.ts';
import type { Topology } from './topology.ts';
import type { ViewEntry, ViewStore } from '../sinks/view-store.ts';
import { pipelineStatus } from '../serving/status.ts';
import { blockedByKey, blocksKey, celebritiesFollowedKey, feedKey, followingKey, postKey, profileKey, timelineKey } from './feed-fanout/keys.ts';
import { statsKey } from './engagement-counters/keys.ts';
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

/** Starts view processors writing `generation` (the composition root knows workers, codec, sinks). */
export type StartViews = (generation: string, groupPrefix: string, only: string[]) => Promise<Pipeline>;

export type ReplayPhase = 'replaying' | 'switching' | 'done' | 'failed';

export interface ReplayProgress {
  generation: string;
  from: string;
  processors: string[];
  reason: 'requested' | 'recovery';
  phase: ReplayPhase;
  /** Input records the rebuild has applied, summed over its processors (a topic read by 3 counts 3 times). */
  replayed: number;
  /** Records on those inputs right now; grows with live ingest. */
  total: number;
  lag: number;
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

/** A view as effects that recreate it in another generation. */
function effectsOf(entry: ViewEntry): Effect[] {
  if (entry.type === 'hash') return [{ kind: 'hset', key: entry.key, fields: entry.fields }];
  if (!entry.expiring) return [{ kind: 'zreplace', key: entry.key, entries: entry.members }];
  return entry.members.map((m) => ({ kind: 'sadd', key: entry.key, member: m.member, ...(m.score === Infinity ? {} : { expiresAt: m.score }) }));
}

/**
 * Copies the views owned by `processors` (by VIEW_OWNERS, plus keys no processor claims when
 * `unclaimed`) and their offsets from one generation to another. The writers of `from` must be
 * stopped, or views and offsets would not match.
 */
export async function carryOver(views: ViewStore, from: string, to: string, processors: string[], unclaimed: boolean): Promise<number> {
  let copied = 0;
  const owning = processors.filter((p) => VIEW_OWNERS[p]?.length !== 0);
  if (owning.length || unclaimed) {
    let effects: Effect[] = [];
    const flush = async () => {
      if (effects.length) await views.applyBatch({ generation: to, processor: 'replay-carry-over', effects, offsets: [] });
      effects = [];
    };
    for await (const entry of entriesOf(views, from)) {
      const owner = ownerOf(entry.key);
      if (owner ? !owning.includes(owner) : !unclaimed) continue;
      effects.push(...effectsOf(entry));
      copied++;
      if (effects.length >= 5_000) await flush();
    }
    await flush();
  }
  for (const processor of processors) {
    const offsets = await views.offsets(from, processor);
    if (offsets.length) await views.applyBatch({ generation: to, processor, effects: [], offsets });
  }
  return copied;
}

/** A rebuild in progress: its pipeline and how far it got. */
export interface Rebuild {
  readonly progress: ReplayProgress;
  pipeline: Pipeline;
  /** Measures lag and rate again (call every second or so). */
  refresh(): Promise<ReplayProgress>;
  stop(): Promise<void>;
}

export async function startRebuild(options: {
  backend: TopicBackend; topology: Topology; startViews: StartViews;
  from: string; generation: string; processors: string[]; reason?: ReplayProgress['reason'];
}): Promise<Rebuild> {
  const { backend, generation } = options;
  const pipeline = await options.startViews(generation, `darkroom-replay-${generation}`, options.processors);
  const progress: ReplayProgress = {
    generation, from: options.from, processors: options.processors, reason: options.reason ?? 'requested', phase: 'replaying',
    replayed: 0, total: 0, lag: 0, eventsPerSecond: 0, secondsLeft: null, startedAt: Date.now(),
  };
  let last = { at: Date.now(), replayed: 0 };
  let stopping: Promise<void> | undefined;
  return {
    progress,
    pipeline,
    async refresh() {
      const status = await pipelineStatus(backend, pipeline.processors);
      let total = 0;
      for (const p of pipeline.processors) {
        for (const topic of p.inputs) for (const end of await backend.endOffsets(topic)) total += end.offset;
      }
      const now = Date.now();
      progress.total = total;
      progress.lag = status.lag;
      progress.replayed = total - status.lag;
      const recent = (progress.replayed - last.replayed) / Math.max(0.001, (now - last.at) / 1000);
      // Average over the whole run until the first second, then the recent rate (it changes as topics change).
      progress.eventsPerSecond = Math.round(now - progress.startedAt < 2000 ? progress.replayed / Math.max(0.001, (now - progress.startedAt) / 1000) : recent);
      progress.secondsLeft = progress.eventsPerSecond > 0 ? Math.ceil(progress.lag / progress.eventsPerSecond) : null;
      last = { at: now, replayed: progress.replayed };
      return progress;
    },
    stop: () => (stopping ??= pipeline.stop()),
  };
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
}

export interface LiveViews {
  /** The generation this process writes and serves. */
  generation(): string;
  /** The live view processors, for /v1/status, /healthz and the dashboard. */
  processors(): ProcessorView[];
  status(): ViewsStatus;
  /** Starts a replay; resolves once it runs (progress in status().replay), rejects with ReplayRefused. */
  replay(request: { processors: string[] | 'all'; keepOld?: boolean }): Promise<ReplayProgress>;
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
  const { views, backend, topology, startViews } = options;
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
  pipelines = [await startViews(generation, 'darkroom', all)];

  async function lagOf(list: ProcessorView[]): Promise<number> {
    return (await pipelineStatus(backend, list)).lag;
  }

  async function runReplay(job: Rebuild, replayed: string[], keepOld: boolean): Promise<void> {
    const progress = job.progress;
    const old = generation;
    try {
      // Caught up: the rebuild is as close to the topics' ends as the live pipeline is.
      for (;;) {
        if (stopped) throw new Error('platform stopping');
        await job.refresh();
        const live = processors().filter((p) => replayed.includes(p.name));
        if (progress.lag <= (await lagOf(live)) + slack) break;
        await new Promise((r) => setTimeout(r, Math.min(pollMs, 500)));
      }
      progress.phase = 'switching';
      // The old pipeline stops first, so what is carried over is exactly what it wrote.
      for (const p of pipelines) await p.stop();
      pipelines = [];
      const others = all.filter((name) => !replayed.includes(name));
      const copied = await carryOver(views, old, progress.generation, others, false);
      const rest = others.length ? [await startViews(progress.generation, 'darkroom', others)] : [];
      // The switch: one pointer write. Readers see the old generation before it, the new one after.
      await views.setCurrentGeneration(progress.generation);
      generation = progress.generation;
      pipelines = [job.pipeline, ...rest];
      rebuilding = false;
      if (!keepOld) await views.dropGeneration(old);
      await job.refresh();
      progress.phase = 'done';
      progress.finishedAt = Date.now();
      log(`replay: switched to generation ${generation} (${progress.replayed} records replayed, ${copied} views carried over${keepOld ? `, ${old} kept` : `, ${old} dropped`})`);
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

  async function beginReplay(requested: string[] | 'all', keepOld: boolean, reason: ReplayProgress['reason']): Promise<ReplayProgress> {
    if (rebuild) throw new ReplayRefused(`a replay into ${rebuild.progress.generation} is already running`);
    const replayed = replaySet(topology, requested);
    await checkFullHistory(backend, topology, replayed);
    const target = nextGeneration(await views.generations(), generation);
    log(`replay: rebuilding ${replayed.join(', ')} from offset 0 into generation ${target} (${reason}); serving stays on ${generation}`);
    rebuild = await startRebuild({ backend, topology, startViews, from: generation, generation: target, processors: replayed, reason });
    replay = rebuild.progress;
    settledPromise = runReplay(rebuild, replayed, keepOld);
    return replay;
  }

  /** Another process (darkroom replay on Kafka + Redis) switched the pointer: follow it. */
  async function follow(target: string): Promise<void> {
    log(`views: generation pointer moved ${generation} → ${target}; moving the processors`);
    for (const p of pipelines) await p.stop();
    generation = target;
    pipelines = [await startViews(generation, 'darkroom', all)];
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
        rebuilding = false;
        log(`views: rebuild of generation ${generation} complete`);
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
  const timer = setInterval(() => void watch(), pollMs);
  timer.unref?.();

  return {
    generation: () => generation,
    processors,
    status: () => ({ generation, state: rebuilding ? 'rebuilding' : 'serving', replay }),
    replay: (request) => beginReplay(request.processors, request.keepOld ?? false, 'requested'),
    settled: () => settledPromise,
    async stop() {
      stopped = true;
      clearInterval(timer);
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
}): Promise<ReplayProgress> {
  const { views, backend, topology } = options;
  const replayed = replaySet(topology, 'all');
  await checkFullHistory(backend, topology, replayed);
  const from = await views.currentGeneration();
  const generation = nextGeneration(await views.generations(), from);
  const job = await startRebuild({ backend, topology, startViews: options.startViews, from, generation, processors: replayed });
  try {
    for (;;) {
      const p = await job.refresh();
      options.onProgress?.(p);
      if (p.lag === 0) break;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
    job.progress.phase = 'switching';
    await job.stop();
    await job.refresh();
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
}): Promise<{ scratch: string; keys: number; differing: number; differences: Difference[] }> {
  const { views, backend, topology } = options;
  const replayed = replaySet(topology, 'all');
  await checkFullHistory(backend, topology, replayed);
  const scratch = `verify-${Date.now().toString(36)}`;
  const job = await startRebuild({ backend, topology, startViews: options.startViews, from: options.generation, generation: scratch, processors: replayed });
  try {
    while ((await job.refresh()).lag > 0) await new Promise((r) => setTimeout(r, 200));
    await job.stop();
    return { scratch, ...(await compareGenerations(views, options.generation, scratch, options.limit)) };
  } finally {
    await job.stop().catch(() => {});
    await views.dropGeneration(scratch).catch(() => {});
  }
}
