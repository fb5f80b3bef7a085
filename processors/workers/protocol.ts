// What the worker host (main thread) and a processor worker thread tell each other. Everything here
// crosses a MessagePort, so it is plain data: a worker rebuilds its engines from `WorkerSetup` (each
// thread opens its own lmdb environments on the shared data directory) instead of receiving them.
import type { TopicPartitionOffset } from '../../topics/types.ts';
import type { Batching } from '../runtime.ts';
import type { TopologyOptions } from '../topology.ts';

/** How a worker thread builds the same engines as the main thread. */
export interface WorkerSetup {
  /** Embedded log, file registry and embedded views live here. */
  dataDir: string;
  topology: TopologyOptions;
  /** View-store generation the processors write. */
  generation: string;
  groupPrefix: string;
  maxBatchEffects?: number;
  lingerMs?: number;
  /** What a rebuild's processors need not write again (PipelineOptions.writtenBefore). */
  writtenBefore?: Record<string, TopicPartitionOffset[]>;
  /** A Confluent-compatible registry instead of the file-backed one. */
  schemaRegistryUrl?: string;
  /** Redis views instead of the embedded store. */
  redisUrl?: string;
  redisNamespace?: string;
}

export interface WorkerData {
  setup: WorkerSetup;
  /** Partition numbers this worker owns, of every topic (all topics are co-partitioned). */
  partitions: number[];
  /** Names of the processors it runs. */
  processors: string[];
}

export interface WireProgress {
  restoring: boolean;
  restoreMs?: number;
  offsets: Array<[string, number]>;
  eventsProcessed: number;
  deadLetters: number;
  lastError?: string;
}

export type ToHost =
  | { t: 'started' }
  | { t: 'progress'; processor: string; progress: WireProgress; batch?: { events: number; effects: number; sinkMs: number; records: number } }
  | { t: 'restored'; processor: string; ms: number; events: number }
  | { t: 'caught-up'; processor: string }
  | { t: 'dead-letter'; processor: string; record: { topic: string; partition: number; offset: number; key: string | null; timestamp: number; value: Uint8Array }; reason: string }
  | { t: 'sink-error'; processor: string; message: string; attempt: number }
  | { t: 'log'; line: string }
  | { t: 'failed'; message: string }
  | { t: 'stopped' };

export type ToWorker =
  | { t: 'stop' }
  | { t: 'batching'; processor: string; batching: Batching };
