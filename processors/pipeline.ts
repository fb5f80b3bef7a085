// Runs a whole topology: one runtime per processor, each writing its own sink. Used by `darkroom
// start`/`process`, by the tests and by the benchmarks, so they all exercise the same path.
//
// With `workers` > 1 on the embedded log, the view processors run in worker threads that each own a
// share of the partitions (processors/workers/); the analytics processor stays on this thread, since
// chDB allows one session per process. On Kafka, parallelism comes from consumer groups instead
// (more `darkroom process` processes), so `workers` is not used there.
import type { TopicBackend, TopicPartitionOffset } from '../topics/types.ts';
import { startProcessor, type RecordCodec, type RunningProcessor, type RuntimeObserver, type Sink } from './runtime.ts';
import type { Topology } from './topology.ts';
import type { WorkerSetup } from './workers/protocol.ts';

export interface PipelineOptions {
  backend: TopicBackend;
  codec: RecordCodec;
  topology: Topology;
  /** The sink of one processor: a view-store generation or the analytics store. */
  sinkFor(processor: string, kind: 'views' | 'analytics'): Sink;
  groupPrefix?: string;
  observer?: RuntimeObserver;
  log?: (line: string) => void;
  maxBatchEffects?: number;
  lingerMs?: number;
  /** Only these processors (all when omitted). */
  only?: string[];
  /** Own only these partition numbers of every topic (all when omitted); worker threads use it. */
  partitions?: number[];
  /** Worker threads for the view processors (1 = everything on this thread). Needs `workerSetup`. */
  workers?: number;
  /** How a worker thread opens the same engines (data dir, topology options, generation...). */
  workerSetup?: WorkerSetup;
}

export interface ProcessorView {
  name: string;
  inputs: readonly string[];
  running: RunningProcessor;
  /** Offsets its sink holds, as the runtime last applied them. */
  offsets(): Promise<TopicPartitionOffset[]>;
  details(): Record<string, unknown>;
}

export interface Pipeline {
  processors: ProcessorView[];
  /** Resolves when every processor has restored its state. */
  restored(): Promise<void>;
  stop(): Promise<void>;
}

function viewOf(name: string, inputs: readonly string[], running: RunningProcessor): ProcessorView {
  return {
    name,
    inputs,
    running,
    offsets: async () => [...running.progress().offsets].map(([key, offset]) => {
      const cut = key.lastIndexOf(':');
      return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), offset };
    }),
    details: () => {
      const p = running.progress();
      return { restoring: p.restoring, restore_ms: p.restoreMs ?? null, events: p.eventsProcessed, dead_letters: p.deadLetters, last_error: p.lastError ?? null };
    },
  };
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const nodes = options.topology.nodes.filter((node) => !options.only || options.only.includes(node.processor.name));
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be an integer >= 1, got ${workers}`);
  const threaded = workers > 1 && options.backend.kind === 'embedded' && options.workerSetup !== undefined;
  if (workers > 1 && !threaded) {
    options.log?.(options.backend.kind === 'kafka'
      ? `processors: ${workers} workers requested, but on Kafka parallelism comes from consumer groups (run more processes); using this thread`
      : 'processors: worker threads need a worker setup; using this thread');
  }
  const onWorkers = threaded ? nodes.filter((node) => node.sink === 'views') : [];

  const running = new Map<string, RunningProcessor>();
  let host: Awaited<ReturnType<typeof import('./workers/host.ts')['startWorkerHost']>> | undefined;
  if (onWorkers.length) {
    const { startWorkerHost } = await import('./workers/host.ts');
    const partitions = Math.max(...(await Promise.all(onWorkers.flatMap((node) => node.processor.inputs)
      .map(async (topic) => (await options.backend.endOffsets(topic)).length))));
    host = await startWorkerHost({
      setup: options.workerSetup!, workers, partitions, observer: options.observer, log: options.log,
      processors: onWorkers.map((node) => node.processor.name),
    });
    host.processors.forEach((p) => running.set(p.name, p));
  }
  try {
    for (const node of nodes) {
      const name = node.processor.name;
      if (running.has(name)) continue;
      running.set(name, await startProcessor({ processor: node.processor, stateful: node.stateful, sink: options.sinkFor(name, node.sink) }, {
        backend: options.backend, codec: options.codec, groupPrefix: options.groupPrefix ?? 'darkroom',
        observer: options.observer, log: options.log, maxBatchEffects: options.maxBatchEffects, lingerMs: options.lingerMs,
        partitions: options.partitions,
      }));
    }
  } catch (error) {
    for (const [name, p] of running) if (!host?.processors.some((h) => h.name === name)) await p.stop().catch(() => {});
    await host?.stop();
    throw error;
  }
  const processors = nodes.map((node) => viewOf(node.processor.name, node.processor.inputs, running.get(node.processor.name)!));
  return {
    processors,
    restored: async () => { await Promise.all(processors.map((p) => p.running.restored())); },
    async stop() {
      // Worker-hosted processors share one stop (the host's); the others stop one by one.
      for (const p of processors) if (!host?.processors.includes(p.running)) await p.running.stop();
      await host?.stop();
    },
  };
}
