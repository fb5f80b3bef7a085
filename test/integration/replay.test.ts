// Replay (issue 5) on real engines: rebuild into a new generation while serving reads the old one,
// switch, verify; replay after a logic change; replay under continuous ingest; automatic rebuild when
// the view store lost its data. Embedded (lmdb log + lmdb views) and Kafka + Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTestPlatform, type EngineMode, type TestPlatform } from '../helpers/platform.ts';
import { tempDataDir, eventually, sleep } from '../helpers/tmp.ts';
import { describeWith, SERVICES } from '../services.ts';
import { createSimulation } from '../../simulator/index.ts';
import { buildTopology, type Topology } from '../../processors/topology.ts';
import { startPipeline } from '../../processors/pipeline.ts';
import { DEFAULT_BATCHING } from '../../processors/runtime.ts';
import { viewSink } from '../../sinks/view-store.ts';
import { feedKey } from '../../processors/feed-fanout/keys.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import {
  compareGenerations, replayStandalone, startLiveViews, verifyAgainstRebuild, ReplayRefused, LIVE_BATCHING, REBUILD_BATCHING,
  type Batching, type LiveViews, type StartViews,
} from '../../processors/replay/index.ts';
import { pipelineStatus } from '../../serving/status.ts';

const USERS = 300;
const TOPOLOGY = { partitions: 4, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 };
/** The group a rebuild runs in (plan.ts liveGroupPrefix), not its forwarders' beside it after the switch. */
const REBUILD_GROUP = /^darkroom-replay-g\d+$/;

/** The batching each pipeline was asked for, by group prefix (its effects cap is honoured; the linger is the tests' 10 ms). */
type Asked = Array<{ groupPrefix: string; batching: Batching | undefined; ownThreads: string[][] | undefined }>;

/**
 * Pipelines as `darkroom start` builds them. With `dataDir` (the embedded log, the suite's own
 * topology), processors a rebuild asks to run on threads of their own do, as in the platform.
 */
function startViewsFor(platform: TestPlatform, topology: Topology = platform.topology, asked?: Asked, dataDir?: string): StartViews {
  return (generation, groupPrefix, only, batching, ownThreads, writtenBefore) => {
    asked?.push({ groupPrefix, batching, ownThreads });
    const threads = dataDir !== undefined && platform.backend.kind === 'embedded' && topology === platform.topology;
    const maxBatchEffects = batching?.maxBatchEffects;
    return startPipeline({
      backend: platform.backend, codec: platform.codec, topology, groupPrefix, lingerMs: 10, maxBatchEffects, only, writtenBefore,
      sinkFor: (name) => viewSink(platform.views, generation, name),
      ...(threads ? { ownThreads, workerSetup: { dataDir, topology: TOPOLOGY, generation, groupPrefix, lingerMs: 10, maxBatchEffects } } : {}),
    });
  };
}

type Simulation = ReturnType<typeof createSimulation>;

/** One simulated world per suite (a second one would reuse post ids with other authors). */
async function produce(platform: TestPlatform, events: number, simulation?: Simulation): Promise<Simulation> {
  if (!simulation) {
    // Event time now, so stories and seen-state are alive when the views are compared.
    simulation = createSimulation({ users: USERS, seed: 3, startTs: Date.now() - 60_000, rate: 2_000 });
    await platform.producer.send([...simulation.bootstrap()]);
  }
  for (let sent = 0; sent < events; sent += 1_000) await platform.producer.send(simulation.next(1_000));
  return simulation;
}

async function caughtUp(platform: TestPlatform, live: LiveViews, timeoutMs = 90_000): Promise<void> {
  await eventually(async () => (await pipelineStatus(platform.backend, live.processors())).lag === 0, timeoutMs, 'live views to catch up');
}

async function likesOf(platform: TestPlatform, generation: string, posts: number): Promise<number> {
  const stats = await platform.views.hgetallMany(generation, Array.from({ length: posts }, (_, i) => statsKey(`p${i + 1}`)));
  return stats.reduce((sum, s) => sum + Number(s?.likes ?? 0), 0);
}

/**
 * Differences a replay on Kafka may show today, and only those: feed-fanout stamps a post's metadata
 * with its author's privacy *as processed so far*, and the runtime does not order a task's input
 * topics (profiles, posts) by timestamp, so on Kafka the fetch order decides it (see the replay
 * report; on the embedded log the order is fixed). Everything else must be identical.
 */
function unexplained(mode: EngineMode, differences: Array<{ key: string; a: string | null; b: string | null }>): string[] {
  const withoutPrivacy = (text: string | null) => text && JSON.stringify((JSON.parse(text.slice(5)) as Array<[string, string]>).filter(([f]) => f !== 'is_private'));
  return differences
    .filter((d) => !(mode === 'kafka-redis' && d.key.startsWith('post:') && d.a && d.b && withoutPrivacy(d.a) === withoutPrivacy(d.b)))
    .map((d) => `${d.key}: ${d.a?.slice(0, 80)} | ${d.b?.slice(0, 80)}`);
}

