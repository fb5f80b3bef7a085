// Replay from a snapshot (issue 5): once retention removed the start of a topic, a replay from offset 0
// is refused; a replay from a snapshot of the views (taken earlier, under live ingest) succeeds and
// gives the live views. Embedded (lmdb log + lmdb views) and Kafka + Redis, on real engines.
//
// Retention removes the oldest records of `engagement`. What that costs a replay from a snapshot is
// the documented trade-off: the like ledger of engagement-counters is rebuilt from what the topic still
// holds, so a like/unlike after the snapshot of a like that retention removed would count differently
// from the live run. The traffic after the first phase therefore carries no like or unlike (every other
// action, follows, posts, stories, views and deletions included): with it, the result must be identical.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { startTestPlatform, type EngineMode, type TestPlatform } from '../helpers/platform.ts';
import { tempDataDir, eventually, sleep } from '../helpers/tmp.ts';
import { describeWith, SERVICES } from '../services.ts';
import { createSimulation } from '../../simulator/index.ts';
import { startPipeline } from '../../processors/pipeline.ts';
import { viewSink, type ViewEntry } from '../../sinks/view-store.ts';
import type { EmbeddedBackend } from '../../topics/embedded/index.ts';
import { topicCatalog } from '../../topics/catalog.ts';
import { TOPICS, type DarkroomEvent } from '../../schemas/events.ts';
import {
  compareGenerations, listSnapshots, startLiveViews, ReplayRefused, type LiveViews, type StartViews,
} from '../../processors/replay/index.ts';
import { pipelineStatus } from '../../serving/status.ts';

const USERS = 300;
const TOPOLOGY = { partitions: 4, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 };
const RATE = 2_000; // events per second of event time

function startViewsFor(platform: TestPlatform): StartViews {
  return (generation, groupPrefix, only) => startPipeline({
    backend: platform.backend, codec: platform.codec, topology: platform.topology, groupPrefix, lingerMs: 10, only,
    sinkFor: (name) => viewSink(platform.views, generation, name),
  });
}

const withoutLikes = (events: DarkroomEvent[]) => events.filter((e) => e.type !== 'like' && e.type !== 'unlike');

async function caughtUp(platform: TestPlatform, live: LiveViews): Promise<void> {
  await eventually(async () => (await pipelineStatus(platform.backend, live.processors())).lag === 0, 90_000, 'live views to catch up');
}

/** Kafka may order a task's input topics differently on replay (README, Replay → Determinism): post privacy only. */
function unexplained(mode: EngineMode, differences: Array<{ key: string; a: string | null; b: string | null }>): string[] {
  const withoutPrivacy = (text: string | null) => text && JSON.stringify((JSON.parse(text.slice(5)) as Array<[string, string]>).filter(([f]) => f !== 'is_private'));
  return differences
    .filter((d) => !(mode === 'kafka-redis' && d.key.startsWith('post:') && d.a && d.b && withoutPrivacy(d.a) === withoutPrivacy(d.b)))
    .map((d) => `${d.key}: ${d.a?.slice(0, 80)} | ${d.b?.slice(0, 80)}`);
}

/** Where `engagement` starts, per partition. */
async function engagementStarts(platform: TestPlatform): Promise<number[]> {
  return (await platform.backend.startOffsets(TOPICS.engagement)).map((o) => o.offset);
}

