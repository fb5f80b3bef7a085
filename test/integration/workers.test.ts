// Worker threads: the view processors split over 2 threads by partition (analytics on the main thread)
// give exactly the feeds, timelines and post stats of a single-threaded run, also across a stop and
// restart in between; so does feed-fanout alone on a thread of its own (what a rebuild that ends when
// caught up asks for: processors/replay/batching.ts REBUILD_OWN_THREADS).
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { createEmbeddedBackend } from '../../topics/embedded/index.ts';
import { topicCatalog } from '../../topics/catalog.ts';
import { createEventProducer } from '../../topics/event-producer.ts';
import { createRegistryClient } from '../../schemas/registry/index.ts';
import { createSerde } from '../../schemas/serde.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';
import { buildTopology, type TopologyOptions } from '../../processors/topology.ts';
import { createRecordCodec } from '../../processors/record-codec.ts';
import { startPipeline, type Pipeline } from '../../processors/pipeline.ts';
import type { RuntimeObserver } from '../../processors/runtime.ts';
import { viewSink } from '../../sinks/view-store.ts';
import { createEmbeddedViewStore } from '../../sinks/embedded/embedded-view-store.ts';
import { createAnalyticsStore, analyticsSink, type AnalyticsStore } from '../../sinks/analytics/analytics-store.ts';
import { pipelineStatus } from '../../serving/status.ts';
import { snapshotViews } from '../helpers/snapshot.ts';
import { eventually, tempDataDir } from '../helpers/tmp.ts';

const PARTITIONS = 4;
const USERS = 400;
const topologyOptions: TopologyOptions = { partitions: PARTITIONS, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 };
const root = tempDataDir('darkroom-workers-');
afterAll(() => root.remove());

/** A deployment on one data dir; `run` processes what is on the topics until lag 0, then stops. */
async function deployment(dataDir: string, analytics?: AnalyticsStore) {
  const topology = buildTopology(topologyOptions);
  const backend = createEmbeddedBackend({ dataDir });
  await backend.ensureTopics([...topicCatalog(PARTITIONS), ...topology.internalTopics]);
  const registry = createRegistryClient({ dataDir });
  const serde = createSerde(registry);
  await serde.warm();
  const codec = await createRecordCodec({ serde, registry, internalTopics: topology.internalTopics });
  const views = await createEmbeddedViewStore({ dataDir });
  const generation = await views.currentGeneration();
  /** Where each processor ran in the last run (ProcessorView details). */
  const placements = new Map<string, string>();
  const only = topology.nodes.filter((n) => analytics || n.sink === 'views').map((n) => n.processor.name);
  return {
    views, generation, placements, producer: createEventProducer(backend, serde),
    start(workers: number, ownThreads?: string[][], extra: { observer?: RuntimeObserver; maxBatchEffects?: number } = {}): Promise<Pipeline> {
      return startPipeline({
        backend, codec, topology, only, workers, ownThreads, lingerMs: 10, ...extra,
        workerSetup: { dataDir, topology: topologyOptions, generation, groupPrefix: 'darkroom', lingerMs: 10, maxBatchEffects: extra.maxBatchEffects },
        sinkFor: (name, kind) => (kind === 'views' ? viewSink(views, generation, name) : analyticsSink(analytics!, name)),
      });
    },
    lag: async (pipeline: Pipeline) => (await pipelineStatus(backend, pipeline.processors)).lag,
    async run(workers: number, ownThreads?: string[][]): Promise<void> {
      const pipeline = await this.start(workers, ownThreads);
      try {
        for (const p of pipeline.processors) placements.set(p.name, p.details().thread as string);
        await eventually(async () => ((await pipelineStatus(backend, pipeline.processors)).lag === 0 ? true : undefined), 120_000, 'lag 0');
      } finally {
        await pipeline.stop();
      }
    },
    async close() {
      await views.close();
      await backend.close();
      await (registry as unknown as { close?: () => unknown }).close?.();
    },
  };
}

