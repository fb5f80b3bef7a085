// The client side of the fault tests (test/integration/faults-*.test.ts): simulated product traffic
// posted to a darkroom child process over HTTP, with a ledger of what each request got back, and the
// reference the views must equal at the end: the views an undisturbed pipeline builds from exactly the
// events that got 202 (nothing else, each once).
import path from 'node:path';
import { expect } from 'vitest';
import { TOPICS, type DarkroomEvent } from '../../schemas/events.ts';
import type { Serde } from '../../schemas/serde.ts';
import type { TopicBackend, TopicRecord } from '../../topics/types.ts';
import type { Simulation } from '../../simulator/index.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import { startTestPlatform } from './platform.ts';
import { snapshotViews, type ViewsSnapshot } from './snapshot.ts';
import { eventually, sleep } from './tmp.ts';

export interface RequestOutcome {
  /** HTTP status, or 0 when the connection failed (process down). */
  status: number;
  retryAfter: string | null;
  ms: number;
  events: number;
  at: number;
}

/**
 * Posts batches of simulated events one request at a time, so the order of the accepted events is
 * the order they reached the topics (what the reference is built in).
 */
export class Traffic {
  readonly accepted: DarkroomEvent[] = [];
  readonly outcomes: RequestOutcome[] = [];
  /** Every request in the order sent, with its events and status. */
  readonly sent: Array<{ events: DarkroomEvent[]; status: number }> = [];

  constructor(private readonly base: () => string, private readonly simulation: Simulation, private readonly headers: Record<string, string> = {}) {}

  /** One request; its events count as accepted only on 202. */
  async post(events: DarkroomEvent[], timeoutMs = 60_000): Promise<RequestOutcome> {
    const started = Date.now();
    let status = 0;
    let retryAfter: string | null = null;
    try {
      const res = await fetch(`${this.base()}/v1/events`, {
        method: 'POST', body: JSON.stringify(events), signal: AbortSignal.timeout(timeoutMs),
        headers: { 'content-type': 'application/json', ...this.headers },
      });
      await res.arrayBuffer();
      status = res.status;
      retryAfter = res.headers.get('retry-after');
    } catch {
      status = 0; // refused, reset or timed out: the outcome is unknown to the client, and not a 202
    }
    if (status === 202) this.accepted.push(...events);
    this.sent.push({ events, status });
    const outcome = { status, retryAfter, ms: Date.now() - started, events: events.length, at: started };
    this.outcomes.push(outcome);
    return outcome;
  }

  async bootstrap(): Promise<void> {
    const world = [...this.simulation.bootstrap()];
    for (let i = 0; i < world.length; i += 2_000) {
      const outcome = await this.post(world.slice(i, i + 2_000));
      if (outcome.status !== 202) throw new Error(`bootstrap batch answered ${outcome.status}`);
    }
  }

  /** Batches of `batch` events every `intervalMs` until `until()` says stop (or `maxMs` passed). */
  async run(options: { batch: number; intervalMs: number; until: () => boolean; maxMs?: number }): Promise<void> {
    const deadline = Date.now() + (options.maxMs ?? 600_000);
    while (!options.until() && Date.now() < deadline) {
      const started = Date.now();
      await this.post(this.simulation.next(options.batch));
      await sleep(Math.max(0, options.intervalMs - (Date.now() - started)));
    }
  }

  /**
   * What the topics must hold, in the order it was sent: every accepted event, plus those events of
   * refused requests that `landed` says are there anyway (a request whose outcome was unknown).
   */
  expectedEvents(landed: Set<string>): DarkroomEvent[] {
    return this.sent.flatMap((r) => (r.status === 202 ? r.events : r.events.filter((e) => landed.has(e.event_id))));
  }

  /**
   * Events a second producing service wrote straight to the topics (createEventProducer on the same
   * log): durable once its `send` resolved, so they count like events that got 202.
   */
  recordDirect(events: DarkroomEvent[]): void {
    for (const event of events) this.accepted.push(event); // no spread: a chunk may hold 100k+ events
    this.sent.push({ events, status: 202 });
  }