function snapshotSuite(mode: EngineMode): void {
  let data: ReturnType<typeof tempDataDir>;
  let platform: TestPlatform;
  let live: LiveViews;
  const startTs = Date.now() - 120_000;
  const simulation = createSimulation({ users: USERS, seed: 11, startTs, rate: RATE });

  /**
   * Removes the oldest engagement records, as retention does: on the embedded log by age (batches
   * whose newest event is older than `beforeTs`), on Kafka with DeleteRecords up to `kafkaUpTo`.
   */
  async function dropOldEngagement(beforeTs: number, kafkaUpTo: (partition: number) => number): Promise<void> {
    if (mode === 'embedded') {
      const catalog = topicCatalog(TOPOLOGY.partitions).map((spec) => (spec.name === TOPICS.engagement ? { ...spec, retentionMs: Date.now() - beforeTs } : spec));
      await platform.backend.ensureTopics(catalog, { updateRetention: true });
      await (platform.backend as EmbeddedBackend).applyRetention();
      return;
    }
    const kafka = new Kafka({ brokers: SERVICES.kafka.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const partitions = Array.from({ length: TOPOLOGY.partitions }, (_, partition) => ({ partition, offset: String(kafkaUpTo(partition)) }))
        .filter((p) => Number(p.offset) > 0);
      const topic = `${platform.namespace}.${TOPICS.engagement}`;
      await admin.fetchTopicMetadata({ topics: [topic] }); // deleteTopicRecords needs the leaders known
      await admin.deleteTopicRecords({ topic, partitions });
    } finally {
      await admin.disconnect();
    }
  }

  beforeAll(async () => {
    data = tempDataDir('darkroom-replay-snapshot-');
    platform = await startTestPlatform({ mode, dataDir: data.dir, topology: TOPOLOGY, startProcessors: false });
    await platform.producer.send([...simulation.bootstrap()]);
    for (let i = 0; i < 4; i++) await platform.producer.send(simulation.next(1_000)); // event time startTs .. +2 s
    live = await startLiveViews({ views: platform.views, backend: platform.backend, topology: platform.topology, startViews: startViewsFor(platform), pollMs: 300 });
    await caughtUp(platform, live);
    // A first start behind its topics is "rebuilding" until it has caught up and taken on the live batching.
    await eventually(async () => live.status().state === 'serving', 30_000, 'the first build to complete');
    await caughtUp(platform, live);
  });

  afterAll(async () => {
    await live?.stop();
    await platform?.close();
    data?.remove();
  });

  it('after retention dropped the start of a topic, replay refuses without a snapshot and succeeds from one; the result equals the live views', async () => {
    // A snapshot taken under live ingest: the copy must still pair every view with the offsets it reflects.
    let ingesting = true;
    const ingest = (async () => {
      while (ingesting) { await platform.producer.send(withoutLikes(simulation.next(100))); await sleep(20); }
    })();
    await sleep(300);
    const snapshot = await live.snapshot('before-retention');
    ingesting = false;
    await ingest;
    expect(snapshot.generation).toBe('before-retention');
    expect(snapshot.views).toBeGreaterThan(500);
    await expect(live.snapshot('before-retention')).rejects.toThrow(/already exists/);
    const snapshotAt = new Map((await platform.views.offsets('before-retention', 'engagement-counters'))
      .filter((o) => o.topic === TOPICS.engagement).map((o) => [o.partition, o.offset]));

    // Traffic goes on after the snapshot, then retention removes the first second of engagement.
    for (let i = 0; i < 3; i++) await platform.producer.send(withoutLikes(simulation.next(1_000)));
    await caughtUp(platform, live);
    await dropOldEngagement(startTs + 1_000, (partition) => Math.floor((snapshotAt.get(partition) ?? 0) / 2));
    const starts = await engagementStarts(platform);
    expect(Math.max(...starts)).toBeGreaterThan(0);
    starts.forEach((start, partition) => expect(start).toBeLessThan(snapshotAt.get(partition)!));

    await expect(live.replay({ processors: 'all' })).rejects.toThrow(ReplayRefused);
    await expect(live.replay({ processors: 'all' })).rejects.toThrow(/topic engagement partition \d starts at offset [1-9]\d* \(older records were removed by retention\)/);
    await expect(live.replay({ processors: 'all', fromSnapshot: 'nope' })).rejects.toThrow(/no snapshot nope \(snapshots: before-retention/);
    expect((await listSnapshots(platform.views, platform.backend, platform.topology)).map((s) => [s.generation, s.unusable]))
      .toEqual([['before-retention', null]]);

    const before = live.generation();
    const progress = await live.replay({ processors: 'all', keepOld: true, fromSnapshot: 'before-retention' });
    expect(progress.snapshot).toBe('before-retention');
    await live.settled();
    expect(live.status().replay?.phase).toBe('done');
    expect(live.generation()).toBe(progress.generation);
    expect(await platform.views.currentGeneration()).toBe(progress.generation);
    // Only what came after the snapshot was processed again.
    expect(progress.replayed).toBeGreaterThan(0);
    expect(progress.replayed).toBeLessThan(progress.total + 1);
    await caughtUp(platform, live);

    const diff = await compareGenerations(platform.views, before, progress.generation, 100_000);
    expect(diff.keys).toBeGreaterThan(500);
    expect(unexplained(mode, diff.differences)).toEqual([]);
    // The snapshot is untouched by the replay: another one could start from it again.
    expect(await platform.views.generations()).toContain('before-retention');
  });

  /** Every view of a generation (Redis SCAN pages may be empty before the end). */
  async function entriesOf(generation: string): Promise<ViewEntry[]> {
    const out: ViewEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await platform.views.scan(generation, cursor, 100);
      out.push(...page.entries);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return out;
  }

  it('copyGeneration copies views (expiring ones with their expiry), offsets, by key filter, and never half a batch', async () => {
    const views = platform.views;
    const now = Date.now();
    await views.applyBatch({
      generation: 'cp-a', processor: 'p1', offsets: [{ topic: 'posts', partition: 0, offset: 5 }],
      effects: [
        { kind: 'zadd', key: 'feed:x', member: 'p1|a', score: 1 },
        { kind: 'hset', key: 'stats:y', fields: { likes: 2 } },
        { kind: 'sadd', key: 'seen:posts:v', member: 'old', expiresAt: now + 200 },
        { kind: 'sadd', key: 'seen:posts:v', member: 'new', expiresAt: now + 3_600_000 },
      ],
    });
    await sleep(300);
    expect(await views.copyGeneration('cp-a', 'cp-b', { processors: ['p1'], keys: (k) => k !== 'stats:y' })).toBe(2);
    const copied = await entriesOf('cp-b');
    expect(copied.map((e) => e.key).sort()).toEqual(['feed:x', 'seen:posts:v']);
    expect(copied.find((e) => e.key === 'seen:posts:v')).toEqual({ key: 'seen:posts:v', type: 'zset', members: [{ member: 'new', score: now + 3_600_000 }], expiring: true });
    expect(await views.offsets('cp-b', 'p1')).toEqual([{ topic: 'posts', partition: 0, offset: 5 }]);
    expect(await views.copyGeneration('cp-a', 'cp-c', { processors: ['p1'], offsetsOnly: true })).toBe(0);
    expect(await entriesOf('cp-c')).toEqual([]);
    expect(await views.offsets('cp-c', 'p1')).toEqual([{ topic: 'posts', partition: 0, offset: 5 }]);
    await expect(views.copyGeneration('cp-a', 'cp-a', { processors: [] })).rejects.toThrow(/onto itself/);

    // A batch sent while a copy runs lands wholly before or wholly after it: the copy never pairs
    // views of one batch with offsets of another. 5,000 counters, all bumped by one batch that is
    // sent once the copy has walked 1,500 keys (several SCAN pages on Redis).
    const counters = Array.from({ length: 5_000 }, (_, i) => `stats:c${i}`);
    const bump = (offset: number) => views.applyBatch({ generation: 'cp-a', processor: 'p1', offsets: [{ topic: 'posts', partition: 0, offset }], effects: counters.map((key) => ({ kind: 'hincr' as const, key, field: 'n', by: 1 })) });
    await bump(6);
    let walked = 0;
    let batch: Promise<void> | undefined;
    await views.copyGeneration('cp-a', 'cp-d', {
      processors: ['p1'],
      keys: () => {
        if (++walked === 1_500) batch = new Promise((resolve, reject) => setImmediate(() => bump(7).then(resolve, reject)));
        return true;
      },
    });
    expect(batch).toBeDefined();
    await batch;
    const [held] = await views.offsets('cp-d', 'p1');
    const values = new Set((await views.hgetallMany('cp-d', counters)).map((h) => h?.n));
    expect([...values]).toEqual([String(held.offset - 5)]); // offset 6 ↔ every counter 1, offset 7 ↔ every counter 2, nothing mixed
    for (const g of ['cp-a', 'cp-b', 'cp-c', 'cp-d']) await views.dropGeneration(g);
  });

  it('a snapshot that retention went past is refused, naming the hole', async () => {
    if (mode === 'kafka-redis') {
      const ends = new Map((await platform.backend.endOffsets(TOPICS.engagement)).map((o) => [o.partition, o.offset]));
      await dropOldEngagement(Date.now(), (partition) => ends.get(partition) ?? 0);
    } else {
      await dropOldEngagement(Date.now(), () => 0);
    }
    await expect(live.replay({ processors: 'all', fromSnapshot: 'before-retention' }))
      .rejects.toThrow(/cannot replay from snapshot before-retention: topic engagement partition \d starts at offset \d+ .* views stop at offset \d+, so the records in between are gone; use a newer snapshot/);
    const [listed] = await listSnapshots(platform.views, platform.backend, platform.topology);
    expect(listed.unusable).toMatch(/records in between are gone/);
    await expect(live.replay({ processors: 'all', fromSnapshot: live.generation() })).rejects.toThrow(/serving reads, not a snapshot/);
  });
}

describe('replay from a snapshot, embedded (lmdb log + lmdb views)', () => snapshotSuite('embedded'));
describeWith(['kafka', 'redis'], 'replay from a snapshot, Kafka + Redis', () => snapshotSuite('kafka-redis'));
