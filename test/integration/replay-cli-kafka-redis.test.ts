// `darkroom start` on Kafka + Redis, as a user runs it (a private broker and Redis, so the topics have
// the catalog's own names): `darkroom replay` asked of the running platform, and recovery after Redis
// lost every key. Both run inside the platform's process, beside its live processors; the other
// suites drive the same code through their own pipelines, which is how a replay inside the platform
// once joined the live processors' consumer group, got no partitions and never moved (2026-12-07).
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { buildTopology } from '../../processors/topology.ts';
import { TOPICS } from '../../schemas/events.ts';
import { createKafkaBackend } from '../../topics/kafka/index.ts';
import { caughtUp, status } from '../helpers/fault-traffic.ts';
import {
  createPrivateKafka, createPrivateRedis, describeWithBinaries, runDarkroom, spawnDarkroom,
  type DarkroomProcess, type PrivateKafka, type PrivateRedis,
} from '../helpers/private-services.ts';
import { eventually, sleep, tempDataDir } from '../helpers/tmp.ts';

const ADMIN = 'replay-kafka-admin';
const USERS = 200;

describeWithBinaries(['kafka', 'redis'], 'darkroom start on Kafka + Redis: replay inside the platform, recovery after Redis lost its keys', () => {
  const root = tempDataDir('darkroom-replay-cli-kafka-');
  let kafka: PrivateKafka;
  let redis: PrivateRedis;
  let darkroom: DarkroomProcess;
  let env: NodeJS.ProcessEnv;
  let sent = 0;

  beforeAll(async () => {
    kafka = await createPrivateKafka(path.join(root.dir, 'kafka'));
    redis = await createPrivateRedis(path.join(root.dir, 'redis'));
    await Promise.all([kafka.start(), redis.start()]);
    const settings = {
      KAFKA_BROKERS: kafka.brokers, REDIS_URL: redis.url, DARKROOM_PARTITIONS: '4', DARKROOM_ADMIN_TOKEN: ADMIN, DARKROOM_REPLAY_POLL_MS: '200',
    };
    darkroom = await spawnDarkroom({ dataDir: path.join(root.dir, 'darkroom'), env: settings });
    env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', PORT: String(darkroom.port), DARKROOM_DATA_DIR: path.join(root.dir, 'cli'), ...settings };
    await darkroom.ready();
    const simulation = createSimulation({ users: USERS, seed: 21, startTs: Date.now() - 60_000, rate: 1_000 });
    const events = [...simulation.bootstrap(), ...simulation.next(3_000)];
    for (let i = 0; i < events.length; i += 1_000) {
      const res = await fetch(`${darkroom.base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events.slice(i, i + 1_000)) });
      expect(res.status).toBe(202);
    }
    sent = events.length;
    await caughtUp(darkroom.base, 90_000);
  }, 240_000);

  /** Records on the internal topics and the dead-letter topic. */
  async function internalRecords(): Promise<Record<string, number>> {
    const backend = createKafkaBackend({ brokers: [kafka.brokers], log: () => {} });
    try {
      const topics = [...buildTopology({ partitions: 4, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 }).internalTopics.map((t) => t.name), TOPICS.deadLetters];
      return Object.fromEntries(await Promise.all(topics.map(async (topic) => [topic, (await backend.endOffsets(topic)).reduce((sum, o) => sum + o.offset, 0)])));
    } finally {
      await backend.close();
    }
  }

  afterAll(async () => {
    await darkroom?.kill();
    await kafka?.stop();
    await redis?.stop();
    root.remove();
  });

  it('`darkroom replay` through the running platform rebuilds, switches, and the new generation equals the old', { timeout: 240_000 }, async () => {
    expect((await status(darkroom.base)).views?.generation).toBe('g1');
    const internal = await internalRecords();
    expect(internal['feed-fanout-repartition']).toBeGreaterThan(0); // the simulation blocks: relays to rebuild from
    const replay = await runDarkroom(['replay', '--keep-old'], env, 120_000);
    expect(replay.timedOut, `replay did not end in 120 s:\n${replay.stderr.slice(-1_500)}`).toBe(false);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).toMatch(/done, .* serving reads g2/);
    expect((await status(darkroom.base)).views?.generation).toBe('g2');
    const verify = await runDarkroom(['verify', '--generation', 'g1', '--against', 'g2'], env, 120_000);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stderr).toMatch(/identical/);
    const fresh = await runDarkroom(['verify'], env, 120_000);
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
    // The live pipeline wrote every internal record and dead letter already: the rebuilds add none.
    expect(await internalRecords()).toEqual(internal);
  });

  it('`darkroom topics` lists the topics on Kafka with their retention', async () => {
    // The platform's data dir: with Kafka and no registry URL, it holds the registry every command shares.
    const listed = await runDarkroom(['topics'], { ...env, DARKROOM_DATA_DIR: path.join(root.dir, 'darkroom') }, 60_000);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^posts +author_id +4 +[\d,]+ +forever$/m);
    expect(listed.stdout).toMatch(/^profiles +user_id +4 +[\d,]+ +compacted$/m);
    expect(listed.stdout).toMatch(/^feed-fanout-repartition +blocker_id +4 +[1-9][\d,]* +forever$/m);
  });

  it('Redis lost every key: the platform rebuilds and serves the new generation only once it holds every record', { timeout: 240_000 }, async () => {
    const before = await status(darkroom.base);
    const feeds = async () => Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const res = await fetch(`${darkroom.base}/v1/users/u${i + 1}/feed?limit=50`);
      return res.status === 200 ? ((await res.json()) as { items: Array<{ post_id: string }> }).items.map((p) => p.post_id) : [];
    }));
    const served = await feeds();
    expect(served.flat().length).toBeGreaterThan(0);
    const internal = await internalRecords();

    const client = new Redis(redis.url);
    await client.flushall();
    await client.quit();
    // The first reads of the next generation, as soon as serving moves to it.
    let next: string | undefined;
    for (const deadline = Date.now() + 120_000; Date.now() < deadline && next === undefined; await sleep(50)) {
      const generation = (await status(darkroom.base)).views?.generation;
      if (generation !== undefined && generation !== before.views?.generation) next = generation;
    }
    expect(next, `no switch after the flush:\n${darkroom.log().slice(-1_500)}`).toBeDefined();
    expect(await feeds()).toEqual(served);
    // Logged once the old generation is dropped, a moment after the pointer moved.
    const switched = await eventually(async () => /replay: switched to generation (g\d+) \(([\d,]+) records replayed/.exec(darkroom.log().split('(recovery)').at(-1)!) ?? undefined, 10_000, 'the switch to be logged');
    expect(switched?.[1]).toBe(next);
    expect(Number(switched![2].replaceAll(',', ''))).toBeGreaterThanOrEqual(sent);
    await caughtUp(darkroom.base, 90_000);
    // The forwarders go on from where they got, not from 0 (their stored offsets were lost too).
    expect(await internalRecords()).toEqual(internal);
  });
});