  statuses(): Record<number, number> {
    const counts: Record<number, number> = {};
    for (const o of this.outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
    return counts;
  }
}

export interface DarkroomStatus {
  lag: number;
  views?: { state?: string; generation?: string; reason?: string };
  processors: Record<string, { lag: number }>;
}

export async function status(base: string, headers: Record<string, string> = {}): Promise<DarkroomStatus> {
  const res = await fetch(`${base}/v1/status`, { headers, signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`/v1/status answered ${res.status}`);
  return (await res.json()) as DarkroomStatus;
}

/** Until every view holds every record of the topics (lag 0) and no rebuild is going on. */
export async function caughtUp(base: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<DarkroomStatus> {
  return eventually(async () => {
    const s = await status(base, headers);
    return s.lag === 0 && s.views?.state !== 'rebuilding' ? s : undefined;
  }, timeoutMs, `darkroom at ${base} to catch up (lag 0, not rebuilding)`);
}

/** Rows and distinct event ids in the analytics `events` table, through the admin SQL route. */
export async function analyticsCounts(base: string, adminToken: string): Promise<{ rows: number; distinct: number }> {
  const res = await fetch(`${base}/v1/admin/sql`, {
    method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql: 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events' }),
  });
  if (res.status !== 200) throw new Error(`admin SQL answered ${res.status}: ${await res.text()}`);
  const { rows } = (await res.json()) as { rows: Array<{ rows: string | number; ids: string | number }> };
  return { rows: Number(rows[0].rows), distinct: Number(rows[0].ids) };
}

/** How many times each event id is in the analytics `events` table. */
export async function analyticsEventIds(base: string, adminToken: string): Promise<Map<string, number>> {
  const res = await fetch(`${base}/v1/admin/sql`, {
    method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql: 'SELECT event_id, count() AS n FROM events GROUP BY event_id' }),
  });
  if (res.status !== 200) throw new Error(`admin SQL answered ${res.status}: ${await res.text()}`);
  const { rows } = (await res.json()) as { rows: Array<{ event_id: string; n: string | number }> };
  return new Map(rows.map((r) => [r.event_id, Number(r.n)]));
}

/**
 * Exactly once for what got 202: each accepted event id once in analytics; anything else there must
 * be an event of a refused request (its outcome unknown to the client), also at most once.
 */
export function checkExactlyOnce(traffic: Traffic, ids: Map<string, number>): { landedRefused: Set<string>; missing: string[]; duplicated: string[]; unknown: string[] } {
  const accepted = new Set(traffic.accepted.map((e) => e.event_id));
  const refused = new Set(traffic.sent.filter((r) => r.status !== 202).flatMap((r) => r.events.map((e) => e.event_id)));
  const missing = [...accepted].filter((id) => !ids.has(id));
  const duplicated = [...ids].filter(([, n]) => n !== 1).map(([id]) => id);
  const unknown = [...ids.keys()].filter((id) => !accepted.has(id) && !refused.has(id));
  const landedRefused = new Set([...ids.keys()].filter((id) => refused.has(id)));
  return { landedRefused, missing, duplicated, unknown };
}

export interface SnapshotScope { users: number; posts: number; partitions: number }

/** The views of one view store, in its current generation (analytics compared apart, by count). */
export async function snapshotOf(views: ViewStore, scope: SnapshotScope): Promise<ViewsSnapshot> {
  return snapshotViews(views, await views.currentGeneration(), undefined, scope);
}

/**
 * The reference: a fresh embedded pipeline in this process over a log holding exactly `events` (in the
 * order given), run to lag 0. Same partition count as the darkroom under test, so trending's
 * per-partition tops match.
 *
 * The whole log is written before the processors start. A stateful task then knows the end of every
 * input at assignment and takes their records in event-time order (processors/runtime.ts nextQueue).
 * Fed while running, a task could take a chunk's posts before the same chunk's profile changes
 * reached it (the two topics become readable at different moments), and count posts of accounts that
 * were private at the time: a reference that depended on timing, the trending differences seen in CI.
 */
export async function referenceSnapshot(events: DarkroomEvent[], dir: string, scope: SnapshotScope): Promise<ViewsSnapshot & { analyticsEvents: number }> {
  const platform = await startTestPlatform({ mode: 'embedded', dataDir: path.join(dir, 'reference'), startProcessors: false, topology: { partitions: scope.partitions } });
  try {
    for (let i = 0; i < events.length; i += 5_000) await platform.producer.send(events.slice(i, i + 5_000));
    await platform.startProcessors();
    await platform.caughtUp(120_000);
    const snapshot = await snapshotViews(platform.views, platform.generation, platform.analytics, scope);
    return { ...snapshot, analyticsEvents: snapshot.analyticsRows };
  } finally {
    await platform.close();
  }
}

/** The views `comparable` can hold. */
export type ComparableView = 'feeds' | 'timelines' | 'stats' | 'trending';

/**
 * The parts of two snapshots that must be equal, as one object, so a failure shows the difference:
 * every view, or only `views` (a test under live ingest leaves out those whose result depends on the
 * order of a task's inputs). Compare the expected side through `withinRounding`.
 */
export function comparable(snapshot: ViewsSnapshot, views: readonly ComparableView[] = ['feeds', 'timelines', 'stats', 'trending']) {
  const all = {
    feeds: snapshot.feeds, timelines: snapshot.timelines, stats: snapshot.stats,
    trending: snapshot.trending,
  };
  return Object.fromEntries(views.map((view) => [view, all[view]])) as Partial<typeof all>;
}

/**
 * The expected side of a comparison: trending scores are decayed floats whose last bits depend on how
 * updates were grouped into batches (a rebuild batches differently from live traffic), so they match
 * within 5e-9. Not by rounding both sides: two values 1e-15 apart can still round apart.
 */
export function withinRounding(expected: ReturnType<typeof comparable>): ReturnType<typeof comparable> {
  if (!expected.trending) return expected;
  return {
    ...expected,
    trending: expected.trending.map((top) => top.map((e) => ({ member: e.member, score: expect.closeTo(e.score, 8) }))),
  };
}

/** The source topics events are written to (everything but the dead letters). */
export const SOURCE_TOPICS = [TOPICS.socialGraph, TOPICS.profiles, TOPICS.posts, TOPICS.engagement, TOPICS.stories];

export interface LogAudit {
  /** Every event of the source topics, decoded. */
  events: number;
  /** Partitions whose offsets are not exactly 0..end-1 (a lost or doubled append), as "topic/partition". */
  gaps: string[];
  /** Event ids found more than once in the log. */
  duplicated: string[];
  /** Records that did not decode to an event. */
  undecodable: number;
  /**
   * Every event in an order the reference pipeline can be fed: each topic-partition's log order kept
   * (that is what the processors folded), partitions interleaved by `rank` (e.g. the order in which
   * the events were generated), so the cross-topic event-time merge sees what the live run saw.
   */
  ordered: DarkroomEvent[];
}

/**
 * Reads every source topic of a log from offset 0 to its end (nothing may be writing to it), checks
 * that each partition holds the contiguous offsets 0..end-1 and that no event id is there twice.
 */
export async function auditLog(backend: TopicBackend, serde: Serde, rank: (event: DarkroomEvent) => number): Promise<LogAudit> {
  const ends = new Map<string, number>();
  let total = 0;
  for (const topic of SOURCE_TOPICS) {
    for (const { partition, offset } of await backend.endOffsets(topic)) { ends.set(`${topic}/${partition}`, offset); total += offset; }
  }
  const byPartition = new Map<string, TopicRecord[]>([...ends.keys()].map((k) => [k, []]));
  let read = 0;
  const consumer = backend.consumer({ groupId: `audit-${Date.now()}`, topics: SOURCE_TOPICS, reset: 'earliest', maxBatchRecords: 10_000 });
  await consumer.run({ async eachBatch(batch) { byPartition.get(`${batch.topic}/${batch.partition}`)!.push(...batch.records); read += batch.records.length; } });
  await eventually(async () => read >= total, 60_000, `the audit to read ${total} records`);
  await consumer.stop();

  const gaps: string[] = [];
  const queues: DarkroomEvent[][] = [];
  let undecodable = 0;
  for (const [tp, records] of byPartition) {
    if (records.length !== ends.get(tp) || records.some((r, i) => r.offset !== i)) gaps.push(tp);
    const decoded = await serde.decodeBatch(records.map((r) => r.value));
    const events = decoded.filter((e): e is DarkroomEvent => !(e instanceof Error));
    undecodable += decoded.length - events.length;
    queues.push(events);
  }
  const seen = new Set<string>();
  const duplicated: string[] = [];
  for (const queue of queues) for (const e of queue) { if (seen.has(e.event_id)) duplicated.push(e.event_id); seen.add(e.event_id); }

  // k-way merge by rank, each queue consumed in its log order.
  const heads = queues.map(() => 0);
  const ordered: DarkroomEvent[] = [];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let q = 0; q < queues.length; q++) {
      if (heads[q] === queues[q].length) continue;
      const r = rank(queues[q][heads[q]]);
      if (r < bestRank) { best = q; bestRank = r; }
    }
    if (best < 0) break;
    ordered.push(queues[best][heads[best]++]);
  }
  return { events: ordered.length, gaps, duplicated, undecodable, ordered };
}
