// A whole darkroom deployment for the pipeline benchmarks: the same engines and wiring as
// `darkroom start` (topics, file registry, serde, view store, chDB analytics, processors/pipeline.ts),
// in a temporary data directory, either embedded or on Kafka + Redis (namespaced so runs never collide).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { createTopicBackend } from '../topics/index.ts';
import { namespacedBackend } from '../topics/namespaced.ts';
import { topicCatalog } from '../topics/catalog.ts';
import { createEventProducer, type EventProducer } from '../topics/event-producer.ts';
import type { TopicBackend } from '../topics/types.ts';
import { TOPICS } from '../schemas/events.ts';
import { createRegistryClient } from '../schemas/registry/index.ts';
import { createSerde, type Serde } from '../schemas/serde.ts';
import { buildTopology, type Topology, type TopologyOptions } from '../processors/topology.ts';
import { createRecordCodec } from '../processors/record-codec.ts';
import { startPipeline, type Pipeline } from '../processors/pipeline.ts';
import { LIVE_BATCHING } from '../processors/replay/index.ts';
import type { RecordCodec, RuntimeObserver } from '../processors/runtime.ts';
import { viewSink, type ViewStore } from '../sinks/view-store.ts';
import { createEmbeddedViewStore } from '../sinks/embedded/embedded-view-store.ts';
import { createRedisViewStore } from '../sinks/redis/redis-view-store.ts';
import { createAnalyticsStore, analyticsSink, type AnalyticsStore } from '../sinks/analytics/analytics-store.ts';
import { pipelineStatus } from '../serving/status.ts';
import { ANALYTICS_LINGER_MS } from '../cli/config.ts';

export type BenchMode = 'embedded' | 'kafka-redis';

export const SOURCE_TOPICS = [TOPICS.socialGraph, TOPICS.profiles, TOPICS.posts, TOPICS.engagement, TOPICS.stories];

export interface BenchPlatformOptions {
  mode: BenchMode;
  partitions: number;
  workers: number;
  kafkaBrokers: string;
  redisUrl: string;
  /** Batching; when omitted, what `darkroom start` uses (LIVE_BATCHING for views, ANALYTICS_LINGER_MS for analytics). */
  maxBatchEffects?: number;
  lingerMs?: number;
  /** The analytics processor's linger (default: what `darkroom start` uses, cli/config.ts); `lingerMs` is the view processors'. */
  analyticsLingerMs?: number;
  /** Groups of view processors on a worker thread of their own each (processors/pipeline.ts `ownThreads`); `darkroom start` puts none there. */
  ownThreads?: string[][];
}

export interface BenchPlatform {
  dataDir: string;
  namespace: string;
  backend: TopicBackend;
  producer: EventProducer;
  serde: Serde;
  topology: Topology;
  codec: RecordCodec;
  views: ViewStore;
  analytics: AnalyticsStore;
  pipeline?: Pipeline;
  startPipeline(observer?: RuntimeObserver): Promise<Pipeline>;
  /** Sum of lag over every processor (0 = every view holds every record). */
  lag(): Promise<number>;
  /** Processors still behind, with their lag and last error, for progress lines. */
  behind(): Promise<string>;
  /** Records on the source topics. */
  sourceRecords(): Promise<number>;
  close(): Promise<void>;
}

