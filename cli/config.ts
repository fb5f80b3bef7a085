// The one module that reads the environment. Every variable is documented in the README with its
// default; everything else receives plain options.
import path from 'node:path';

export class ConfigError extends Error {}

/**
 * How long the analytics processor lingers before a batch (its rows go to ClickHouse for analysts,
 * not to the views product APIs read). Every insert costs ClickHouse a new part and, in chDB here,
 * ~80 ms of fixed work (sink times: 78-100 ms for ~1,000 rows, 145-160 ms for ~13,600), so ClickHouse
 * asks for few large inserts. With the runtime's 20 ms linger, at 10k events/s the analytics
 * processor spent its whole time in ~1,000-row inserts and took the CPU of the view processors. On
 * bench/pipeline-throughput.ts (latency phase, embedded) 250 ms instead of 20 ms cut the p99 into the
 * product views from 117-156 to 74-99 ms, and rows reach the analytics tables ~0.5 s after the event
 * (p99) instead of ~0.3 s. 1 s was no better for the views (bench/RESULTS.md).
 */
export const ANALYTICS_LINGER_MS = 250;

function int(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return value;
}

function str(name: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** A URL with one of `schemes` (e.g. 'redis:'), or undefined when unset. */
function url(name: string, schemes: string[]): string | undefined {
  const raw = str(name);
  if (raw === undefined) return undefined;
  let protocol: string;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    protocol = '';
  }
  if (!schemes.includes(protocol)) {
    throw new ConfigError(`${name} must be a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}, got "${raw.replace(/\/\/[^@/]*@/, '//***@')}"`);
  }
  return raw;
}

export interface Config {
  dataDir: string;
  port: number;
  partitions: number;
  kafkaBrokers?: string[];
  kafkaSsl: boolean;
  kafkaSasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  schemaRegistryUrl?: string;
  redisUrl?: string;
  clickhouseUrl?: string;
  apiToken?: string;
  maxBodyBytes: number;
  celebrityFollowers: number;
  feedLength: number;
  trendingHalfLifeMinutes: number;
  simulate: boolean;
  simulateRate: number;
  simulateUsers: number;
  logRetentionMs: number;
  logRetentionBytes: number;
  /** Bearer token of /v1/admin (SQL over HTTP, flagged accounts); admin routes are off when unset. */
  adminToken?: string;
  /** Ingest refuses events whose ts is further ahead of the server clock (400). */
  maxFutureSkewMs: number;
  /** Events per second each API token (or client address) may ingest. */
  ingestRateLimit: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** Follows per hour of event time above which an account is flagged as a bot. */
  botFollowsPerHour: number;
  /** Worker threads for the view processors on the embedded log (1 = all on the main thread). */
  workers: number;
  /** Kafka: a produce not acknowledged within this fails, and ingest answers 503 + Retry-After. */
  produceTimeoutMs: number;
  /** How often a running platform checks the generation pointer and its stored offsets (replay, recovery). */
  replayPollMs: number;
  /** The analytics processor's linger: rows reach the analytics tables in batches this far apart. */
  analyticsLingerMs: number;
  /** Effects per batch of a rebuild (replay, recovery, verify); undefined = the view store's default (processors/replay/batching.ts). */
  rebuildBatchEffects?: number;
}