function replaySuite(mode: EngineMode): void {
  let data: ReturnType<typeof tempDataDir>;
  let platform: TestPlatform;
  let live: LiveViews;
  let simulation: Simulation;
  const asked: Asked = [];
  /** What the first start asked for, and the batching its processors had once the views were complete. */
  let firstStart: { asked: Asked; batching: unknown[] };

  beforeAll(async () => {
    data = tempDataDir('darkroom-replay-');
    platform = await startTestPlatform({ mode, dataDir: data.dir, topology: TOPOLOGY, startProcessors: false });
    simulation = await produce(platform, 6_000);
    live = await startLiveViews({ views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform, platform.topology, asked, data.dir), pollMs: 300 });
    await caughtUp(platform, live);
    // On the embedded store a first start behind its topics switches to the live batching once caught up.
    await eventually(async () => live.status().state === 'serving', 30_000, 'the first build to complete');
    await caughtUp(platform, live);
    firstStart = { asked: [...asked], batching: live.processors().map((p) => p.running.batching()) };
  });

  afterAll(async () => {
    await live?.stop();
    await platform?.close();
    data?.remove();
  });

  it('replay with unchanged logic gives views identical to the live ones, then switches', async () => {
    const before = live.generation();
    const progress = await live.replay({ processors: 'all', keepOld: true });
    expect(progress.generation).not.toBe(before);
    await live.settled();
    expect(live.status().replay?.phase).toBe('done');
    expect(await platform.views.currentGeneration()).toBe(progress.generation);
    expect(live.generation()).toBe(progress.generation);
    await caughtUp(platform, live);
    const diff = await compareGenerations(platform.views, before, progress.generation, 100_000);
    expect(diff.keys).toBeGreaterThan(500);
    expect(unexplained(mode, diff.differences)).toEqual([]);
    await platform.views.dropGeneration(before);
    expect(await platform.views.generations()).not.toContain(before);
    // The rebuild ran with the rebuild's batching, the live pipelines with the live one. On the
    // embedded log the rebuilt processors ran on threads of their own, then went on live on this
    // thread, from the offsets the rebuild committed.
    const kind = platform.views.kind;
    const rebuildAsks = asked.filter((a) => REBUILD_GROUP.test(a.groupPrefix)).map((a) => a.batching);
    expect(rebuildAsks).toEqual(mode === 'embedded' ? [REBUILD_BATCHING[kind], LIVE_BATCHING[kind]] : [REBUILD_BATCHING[kind]]);
    if (mode === 'embedded') expect(live.processors().map((p) => p.details().thread)).toEqual(live.processors().map(() => 'main'));
    // Live after the switch means the live batching, whether the rebuilt processors moved threads or not.
    const rebuilt = live.processors().filter((p) => progress.processors.includes(p.name));
    expect(rebuilt.length).toBe(progress.processors.length);
    expect(rebuilt.map((p) => p.running.batching())).toEqual(rebuilt.map(() => ({ ...DEFAULT_BATCHING, ...LIVE_BATCHING[kind] })));
    // feed-fanout, the tail, on a thread of its own; every other rebuilt processor on one more.
    const [rebuildThreads] = asked.filter((a) => REBUILD_GROUP.test(a.groupPrefix)).map((a) => a.ownThreads);
    const others = progress.processors.filter((name) => name !== 'feed-fanout');
    expect(others.length).toBeGreaterThan(0);
    expect(rebuildThreads).toEqual([['feed-fanout'], others]);
    // The suite started its live views on topics that already held 6,000 events and no views: on the
    // embedded store they caught up with the rebuild's batching, then went on with the live one, in
    // place: one start, no restart (which would restore every processor's state again).
    const liveAsks = asked.filter((a) => !REBUILD_GROUP.test(a.groupPrefix)).map((a) => a.batching);
    expect(firstStart.asked.map((a) => a.batching)).toEqual([mode === 'embedded' ? REBUILD_BATCHING[kind] : LIVE_BATCHING[kind]]);
    // (The suite's pipelines start with a 10 ms linger; the live batching of Redis leaves it as it is.)
    const liveBatching = { ...DEFAULT_BATCHING, lingerMs: 10, ...LIVE_BATCHING[kind] };
    expect(firstStart.batching).toEqual(firstStart.batching.map(() => liveBatching));
    expect(liveAsks.slice(1).every((b) => b === LIVE_BATCHING[kind])).toBe(true);
  });

  it('replay under continuous ingest loses nothing and counts nothing twice; reads never fail during the switch', async () => {
    let ingesting = true;
    const ingest = (async () => {
      while (ingesting) { await platform.producer.send(simulation.next(50)); await sleep(50); }
    })();
    const readLatencies: number[] = [];
    let emptyReads = 0;
    let reading = true;
    const reads = (async () => {
      while (reading) {
        const started = performance.now();
        const generation = await platform.views.currentGeneration();
        const feeds = await platform.views.zrangeByScoreDescMany(generation, Array.from({ length: 50 }, (_, i) => feedKey(`u${i + 1}`)), { limit: 20 });
        readLatencies.push(performance.now() - started);
        if (feeds.every((f) => f.length === 0)) emptyReads++;
        await sleep(2);
      }
    })();
    const before = live.generation();
    const progress = await live.replay({ processors: 'all' });
    await live.settled();
    reading = false;
    ingesting = false;
    await Promise.all([ingest, reads]);
    expect(progress.phase).toBe('done');
    expect(await platform.views.generations()).not.toContain(before); // the old generation is dropped
    expect(emptyReads).toBe(0);
    readLatencies.sort((a, b) => a - b);
    console.log(`[${mode}] reads during replay+switch: ${readLatencies.length}, p99 ${readLatencies[Math.floor(readLatencies.length * 0.99)].toFixed(2)} ms, max ${readLatencies.at(-1)!.toFixed(2)} ms`);

    await caughtUp(platform, live);
    const check = await verifyAgainstRebuild({
      views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform), generation: live.generation(), limit: 100_000,
    });
    expect(unexplained(mode, check.differences)).toEqual([]);
    expect(await platform.views.generations()).not.toContain(check.scratch);
  });

  it('replay after a logic change gives the new results', async () => {
    // The "new code": feeds capped at 5 posts instead of 800. Restart the live views with it, replay.
    await live.stop();
    const changed = buildTopology({ ...TOPOLOGY, feedLength: 5 });
    live = await startLiveViews({ views: platform.views, backend: platform.backend, topology: changed, startViews: startViewsFor(platform, changed), pollMs: 300 });
    const old = live.generation();
    const longest = async (generation: string) => Math.max(...await Promise.all(Array.from({ length: USERS }, (_, i) => platform.views.zcard(generation, feedKey(`u${i + 1}`)))));
    expect(await longest(old)).toBeGreaterThan(5);
    await live.replay({ processors: ['feed-fanout'] });
    await live.settled();
    expect(live.status().replay?.phase).toBe('done');
    const fresh = live.generation();
    expect(fresh).not.toBe(old);
    expect(await longest(fresh)).toBe(5);
    // Views of the processors that were not replayed were carried over, not lost.
    expect(await likesOf(platform, fresh, 2_000)).toBeGreaterThan(0);
    await caughtUp(platform, live);
    // With feeds capped at 5, which posts stay depends on the order follows/blocks and posts were
    // processed in; on Kafka that order is the fetch order (see `unexplained`), so only embedded compares.
    if (mode === 'embedded') {
      const check = await verifyAgainstRebuild({
        views: platform.views, backend: platform.backend, topology: changed, startViews: startViewsFor(platform, changed), generation: fresh, limit: 100_000,
      });
      expect(unexplained(mode, check.differences)).toEqual([]);
    }
  });

  it('scan walks every view of one generation, page by page, without offsets or expired members', async () => {
    const views = platform.views;
    const now = Date.now();
    await views.applyBatch({
      generation: 'scan-a', processor: 'scan-test', offsets: [{ topic: 'posts', partition: 0, offset: 7 }],
      effects: [
        ...Array.from({ length: 25 }, (_, i) => ({ kind: 'zadd' as const, key: `feed:s${i}`, member: `p${i}|a`, score: i })),
        { kind: 'hset', key: 'stats:x', fields: { likes: 2 } },
        { kind: 'sadd', key: 'seen:posts:v', member: 'old', expiresAt: now + 300 },
        { kind: 'sadd', key: 'seen:posts:v', member: 'new', expiresAt: now + 3_600_000 },
      ],
    });
    await views.applyBatch({ generation: 'scan-b', processor: 'scan-test', offsets: [], effects: [{ kind: 'hset', key: 'other', fields: { a: 1 } }] });
    await sleep(400);
    const seen = new Map<string, unknown>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await views.scan('scan-a', cursor, 10);
      for (const e of page.entries) seen.set(e.key, e);
      cursor = page.cursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBeGreaterThan(1);
    expect(seen.size).toBe(27);
    expect(seen.get('stats:x')).toEqual({ key: 'stats:x', type: 'hash', fields: { likes: '2' } });
    expect(seen.get('feed:s3')).toEqual({ key: 'feed:s3', type: 'zset', members: [{ member: 'p3|a', score: 3 }], expiring: false });
    expect(seen.get('seen:posts:v')).toEqual({ key: 'seen:posts:v', type: 'zset', members: [{ member: 'new', score: now + 3_600_000 }], expiring: true });
    expect(seen.has('other')).toBe(false);
    await views.dropGeneration('scan-a');
    await views.dropGeneration('scan-b');
  });

  it('refuses an unknown processor with a clear message', async () => {
    await expect(live.replay({ processors: ['nope'] })).rejects.toThrow(ReplayRefused);
    await expect(live.replay({ processors: ['nope'] })).rejects.toThrow(/unknown processor "nope"/);
  });
}

