// The client side of the fault tests (test/integration/faults-*.test.ts): simulated product traffic
// posted to a darkroom child process over HTTP, with a ledger of what each request got back, and the
// reference the views must equal at the end: the views an undisturbed pipeline builds from exactly the
// events that got 202 (nothing else, each once).
import path from 'node:path';
import type { DarkroomEvent } from '../../schemas/events.ts';
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
 * The reference: a fresh embedded pipeline in this process, fed exactly `events` in the order given,
 * run to lag 0. Same partition count as the darkroom under test, so trending's per-partition tops match.
 */
export async function referenceSnapshot(events: DarkroomEvent[], dir: string, scope: SnapshotScope): Promise<ViewsSnapshot & { analyticsEvents: number }> {
  const platform = await startTestPlatform({ mode: 'embedded', dataDir: path.join(dir, 'reference'), topology: { partitions: scope.partitions } });
  try {
    for (let i = 0; i < events.length; i += 5_000) await platform.producer.send(events.slice(i, i + 5_000));
    await platform.caughtUp(120_000);
    const snapshot = await snapshotViews(platform.views, platform.generation, platform.analytics, scope);
    return { ...snapshot, analyticsEvents: snapshot.analyticsRows };
  } finally {
    await platform.close();
  }
}

/**
 * The parts of two snapshots that must be equal, as one object, so a failure shows the difference.
 * Trending scores are decayed floats: their last digits depend on how updates were grouped into
 * batches (a rebuild batches differently from live traffic), so they compare to 9 significant digits.
 */
export function comparable(snapshot: ViewsSnapshot) {
  const trending = snapshot.trending.map((top) => top.map((e) => ({ member: e.member, score: Number(e.score.toPrecision(9)) })));
  return { feeds: snapshot.feeds, timelines: snapshot.timelines, stats: snapshot.stats, trending };
}
