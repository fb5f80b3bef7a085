// An HTTP ingest server over the real embedded log and file registry, as `darkroom start` serves
// it, for the tests of POST /v1/events (validation, fuzzing, auth, rate limits, timeouts).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';
import { createEmbeddedBackend } from '../../topics/embedded/index.ts';
import { topicCatalog } from '../../topics/catalog.ts';
import { createEventProducer } from '../../topics/event-producer.ts';
import type { TopicBackend } from '../../topics/types.ts';
import { createRegistryClient } from '../../schemas/registry/index.ts';
import { createSerde } from '../../schemas/serde.ts';
import { validateEvents } from '../../schemas/validate.ts';
import { createApp } from '../../serving/app.ts';
import { ingestRouter, type IngestOptions } from '../../serving/ingest.ts';
import { createMetrics } from '../../serving/metrics.ts';

export interface IngestServer {
  backend: TopicBackend;
  base: string;
  port: number;
  /** Records on every source topic: what a rejected request must leave unchanged. */
  totalRecords(): Promise<number>;
  close(): Promise<void>;
}

export async function startIngestServer(options: {
  dataDir: string;
  apiToken?: string;
  ingest: Omit<IngestOptions, 'producer' | 'validate'>;
  log?: (line: string) => void;
  listen?: (app: Express) => Server;
}): Promise<IngestServer> {
  const backend = createEmbeddedBackend({ dataDir: options.dataDir });
  await backend.ensureTopics(topicCatalog(4));
  const serde = createSerde(createRegistryClient({ dataDir: options.dataDir }));
  await serde.warm();
  const app = createApp({
    metrics: createMetrics(), apiToken: options.apiToken, log: options.log ?? (() => {}), ready: () => true,
    routes: [ingestRouter({ producer: createEventProducer(backend, serde), validate: validateEvents, ...options.ingest })],
  });
  const server = options.listen ? options.listen(app) : app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  return {
    backend,
    base: `http://127.0.0.1:${port}`,
    port,
    async totalRecords() {
      let total = 0;
      for (const spec of topicCatalog(4)) for (const end of await backend.endOffsets(spec.name)) total += end.offset;
      return total;
    },
    async close() {
      server.close();
      await backend.close();
    },
  };
}
