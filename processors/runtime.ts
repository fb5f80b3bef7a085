// The runtime owns everything a processor must not: consuming, decoding, batching, backpressure,
// restoring state, sinks, offsets and retries. Vocabulary after Kafka Streams: one *task* per
// processor and partition holds that partition's state; a micro-batch of effects is applied by the
// sink together with the input offsets it consumed, in one atomic step.
import type { Effect } from './effects.ts';
import type { Processor, Source } from './processor.ts';
import type {
  Consumer, ProduceRecord, RecordBatch, TopicBackend, TopicPartition, TopicPartitionOffset, TopicRecord,
} from '../topics/types.ts';

/** Where a processor's effects land; `apply` writes effects and offsets atomically. */
export interface Sink {
  readonly name: string;
  offsets(): Promise<TopicPartitionOffset[]>;
  apply(effects: Effect[], offsets: TopicPartitionOffset[]): Promise<void>;
}

/** A record that could not become an input of a processor, and why. */
export class DecodeFailure extends Error {
  constructor(readonly reason: string) { super(reason); }
}

/** Turns raw records into processor inputs and builds the records the runtime writes itself. */
export interface RecordCodec {
  /** Decodes a source or internal record; throws DecodeFailure for bad input. Sync once warm. */
  decode(record: TopicRecord): unknown | Promise<unknown>;
  /** Internal (repartition) records carry their source position so re-sent records are recognised. */
  encodeInternal(topic: string, value: Record<string, unknown>, source: Source): Buffer | Promise<Buffer>;
  isInternal(topic: string): boolean;
  sourceOf(decoded: unknown): Source | undefined;
  encodeDeadLetter(record: TopicRecord, reason: string): Buffer | Promise<Buffer>;
  readonly deadLetterTopic: string;
}

export interface RuntimeObserver {
  /** A micro-batch was applied; `offsets` are the next offsets its sink now holds. */
  onBatch?(processor: string, info: { events: number; effects: number; sinkMs: number; records: number; offsets?: TopicPartitionOffset[] }): void;
  onDeadLetter?(processor: string, record: TopicRecord, reason: string): void;
  onRestored?(processor: string, ms: number, events: number): void;
  onSinkError?(processor: string, error: Error, attempt: number): void;
}

export interface RuntimeOptions {
  backend: TopicBackend;
  codec: RecordCodec;
  /** Consumer group is `<groupPrefix>-<processor>`. */
  groupPrefix: string;
  /** A micro-batch is flushed once it holds this many effects (and consumption waits for it). */
  maxBatchEffects?: number;
  /** ...or this long after its first record. */
  lingerMs?: number;
  /** Subset of partitions to own (worker threads); all when omitted. */
  partitions?: number[];
  observer?: RuntimeObserver;
  log?: (line: string) => void;
}

export interface ProcessorProgress {
  name: string;
  restoring: boolean;
  restoreMs?: number;
  /** Next offset to process per "topic:partition", as held by the sink. */
  offsets: Map<string, number>;
  eventsProcessed: number;
  deadLetters: number;
  lastError?: string;
}

export interface RunningProcessor {
  readonly name: string;
  progress(): ProcessorProgress;
  /** Resolves once every assigned partition has caught up with its sink's offsets. */
  restored(): Promise<void>;
  stop(): Promise<void>;
}

interface PendingBatch {
  effects: Effect[];
  offsets: Map<string, TopicPartitionOffset>;
  repartition: Map<string, ProduceRecord[]>;
  deadLetters: ProduceRecord[];
  records: number;
  events: number;
  startedAt: number;
}

const tpKey = (topic: string, partition: number) => `${topic}:${partition}`;

function emptyBatch(): PendingBatch {
  return { effects: [], offsets: new Map(), repartition: new Map(), deadLetters: [], records: 0, events: 0, startedAt: 0 };
}

export interface ProcessorDefinition<S> {
  processor: Processor<S, unknown>;
  sink: Sink;
  /**
   * Stateful processors rebuild their local state on start by replaying their inputs from offset 0
   * up to the sink's offsets, discarding the effects (already in the sink). Stateless ones seek straight
   * to the sink's offsets.
   */
  stateful: boolean;
}

