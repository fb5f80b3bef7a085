// Fault: SIGKILL of the whole darkroom process (ingest, processors and serving in one `darkroom
// start`) at random moments while a client posts events and reads views; restart on the same data.
// Connection errors and 5xx are fine while it is down; at the end every event that got 202 is in the
// views exactly once (crash.test.ts does the same for the processors alone). Embedded engines: the
// process owns its durable state (log, views, chDB), so a kill -9 hits all of it at once.
import path from 'node:path';
import { afterAll, expect, it, describe } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { createEmbeddedViewStore } from '../../sinks/embedded/embedded-view-store.ts';
import { spawnDarkroom, type DarkroomProcess } from '../helpers/private-services.ts';
import { freePort } from '../helpers/free-port.ts';
import {
  Traffic, analyticsEventIds, caughtUp, checkExactlyOnce, comparable, referenceSnapshot, snapshotOf, withinRounding,
} from '../helpers/fault-traffic.ts';
import { sleep, tempDataDir } from '../helpers/tmp.ts';

const USERS = 300;
const PARTITIONS = 4;
const KILLS = 3;
const ADMIN = 'faults-admin-token';

describe('fault: SIGKILL of darkroom start', () => {
  const root = tempDataDir('darkroom-faults-sigkill-');
  const dataDir = path.join(root.dir, 'darkroom');
  let darkroom: DarkroomProcess | undefined;
  afterAll(async () => {
    await darkroom?.kill();
    root.remove();
  });

  it(`${KILLS} kills -9 under posts and reads: every 202 event in the views exactly once after restart`, { timeout: 300_000 }, async () => {
    const port = await freePort();
    const start = async () => {
      const spawned = Date.now();
      darkroom = await spawnDarkroom({ dataDir, port, env: { DARKROOM_PARTITIONS: String(PARTITIONS), DARKROOM_ADMIN_TOKEN: ADMIN } });
      await darkroom.ready();
      return Date.now() - spawned;
    };
    const startupMs = [await start()];
    const simulation = createSimulation({ users: USERS, seed: 13, startTs: Date.now() - 120_000, rate: 400 });
    const traffic = new Traffic(() => `http://127.0.0.1:${port}`, simulation);
    await traffic.bootstrap();

    // A writer posting ~400 events/s and a reader asking for feeds and post stats, until told to stop.
    let done = false;
    const writing = traffic.run({ batch: 40, intervalMs: 100, until: () => done });
    const reads: Record<number, number> = {};
    const reading = (async () => {
      for (let i = 0; !done; i++) {
        const url = i % 2 ? `/v1/users/u${1 + (i % USERS)}/feed` : `/v1/posts/p${1 + (i % 50)}/stats`;
        const code = await fetch(`http://127.0.0.1:${port}${url}`, { signal: AbortSignal.timeout(10_000) }).then(async (r) => { await r.arrayBuffer(); return r.status; }, () => 0);
        reads[code] = (reads[code] ?? 0) + 1;
        await sleep(20);
      }
    })();

    for (let k = 0; k < KILLS; k++) {
      await sleep(2_000 + Math.floor(Math.random() * 4_000));
      await darkroom!.kill('SIGKILL');
      await sleep(Math.floor(Math.random() * 1_000));
      startupMs.push(await start());
    }
    await sleep(3_000);
    done = true;
    await Promise.all([writing, reading]);
    await caughtUp(darkroom!.base, 120_000);
    console.log(`faults-sigkill: ${KILLS} kills; time to ready after each restart ${startupMs.slice(1).join(', ')} ms (first start ${startupMs[0]} ms); ` +
      `posts ${JSON.stringify(traffic.statuses())}, reads ${JSON.stringify(reads)}; ${traffic.accepted.length} events accepted`);

    expect(traffic.outcomes.filter((o) => o.status === 202).length).toBeGreaterThan(50);
    // While up, a post is accepted or refused whole; a kill may cut a request (0) or find the port closed.
    expect(Object.keys(traffic.statuses()).filter((s) => !['0', '202', '503'].includes(s))).toEqual([]);
    expect(Object.keys(reads).filter((s) => !['0', '200', '404', '503'].includes(s))).toEqual([]);

    const check = checkExactlyOnce(traffic, await analyticsEventIds(darkroom!.base, ADMIN));
    expect({ missing: check.missing, duplicated: check.duplicated, unknown: check.unknown }).toEqual({ missing: [], duplicated: [], unknown: [] });
    if (check.landedRefused.size) console.log(`faults-sigkill: ${check.landedRefused.size} events of cut requests were written (the client never saw 202)`);
    await darkroom!.kill();
    darkroom = undefined;

    const scope = { users: USERS, posts: simulation.stats().posts + 50, partitions: PARTITIONS };
    const views = await createEmbeddedViewStore({ dataDir });
    const actual = await snapshotOf(views, scope).finally(() => views.close());
    const expected = await referenceSnapshot(traffic.expectedEvents(check.landedRefused), root.dir, scope);
    expect(Object.keys(expected.feeds).length).toBeGreaterThan(USERS / 2);
    // Trending too: it was left out after one CI failure, blamed on the order of uses in its internal
    // topic. The same picture in faults-redis turned out to be the reference's (it was fed while its
    // processors ran, see referenceSnapshot); re-sent internal records are dropped by their source
    // position, and the scorer restores in the order it first processed.
    expect(comparable(actual)).toEqual(withinRounding(comparable(expected)));
  });
});
