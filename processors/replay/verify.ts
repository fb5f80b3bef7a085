// `darkroom verify`: two generations compared view by view, or one against a fresh rebuild.
import type { TopicBackend, TopicPartitionOffset } from '../../topics/types.ts';
import type { Topology } from '../topology.ts';
import type { ViewEntry, ViewStore } from '../../sinks/view-store.ts';
import { rebuildBatching, rebuildThreads } from './batching.ts';
import { checkFullHistory, replaySet, writtenBy } from './plan.ts';
import { startRebuild, type StartViews } from './rebuild.ts';

async function* entriesOf(views: ViewStore, generation: string, pageSize = 500): AsyncGenerator<ViewEntry> {
  let cursor: string | undefined;
  do {
    const page = await views.scan(generation, cursor, pageSize);
    yield* page.entries;
    cursor = page.cursor;
  } while (cursor !== undefined);
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

const clip = (text: string) => (text.length > 160 ? `${text.slice(0, 160)}…` : text);

/**
 * What differs in one view, as lines for a person: the fields of two hashes that differ, the members
 * of two sorted sets only one side holds or holds with another score (at most `most` of each), or
 * the two values clipped when their types differ or one is absent. Whole values cut at a fixed width
 * hid the field that differed (a post's is_private comes after its caption).
 */
export function describeDifference(d: Difference, names: [string, string], most = 5): string[] {
  const [na, nb] = names;
  const kind = (v: string | null) => v?.slice(0, 4);
  if (d.a === null || d.b === null || kind(d.a) !== kind(d.b)) {
    return [`${na}: ${d.a === null ? '(absent)' : clip(d.a)}`, `${nb}: ${d.b === null ? '(absent)' : clip(d.b)}`];
  }
  const a = new Map<string, unknown>(JSON.parse(d.a.slice(5)) as Array<[string, unknown]>);
  const b = new Map<string, unknown>(JSON.parse(d.b.slice(5)) as Array<[string, unknown]>);
  const show = (v: unknown) => (v === undefined ? '(absent)' : clip(JSON.stringify(v)));
  const changed = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  const noun = kind(d.a) === 'hash' ? 'field' : 'member';
  const lines = changed.slice(0, most).map((k) => `${noun} ${JSON.stringify(k)}: ${na} ${show(a.get(k))}, ${nb} ${show(b.get(k))}`);
  if (changed.length > most) lines.push(`... and ${changed.length - most} more ${noun}s differ (${na} holds ${a.size}, ${nb} ${b.size})`);
  return lines;
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
    writtenBefore: await writtenBy(views, options.generation, replayed),
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
