// The worker host: runs processors in W worker threads, each owning the partitions p with
// p % W === i of every topic (all topics are co-partitioned, so a task's inputs stay together), and
// shows each processor to the rest of the platform as one RunningProcessor whose progress merges the
// workers' reports. Used by pipeline.ts when `workers` > 1 on the embedded log.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { TopicRecord } from '../../topics/types.ts';
import { withDefaults, type Batching, type ProcessorProgress, type RunningProcessor, type RuntimeObserver } from '../runtime.ts';
import type { ToHost, ToWorker, WireProgress, WorkerData, WorkerSetup } from './protocol.ts';

export type { WorkerSetup } from './protocol.ts';

export interface WorkerHostOptions {
  setup: WorkerSetup;
  workers: number;
  /** Partition count of the topics (the same for every topic the processors read). */
  partitions: number;
  processors: string[];
  /** Threads are named darkroom-<threadName>-<i> (default "processors"). */
  threadName?: string;
  observer?: RuntimeObserver;
  log?: (line: string) => void;
}

export interface WorkerHost {
  /** One per processor, in the order given. */
  processors: RunningProcessor[];
  stop(): Promise<void>;
}

/** The default: one worker thread per core. */
export const defaultWorkerCount = () => Math.max(1, os.availableParallelism?.() ?? os.cpus().length);

/** Worker threads get a larger young generation: processors allocate many short-lived objects. */
const YOUNG_GENERATION_MB = 48;
const STOP_TIMEOUT_MS = 30_000;
const WORKER_LOADER = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;

export async function startWorkerHost(options: WorkerHostOptions): Promise<WorkerHost> {
  const log = options.log ?? (() => {});
  const count = Math.min(options.workers, options.partitions);
  const owned = Array.from({ length: count }, (_, i) =>
    Array.from({ length: options.partitions }, (_, p) => p).filter((p) => p % count === i));

  // Per processor, per worker: its last report.
  const reports = options.processors.map(() => new Array<WireProgress | undefined>(count));
  const restoredWaits = options.processors.map(() => Array.from({ length: count }, () => deferred()));
  const index = new Map(options.processors.map((name, i) => [name, i]));
  const workers: Worker[] = [];
  const stopped: Array<Promise<void>> = [];
  let failure: string | undefined;

  const handle = (w: number, message: ToHost) => {
    const i = 'processor' in message ? index.get(message.processor) : undefined;
    switch (message.t) {
      case 'progress':
        if (i === undefined) return;
        reports[i][w] = message.progress;
        if (message.batch) {
          options.observer?.onBatch?.(message.processor, {
            ...message.batch, offsets: message.progress.offsets.map(([key, offset]) => ({ ...splitKey(key), offset })),
          });
        }
        return;
      case 'caught-up': if (i !== undefined) restoredWaits[i][w].resolve(); return;
      case 'restored': options.observer?.onRestored?.(message.processor, message.ms, message.events); return;
      case 'dead-letter': {
        const record: TopicRecord = { ...message.record, value: Buffer.from(message.record.value) };
        options.observer?.onDeadLetter?.(message.processor, record, message.reason);
        return;
      }
      case 'sink-error': options.observer?.onSinkError?.(message.processor, new Error(message.message), message.attempt); return;
      case 'log': log(message.line); return;
      case 'failed': failure ??= message.message; log(`processor worker ${w} failed: ${message.message}`); return;
      default: return;
    }
  };

  const started: Array<Promise<void>> = [];
  for (let w = 0; w < count; w++) {
    const data: WorkerData = { setup: options.setup, partitions: owned[w], processors: options.processors };
    // The entry is a small loader: on Node 20, `--import tsx` in a worker's execArgv does not reach the
    // worker's own module loading, so the worker registers tsx itself, then imports the TypeScript.
    const worker = new Worker(WORKER_LOADER, {
      eval: true,
      workerData: data,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      name: `darkroom-${options.threadName ?? 'processors'}-${w}`,
    });
    workers.push(worker);
    const ready = deferred();
    const done = deferred();
    stopped.push(done.promise);
    worker.on('message', (message: ToHost) => {
      handle(w, message);
      if (message.t === 'started') ready.resolve();
      if (message.t === 'failed') ready.reject(new Error(message.message));
    });
    worker.on('error', (error) => {
      failure ??= error.message;
      log(`processor worker ${w} crashed: ${error.message}`);
      ready.reject(error);
    });
    worker.on('exit', (code) => {
      if (code !== 0) {
        failure ??= `exited with code ${code}`;
        ready.reject(new Error(`processor worker ${w} exited with code ${code}`));
      }
      done.resolve();
    });
    started.push(ready.promise);
  }

  async function stop(): Promise<void> {
    for (const worker of workers) worker.postMessage({ t: 'stop' } satisfies ToWorker);
    await Promise.race([
      Promise.all(stopped),
      new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref()),
    ]);
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  try {
    await Promise.all(started);
  } catch (error) {
    await stop();
    throw new Error(`processor worker threads failed to start: ${(error as Error).message}`);
  }

  const processors = options.processors.map((name, i): RunningProcessor => {
    let batching: Required<Batching> = withDefaults(options.setup);
    return {
      name,
      progress: () => merge(name, reports[i], failure),
      restored: async () => { await Promise.all(restoredWaits[i].map((d) => d.promise)); },
      batching: () => batching,
      setBatching(next) {
        batching = withDefaults(next);
        for (const worker of workers) worker.postMessage({ t: 'batching', processor: name, batching } satisfies ToWorker);
      },
      stop,
    };
  });
  return { processors, stop };
}

/** One processor's progress across workers: they own disjoint partitions, so offsets simply join. */
function merge(name: string, reports: Array<WireProgress | undefined>, failure: string | undefined): ProcessorProgress {
  const progress: ProcessorProgress = {
    name, restoring: false, offsets: new Map(), eventsProcessed: 0, deadLetters: 0,
    ...(failure ? { lastError: `worker thread: ${failure}` } : {}),
  };
  for (const report of reports) {
    if (!report) { progress.restoring = true; continue; }
    progress.restoring ||= report.restoring;
    if (report.restoreMs !== undefined) progress.restoreMs = Math.max(progress.restoreMs ?? 0, report.restoreMs);
    for (const [key, offset] of report.offsets) progress.offsets.set(key, offset);
    progress.eventsProcessed += report.eventsProcessed;
    progress.deadLetters += report.deadLetters;
    progress.lastError ??= report.lastError;
  }
  return progress;
}

function splitKey(key: string): { topic: string; partition: number } {
  const cut = key.lastIndexOf(':');
  return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)) };
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
