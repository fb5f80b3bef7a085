// Fault: the Kafka broker stops for 30 s in the middle of a simulated run, then starts again.
// darkroom (a `darkroom start` child on a private broker and a private Redis) must answer 503 with
// Retry-After while it cannot make events durable, within its produce timeout (not hang), never 202
// an event it then loses, resume its processors by itself, and end with views equal to those an
// undisturbed pipeline builds from exactly the events that got 202.
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { createRedisViewStore } from '../../sinks/redis/redis-view-store.ts';
import {
  createPrivateKafka, createPrivateRedis, describeWithBinaries, spawnDarkroom,
  type DarkroomProcess, type PrivateKafka, type PrivateRedis,
} from '../helpers/private-services.ts';
import { Traffic, analyticsEventIds, checkExactlyOnce, caughtUp, comparable, referenceSnapshot, snapshotOf, withinRounding } from '../helpers/fault-traffic.ts';
import { sleep, tempDataDir } from '../helpers/tmp.ts';

const USERS = 300;
const PARTITIONS = 4;
const OUTAGE_MS = 30_000;
const PRODUCE_TIMEOUT_MS = 5_000;
const ADMIN = 'faults-admin-token';

describeWithBinaries(['kafka', 'redis'], 'fault: Kafka broker away for 30 s', () => {
  const root = tempDataDir('darkroom-faults-kafka-');
  let kafka: PrivateKafka;
  let redis: PrivateRedis;
  let darkroom: DarkroomProcess;

  beforeAll(async () => {
    kafka = await createPrivateKafka(path.join(root.dir, 'kafka'));
    redis = await createPrivateRedis(path.join(root.dir, 'redis'));
    await Promise.all([kafka.start(), redis.start()]);
    darkroom = await spawnDarkroom({
      dataDir: path.join(root.dir, 'darkroom'),
      env: {
        KAFKA_BROKERS: kafka.brokers, REDIS_URL: redis.url, DARKROOM_PARTITIONS: String(PARTITIONS),
        DARKROOM_ADMIN_TOKEN: ADMIN, DARKROOM_PRODUCE_TIMEOUT_MS: String(PRODUCE_TIMEOUT_MS),
      },
    });
    await darkroom.ready();
  }, 240_000);

  afterAll(async () => {
    await darkroom?.kill();
    await kafka?.stop();
    await redis?.stop();
    root.remove();
  });

  it('503 + Retry-After while the broker is away, processors resume, every accepted event in every view exactly once', { timeout: 300_000 }, async () => {
    const simulation = createSimulation({ users: USERS, seed: 11, startTs: Date.now() - 120_000, rate: 200 });
    const traffic = new Traffic(() => darkroom.base, simulation);
    await traffic.bootstrap();

    // ~200 events/s: 10 s before the fault, 30 s without a broker, 10 s after it is back.
    let phase: 'before' | 'outage' | 'after' | 'done' = 'before';
    const running = traffic.run({ batch: 20, intervalMs: 100, until: () => phase === 'done' });
    await sleep(10_000);
    const beforeFault = traffic.outcomes.length;
    await kafka.stop();
    phase = 'outage';
    const stoppedAt = Date.now();
    await sleep(OUTAGE_MS);
    await kafka.start();
    const restartedAt = Date.now();
    phase = 'after';
    const firstAcceptedAfter = async () => {
      for (;;) {
        const ok = traffic.outcomes.find((o) => o.at >= restartedAt && o.status === 202);
        if (ok) return ok.at + ok.ms;
        await sleep(100);
      }
    };
    const ingestBack = await firstAcceptedAfter();
    await sleep(10_000);
    phase = 'done';
    await running;
    const end = await caughtUp(darkroom.base, 120_000);
    const lagZeroAt = Date.now();

    const duringOutage = traffic.outcomes.filter((o) => o.at >= stoppedAt && o.at + o.ms <= restartedAt);
    const unavailable = duringOutage.filter((o) => o.status === 503);
    console.log(`faults-kafka: requests ${JSON.stringify(traffic.statuses())}; during the outage ${duringOutage.length} ` +
      `(503: ${unavailable.length}, slowest ${Math.max(...duringOutage.map((o) => o.ms))} ms); ingest back ${ingestBack - restartedAt} ms ` +
      `after the broker, lag 0 ${lagZeroAt - restartedAt} ms after it; ${traffic.accepted.length} events accepted`);

    // Before the fault everything was accepted; during it, 503 + Retry-After within the produce timeout.
    expect(traffic.outcomes.slice(0, beforeFault).every((o) => o.status === 202)).toBe(true);
    expect(unavailable.length).toBeGreaterThanOrEqual(3);
    expect(duringOutage.every((o) => o.status === 503 && o.retryAfter !== null)).toBe(true);
    expect(Math.max(...duringOutage.map((o) => o.ms))).toBeLessThan(PRODUCE_TIMEOUT_MS + 5_000);
    // Only 202 and 503 ever (a request that straddled the stop or the restart may be either).
    expect(Object.keys(traffic.statuses()).sort()).toEqual(['202', '503']);
    expect(end.lag).toBe(0);

    // Every accepted event exactly once, in the analytics rows (by event id) and in every view. A
    // request refused while the broker went away or came back may have been partly written (its
    // topics are produced separately, without a transaction): those events may be there, once each,
    // and the reference includes them; events of requests refused mid-outage are never there.
    const check = checkExactlyOnce(traffic, await analyticsEventIds(darkroom.base, ADMIN));
    expect({ missing: check.missing, duplicated: check.duplicated, unknown: check.unknown }).toEqual({ missing: [], duplicated: [], unknown: [] });
    const midOutage = new Set(duringOutage.length ? traffic.sent.filter((r, i) => duringOutage.includes(traffic.outcomes[i])).flatMap((r) => r.events.map((e) => e.event_id)) : []);
    expect([...check.landedRefused].filter((id) => midOutage.has(id))).toEqual([]);
    console.log(`faults-kafka: ${check.landedRefused.size} events of refused requests (straddling the stop/restart) were written anyway`);

    const expectedEvents = traffic.expectedEvents(check.landedRefused);
    const scope = { users: USERS, posts: simulation.stats().posts + 50, partitions: PARTITIONS };
    const views = await createRedisViewStore({ url: redis.url });
    const actual = await snapshotOf(views, scope).finally(() => views.close());
    const expected = await referenceSnapshot(expectedEvents, root.dir, scope);
    expect(expected.analyticsEvents).toBe(expectedEvents.length);
    expect(Object.keys(expected.feeds).length).toBeGreaterThan(USERS / 2);
    expect(comparable(actual)).toEqual(withinRounding(comparable(expected)));
  });
});
