// Fault: Redis, the view store, restarts empty (no persistence) in the middle of a simulated run.
// darkroom (a `darkroom start` child on the embedded log and a private Redis) must notice, rebuild
// every view from the topics by itself, say so meanwhile (`/v1/status` views.state "rebuilding",
// /healthz 503) rather than serve half-empty views as complete, and end with views equal to those an
// undisturbed pipeline builds from exactly the events that got 202.
import path from 'node:path';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { createRedisViewStore } from '../../sinks/redis/redis-view-store.ts';
import { createPrivateRedis, describeWithBinaries, spawnDarkroom, type DarkroomProcess, type PrivateRedis } from '../helpers/private-services.ts';
import {
  Traffic, analyticsEventIds, caughtUp, checkExactlyOnce, comparable, referenceSnapshot, snapshotOf, status, withinRounding,
} from '../helpers/fault-traffic.ts';
import { sleep, tempDataDir } from '../helpers/tmp.ts';

const USERS = 300;
const PARTITIONS = 4;
const ADMIN = 'faults-admin-token';

describeWithBinaries(['redis'], 'fault: Redis restarted empty', () => {
  const root = tempDataDir('darkroom-faults-redis-');
  let redis: PrivateRedis;
  let darkroom: DarkroomProcess;

  beforeAll(async () => {
    redis = await createPrivateRedis(path.join(root.dir, 'redis'));
    await redis.start();
    darkroom = await spawnDarkroom({
      dataDir: path.join(root.dir, 'darkroom'),
      env: { REDIS_URL: redis.url, DARKROOM_PARTITIONS: String(PARTITIONS), DARKROOM_ADMIN_TOKEN: ADMIN },
    });
    await darkroom.ready();
  }, 120_000);

  afterAll(async () => {
    await darkroom?.kill();
    await redis?.stop();
    root.remove();
  });

  it('rebuilds every view by itself, says "rebuilding" (healthz 503) until complete, ends equal to the reference', { timeout: 240_000 }, async () => {
    onTestFailed(() => console.log(`darkroom's log:\n${darkroom.log().slice(-6_000)}`));
    const simulation = createSimulation({ users: USERS, seed: 12, startTs: Date.now() - 120_000, rate: 200 });
    const traffic = new Traffic(() => darkroom.base, simulation);
    await traffic.bootstrap();
    let done = false;
    const running = traffic.run({ batch: 20, intervalMs: 100, until: () => done });
    await sleep(8_000);
    await caughtUp(darkroom.base, 60_000);

    // Watch what serving says, every 100 ms, from the restart until the views are complete again.
    const seen: Array<{ at: number; state?: string; healthz: number }> = [];
    await redis.stop();
    await redis.start();
    const restartedAt = Date.now();
    let rebuiltAt = 0;
    while (Date.now() - restartedAt < 150_000) {
      const [s, h] = await Promise.all([status(darkroom.base).catch(() => undefined), fetch(`${darkroom.base}/healthz`).then((r) => r.status, () => 0)]);
      seen.push({ at: Date.now(), state: s?.views?.state, healthz: h });
      const sawRebuild = seen.some((o) => o.state === 'rebuilding');
      if (sawRebuild && s && s.views?.state !== 'rebuilding' && h === 200) { rebuiltAt = Date.now(); break; }
      await sleep(100);
    }
    done = true;
    await running;
    const rebuilding = seen.filter((o) => o.state === 'rebuilding');
    const detectedAt = rebuilding[0]?.at ?? 0;
    console.log(`faults-redis: rebuild noticed ${detectedAt - restartedAt} ms after the restart, views complete ${rebuiltAt - restartedAt} ms after it ` +
      `(${rebuilding.length} observations "rebuilding", healthz ${JSON.stringify([...new Set(rebuilding.map((o) => o.healthz))])}); requests ${JSON.stringify(traffic.statuses())}`);

    expect(rebuilding.length).toBeGreaterThan(0);
    expect(detectedAt - restartedAt).toBeLessThan(10_000);
    // While rebuilding, never ready: a load balancer keeps readers away from half-empty views.
    expect(rebuilding.every((o) => o.healthz === 503)).toBe(true);
    expect(rebuiltAt).toBeGreaterThan(0);
    // Ingest does not depend on Redis: every request was accepted throughout.
    expect(traffic.statuses()).toEqual({ 202: traffic.outcomes.length });

    await caughtUp(darkroom.base, 120_000);
    const check = checkExactlyOnce(traffic, await analyticsEventIds(darkroom.base, ADMIN));
    expect({ missing: check.missing, duplicated: check.duplicated, unknown: check.unknown }).toEqual({ missing: [], duplicated: [], unknown: [] });
    const scope = { users: USERS, posts: simulation.stats().posts + 50, partitions: PARTITIONS };
    const views = await createRedisViewStore({ url: redis.url });
    const actual = await snapshotOf(views, scope).finally(() => views.close());
    const expected = await referenceSnapshot(traffic.accepted, root.dir, scope);
    expect(Object.keys(expected.feeds).length).toBeGreaterThan(USERS / 2);
    expect(comparable(actual)).toEqual(withinRounding(comparable(expected)));
  });
});