export async function openBenchPlatform(options: BenchPlatformOptions): Promise<BenchPlatform> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-pipeline-bench-'));
  const namespace = `bench${randomBytes(4).toString('hex')}`;
  const topologyOptions: TopologyOptions = {
    partitions: options.partitions, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60,
  };
  const topology = buildTopology(topologyOptions);
  const kafka = options.mode === 'kafka-redis';
  const raw = await createTopicBackend({ kafkaBrokers: kafka ? options.kafkaBrokers.split(',') : undefined, dataDir });
  const backend = kafka ? namespacedBackend(raw, namespace) : raw;
  await backend.ensureTopics([...topicCatalog(options.partitions), ...topology.internalTopics]);
  const registry = createRegistryClient({ dataDir });
  const serde = createSerde(registry);
  await serde.warm();
  const views = kafka
    ? await createRedisViewStore({ url: options.redisUrl, namespace })
    : await createEmbeddedViewStore({ dataDir });
  const analytics = await createAnalyticsStore({ dataDir });
  const codec = await createRecordCodec({ serde, registry, internalTopics: topology.internalTopics });
  const generation = await views.currentGeneration();

  const platform: BenchPlatform = {
    dataDir, namespace, backend, producer: createEventProducer(backend, serde), serde, topology, codec, views, analytics,
    async startPipeline(observer) {
      // As `darkroom start` runs them: the view processors with the live batching of their store
      // (processors/replay/batching.ts LIVE_BATCHING), analytics beside them with its own linger.
      const live = LIVE_BATCHING[views.kind];
      const maxBatchEffects = options.maxBatchEffects ?? live.maxBatchEffects;
      const lingerMs = options.lingerMs ?? live.lingerMs;
      const common = { backend, codec, topology, groupPrefix: 'darkroom', observer, log: (line: string) => console.log(`  [pipeline] ${line}`) };
      const viewPipeline = await startPipeline({
        ...common,
        only: topology.nodes.filter((n) => n.sink === 'views').map((n) => n.processor.name),
        sinkFor: (name) => viewSink(views, generation, name),
        workers: options.workers, maxBatchEffects, lingerMs, ownThreads: options.ownThreads,
        workerSetup: { dataDir, topology: topologyOptions, generation, groupPrefix: 'darkroom', maxBatchEffects, lingerMs },
      });
      const analyticsPipeline = await startPipeline({
        ...common,
        only: topology.nodes.filter((n) => n.sink === 'analytics').map((n) => n.processor.name),
        sinkFor: (name) => analyticsSink(analytics, name),
        maxBatchEffects: options.maxBatchEffects, lingerMs: options.analyticsLingerMs ?? ANALYTICS_LINGER_MS,
      });
      const both = [viewPipeline, analyticsPipeline];
      platform.pipeline = {
        processors: both.flatMap((p) => p.processors),
        restored: async () => { await Promise.all(both.map((p) => p.restored())); },
        setBatching: (batching) => viewPipeline.setBatching(batching),
        stop: async () => { for (const p of both) await p.stop(); },
      };
      return platform.pipeline;
    },
    async lag() {
      return (await pipelineStatus(backend, platform.pipeline!.processors)).lag;
    },
    async behind() {
      const status = await pipelineStatus(backend, platform.pipeline!.processors);
      return Object.entries(status.processors).filter(([, p]) => p.lag > 0)
        .map(([name, p]) => `${name} ${p.lag}${p.last_error ? ` (${String(p.last_error).slice(0, 80)})` : ''}`).join(', ');
    },
    async sourceRecords() {
      let total = 0;
      for (const topic of SOURCE_TOPICS) for (const end of await backend.endOffsets(topic)) total += end.offset;
      return total;
    },
    async close() {
      await platform.pipeline?.stop();
      await analytics.close();
      if (kafka) await dropRedisNamespace(options.redisUrl, namespace).catch(() => {});
      await views.close();
      await backend.close();
      await (registry as unknown as { close?: () => unknown }).close?.();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return platform;
}

/** The Redis keys of a benchmark run go away with it. */
export async function dropRedisNamespace(url: string, namespace: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Samples where the throughput phase allocates, the objects the collector took back included (V8's
 * sampling heap profiler keeps only the live ones unless asked): what the young-generation GC pays
 * for. Written as a .heapprofile (Chrome DevTools, Memory tab).
 */
export async function startAllocationProfile(file: string | undefined): Promise<{ stop(): Promise<void> }> {
  if (!file) return { stop: async () => {} };
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  // The two flags are V8's (Node's typings predate them).
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 32_768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
  } as { samplingInterval: number });
  return {
    async stop() {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      fs.writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      console.log(`  allocation profile written to ${file}`);
    },
  };
}

/** A CPU profile of this thread from now until `stop`, written to `file` (nothing without a file). */
export async function startCpuProfile(file: string | undefined, what = 'CPU profile'): Promise<{ stop(): Promise<void> }> {
  if (!file) return { stop: async () => {} };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      console.log(`  ${what} written to ${file}`);
    },
  };
}
