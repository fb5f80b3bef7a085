// A processor worker thread: opens its own engines on the shared data directory (lmdb is safe across
// threads when each one opens its own environment), runs its processors over the partitions it owns,
// and reports progress to the host. Effects and offsets still go to the sink in one atomic step per
// batch, from this thread, so a crash of any thread loses nothing and counts nothing twice.
import { parentPort, workerData } from 'node:worker_threads';
import { createEmbeddedBackend } from '../../topics/embedded/index.ts';
import { createRegistryClient } from '../../schemas/registry/index.ts';
import { createSerde } from '../../schemas/serde.ts';
import { buildTopology } from '../topology.ts';
import { createRecordCodec } from '../record-codec.ts';
import { startPipeline, type Pipeline } from '../pipeline.ts';
import type { RunningProcessor } from '../runtime.ts';
import { viewSink, type ViewStore } from '../../sinks/view-store.ts';
import type { ToHost, ToWorker, WireProgress, WorkerData } from './protocol.ts';

const port = parentPort!;
const { setup, partitions, processors } = workerData as WorkerData;
const send = (message: ToHost) => port.postMessage(message);
const log = (line: string) => send({ t: 'log', line });

function wire(running: RunningProcessor): WireProgress {
  const p = running.progress();
  return {
    restoring: p.restoring, restoreMs: p.restoreMs, offsets: [...p.offsets], eventsProcessed: p.eventsProcessed,
    deadLetters: p.deadLetters, lastError: p.lastError,
  };
}

let pipeline: Pipeline | undefined;
let views: ViewStore | undefined;
const backend = createEmbeddedBackend({ dataDir: setup.dataDir, retentionCheckMs: 0, onError: log });
const byName = new Map<string, RunningProcessor>();

async function start(): Promise<void> {
  const registry = createRegistryClient({ url: setup.schemaRegistryUrl, dataDir: setup.dataDir });
  const serde = createSerde(registry);
  await serde.warm();
  const topology = buildTopology(setup.topology);
  const codec = await createRecordCodec({ serde, registry, internalTopics: topology.internalTopics });
  if (setup.redisUrl) {
    const { createRedisViewStore } = await import('../../sinks/redis/redis-view-store.ts');
    views = await createRedisViewStore({ url: setup.redisUrl, namespace: setup.redisNamespace });
  } else {
    const { createEmbeddedViewStore } = await import('../../sinks/embedded/embedded-view-store.ts');
    views = await createEmbeddedViewStore({ dataDir: setup.dataDir });
  }
  const store = views;
  pipeline = await startPipeline({
    backend, codec, topology, only: processors, partitions, log,
    groupPrefix: setup.groupPrefix, maxBatchEffects: setup.maxBatchEffects, lingerMs: setup.lingerMs, writtenBefore: setup.writtenBefore,
    sinkFor: (name) => viewSink(store, setup.generation, name),
    observer: {
      onBatch: (processor, info) => {
        const running = byName.get(processor);
        if (running) send({ t: 'progress', processor, progress: wire(running), batch: { events: info.events, effects: info.effects, sinkMs: info.sinkMs, records: info.records } });
      },
      onRestored: (processor, ms, events) => send({ t: 'restored', processor, ms, events }),
      onDeadLetter: (processor, record, reason) => send({ t: 'dead-letter', processor, reason, record: { ...record, value: new Uint8Array(record.value) } }),
      onSinkError: (processor, error, attempt) => {
        const running = byName.get(processor);
        if (running) send({ t: 'progress', processor, progress: wire(running) });
        send({ t: 'sink-error', processor, message: error.message, attempt });
      },
    },
  });
  for (const view of pipeline.processors) byName.set(view.name, view.running);
  for (const view of pipeline.processors) send({ t: 'progress', processor: view.name, progress: wire(view.running) });
  send({ t: 'started' });
  for (const view of pipeline.processors) {
    void view.running.restored().then(() => {
      send({ t: 'progress', processor: view.name, progress: wire(view.running) });
      send({ t: 'caught-up', processor: view.name });
    });
  }
}

async function stop(): Promise<void> {
  try {
    await pipeline?.stop();
    for (const [name, running] of byName) send({ t: 'progress', processor: name, progress: wire(running) });
    await views?.close();
    await backend.close();
  } finally {
    send({ t: 'stopped' });
    port.close();
  }
}

port.on('message', (message: ToWorker) => {
  if (message.t === 'stop') void stop().catch((error) => log(`worker stop failed: ${(error as Error).message}`));
  if (message.t === 'batching') byName.get(message.processor)?.setBatching(message.batching);
});

start().catch((error: Error) => {
  send({ t: 'failed', message: error.message });
  void stop();
});
