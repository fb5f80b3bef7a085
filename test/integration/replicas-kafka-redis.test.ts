// Scale-out as docker-compose.yml runs it: `darkroom serve` (ingest + read API) and `darkroom process`
// replicas on Kafka + Redis + a ClickHouse server, all on one data dir (the file registry every
// process shares). While events flow, a second replica joins and leaves again and again (a clean stop,
// then a kill -9), so partitions move between replicas mid-batch. At the end the views equal those an
// undisturbed pipeline builds from the same events: no record applied twice by two owners, none lost.
// Then Redis loses every key under both replicas: one rebuilds, the other follows its switch.
import path from 'node:path';
import { createClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { createRedisViewStore } from '../../sinks/redis/redis-view-store.ts';
import { startClickHouseHttp, type ClickHouseProcess } from '../../infra/clickhouse-http/spawn.ts';
import {
  createPrivateKafka, createPrivateRedis, describeWithBinaries, spawnDarkroom,
  type DarkroomProcess, type PrivateKafka, type PrivateRedis,
} from '../helpers/private-services.ts';
import { freePort } from '../helpers/free-port.ts';
import { Traffic, caughtUp, comparable, referenceSnapshot, snapshotOf, withinRounding } from '../helpers/fault-traffic.ts';
import { eventually, sleep, tempDataDir } from '../helpers/tmp.ts';

const USERS = 300;
const PARTITIONS = 4;
/** How often the second replica joins and leaves; the last leave is a kill -9. */
const ROUNDS = 4;

describeWithBinaries(['kafka', 'redis'], 'darkroom process replicas on Kafka + Redis: partitions move between replicas under load', () => {
  const root = tempDataDir('darkroom-replicas-');
  const dataDir = path.join(root.dir, 'darkroom');
  let kafka: PrivateKafka;
  let redis: PrivateRedis;
  let clickhouse: ClickHouseProcess;
  let serve: DarkroomProcess;
  const replicas: DarkroomProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    kafka = await createPrivateKafka(path.join(root.dir, 'kafka'));
    redis = await createPrivateRedis(path.join(root.dir, 'redis'));
    [clickhouse] = await Promise.all([
      freePort().then((port) => startClickHouseHttp({ dataDir: path.join(root.dir, 'clickhouse'), port })),
      kafka.start(), redis.start(),
    ]);
    env = { KAFKA_BROKERS: kafka.brokers, REDIS_URL: redis.url, CLICKHOUSE_URL: clickhouse.url, DARKROOM_PARTITIONS: String(PARTITIONS) };
    serve = await spawnDarkroom({ command: 'serve', dataDir, env });
    await serve.ready();
  }, 180_000);

  afterAll(async () => {
    await Promise.all([serve, ...replicas].map((p) => p?.kill()));
    await clickhouse?.stop();
    await kafka?.stop();
    await redis?.stop();
    root.remove();
  });

  const replica = async () => {
    const started = await spawnDarkroom({ command: 'process', dataDir, env });
    replicas.push(started);
    await started.ready(120_000);
    return started;
  };

  const simulation = createSimulation({ users: USERS, seed: 29, startTs: Date.now() - 120_000, rate: 400 });
  const traffic = new Traffic(() => serve.base, simulation);
  const scope = { users: USERS, posts: 0, partitions: PARTITIONS };
  let first: DarkroomProcess;

  /** Redis' views against an undisturbed pipeline's over every accepted event, and analytics' rows. */
  async function expectViewsOfEveryEvent(): Promise<void> {
    // `serve` has no analytics processor, so its lag leaves it out: wait for the rows themselves.
    const ch = createClient({ url: clickhouse.url });
    const count = async () => {
      const [c] = await (await ch.query({ query: 'SELECT count() AS rows, uniqExact(event_id) AS ids FROM events', format: 'JSONEachRow' })).json<{ rows: string; ids: string }>();
      return { rows: Number(c.rows), ids: Number(c.ids) };
    };
    const counts = await eventually(async () => { const c = await count(); return c.rows >= traffic.accepted.length && c; }, 60_000, 'analytics to hold every event')
      .catch(count).finally(() => ch.close());
    expect(counts).toEqual({ rows: traffic.accepted.length, ids: traffic.accepted.length });

    scope.posts = simulation.stats().posts + 50;
    const views = await createRedisViewStore({ url: redis.url });
    const actual = await snapshotOf(views, scope).finally(() => views.close());
    const expected = await referenceSnapshot(traffic.accepted, path.join(root.dir, `reference-${traffic.accepted.length}`), scope);
    expect(Object.keys(expected.feeds).length).toBeGreaterThan(USERS / 2);
    expect(comparable(actual)).toEqual(withinRounding(comparable(expected)));
  }

  it(`a replica joins and leaves ${ROUNDS} times while events flow: views equal an undisturbed run's, analytics has each event once`, { timeout: 400_000 }, async () => {
    first = await replica();
    await traffic.bootstrap();
    let done = false;
    const writing = traffic.run({ batch: 40, intervalMs: 100, until: () => done });

    for (let round = 1; round <= ROUNDS; round++) {
      const second = await replica();
      await sleep(1_500 + Math.floor(Math.random() * 2_500));
      await second.kill(round === ROUNDS ? 'SIGKILL' : 'SIGTERM');
      await sleep(Math.floor(Math.random() * 1_500));
    }
    await sleep(2_000);
    done = true;
    await writing;
    expect(Object.keys(traffic.statuses())).toEqual(['202']);
    // `serve` reads the lag from the offsets in Redis: every partition, whoever applied it. After the
    // kill -9 the group waits for the session timeout (30 s) before the first replica takes its partitions.
    await caughtUp(serve.base, 180_000);

    // With the partitions split between two replicas, each reports the lag of whole processors, read
    // from the shared sinks: 0 on both, not the partitions the other one holds.
    const second = await replica();
    const lagOf = async (p: DarkroomProcess) => {
      const text = await (await fetch(`${p.base}/metrics`)).text();
      const lags = [...text.matchAll(/^darkroom_processor_lag_events\{processor="([^"]+)"\} (\d+)/gm)];
      return lags.length ? lags.reduce((sum, m) => sum + Number(m[2]), 0) : undefined;
    };
    await eventually(async () => (await lagOf(first)) === 0 && (await lagOf(second)) === 0, 30_000, 'both replicas to report lag 0');
    await second.kill();
    console.log(`replicas: ${traffic.accepted.length} events accepted; ${ROUNDS} joins and leaves of a second replica`);
    await expectViewsOfEveryEvent();
  });

  it('Redis lost every key under two replicas: one rebuilds, the other follows its switch into the same group, nothing counted twice', { timeout: 400_000 }, async () => {
    const second = await replica();
    const generation = async () => (await (await fetch(`${serve.base}/v1/status`)).json() as { views: { generation: string } }).views.generation;
    const before = await generation();
    let done = false;
    const writing = traffic.run({ batch: 40, intervalMs: 100, until: () => done });
    await sleep(2_000);
    const client = new Redis(redis.url);
    await client.flushall();
    await client.quit();
    const next = await eventually(async () => { const g = await generation(); return g !== before && g !== 'g1' ? g : undefined; }, 180_000, 'serving to switch to a rebuilt generation');
    await sleep(3_000);
    done = true;
    await writing;
    expect(Object.keys(traffic.statuses())).toEqual(['202']);
    await caughtUp(serve.base, 180_000);

    // One replica took the rebuild lease and switched; the other waited for it, then followed.
    const logs = [first.log(), second.log()];
    const rebuilt = logs.filter((log) => log.includes(`replay: switched to generation ${next}`));
    const followed = logs.filter((log) => /is rebuilding every view, this process follows its switch/.test(log) && log.includes(`generation pointer moved`));
    expect({ rebuilt: rebuilt.length, followed: followed.length }, logs.map((l) => l.slice(-1_500)).join('\n----\n')).toEqual({ rebuilt: 1, followed: 1 });
    console.log(`replicas: recovery into ${next}; ${traffic.accepted.length} events accepted`);
    // The lost generation was dropped once both had left it, and no late batch brought it back.
    const store = await createRedisViewStore({ url: redis.url });
    expect(await store.generations().finally(() => store.close())).toEqual([next]);
    await expectViewsOfEveryEvent();
  });
});
