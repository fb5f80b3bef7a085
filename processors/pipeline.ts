// Runs a whole topology: one runtime per processor, each writing its own sink. Used by `darkroom
// start`/`process`, by the tests and by the benchmarks, so they all exercise the same path.
//
// With `workers` > 1 on the embedded log, the view processors run in worker threads that each own a
// share of the partitions (processors/workers/); the analytics processor stays on this thread, since
// chDB allows one session per process. On Kafka, parallelism comes from consumer groups instead
// (more `darkroom process` processes), so `workers` is not used there. `ownThreads` puts groups of
// processors on worker threads of their own instead, one thread per group owning every partition:
// what a rebuild asks for (processors/replay/batching.ts rebuildThreads).
import os from 'node:os';
import type { Consumer, TopicBackend, TopicPartitionOffset } from '../topics/types.ts';
import type { Processor } from './processor.ts';
import {
  consumerOptionsOf, startProcessor, type Batching, type RecordCodec, type RunningProcessor, type RuntimeObserver, type RuntimeOptions, type Sink,
} from './runtime.ts';
import type { Topology } from './topology.ts';
import type { WorkerSetup } from './workers/protocol.ts';
import type { WorkerHost } from './workers/host.ts';

/** Per processor name: the input offsets below which its internal records are on their topics. */
export type WrittenBefore = Record<string, TopicPartitionOffset[]>;

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
  /** Per processor, where its internal records are already written (RuntimeOptions.writtenBefore; a rebuild's). */
  writtenBefore?: WrittenBefore;
  /** Own only these partition numbers of every topic (all when omitted); worker threads use it. */
  partitions?: number[];
  /** Worker threads for the view processors (1 = everything on this thread). Needs `workerSetup`. */
  workers?: number;
  /** How a worker thread opens the same engines (data dir, topology options, generation...). */
  workerSetup?: WorkerSetup;
  /**
   * Groups of view processors, each group on a worker thread of its own owning every partition.
   * Honoured on the embedded log with a `workerSetup`, on two cores or more.
   */
  ownThreads?: string[][];
}

export interface ProcessorView {
  name: string;
  inputs: readonly string[];
  running: RunningProcessor;
  /** Where it runs. */
  readonly thread: ThreadPlacement;
  /** Offsets its sink holds, as the runtime last applied them. */
  offsets(): Promise<TopicPartitionOffset[]>;
  details(): Record<string, unknown>;
}

export interface Pipeline {
  processors: ProcessorView[];
  /** Resolves when every processor has restored its state. */
  restored(): Promise<void>;
  /** Every processor cuts its next batches this way (RunningProcessor.setBatching). */
  setBatching(batching: Batching): void;
  stop(): Promise<void>;
}

/**
 * Where a processor runs: this thread, a worker thread of its own, one it shares with other
 * processors (every partition), or worker threads by partition.
 */
export type ThreadPlacement = 'main' | 'own worker' | 'shared worker' | `${number} workers by partition`;

/** Placed on a thread of its own group by `ownThreads` (what a rebuild asks for), not by `workers`. */
export const onOwnThread = (view: ProcessorView): boolean => view.thread === 'own worker' || view.thread === 'shared worker';

