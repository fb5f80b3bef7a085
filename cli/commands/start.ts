import type { Server } from 'node:http';
import { loadConfig } from '../config.ts';
import { UserError, exitWithError } from '../errors.ts';
import { logLine, markDataDirOwned, openBackbone, openViewStore, openAnalyticsStore, redactUrl, viewPipelines } from '../platform.ts';
import { buildTopology } from '../../processors/topology.ts';
import { createRecordCodec } from '../../processors/record-codec.ts';
import { startPipeline, type Pipeline } from '../../processors/pipeline.ts';
import { startLiveViews, type LiveViews, type StartViews } from '../../processors/replay/index.ts';
import { replayAdminRouter } from '../../serving/replay-admin.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import { createMetrics } from '../../serving/metrics.ts';
import { createApp } from '../../serving/app.ts';
import { ingestRouter } from '../../serving/ingest.ts';
import { readRouter } from '../../serving/read/index.ts';
import { createHttpServer, createRateLimiter } from '../../serving/hardening.ts';
import { adminRouter } from '../../serving/admin.ts';
import { pipelineStatus, readingStored, statusRouter, type ProcessorStatusSource } from '../../serving/status.ts';
import { registryApiRouter } from '../../serving/registry-api.ts';
import { dashboardRouter } from '../../serving/dashboard/router.ts';
import { validateEvents } from '../../schemas/validate.ts';
import { routeOf } from '../../schemas/events.ts';
import { createSimulation } from '../../simulator/index.ts';
import { pump } from '../../simulator/pump.ts';

export interface Roles { ingest: boolean; process: boolean; serve: boolean }

const log = logLine;

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new UserError(`port ${port} is already in use; set PORT to a free port`) : error);
    });
    server.once('listening', () => resolve());
  });
}

