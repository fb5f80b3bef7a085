// The composition root: picks each engine from the config (embedded default or the real service)
// and wires them together. Nothing else in darkroom decides which engine it talks to.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@confluentinc/schemaregistry';
import type { Config } from './config.ts';
import { UserError } from './errors.ts';
import { topicCatalog } from '../topics/catalog.ts';
import { createTopicBackend } from '../topics/index.ts';
import type { TopicBackend, TopicSpec } from '../topics/types.ts';
import { createEventProducer, type EventProducer } from '../topics/event-producer.ts';
import { createRegistryClient } from '../schemas/registry/index.ts';
import { createSerde, type Serde } from '../schemas/serde.ts';
import { viewSink, type ViewStore } from '../sinks/view-store.ts';
import type { AnalyticsStore } from '../sinks/analytics/analytics-store.ts';
import type { RecordCodec, RuntimeObserver, Sink } from '../processors/runtime.ts';
import { startPipeline } from '../processors/pipeline.ts';
import type { StartViews } from '../processors/replay/index.ts';
import { buildTopology } from '../processors/topology.ts';

export interface Backbone {
  config: Config;
  backend: TopicBackend;
  registry: Client;
  serde: Serde;
  producer: EventProducer;
  close(): Promise<void>;
}

/** A line of the platform's log on stderr, timestamped. */
export const logLine = (line: string): void => { process.stderr.write(`${new Date().toISOString()} ${line}\n`); };

/** Credentials never reach a log line or an error message. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = parsed.username ? '***' : '';
      parsed.password = parsed.password ? '***' : '';
    }
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

async function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UserError(`${what}: no answer within ${ms / 1000}s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Topics, registry and the event producer: what ingest, the simulator and `tail` need. Only the
 * platform (`owner`) sets the retention of existing topics from its environment; a tool run beside
 * it with another DARKROOM_LOG_RETENTION_MS must not change what the platform's sweep deletes.
 */
export async function openBackbone(config: Config, extraTopics: TopicSpec[] = [], options: { owner?: boolean; creates?: boolean } = {}): Promise<Backbone> {
  // The embedded log and the file registry live in the data dir: a tool pointed at a directory with
  // no darkroom data would create empty stores there and answer from them as if all were well.
  if (!options.owner && !options.creates && !(config.kafkaBrokers && config.schemaRegistryUrl)) requireDataDir(config);
  const where = config.kafkaBrokers ? `Kafka at ${config.kafkaBrokers.join(',')}` : `the embedded log in ${config.dataDir}`;
  const backend = await withTimeout(`cannot reach ${where}`, 30_000, (async () => {
    const backend = await createTopicBackend({ kafkaBrokers: config.kafkaBrokers, kafkaSsl: config.kafkaSsl, kafkaSasl: config.kafkaSasl, dataDir: config.dataDir, produceTimeoutMs: config.produceTimeoutMs });
    await backend.ensureTopics(
      [...topicCatalog(config.partitions, { ms: config.logRetentionMs, bytes: config.logRetentionBytes }), ...extraTopics],
      { updateRetention: options.owner === true },
    );
    return backend;
  })()).catch((error: Error) => {
    throw new UserError(error instanceof UserError ? error.message : `cannot use ${where}: ${error.message}`);
  });

  if (config.kafkaBrokers && !config.schemaRegistryUrl) {
    // Schema ids are numbered in the order a registry first saw each schema: a second darkroom on the
    // same topics with another data dir may number them otherwise and dead-letter what it reads.
    logLine(`schema registry: file-backed in ${config.dataDir} while the topics are on Kafka; every darkroom process and command on these topics must use this DARKROOM_DATA_DIR, or set SCHEMA_REGISTRY_URL`);
  }
  const registry = createRegistryClient({ url: config.schemaRegistryUrl, dataDir: config.dataDir });
  const serde = createSerde(registry);
  const registryName = config.schemaRegistryUrl ? `the schema registry at ${redactUrl(config.schemaRegistryUrl)}` : 'the file-backed schema registry';
  await withTimeout(`cannot reach ${registryName}`, 30_000, serde.warm()).catch(async (error: Error) => {
    await backend.close().catch(() => {});
    throw new UserError(error instanceof UserError ? error.message : `cannot use ${registryName}: ${error.message}`);
  });

  return {
    config,
    backend,
    registry,
    serde,
    producer: createEventProducer(backend, serde),
    async close() {
      await backend.close();
      await (registry as { close?: () => Promise<void> | void }).close?.();
    },
  };
}

