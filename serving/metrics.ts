import client from 'prom-client';
import type { RequestHandler } from 'express';
import type { RuntimeObserver } from '../processors/runtime.ts';

/** Prometheus metrics of one darkroom process; names are what the Grafana dashboards query. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'darkroom_process_' });

  const eventsIngested = new client.Counter({
    name: 'darkroom_events_ingested_total', help: 'Events accepted by ingest, by topic',
    labelNames: ['topic'] as const, registers: [registry],
  });
  const eventsProcessed = new client.Counter({
    name: 'darkroom_processor_events_total', help: 'Events applied by a processor and made durable in its sink',
    labelNames: ['processor'] as const, registers: [registry],
  });
  const batches = new client.Counter({
    name: 'darkroom_processor_batches_total', help: 'Micro-batches applied by a processor',
    labelNames: ['processor'] as const, registers: [registry],
  });
  const batchSize = new client.Histogram({
    name: 'darkroom_processor_batch_records', help: 'Records per micro-batch',
    labelNames: ['processor'] as const, buckets: [1, 10, 100, 1000, 5000, 20000], registers: [registry],
  });
  const sinkLatency = new client.Histogram({
    name: 'darkroom_sink_apply_seconds', help: 'Time to apply one micro-batch (effects + offsets) in the sink',
    labelNames: ['processor'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers: [registry],
  });
  const sinkErrors = new client.Counter({
    name: 'darkroom_sink_errors_total', help: 'Failed sink applies (retried with backoff)',
    labelNames: ['processor'] as const, registers: [registry],
  });
  const deadLetters = new client.Counter({
    name: 'darkroom_dead_letters_total', help: 'Records sent to the dead-letter topic',
    labelNames: ['processor', 'topic'] as const, registers: [registry],
  });
  const restoreSeconds = new client.Gauge({
    name: 'darkroom_processor_restore_seconds', help: 'Time the last state restoration took',
    labelNames: ['processor'] as const, registers: [registry],
  });
  const lag = new client.Gauge({
    name: 'darkroom_processor_lag_events', help: 'Events on the input topics not yet in the processor sink',
    labelNames: ['processor'] as const, registers: [registry],
  });
  const httpDuration = new client.Histogram({
    name: 'darkroom_http_request_duration_seconds', help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [registry],
  });

  const observer: RuntimeObserver = {
    onBatch(processor, info) {
      eventsProcessed.inc({ processor }, info.events);
      batches.inc({ processor });
      batchSize.observe({ processor }, info.records);
      sinkLatency.observe({ processor }, info.sinkMs / 1000);
    },
    onDeadLetter(processor, record) { deadLetters.inc({ processor, topic: record.topic }); },
    onRestored(processor, ms) { restoreSeconds.set({ processor }, ms / 1000); },
    onSinkError(processor) { sinkErrors.inc({ processor }); },
  };

  const httpTimer: RequestHandler = (req, res, next) => {
    const end = httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  };

  return { registry, observer, httpTimer, eventsIngested, lag };
}

export type Metrics = ReturnType<typeof createMetrics>;