describe('worker threads', () => {
  it('2 worker threads give the views of one thread, across a restart', async () => {
    const simulation = createSimulation({ users: USERS, seed: 11, startTs: Date.now() - 3_600_000, rate: 2_000 });
    const first: DarkroomEvent[] = [...simulation.bootstrap(), ...simulation.next(6_000)];
    const second = simulation.next(4_000);
    const analytics = await createAnalyticsStore({ dataDir: path.join(root.dir, 'threaded') });
    const threaded = await deployment(path.join(root.dir, 'threaded'), analytics);
    const single = await deployment(path.join(root.dir, 'single'));
    try {
      await threaded.producer.send(first);
      await threaded.run(2);
      await threaded.producer.send(second);
      await threaded.run(2); // workers restore their partitions' state from the sinks' offsets

      await single.producer.send([...first, ...second]);
      await single.run(1);

      const scope = { users: USERS, posts: simulation.stats().posts + 10, partitions: PARTITIONS };
      const a = await snapshotViews(threaded.views, threaded.generation, undefined, scope);
      const b = await snapshotViews(single.views, single.generation, undefined, scope);
      expect(Object.keys(a.feeds).length).toBeGreaterThan(USERS / 4);
      expect(Object.keys(a.stats).length).toBeGreaterThan(100);
      // Trending is left out: its scores depend on how the repartition topic interleaves the source
      // partitions (it differs after a plain single-thread restart too), which is not what this tests.
      expect({ ...a, trending: [] }).toEqual({ ...b, trending: [] });
      const [row] = await analytics.query('SELECT count() AS n FROM events');
      expect(Number(row.n)).toBe(first.length + second.length);
    } finally {
      await threaded.close();
      await single.close();
      await analytics.close();
    }
  }, 300_000);

  it('feed-fanout on a thread of its own, and two processors on a thread they share, give the views of one thread', async () => {
    const simulation = createSimulation({ users: USERS, seed: 12, startTs: Date.now() - 3_600_000, rate: 2_000 });
    const events: DarkroomEvent[] = [...simulation.bootstrap(), ...simulation.next(8_000)];
    const alone = await deployment(path.join(root.dir, 'alone'));
    const single = await deployment(path.join(root.dir, 'alone-single'));
    try {
      await alone.producer.send(events);
      await alone.run(1, [['feed-fanout'], ['engagement-counters', 'seen-state']]);
      await single.producer.send(events);
      await single.run(1);

      // On one core the pipeline keeps every processor here: a thread would only move the work.
      const threads = os.availableParallelism() > 1;
      expect(alone.placements.get('feed-fanout')).toBe(threads ? 'own worker' : 'main');
      expect(alone.placements.get('engagement-counters')).toBe(threads ? 'shared worker' : 'main');
      expect(alone.placements.get('seen-state')).toBe(threads ? 'shared worker' : 'main');
      const offThread = ['feed-fanout', 'engagement-counters', 'seen-state'];
      expect([...alone.placements].filter(([name]) => !offThread.includes(name)).every(([, thread]) => thread === 'main')).toBe(true);
      expect(single.placements.get('feed-fanout')).toBe('main');

      const scope = { users: USERS, posts: simulation.stats().posts + 10, partitions: PARTITIONS };
      const a = await snapshotViews(alone.views, alone.generation, undefined, scope);
      const b = await snapshotViews(single.views, single.generation, undefined, scope);
      expect(Object.keys(a.feeds).length).toBeGreaterThan(USERS / 4);
      expect({ ...a, trending: [] }).toEqual({ ...b, trending: [] });
    } finally {
      await alone.close();
      await single.close();
    }
  }, 300_000);

  it('a new batching reaches the processors on worker threads, which go on with their state', async () => {
    const simulation = createSimulation({ users: USERS, seed: 13, startTs: Date.now() - 3_600_000, rate: 2_000 });
    const dep = await deployment(path.join(root.dir, 'rebatched'));
    const batches: Array<{ processor: string; records: number }> = [];
    const observer: RuntimeObserver = { onBatch: (processor, info) => batches.push({ processor, records: info.records }) };
    const pipeline = await dep.start(2, undefined, { observer, maxBatchEffects: 1_000_000 });
    try {
      expect(pipeline.processors.every((p) => p.details().thread === '2 workers by partition')).toBe(true);
      await dep.producer.send([...simulation.bootstrap(), ...simulation.next(4_000)]);
      await eventually(async () => ((await dep.lag(pipeline)) === 0 ? true : undefined), 120_000, 'lag 0');
      expect(Math.max(...batches.map((b) => b.records))).toBeGreaterThan(100);
      const restores = pipeline.processors.map((p) => p.running.progress().restoreMs);

      pipeline.setBatching({ maxBatchEffects: 5, lingerMs: 10 });
      expect(pipeline.processors.map((p) => p.details().max_batch_effects)).toEqual(pipeline.processors.map(() => 5));
      await new Promise((r) => setTimeout(r, 200)); // the message reaches the threads
      const from = batches.length;
      await dep.producer.send(simulation.next(2_000));
      await eventually(async () => ((await dep.lag(pipeline)) === 0 ? true : undefined), 120_000, 'lag 0 again');
      const after = batches.slice(from);
      expect(after.length).toBeGreaterThan(2_000 / 5);
      // The cap is checked as each task adds a record, and a thread's tasks (one per partition) share
      // the batch: one record more per other task, at most.
      expect(Math.max(...after.map((b) => b.records))).toBeLessThanOrEqual(5 + PARTITIONS);
      // The same tasks went on: nothing was restored again.
      expect(pipeline.processors.map((p) => p.running.progress().restoreMs)).toEqual(restores);
    } finally {
      await pipeline.stop();
      await dep.close();
    }
  }, 300_000);
});