describe('replay, embedded (lmdb log + lmdb views)', () => replaySuite('embedded'));
describeWith(['kafka', 'redis'], 'replay, Kafka + Redis', () => replaySuite('kafka-redis'));

describeWith(['kafka', 'redis'], 'replay by another process, and recovery after a Redis flush (Kafka + Redis)', () => {
  let data: ReturnType<typeof tempDataDir>;
  let platform: TestPlatform;
  let live: LiveViews;
  let simulation: Simulation;

  beforeAll(async () => {
    data = tempDataDir('darkroom-replay-redis-');
    platform = await startTestPlatform({ mode: 'kafka-redis', dataDir: data.dir, topology: TOPOLOGY, startProcessors: false });
    simulation = await produce(platform, 4_000);
    live = await startLiveViews({ views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform), pollMs: 300 });
    await caughtUp(platform, live);
  });

  afterAll(async () => {
    await live?.stop();
    await platform?.close();
    data?.remove();
  });

  it('a replay run by `darkroom replay` elsewhere switches the pointer and the live process follows it', async () => {
    const before = live.generation();
    const progress = await replayStandalone({
      views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform),
      pollMs: 200, followGraceMs: 1_500,
    });
    expect(progress.phase).toBe('done');
    expect(live.generation()).toBe(progress.generation);
    expect(await platform.views.generations()).not.toContain(before);
    await produce(platform, 1_000, simulation);
    await caughtUp(platform, live);
    const check = await verifyAgainstRebuild({
      views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform), generation: live.generation(), limit: 100_000,
    });
    expect(unexplained('kafka-redis', check.differences)).toEqual([]);
  });

  it('rebuilds automatically when Redis lost the views (flushed while running)', async () => {
    const generation = live.generation();
    const likes = await likesOf(platform, generation, 2_000);
    expect(likes).toBeGreaterThan(0);
    // What a Redis restarted empty looks like to darkroom: every key of its namespace gone, at once
    // (one script; the Redis is shared, so FLUSHALL is not ours to run).
    const redis = new Redis(SERVICES.redis);
    await redis.eval(`for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1`, 0, `${platform.namespace}:*`);
    await redis.quit();
    await produce(platform, 500, simulation); // live traffic goes on
    await eventually(async () => live.status().replay?.reason === 'recovery', 20_000, 'the loss to be noticed');
    expect(['rebuilding', 'serving']).toContain(live.status().state);
    await live.settled();
    expect(live.status().replay?.phase).toBe('done');
    expect(live.status().state).toBe('serving');
    expect(live.generation()).not.toBe(generation);
    expect(await platform.views.currentGeneration()).toBe(live.generation());
    await caughtUp(platform, live);
    expect(await likesOf(platform, live.generation(), 2_000)).toBeGreaterThanOrEqual(likes);
    const check = await verifyAgainstRebuild({
      views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform), generation: live.generation(), limit: 100_000,
    });
    expect(unexplained('kafka-redis', check.differences)).toEqual([]);
  });

  it('notices an emptied store by its identity, even once every offset it held was written again', async () => {
    // Under traffic the live pipeline writes each partition's offset again with its next batch, so
    // offsets behind what was applied show a loss only where no batch came since. Here every view
    // goes but the offsets are put back at once (one script): only the store's identity tells.
    const generation = live.generation();
    const redis = new Redis(SERVICES.redis);
    await redis.eval(`
      local kept = {}
      for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
        if string.find(k, ':offsets:', 1, true) then kept[k] = redis.call('HGETALL', k) end
        redis.call('DEL', k)
      end
      for k, fields in pairs(kept) do redis.call('HSET', k, unpack(fields)) end
      return 1`, 0, `${platform.namespace}:*`);
    await redis.quit();
    await eventually(async () => live.status().replay?.reason === 'recovery' && live.status().replay?.generation !== generation, 20_000, 'the loss to be noticed');
    await live.settled();
    expect(live.status().replay?.phase).toBe('done');
    expect(live.generation()).not.toBe(generation);
    await caughtUp(platform, live);
    const check = await verifyAgainstRebuild({
      views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform), generation: live.generation(), limit: 100_000,
    });
    expect(unexplained('kafka-redis', check.differences)).toEqual([]);
  });
});
