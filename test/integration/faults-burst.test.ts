// Fault: a burst far above what the processors sustain, through HTTP ingest into `darkroom start`
// (embedded engines, one process). Backpressure must hold: ingest answers (202, or 429/503 when it
// refuses), the process' memory stays bounded (the log on disk absorbs the backlog, not the heap), and
// the processors drain the lag to 0 afterwards with every accepted event counted once.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { spawnDarkroom, type DarkroomProcess } from '../helpers/private-services.ts';
import { analyticsCounts, caughtUp, status } from '../helpers/fault-traffic.ts';
import { sleep, tempDataDir } from '../helpers/tmp.ts';

const USERS = 2_000;
const BURST_MS = 8_000;
const IN_FLIGHT = 8;
const BATCH = 500;
/** Peak RSS allowed for the darkroom process; it idles at ~300 MB (chDB, lmdb maps, V8). */
const MAX_PEAK_RSS = 1_536 * 1024 * 1024;
const ADMIN = 'faults-admin-token';

describe('fault: ingest burst far above the sustainable rate', () => {
  const root = tempDataDir('darkroom-faults-burst-');
  let darkroom: DarkroomProcess | undefined;
  afterAll(async () => {
    await darkroom?.kill();
    root.remove();
  });

  it('backpressure holds, RSS stays bounded, lag drains to 0, every accepted event counted once', { timeout: 240_000 }, async () => {
    darkroom = await spawnDarkroom({ dataDir: path.join(root.dir, 'darkroom'), env: { DARKROOM_PARTITIONS: '4', DARKROOM_ADMIN_TOKEN: ADMIN } });
    await darkroom.ready();
    const base = darkroom.base;
    const simulation = createSimulation({ users: USERS, seed: 14, startTs: Date.now() - 600_000, rate: 2_000 });
    const world = [...simulation.bootstrap()];
    const bodies: string[] = [];
    for (let i = 0; i < world.length; i += 5_000) bodies.push(JSON.stringify(world.slice(i, i + 5_000)));
    for (let i = 0; i < 300; i++) bodies.push(JSON.stringify(simulation.next(BATCH)));
    const idleRss = darkroom.rss();

    // Sustainable rate: what the processors apply per second with lag on hand, measured on the
    // backlog of the burst itself (below). The burst: IN_FLIGHT clients posting BATCH events back to
    // back for BURST_MS, bodies prepared up front, each body sent once.
    const codes: Record<number, number> = {};
    let accepted = 0;
    let next = 0;
    const burstEnd = Date.now() + BURST_MS;
    const started = Date.now();
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (Date.now() < burstEnd && next < bodies.length) {
        const body = bodies[next++];
        const res = await fetch(`${base}/v1/events`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const answer = (await res.json()) as { accepted?: number };
        codes[res.status] = (codes[res.status] ?? 0) + 1;
        if (res.status === 202) accepted += answer.accepted ?? 0;
      }
    }));
    const burstSeconds = (Date.now() - started) / 1000;
    const lagAfterBurst = (await status(base)).lag;

    // Drain: sample lag and RSS until lag is 0.
    const drainStart = Date.now();
    let peakRss = darkroom.peakRss();
    let lag = lagAfterBurst;
    while (lag > 0 && Date.now() - drainStart < 150_000) {
      await sleep(500);
      lag = (await status(base)).lag;
      peakRss = Math.max(peakRss, darkroom.peakRss());
    }
    const drainSeconds = (Date.now() - drainStart) / 1000;
    await caughtUp(base, 30_000);
    peakRss = Math.max(peakRss, darkroom.peakRss());
    const offered = accepted / burstSeconds;
    // Lag counts a record once per processor reading it, so the drain rate is in processor-records/s.
    const drained = lagAfterBurst / Math.max(drainSeconds, 0.001);
    console.log(`faults-burst: ${accepted} events accepted in ${burstSeconds.toFixed(1)} s (${Math.round(offered)} events/s offered, ${JSON.stringify(codes)}); ` +
      `lag ${lagAfterBurst} processor-records after the burst, drained in ${drainSeconds.toFixed(1)} s (${Math.round(drained)} records/s); ` +
      `RSS idle ${Math.round(idleRss / 2 ** 20)} MB, peak ${Math.round(peakRss / 2 ** 20)} MB`);

    expect(accepted).toBeGreaterThan(20_000);
    // Refusals are allowed (429 rate limit, 503); a 5xx of another kind or a crash is not.
    expect(Object.keys(codes).filter((c) => !['202', '429', '503'].includes(c))).toEqual([]);
    expect(lagAfterBurst).toBeGreaterThan(0); // it was a real burst: the processors fell behind
    expect(peakRss).toBeLessThan(MAX_PEAK_RSS);
    const counts = await analyticsCounts(base, ADMIN);
    expect(counts).toEqual({ rows: accepted, distinct: accepted });
  });
});