export async function startProcessor<S>(def: ProcessorDefinition<S>, options: RuntimeOptions): Promise<RunningProcessor> {
  const { processor, sink } = def;
  const { backend, codec, observer } = options;
  const maxBatchEffects = options.maxBatchEffects ?? 20_000;
  const lingerMs = options.lingerMs ?? 20;
  const log = options.log ?? (() => {});

  const states = new Map<number, S>();
  /** Per target partition: highest source offset seen per source partition, to drop re-sent internal records. */
  const internalSeen = new Map<string, number>();
  const restoreUntil = new Map<string, number>();
  /** Next offset to process per partition (ahead of the sink while a batch is pending). */
  const positions = new Map<string, number>();
  const progress: ProcessorProgress = {
    name: processor.name, restoring: false, offsets: new Map(), eventsProcessed: 0, deadLetters: 0,
  };
  let restoreStartedAt = 0;
  let restoredEvents = 0;
  let resolveRestored!: () => void;
  const restoredPromise = new Promise<void>((r) => (resolveRestored = r));

  let pending = emptyBatch();
  let flushing: Promise<void> = Promise.resolve();
  let stopped = false;
  let consumer: Consumer | undefined;

  const stateOf = (partition: number): S => {
    let state = states.get(partition);
    if (state === undefined) states.set(partition, (state = processor.init(partition)));
    return state;
  };

  /**
   * A task (one partition number across all input topics) starts normal processing only once every
   * one of its topic-partitions has replayed up to the sink's offsets; otherwise a post could fan out
   * before the follows that precede it were restored.
   */
  const taskWaiting = new Map<number, { remaining: Set<string>; ready: Promise<void>; resolve: () => void }>();

  function restoredOne(partition: number, key: string): void {
    const waiting = taskWaiting.get(partition);
    if (!waiting || !waiting.remaining.delete(key) || waiting.remaining.size) return;
    taskWaiting.delete(partition);
    waiting.resolve();
    checkRestored();
  }

  function checkRestored(): void {
    if (!progress.restoring || taskWaiting.size) return;
    progress.restoring = false;
    progress.restoreMs = Date.now() - restoreStartedAt;
    observer?.onRestored?.(processor.name, progress.restoreMs, restoredEvents);
    log(`${processor.name}: state restored from ${restoredEvents} events in ${progress.restoreMs} ms`);
    resolveRestored();
  }

  /**
   * Forgets a task's local state, including which re-sent internal records it has seen: after a
   * rebalance the task replays its inputs from 0, and a stale high-water mark would drop them all.
   */
  function resetTask(partition: number): void {
    states.delete(partition);
    const prefix = `${partition}/`;
    for (const key of internalSeen.keys()) if (key.startsWith(prefix)) internalSeen.delete(key);
  }

  async function onAssigned(partitions: TopicPartition[]): Promise<TopicPartitionOffset[]> {
    const held = new Map((await sink.offsets()).map((o) => [tpKey(o.topic, o.partition), o.offset]));
    restoreStartedAt = Date.now();
    const seek: TopicPartitionOffset[] = [];
    if (def.stateful) for (const partition of new Set(partitions.map((p) => p.partition))) resetTask(partition);
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition);
      const sinkOffset = held.get(key) ?? 0;
      progress.offsets.set(key, sinkOffset);
      const from = def.stateful ? 0 : sinkOffset;
      if (from < sinkOffset) {
        restoreUntil.set(key, sinkOffset);
        progress.restoring = true;
        let waiting = taskWaiting.get(partition);
        if (!waiting) {
          let resolve!: () => void;
          const ready = new Promise<void>((r) => (resolve = r));
          taskWaiting.set(partition, (waiting = { remaining: new Set(), ready, resolve }));
        }
        waiting.remaining.add(key);
      }
      positions.set(key, from);
      seek.push({ topic, partition, offset: from });
    }
    if (!progress.restoring) resolveRestored();
    checkRestored();
    return seek;
  }

  async function onRevoked(partitions: TopicPartition[]): Promise<void> {
    await flush();
    for (const { topic, partition } of partitions) {
      progress.offsets.delete(tpKey(topic, partition));
      positions.delete(tpKey(topic, partition));
      restoreUntil.delete(tpKey(topic, partition));
      resetTask(partition);
    }
  }

  /** What one record contributes to the pending batch: effects, or a dead letter, or nothing. */
  type Outcome = Effect[] | { deadLetter: ProduceRecord } | undefined;

  function deadLetterOf(record: TopicRecord, error: unknown, restoring: boolean): Outcome | Promise<Outcome> {
    if (!(error instanceof DecodeFailure)) throw error;
    if (restoring) return undefined;
    progress.deadLetters++;
    observer?.onDeadLetter?.(processor.name, record, error.reason);
    const value = codec.encodeDeadLetter(record, error.reason);
    return value instanceof Promise
      ? value.then((v) => ({ deadLetter: { key: record.topic, value: v } }))
      : { deadLetter: { key: record.topic, value } };
  }

  function applyInput(record: TopicRecord, input: unknown, restoring: boolean): Outcome {
    if (codec.isInternal(record.topic)) {
      const origin = codec.sourceOf(input);
      if (origin) {
        const key = `${record.partition}/${origin.topic}:${origin.partition}`;
        if (origin.offset <= (internalSeen.get(key) ?? -1)) return undefined; // re-sent after a crash upstream
        internalSeen.set(key, origin.offset);
      }
    }
    const source: Source = { topic: record.topic, partition: record.partition, offset: record.offset };
    const effects = processor.apply(stateOf(record.partition), input, source);
    if (restoring) { restoredEvents++; return undefined; }
    return effects;
  }

  /**
   * Decodes and applies one record. Synchronous on the hot path (decoders are sync once warm): a
   * promise per record would cost more than the processor itself. Nothing touches `pending` here, so
   * a record's outputs join a batch all at once, together with its offset (see `take`).
   */
  function handleRecord(record: TopicRecord, restoring: boolean): Outcome | Promise<Outcome> {
    let decoded: unknown;
    try {
      decoded = codec.decode(record);
    } catch (error) {
      return deadLetterOf(record, error, restoring);
    }
    if (decoded instanceof Promise) {
      return decoded.then((input) => applyInput(record, input, restoring), (error) => deadLetterOf(record, error, restoring));
    }
    return applyInput(record, decoded, restoring);
  }

  /** Internal records are encoded before the outcome joins the batch, so a batch never holds half a record. */
  function encodeRepartitions(record: TopicRecord, effects: Effect[]): Array<[string, ProduceRecord]> | Promise<Array<[string, ProduceRecord]>> | undefined {
    let out: Array<[string, ProduceRecord]> | undefined;
    let async = false;
    const source: Source = { topic: record.topic, partition: record.partition, offset: record.offset };
    for (const effect of effects) {
      if (effect.kind !== 'repartition') continue;
      const value = codec.encodeInternal(effect.topic, effect.value, source);
      if (value instanceof Promise) async = true;
      (out ??= []).push([effect.topic, { key: effect.key, value: value as Buffer, timestamp: record.timestamp }]);
    }
    if (!async || !out) return out;
    return Promise.all(out.map(async ([topic, r]) => [topic, { ...r, value: await r.value }] as [string, ProduceRecord]));
  }

  /** Adds one record's outcome and its offset to the pending batch (synchronously). */
  function take(batch: RecordBatch, key: string, record: TopicRecord, outcome: Outcome, internal: Array<[string, ProduceRecord]> | undefined): void {
    if (pending.records === 0) pending.startedAt = Date.now();
    pending.records++;
    pending.offsets.set(key, { topic: batch.topic, partition: batch.partition, offset: record.offset + 1 });
    if (outcome === undefined) return;
    if (!Array.isArray(outcome)) { pending.deadLetters.push(outcome.deadLetter); return; }
    pending.events++;
    if (internal) {
      for (const [topic, produced] of internal) {
        let list = pending.repartition.get(topic);
        if (!list) pending.repartition.set(topic, (list = []));
        list.push(produced);
      }
      for (const effect of outcome) if (effect.kind !== 'repartition') pending.effects.push(effect);
    } else {
      for (const effect of outcome) pending.effects.push(effect);
    }
  }

  async function eachBatch(batch: RecordBatch): Promise<void> {
    if (stopped) return;
    const key = tpKey(batch.topic, batch.partition);
    const until = restoreUntil.get(key) ?? 0;
    for (const record of batch.records) {
      if (record.offset < (positions.get(key) ?? 0)) continue; // delivered twice by the backend
      const restoring = record.offset < until;
      if (!restoring) {
        const waiting = taskWaiting.get(batch.partition);
        if (waiting) await waiting.ready;
      }
      let outcome = handleRecord(record, restoring);
      if (outcome instanceof Promise) outcome = await outcome;
      let internal = Array.isArray(outcome) ? encodeRepartitions(record, outcome) : undefined;
      if (internal instanceof Promise) internal = await internal;
      positions.set(key, record.offset + 1);
      if (restoring) {
        if (record.offset + 1 >= until) restoredOne(batch.partition, key);
        continue;
      }
      take(batch, key, record, outcome, internal);
    }
    if (processor.punctuate && states.has(batch.partition)) {
      const effects = processor.punctuate(states.get(batch.partition)!);
      // While restoring, only the state change matters: the sink already holds what was published.
      const last = batch.records[batch.records.length - 1];
      if (last && last.offset >= until) for (const effect of effects) pending.effects.push(effect);
    }
    if (pending.effects.length >= maxBatchEffects || pending.records >= maxBatchEffects) await flush();
  }

  function flush(): Promise<void> {
    flushing = flushing.then(async () => {
      if (pending.records === 0) return;
      const batch = pending;
      pending = emptyBatch();
      const offsets = [...batch.offsets.values()];
      let attempt = 0;
      for (;;) {
        try {
          const started = performance.now();
          if (batch.deadLetters.length) await backend.produce(codec.deadLetterTopic, batch.deadLetters);
          await Promise.all([...batch.repartition].map(([topic, records]) => backend.produce(topic, records)));
          batch.deadLetters = [];
          batch.repartition.clear();
          await sink.apply(batch.effects, offsets);
          const sinkMs = performance.now() - started;
          progress.eventsProcessed += batch.events;
          for (const o of offsets) progress.offsets.set(tpKey(o.topic, o.partition), o.offset);
          progress.lastError = undefined;
          observer?.onBatch?.(processor.name, { events: batch.events, effects: batch.effects.length, sinkMs, records: batch.records, offsets });
          break;
        } catch (error) {
          attempt++;
          progress.lastError = (error as Error).message;
          observer?.onSinkError?.(processor.name, error as Error, attempt);
          if (stopped && attempt > 3) throw error;
          // Backoff keeps retrying the same batch: consumption waits behind it, so memory stays bounded.
          await new Promise((r) => setTimeout(r, Math.min(30_000, 100 * 2 ** Math.min(attempt, 9))));
        }
      }
      consumer?.commit(offsets).catch((e) => log(`${processor.name}: commit failed: ${(e as Error).message}`));
    });
    return flushing;
  }

  const timer = setInterval(() => {
    if (pending.records > 0 && Date.now() - pending.startedAt >= lingerMs) void flush();
  }, Math.max(5, Math.floor(lingerMs / 2)));
  timer.unref?.();

  const consumerOptions = {
    groupId: `${options.groupPrefix}-${processor.name}`,
    topics: [...processor.inputs],
    reset: 'earliest' as const,
    ...(options.partitions ? { partitions: options.partitions } : {}),
  };
  consumer = backend.consumer(consumerOptions);
  await consumer.run({ eachBatch, onAssigned, onRevoked });

  return {
    name: processor.name,
    progress: () => progress,
    restored: () => restoredPromise,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await consumer?.stop();
      await flush();
    },
  };
}