export async function start(roles: Roles): Promise<void> {
  const config = loadConfig();
  const topology = buildTopology(config);
  const backbone = await openBackbone(config, topology.internalTopics, { owner: true });
  markDataDirOwned(config);
  const { backend } = backbone;
  const metrics = createMetrics();
  const views: ViewStore = await openViewStore(config);
  const analytics = roles.process ? await openAnalyticsStore(config) : undefined;

  let pipeline: Pipeline | undefined;
  // The view processors live in `live` (processors/replay/live-views.ts): a replay moves them to a new generation.
  let live: LiveViews | undefined;
  let startViews: StartViews | undefined;
  let viewSources: ProcessorStatusSource[] = [];
  // On Kafka a process applies only the partitions the group gave it; the lag of whole processors
  // (what /v1/status, the lag gauge and its alert promise) comes from the offsets in the shared sinks.
  const shared = backend.kind === 'kafka';
  const statusSources = (): ProcessorStatusSource[] => [
    ...(live && shared ? readingStored(live.processors(), (name) => views.offsets(live!.generation(), name)) : live?.processors() ?? viewSources),
    ...(pipeline && shared ? readingStored(pipeline.processors, (name) => analytics!.offsets(name)) : pipeline?.processors ?? []),
  ];
  const generation = await views.currentGeneration();
  if (roles.process) {
    const codec = await createRecordCodec({
      serde: backbone.serde, registry: backbone.registry, internalTopics: topology.internalTopics,
    });
    log(`processors: starting ${topology.nodes.length} on ${backend.kind === 'kafka' ? 'Kafka' : 'the embedded log'}, views in ${views.kind}, generation ${generation}`);
    // Fresh processors for every pipeline: a replay runs its own beside the live ones, in groups of its own.
    startViews = viewPipelines(config, { backend, codec, views, observer: metrics.observer, log });
    live = await startLiveViews({ views, backend, topology, startViews, log, pollMs: config.replayPollMs, rebuildBatchEffects: config.rebuildBatchEffects });
    // Analytics rows are facts, not views: they keep flowing, untouched by replays.
    pipeline = await startPipeline({
      backend, codec, topology, observer: metrics.observer, log,
      only: topology.nodes.filter((n) => n.sink === 'analytics').map((n) => n.processor.name),
      sinkFor: (name) => analytics!.sink(name),
      lingerMs: config.analyticsLingerMs,
    });
  } else {
    viewSources = topology.nodes.filter((n) => n.sink === 'views').map((node) => ({
      name: node.processor.name, inputs: node.processor.inputs, offsets: async () => views.offsets(await views.currentGeneration(), node.processor.name),
    }));
  }
  // Not ready while restoring state, nor while the views are known to be incomplete (rebuilding).
  const ready = () => [...(live?.processors() ?? []), ...(pipeline?.processors ?? [])].every((p) => !p.running.progress().restoring)
    && live?.status().state !== 'rebuilding';

  let server: Server | undefined;
  if (roles.serve || roles.ingest) {
    const app = createApp({
      metrics,
      apiToken: config.apiToken,
      adminToken: config.adminToken,
      adminRoutes: [
        adminRouter({ analytics, views, generation: () => live?.generation() ?? views.currentGeneration() }),
        replayAdminRouter({ live, views, backend, topology, startViews }),
      ],
      log,
      ready,
      routes: [
        ingestRouter({
          producer: backbone.producer, validate: validateEvents, maxBodyBytes: config.maxBodyBytes,
          maxFutureSkewMs: config.maxFutureSkewMs,
          rateLimit: { limiter: createRateLimiter({ eventsPerSecond: config.ingestRateLimit }), eventsPerSecond: config.ingestRateLimit },
          onAccepted: (events) => { for (const e of events) metrics.eventsIngested.inc({ topic: routeOf(e).topic }); },
        }),
        readRouter({ views, generation: () => views.currentGeneration(), trendingHalfLifeMinutes: config.trendingHalfLifeMinutes, partitions: config.partitions }),
        // Without processors (serve) the generation is the store's pointer, which a replay elsewhere moves.
        statusRouter(backend, statusSources, async () => ({
          views: live?.status() ?? { generation: await views.currentGeneration() },
          engines: {
            topics: backend.kind === 'kafka' ? 'kafka' : 'embedded',
            views: views.kind,
            analytics: analytics?.kind ?? null,
            schema_registry: config.schemaRegistryUrl ? redactUrl(config.schemaRegistryUrl) : 'file',
          },
        })),
      ],
      // The file registry is readable by any Confluent client at <darkroom>/registry.
      publicRoutes: [...(config.schemaRegistryUrl ? [] : [registryApiRouter(backbone.registry)]), dashboardRouter({ backend, processors: statusSources })],
    });
    server = createHttpServer(app, config).listen(config.port, '0.0.0.0');
    await listen(server, config.port);
    log(`serving on http://localhost:${config.port} (POST /v1/events, GET /v1/status, /metrics)`);
  }

  // A processors-only process (`darkroom process`) still answers /healthz and /metrics, so a container
  // orchestrator can check it and Prometheus can scrape every replica (docker-compose.yml).
  if (!server) {
    const app = createApp({
      metrics, log, routes: [],
      ready,
    });
    server = app.listen(config.port, '0.0.0.0');
    await listen(server, config.port);
    log(`metrics on http://localhost:${config.port}/metrics (/healthz)`);
  }

  // The lag gauge follows what /v1/status computes, for the pipeline dashboard and the lag alert
  // (dashboards/); a failed round (an engine briefly away) leaves the last value until the next one.
  const lagTimer = setInterval(() => {
    pipelineStatus(backend, statusSources()).then((status) => {
      for (const [processor, s] of Object.entries(status.processors)) metrics.lag.set({ processor }, s.lag);
    }, () => {});
  }, 5_000);
  lagTimer.unref();

  const abort = new AbortController();
  if (config.simulate && roles.ingest && roles.process) {
    // Ids of its own per start: p1 of the run before was another author's post (see darkroom simulate).
    const startTs = Date.now();
    const simulation = createSimulation({ users: config.simulateUsers, seed: 1, startTs, rate: config.simulateRate, run: startTs.toString(36) });
    log(`simulator: ${config.simulateUsers} users at ${config.simulateRate} events/s (DARKROOM_SIMULATE=0 turns it off)`);
    void pump({
      simulation, send: (events) => backbone.producer.send(events), batch: 100, bootstrap: true,
      rate: config.simulateRate, signal: abort.signal,
    }).catch((error) => log(`simulator stopped: ${(error as Error).message}`));
  }

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    log('stopping...');
    abort.abort();
    clearInterval(lagTimer);
    const force = setTimeout(() => process.exit(1), 15_000);
    try {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await live?.stop();
      await pipeline?.stop();
      await analytics?.close();
      await views.close();
      await backbone.close();
      clearTimeout(force);
      process.exit(0);
    } catch (error) {
      exitWithError(error);
    }
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}