export function loadConfig(): Config {
  return {
    dataDir: path.resolve(str('DARKROOM_DATA_DIR') ?? './data'),
    port: port(),
    partitions: int('DARKROOM_PARTITIONS', 8, 1),
    kafkaBrokers: str('KAFKA_BROKERS')?.split(',').map((b) => b.trim()).filter(Boolean),
    kafkaSsl: str('KAFKA_SSL') === '1',
    kafkaSasl: kafkaSasl(),
    schemaRegistryUrl: url('SCHEMA_REGISTRY_URL', ['http:', 'https:']),
    redisUrl: redisUrl(),
    clickhouseUrl: str('CLICKHOUSE_URL'),
    apiToken: str('DARKROOM_API_TOKEN'),
    maxBodyBytes: int('DARKROOM_MAX_BODY_BYTES', 32 * 1024 * 1024, 1024),
    celebrityFollowers: int('DARKROOM_CELEBRITY_FOLLOWERS', 100_000, 1),
    feedLength: int('DARKROOM_FEED_LENGTH', 800, 1),
    trendingHalfLifeMinutes: int('DARKROOM_TRENDING_HALF_LIFE_MINUTES', 60, 1),
    simulate: str('DARKROOM_SIMULATE') !== '0',
    simulateRate: int('DARKROOM_SIMULATE_RATE', 200, 1),
    simulateUsers: int('DARKROOM_SIMULATE_USERS', 10_000, 2),
    logRetentionMs: int('DARKROOM_LOG_RETENTION_MS', -1, -1),
    logRetentionBytes: int('DARKROOM_LOG_RETENTION_BYTES', -1, -1),
    adminToken: str('DARKROOM_ADMIN_TOKEN'),
    maxFutureSkewMs: int('DARKROOM_MAX_FUTURE_SKEW_MS', 5 * 60_000),
    ingestRateLimit: int('DARKROOM_INGEST_RATE_LIMIT', 200_000, 1),
    requestTimeoutMs: int('DARKROOM_REQUEST_TIMEOUT_MS', 30_000, 100),
    headersTimeoutMs: int('DARKROOM_HEADERS_TIMEOUT_MS', 10_000, 100),
    botFollowsPerHour: int('DARKROOM_BOT_FOLLOWS_PER_HOUR', 1_000, 1),
    workers: int('DARKROOM_WORKERS', 1, 1),
    replayPollMs: int('DARKROOM_REPLAY_POLL_MS', 1_000, 50),
    analyticsLingerMs: int('DARKROOM_ANALYTICS_LINGER_MS', ANALYTICS_LINGER_MS, 1),
    rebuildBatchEffects: str('DARKROOM_REBUILD_BATCH_EFFECTS') === undefined ? undefined : int('DARKROOM_REBUILD_BATCH_EFFECTS', 0, 1_000),
    produceTimeoutMs: int('DARKROOM_PRODUCE_TIMEOUT_MS', 10_000, 100),
  };
}

/** REDIS_URL, whose path, when there is one, is the database number (ioredis sent "SELECT NaN" for /abc and read /8x as 8). */
function redisUrl(): string | undefined {
  const raw = url('REDIS_URL', ['redis:', 'rediss:']);
  if (raw !== undefined && !/^\/?(\d+)?$/.test(new URL(raw).pathname)) {
    throw new ConfigError(`REDIS_URL must end with a database number or nothing (redis://host:6379/0), got "${new URL(raw).pathname}"`);
  }
  return raw;
}

function port(): number {
  const value = int('PORT', 8080);
  if (value > 65_535) throw new ConfigError(`PORT must be an integer from 0 to 65535, got "${process.env.PORT}"`);
  return value;
}

/** DARKROOM_DEBUG=1 prints stacks of unexpected errors. */
export function debugEnabled(): boolean {
  return process.env.DARKROOM_DEBUG === '1';
}

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** SASL for Kafka from KAFKA_SASL_MECHANISM / _USERNAME / _PASSWORD; the password never leaves this object. */
function kafkaSasl(): Config['kafkaSasl'] {
  const mechanism = str('KAFKA_SASL_MECHANISM')?.toLowerCase();
  if (!mechanism) return undefined;
  if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new ConfigError(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(', ')}, got "${mechanism}"`);
  }
  const username = str('KAFKA_SASL_USERNAME');
  const password = str('KAFKA_SASL_PASSWORD');
  if (!username || !password) throw new ConfigError('KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
  return { mechanism: mechanism as (typeof SASL_MECHANISMS)[number], username, password };
}
