// Picks the sinks from plain options (cli/config.ts reads the environment): Redis when a URL is
// given, the embedded lmdb store otherwise; a ClickHouse server when a URL is given, chDB otherwise.
import { createAnalyticsStore, type AnalyticsStore } from './analytics/analytics-store.ts';
import { createEmbeddedViewStore } from './embedded/embedded-view-store.ts';
import { createRedisViewStore } from './redis/redis-view-store.ts';
import type { ViewStore } from './view-store.ts';

export function createViewStore(options: { redisUrl?: string; dataDir: string }): Promise<ViewStore> {
  return options.redisUrl
    ? createRedisViewStore({ url: options.redisUrl })
    : createEmbeddedViewStore({ dataDir: options.dataDir });
}

export function openAnalyticsStore(options: { clickhouseUrl?: string; dataDir: string }): Promise<AnalyticsStore> {
  return createAnalyticsStore({ url: options.clickhouseUrl, dataDir: options.dataDir });
}

export { analyticsSink, type AnalyticsStore, type AnalyticsBatch, type RowEffect } from './analytics/analytics-store.ts';
export { ANALYST_QUERIES } from './analytics/schema.ts';
export { SinkError, SinkUnavailableError, redactUrl } from './errors.ts';
export { INITIAL_GENERATION, viewSink, type ScoreRange, type ScoredMember, type ViewBatch, type ViewStore } from './view-store.ts';
