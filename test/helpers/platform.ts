// A whole darkroom pipeline inside a test: real engines (embedded, or Kafka + Redis + chDB), the same
// wiring as `darkroom start` (processors/pipeline.ts), isolated by namespace so runs never collide.
import { randomBytes } from 'node:crypto';
import { createTopicBackend } from '../../topics/index.ts';
import { namespacedBackend } from '../../topics/namespaced.ts';
import { topicCatalog } from '../../topics/catalog.ts';
import { createEventProducer, type EventProducer } from '../../topics/event-producer.ts';
import type { TopicBackend } from '../../topics/types.ts';
import { createRegistryClient } from '../../schemas/registry/index.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { buildTopology, type Topology, type TopologyOptions } from '../../processors/topology.ts';
import { createRecordCodec } from '../../processors/record-codec.ts';
import { startPipeline, type Pipeline } from '../../processors/pipeline.ts';
import type { RecordCodec } from '../../processors/runtime.ts';
import { viewSink, type ViewStore } from '../../sinks/view-store.ts';
import { createEmbeddedViewStore } from '../../sinks/embedded/embedded-view-store.ts';
import { createRedisViewStore } from '../../sinks/redis/redis-view-store.ts';
import { createAnalyticsStore, analyticsSink, type AnalyticsStore } from '../../sinks/analytics/analytics-store.ts';
import { pipelineStatus } from '../../serving/status.ts';
import { SERVICES } from '../service-endpoints.ts';
import { eventually } from './tmp.ts';

export type EngineMode = 'embedded' | 'kafka-redis';

export interface TestPlatformOptions {
  mode: EngineMode;
  dataDir: string;
  /** Reuse a namespace to restart "the same" deployment. */
  namespace?: string;
  topology?: Partial<TopologyOptions>;
  startProcessors?: boolean;
  registryUrl?: string;
  /** Analytics on a ClickHouse server over HTTP (as CLICKHOUSE_URL) instead of chDB in `dataDir`. */
  clickhouseUrl?: string;
}

export interface TestPlatform {
  namespace: string;
  backend: TopicBackend;
  serde: Serde;
  registry: ReturnType<typeof createRegistryClient>;
  producer: EventProducer;
  views: ViewStore;
  analytics: AnalyticsStore;
  topology: Topology;
  codec: RecordCodec;
  generation: string;
  pipeline?: Pipeline;
  startProcessors(): Promise<Pipeline>;
  /** Waits until every processor's sink holds every record of its inputs. */
  caughtUp(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startTestPlatform(options: TestPlatformOptions): Promise<TestPlatform> {
  const namespace = options.namespace ?? `t${randomBytes(4).toString('hex')}`;
  const topologyOptions: TopologyOptions = {
    partitions: 4, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60, ...options.topology,
  };
  const topology = buildTopology(topologyOptions);
  const kafka = options.mode === 'kafka-redis';
  const raw = await createTopicBackend({ kafkaBrokers: kafka ? SERVICES.kafka.split(',') : undefined, dataDir: options.dataDir });
  const backend = kafka ? namespacedBackend(raw, namespace) : raw;
  await backend.ensureTopics([...topicCatalog(topologyOptions.partitions), ...topology.internalTopics]);
  const registry = createRegistryClient({ url: options.registryUrl, dataDir: options.dataDir });
  const serde = createSerde(registry);
  await serde.warm();
  const views = kafka
    ? await createRedisViewStore({ url: SERVICES.redis, namespace })
    : await createEmbeddedViewStore({ dataDir: options.dataDir });
  const analytics = await createAnalyticsStore({ url: options.clickhouseUrl, dataDir: options.dataDir });
  const codec = await createRecordCodec({ serde, registry, internalTopics: topology.internalTopics });
  const generation = await views.currentGeneration();

  const platform: TestPlatform = {
    namespace, backend, serde, registry, producer: createEventProducer(backend, serde), views, analytics, topology, codec, generation,
    async startProcessors() {
      platform.pipeline = await startPipeline({
        backend, codec, topology, groupPrefix: 'darkroom', lingerMs: 10,
        sinkFor: (name, kind) => (kind === 'views' ? viewSink(views, generation, name) : analyticsSink(analytics, name)),
      });
      return platform.pipeline;
    },
    async caughtUp(timeoutMs = 60_000) {
      await eventually(async () => {
        const status = await pipelineStatus(backend, platform.pipeline!.processors);
        return status.lag === 0 ? status : undefined;
      }, timeoutMs, 'processors to catch up (lag 0)');
    },
    async close() {
      await platform.pipeline?.stop();
      await analytics.close();
      await views.close();
      await backend.close();
      await (registry as unknown as { close?: () => unknown }).close?.();
    },
  };
  if (options.startProcessors !== false) await platform.startProcessors();
  return platform;
}