function viewOf(name: string, inputs: readonly string[], running: RunningProcessor, thread: ThreadPlacement): ProcessorView {
  return {
    name,
    inputs,
    running,
    thread,
    offsets: async () => [...running.progress().offsets].map(([key, offset]) => {
      const cut = key.lastIndexOf(':');
      return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), offset };
    }),
    details: () => {
      const p = running.progress();
      const { maxBatchEffects, lingerMs } = running.batching();
      return {
        restoring: p.restoring, restore_ms: p.restoreMs ?? null, events: p.eventsProcessed, dead_letters: p.deadLetters, last_error: p.lastError ?? null, thread,
        max_batch_effects: maxBatchEffects, linger_ms: lingerMs,
      };
    },
  };
}

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const nodes = options.topology.nodes.filter((node) => !options.only || options.only.includes(node.processor.name));
  const workers = options.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be an integer >= 1, got ${workers}`);
  const canThread = options.backend.kind === 'embedded' && options.workerSetup !== undefined;
  const threaded = workers > 1 && canThread;
  if (workers > 1 && !threaded) {
    options.log?.(options.backend.kind === 'kafka'
      ? `processors: ${workers} workers requested, but on Kafka parallelism comes from consumer groups (run more processes); using this thread`
      : 'processors: worker threads need a worker setup; using this thread');
  }
  // Alone on a thread even when nothing else is in this pipeline: this thread may have other work
  // (a running platform's read API and live views beside a rebuild).
  const ownGroups = canThread && cores() > 1
    ? (options.ownThreads ?? []).map((group) => nodes.filter((node) => node.sink === 'views' && group.includes(node.processor.name))).filter((group) => group.length > 0)
    : [];
  const alone = ownGroups.flat();
  const onWorkers = threaded ? nodes.filter((node) => node.sink === 'views' && !alone.includes(node)) : [];

  const running = new Map<string, RunningProcessor>();
  const hosts: WorkerHost[] = [];
  const hosted = new Set<RunningProcessor>();
  const placement = new Map<string, ThreadPlacement>();
  const host = async (names: string[], threads: number, where: ThreadPlacement) => {
    const { startWorkerHost } = await import('./workers/host.ts');
    const inputs = nodes.filter((node) => names.includes(node.processor.name)).flatMap((node) => node.processor.inputs);
    const partitions = Math.max(...(await Promise.all(inputs.map(async (topic) => (await options.backend.endOffsets(topic)).length))));
    const started = await startWorkerHost({
      setup: { ...options.workerSetup!, writtenBefore: options.writtenBefore }, workers: threads, partitions, observer: options.observer, log: options.log, processors: names,
      threadName: where === 'own worker' ? names[0] : where === 'shared worker' ? 'shared' : 'processors',
    });
    hosts.push(started);
    for (const p of started.processors) {
      running.set(p.name, p);
      hosted.add(p);
      placement.set(p.name, where);
    }
  };
  const stopHosts = async () => { for (const h of hosts) await h.stop(); };
  try {
    // Together: each thread loads its own modules (~1-2 s), and a rebuild waits for all of them.
    const starts = await Promise.allSettled([
      ...ownGroups.map((group) => host(group.map((node) => node.processor.name), 1, group.length === 1 ? 'own worker' : 'shared worker')),
      ...(onWorkers.length ? [host(onWorkers.map((node) => node.processor.name), workers, `${workers} workers by partition`)] : []),
    ]);
    const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    await stopHosts();
    throw error;
  }
  try {
    const here = nodes.filter((node) => !running.has(node.processor.name));
    const runtime = {
      backend: options.backend, codec: options.codec, groupPrefix: options.groupPrefix ?? 'darkroom',
      observer: options.observer, log: options.log, maxBatchEffects: options.maxBatchEffects, lingerMs: options.lingerMs,
      partitions: options.partitions,
    };
    const consumers = sharedConsumers(options.backend, here.map((node) => node.processor), runtime);
    // Together: the consumers of a set join their group once all of them run.
    const starts = await Promise.allSettled(here.map(async (node, i) => {
      const name = node.processor.name;
      try {
        running.set(name, await startProcessor(
          { processor: node.processor, stateful: node.stateful, sink: options.sinkFor(name, node.sink) },
          { ...runtime, consumer: consumers?.[i], writtenBefore: options.writtenBefore?.[name] },
        ));
      } catch (error) {
        // The others of the set would wait for this one to run.
        if (consumers) await Promise.allSettled(consumers.map((c) => c.stop()));
        throw error;
      }
    }));
    const failed = starts.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    for (const p of running.values()) if (!hosted.has(p)) await p.stop().catch(() => {});
    await stopHosts();
    throw error;
  }
  const processors = nodes.map((node) => {
    const name = node.processor.name;
    return viewOf(name, node.processor.inputs, running.get(name)!, placement.get(name) ?? 'main');
  });
  return {
    processors,
    restored: async () => { await Promise.all(processors.map((p) => p.running.restored())); },
    setBatching: (batching) => { for (const p of processors) p.running.setBatching(batching); },
    async stop() {
      // Worker-hosted processors share their host's stop; the others stop one by one.
      for (const p of processors) if (!hosted.has(p.running)) await p.running.stop();
      await stopHosts();
    },
  };
}

/**
 * On Kafka, the processors of this thread read through one group membership: each topic is fetched
 * and converted once for all of them (TopicBackend.consumerSet). Its group is the same whatever the
 * set: during a rollout that adds a processor, the group assigns every partition to the replicas that
 * read every topic (co-partitioned-assigner.ts), so old and new replicas never both apply a partition.
 */
function sharedConsumers(backend: TopicBackend, processors: Processor<unknown, unknown>[], runtime: Pick<RuntimeOptions, 'groupPrefix' | 'partitions'>): Consumer[] | undefined {
  if (!backend.consumerSet || processors.length < 2) return undefined;
  return backend.consumerSet(`${runtime.groupPrefix}-processors`, processors.map((p) => consumerOptionsOf(p, runtime)));
}

function cores(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}