const PID_FILE = 'darkroom.pid';

/**
 * Marks the data dir as owned by this running platform until it exits: a tool that finds no
 * darkroom answering on PORT (one still starting, or on another port) must not open the embedded
 * stores beside it (platformOwning).
 */
export function markDataDirOwned(config: Config): void {
  const file = path.join(config.dataDir, PID_FILE);
  writeFileSync(file, `${process.pid}\n`);
  process.once('exit', () => { try { if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file); } catch { /* gone */ } });
}

/** The pid of a live darkroom platform (not this process) that owns the data dir, if any. */
export function platformOwning(config: Config): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(config.dataDir, PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0); // throws when no such process (a platform killed with -9 leaves its file)
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Refuses a data dir that does not exist, for commands that read what darkroom start wrote there. */
export function requireDataDir(config: Config): void {
  if (!existsSync(config.dataDir)) {
    throw new UserError(`no darkroom data in ${config.dataDir}: set DARKROOM_DATA_DIR to the directory darkroom start uses (it creates it)`);
  }
}

/** Redis when REDIS_URL is set, the embedded store under the data dir otherwise. */
export async function openViewStore(config: Config): Promise<ViewStore> {
  if (config.redisUrl) {
    const { createRedisViewStore } = await import('../sinks/redis/redis-view-store.ts');
    return withTimeout(`cannot reach Redis at ${redactUrl(config.redisUrl)}`, 15_000, createRedisViewStore({ url: config.redisUrl }))
      .catch((error: Error) => { throw new UserError(error.message); });
  }
  const { createEmbeddedViewStore } = await import('../sinks/embedded/embedded-view-store.ts');
  return createEmbeddedViewStore({ dataDir: config.dataDir, onWarning: logLine });
}

export interface OpenAnalytics extends AnalyticsStore {
  sink(processor: string): Sink;
}

/** A ClickHouse server when CLICKHOUSE_URL is set, chDB in-process otherwise. */
export async function openAnalyticsStore(config: Config): Promise<OpenAnalytics> {
  const { createAnalyticsStore, analyticsSink } = await import('../sinks/analytics/analytics-store.ts');
  const where = config.clickhouseUrl ? `ClickHouse at ${redactUrl(config.clickhouseUrl)}` : 'chDB';
  const store = await withTimeout(`cannot reach ${where}`, 30_000, createAnalyticsStore({ url: config.clickhouseUrl, dataDir: config.dataDir }))
    .catch((error: Error) => { throw new UserError(error instanceof UserError ? error.message : `cannot use ${where}: ${error.message}`); });
  return Object.assign(store, { sink: (processor: string) => analyticsSink(store, processor) });
}

/**
 * How this process starts view pipelines writing a generation: one function for `start`/`process`
 * (live views, replays inside the platform, recovery) and for `replay`/`verify`. Each caller used to
 * spell it out, and the platform's copy passed the consumer group only to worker threads, so on Kafka
 * a rebuild inside the platform joined the live processors' group and was given no partitions.
 */
export function viewPipelines(config: Config, engines: {
  backend: TopicBackend; codec: RecordCodec; views: ViewStore; observer?: RuntimeObserver; log?: (line: string) => void;
}): StartViews {
  const { backend, codec, views } = engines;
  return (generation, groupPrefix, only, batching, ownThreads, writtenBefore) => startPipeline({
    backend, codec, topology: buildTopology(config), observer: engines.observer, log: engines.log, groupPrefix, only, writtenBefore,
    sinkFor: (name) => viewSink(views, generation, name),
    workers: config.workers, ownThreads, ...batching,
    workerSetup: {
      dataDir: config.dataDir, generation, groupPrefix, schemaRegistryUrl: config.schemaRegistryUrl, redisUrl: config.redisUrl, ...batching,
      topology: {
        partitions: config.partitions, celebrityFollowers: config.celebrityFollowers, feedLength: config.feedLength,
        trendingHalfLifeMinutes: config.trendingHalfLifeMinutes, botFollowsPerHour: config.botFollowsPerHour,
      },
    },
  });
}

/** Is a darkroom serving on this machine's PORT? (`replay`, `verify`, `snapshot` and `sql` then ask it.) */
export async function platformAnswers(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
    return res.status === 200 || res.status === 503;
  } catch {
    return false;
  }
}
