// Runs a whole topology: one runtime per processor, each writing its own sink. Used by `darkroom
// start`/`process`, by the tests and by the benchmarks, so they all exercise the same path.
import type { TopicBackend, TopicPartitionOffset } from '../topics/types.ts';
import { startProcessor, type RecordCodec, type RunningProcessor, type RuntimeObserver, type Sink } from './runtime.ts';
import type { Topology } from './topology.ts';

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

export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const processors: ProcessorView[] = [];
  for (const node of options.topology.nodes) {
    const name = node.processor.name;
    if (options.only && !options.only.includes(name)) continue;
    const running = await startProcessor({ processor: node.processor, stateful: node.stateful, sink: options.sinkFor(name, node.sink) }, {
      backend: options.backend, codec: options.codec, groupPrefix: options.groupPrefix ?? 'darkroom',
      observer: options.observer, log: options.log, maxBatchEffects: options.maxBatchEffects, lingerMs: options.lingerMs,
    });
    processors.push({
      name,
      inputs: node.processor.inputs,
      running,
      offsets: async () => [...running.progress().offsets].map(([key, offset]) => {
        const cut = key.lastIndexOf(':');
        return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), offset };
      }),
      details: () => {
        const p = running.progress();
        return { restoring: p.restoring, restore_ms: p.restoreMs ?? null, events: p.eventsProcessed, dead_letters: p.deadLetters, last_error: p.lastError ?? null };
      },
    });
  }
  return {
    processors,
    restored: async () => { await Promise.all(processors.map((p) => p.running.restored())); },
    async stop() { for (const p of processors) await p.running.stop(); },
  };
}
