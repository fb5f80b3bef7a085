// The runtime owns everything a processor must not: consuming, decoding, batching, backpressure,
// restoring state, sinks, offsets and retries. Vocabulary after Kafka Streams: one *task* per
// processor and partition holds that partition's state; a micro-batch of effects is applied by the
// sink together with the input offsets it consumed, in one atomic step.
import { effectWeight, type Effect } from './effects.ts';
import type { Processor, Source } from './processor.ts';
import type {
  AssignmentContext, Consumer, ConsumerOptions, ProduceRecord, RecordBatch, TopicBackend, TopicPartition, TopicPartitionOffset, TopicRecord,
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

/**
 * Where an internal record came from: its source record, and which of that record's internal records
 * it is (a post with three tags writes three, possibly to one partition). Unique per source record.
 */
export interface Origin extends Source { index: number }

/** Turns raw records into processor inputs and builds the records the runtime writes itself. */
export interface RecordCodec {
  /** Decodes a source or internal record; throws DecodeFailure for bad input. Sync once warm. */
  decode(record: TopicRecord): unknown | Promise<unknown>;
  /** Internal (repartition) records carry their origin so re-sent records are recognised. */
  encodeInternal(topic: string, value: Record<string, unknown>, origin: Origin): Buffer | Promise<Buffer>;
  isInternal(topic: string): boolean;
  sourceOf(decoded: unknown): Origin | undefined;
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

/** How a runtime cuts micro-batches; absent fields take DEFAULT_BATCHING's. */
export interface Batching { maxBatchEffects?: number; lingerMs?: number }

/**
 * Large batches coalesce writes to the same keys (a feed touched by many posts is rewritten once):
 * on the pipeline benchmark 50k instead of 20k cut process CPU per event by ~28%.
 */
export const DEFAULT_BATCHING: Required<Batching> = { maxBatchEffects: 50_000, lingerMs: 20 };

/** `batching` with DEFAULT_BATCHING's value wherever it leaves one out. */
export function withDefaults(batching: Batching): Required<Batching> {
  return { maxBatchEffects: batching.maxBatchEffects ?? DEFAULT_BATCHING.maxBatchEffects, lingerMs: batching.lingerMs ?? DEFAULT_BATCHING.lingerMs };
}

export interface RuntimeOptions {
  backend: TopicBackend;
  codec: RecordCodec;
  /** Consumer group is `<groupPrefix>-<processor>`. */
  groupPrefix: string;
  /** A micro-batch is flushed once it holds this many effects (and consumption waits while the batch before it is written). */
  maxBatchEffects?: number;
  /** ...or this long after its first record. */
  lingerMs?: number;
  /** Subset of partitions to own (worker threads); all when omitted. */
  partitions?: number[];
  /**
   * Input positions below which this processor's internal records and dead letters are already on
   * their topics: a rebuild is given the offsets of the generation it replaces, whose pipeline wrote
   * them before each batch, and does not append them again (each replay used to add a copy of every
   * block relay to feed-fanout-repartition).
   */
  writtenBefore?: TopicPartitionOffset[];
  /**
   * A consumer made for this processor with `consumerOptionsOf` (one of a consumer set sharing a
   * fetch); otherwise the runtime makes its own.
   */
  consumer?: Consumer;
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
  /** The batching in force. */
  batching(): Required<Batching>;
  /**
   * Cuts the next batches differently, keeping state and position: a pipeline that caught up with
   * a rebuild's batching goes on with the live one without restoring its state again.
   */
  setBatching(batching: Batching): void;
  stop(): Promise<void>;
}

interface PendingBatch {
  effects: Effect[];
  /** Single-key changes in `effects` (effectWeight): what maxBatchEffects counts. */
  weight: number;
  offsets: Map<string, TopicPartitionOffset>;
  repartition: Map<string, ProduceRecord[]>;
  deadLetters: ProduceRecord[];
  records: number;
  events: number;
  startedAt: number;
}

const tpKey = (topic: string, partition: number) => `${topic}:${partition}`;

/** Records of one input topic-partition delivered to a task and not processed yet. */
interface InputQueue {
  key: string;
  topic: string;
  /** Position in the processor's inputs: breaks timestamp ties the same way in every run. */
  rank: number;
  records: TopicRecord[];
  head: number;
  /** Next offset expected from the backend (records below it were delivered already). */
  enqueuedUpTo: number;
  /** The partition's end as last seen (assignment, batches): records below it exist. */
  knownEnd: number;
  /** While > 0, records below it are replayed to restore state only (the sink holds their effects). */
  restoreUntil: number;
  /** The drain (Task.drains) that last asked the backend for this partition's end. */
  peekedIn: number;
}

interface Task {
  partition: number;
  queues: InputQueue[];
  /** Inputs still restoring. */
  restoring: number;
  chain: Promise<void>;
  /** Wakes an eachBatch waiting for the task to make progress (backpressure). */
  wakeUp: (() => void) | undefined;
  /** Drains run so far, so an empty input's end is read at most once per drain. */
  drains: number;
}

const WAIT = Symbol('wait');
/** An input this far ahead of the task's other inputs waits for them (backpressure)... */
const MAX_QUEUED_RECORDS = 5_000;
/** ...for at most this long, then the task goes on with what it has (Kafka Streams' max.task.idle.ms). */
const TASK_IDLE_MS = 500;
/** Longest wait between two tries of a batch its sink refused. */
const MAX_SINK_BACKOFF_MS = 5_000;
/**
 * Consumer-group offsets are bookkeeping (a processor resumes from the offsets its sink holds, and
 * lag is read from the sink too), so they are committed at most this often instead of after every
 * batch: on the embedded log each commit is a durable write transaction on the log's one writer,
 * which producers of the same log share, and nine processors committing every 20 ms batch kept it busy.
 */
const GROUP_COMMIT_MS = 1_000;
/**
 * Longest the tasks of a thread keep the event loop, together, before they let timers and I/O run:
 * restoring tasks, which may share the thread with the read API (a replay moving its processors
 * back to the serving thread; 20 ms doubled the reads' p99 there)...
 */
const RESTORE_TURN_MS = 5;
/**
 * ...and tasks processing a backlog (a rebuild, a restart behind its input). 5 ms turns cost those
 * 15% of their rate (40k against 47k events/s on bench/pipeline-throughput.ts, ~2 s more CPU);
 * 50 ms cost nothing measurable (bench/RESULTS.md, "A standalone replay's progress stood still").
 */
const PROCESS_TURN_MS = 50;
/**
 * A task is working through a backlog while its input holds more than this many records beyond the
 * one it processes. Only then does processing yield turns: a live task is tens of records behind at
 * most, and a turn in the middle of them would only delay them.
 */
const BACKLOG_RECORDS = 256;
/**
 * How long a Kafka group member waits, after it is given partitions it did not hold, for their sink
 * offsets to stop moving before it reads where to resume. kafkajs rebalances eagerly and has no hook
 * before it rejoins, so the member that gave a partition up writes its last batch of it (onRevoked)
 * at the same moment the new owner reads the sink's offsets: read before that write lands, the new
 * owner applied the same records again (analytics rows twice, counters counted twice; seen with two
 * `darkroom process` replicas, test/integration/replicas-kafka-redis.test.ts).
 */
const HANDOVER_MS = 1_000;

/**
 * The event-loop turns that every task of this thread shares. The embedded log hands over its
 * records in promise callbacks, and a task behind its input (a restore, a rebuild, a backlog) only
 * awaits I/O when its batch is full: a rebuild's batch holds millions of effects, so without turns
 * the processors of a standalone replay kept the thread for 13.8 s before any timer ran (its progress
 * read 0 records meanwhile). A budget per task was not enough: the tasks that had yielded all resumed
 * in the same turn, and forty of them (five processors on eight partitions) each spent their 20 ms
 * before a timer or a read could run, so a replay moving its processors back to the serving thread
 * stalled reads for ~1 s at a time.
 */
const turns = { startedAt: 0, running: false, next: undefined as Promise<void> | undefined };
/**
 * A turn runs from the first drain after the event loop came round (or a yield) until it comes round
 * again: the budget counts work done without a break, not the time since the last yield, so a live
 * drain after an idle moment does not yield at once.
 */
function startTurn(): void {
  turns.running = true;
  turns.startedAt = performance.now();
  setImmediate(() => { turns.running = false; });
}
const turnSpent = (budgetMs: number): boolean => performance.now() - turns.startedAt > budgetMs;
function nextTurn(): Promise<void> {
  return (turns.next ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      turns.next = undefined;
      startTurn();
      resolve();
    })));
}

/** Nothing to write: no record consumed, no effect (a punctuation can come without records). */
const isEmpty = (batch: PendingBatch): boolean => batch.records === 0 && batch.effects.length === 0;

function emptyBatch(): PendingBatch {
  return { effects: [], weight: 0, offsets: new Map(), repartition: new Map(), deadLetters: [], records: 0, events: 0, startedAt: 0 };
}

function addEffect(batch: PendingBatch, effect: Effect): void {
  batch.effects.push(effect);
  batch.weight += effectWeight(effect);
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

/**
 * How a processor reads its inputs: in a consumer group of its own, from the earliest record. One of
 * a consumer set (pipeline.ts) reads in the set's group instead.
 */
export function consumerOptionsOf(processor: Processor<unknown, unknown>, options: Pick<RuntimeOptions, 'groupPrefix' | 'partitions'>): ConsumerOptions {
  return {
    groupId: `${options.groupPrefix}-${processor.name}`,
    topics: [...processor.inputs],
    reset: 'earliest',
    ...(options.partitions ? { partitions: options.partitions } : {}),
  };
}

export async function startProcessor<S>(def: ProcessorDefinition<S>, options: RuntimeOptions): Promise<RunningProcessor> {
  const { processor, sink } = def;
  const { backend, codec, observer } = options;
  const writtenBefore = options.writtenBefore?.length ? new Map(options.writtenBefore.map((o) => [tpKey(o.topic, o.partition), o.offset])) : undefined;
  /** Its internal records and dead letter are on their topics already (RuntimeOptions.writtenBefore). */
  const alreadyWritten = (record: TopicRecord): boolean =>
    writtenBefore !== undefined && record.offset < (writtenBefore.get(tpKey(record.topic, record.partition)) ?? 0);
  /** kafkajs fetches a broker's partitions together and waits for every eachBatch of a fetch. */
  const fetchBlocksOnWait = backend.kind === 'kafka';
  let { maxBatchEffects, lingerMs } = withDefaults(options);
  const log = options.log ?? (() => {});

  const states = new Map<number, S>();
  /** Per target partition: the latest origin (offset, index) seen per source partition, to drop re-sent internal records. */
  const internalSeen = new Map<string, { offset: number; index: number }>();
  const progress: ProcessorProgress = {
    name: processor.name, restoring: false, offsets: new Map(), eventsProcessed: 0, deadLetters: 0,
  };
  let restoreStartedAt = 0;
  let restoredEvents = 0;
  let resolveRestored!: () => void;
  const restoredPromise = new Promise<void>((r) => (resolveRestored = r));

  let pending = emptyBatch();
  let flushing: Promise<void> = Promise.resolve();
  /** Flushes asked for that have not ended: queued behind another, or writing their batch. */
  let flushesUnfinished = 0;
  /**
   * Set while a full batch waits behind the one being written: every task waits on it before it folds
   * another record. A task that only awaited its own flush let the tasks of other partitions fill and
   * queue a full batch each, one per partition.
   */
  let fullQueued: Promise<void> | undefined;
  /** Drains of this processor that yielded a turn in the middle of a backlog (not a restore). */
  let drainsYielded = 0;
  let stopped = false;
  let consumer: Consumer | undefined;
  /** Offsets applied by the sink but not yet committed to the consumer group, by topic-partition. */
  const uncommitted = new Map<string, TopicPartitionOffset>();
  let commitTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Never awaited: bookkeeping (a partition's next owner starts from the sink's offsets), and on Kafka
   * a commit while the consumer leaves goes through the admin client and may take seconds.
   */
  function commitGroupOffsets(): void {
    clearTimeout(commitTimer);
    commitTimer = undefined;
    if (uncommitted.size === 0 || !consumer) return;
    const offsets = [...uncommitted.values()];
    uncommitted.clear();
    consumer.commit(offsets).catch((e) => log(`${processor.name}: commit failed: ${(e as Error).message}`));
  }

  function commitLater(offsets: TopicPartitionOffset[]): void {
    for (const o of offsets) uncommitted.set(tpKey(o.topic, o.partition), o);
    if (commitTimer) return;
    commitTimer = setTimeout(commitGroupOffsets, GROUP_COMMIT_MS);
    commitTimer.unref?.();
  }

  const stateOf = (partition: number): S => {
    let state = states.get(partition);
    if (state === undefined) states.set(partition, (state = processor.init(partition)));
    return state;
  };

  /**
   * Per task (one partition number across all input topics), the records delivered but not yet
   * processed, one queue per topic-partition. A stateful task takes them in event-time order across
   * its topics (Kafka Streams' PartitionGroup), so the order between topics does not depend on how
   * the backend happened to fetch them: a live run, a restart that catches up a backlog and a replay
   * all fold the same sequence.
   */
  const tasks = new Map<number, Task>();

  function taskOf(partition: number): Task {
    let task = tasks.get(partition);
    if (!task) tasks.set(partition, (task = { partition, queues: [], restoring: 0, chain: Promise.resolve(), wakeUp: undefined, drains: 0 }));
    return task;
  }

  function queueOf(topic: string, partition: number): InputQueue {
    const task = taskOf(partition);
    let queue = task.queues.find((q) => q.topic === topic);
    if (!queue) {
      queue = { key: tpKey(topic, partition), topic, rank: processor.inputs.indexOf(topic), records: [], head: 0, enqueuedUpTo: 0, knownEnd: 0, restoreUntil: 0, peekedIn: -1 };
      task.queues.push(queue);
      task.queues.sort((a, b) => a.rank - b.rank);
    }
    return queue;
  }

  function restoredOne(task: Task, queue: InputQueue): void {
    if (queue.restoreUntil === 0) return;
    queue.restoreUntil = 0;
    if (--task.restoring === 0) checkRestored();
  }

  function checkRestored(): void {
    if (!progress.restoring || [...tasks.values()].some((t) => t.restoring > 0)) return;
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

  /** Partitions held until the last revocation: taking them back needs no handover. */
  let heldBefore = new Set<string>();

  /**
   * The sink's offsets, once those of partitions new to this member have stood still for
   * HANDOVER_MS, when other members share the group (one of them may still be writing its last
   * batch of them). Alone in its group a member has nobody to wait for: a start does not wait.
   */
  async function settledOffsets(partitions: TopicPartition[], context: AssignmentContext | undefined): Promise<Map<string, number>> {
    const read = async () => new Map((await sink.offsets()).map((o) => [tpKey(o.topic, o.partition), o.offset]));
    let held = await read();
    const handedOver = partitions.map((p) => tpKey(p.topic, p.partition)).filter((key) => !heldBefore.has(key));
    if (!context?.othersInGroup || handedOver.length === 0) return held;
    for (;;) {
      await new Promise((r) => setTimeout(r, HANDOVER_MS));
      const again = await read();
      if (handedOver.every((key) => again.get(key) === held.get(key))) return again;
      held = again;
    }
  }

  async function onAssigned(partitions: TopicPartition[], context?: AssignmentContext): Promise<TopicPartitionOffset[]> {
    const held = await settledOffsets(partitions, context);
    const ends = new Map<string, number>();
    // Where each partition starts now: records below were removed by retention and never come.
    const starts = new Map<string, number>();
    for (const topic of new Set(partitions.map((p) => p.topic))) {
      for (const end of await backend.endOffsets(topic)) ends.set(tpKey(topic, end.partition), end.offset);
      if (def.stateful) for (const start of await backend.startOffsets(topic)) starts.set(tpKey(topic, start.partition), start.offset);
    }
    restoreStartedAt = Date.now();
    const seek: TopicPartitionOffset[] = [];
    for (const partition of new Set(partitions.map((p) => p.partition))) {
      if (def.stateful) resetTask(partition);
      tasks.delete(partition);
    }
    for (const { topic, partition } of partitions) {
      const key = tpKey(topic, partition);
      const sinkOffset = held.get(key) ?? 0;
      progress.offsets.set(key, sinkOffset);
      // A stateful task restores from the oldest record still there. Waiting for one below that, when
      // retention had removed everything up to the sink's offset, kept the task restoring until a new
      // record came, and its other inputs waited with it (found with DARKROOM_LOG_RETENTION_MS).
      const from = def.stateful ? Math.min(sinkOffset, starts.get(key) ?? 0) : sinkOffset;
      const queue = queueOf(topic, partition);
      queue.enqueuedUpTo = from;
      queue.knownEnd = ends.get(key) ?? 0;
      if (from < sinkOffset) {
        queue.restoreUntil = sinkOffset;
        taskOf(partition).restoring++;
        progress.restoring = true;
      }
      seek.push({ topic, partition, offset: from });
    }
    if (!progress.restoring) resolveRestored();
    checkRestored();
    return seek;
  }

  async function onRevoked(partitions: TopicPartition[]): Promise<void> {
    await flush();
    commitGroupOffsets();
    heldBefore = new Set(partitions.map((p) => tpKey(p.topic, p.partition)));
    for (const { topic, partition } of partitions) {
      progress.offsets.delete(tpKey(topic, partition));
      tasks.delete(partition);
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
        const seen = internalSeen.get(key);
        if (seen === undefined) internalSeen.set(key, { offset: origin.offset, index: origin.index });
        else if (origin.offset < seen.offset || (origin.offset === seen.offset && origin.index <= seen.index)) return undefined; // re-sent after a crash upstream
        else { seen.offset = origin.offset; seen.index = origin.index; }
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
    let index = 0;
    const written = alreadyWritten(record);
    for (const effect of effects) {
      if (effect.kind !== 'repartition') continue;
      out ??= []; // even empty: take() then leaves the repartition effects out of the sink's
      if (written) continue;
      const value = codec.encodeInternal(effect.topic, effect.value, { topic: record.topic, partition: record.partition, offset: record.offset, index: index++ });
      if (value instanceof Promise) async = true;
      out.push([effect.topic, { key: effect.key, value: value as Buffer, timestamp: record.timestamp }]);
    }
    if (!async || !out) return out;
    return Promise.all(out.map(async ([topic, r]) => [topic, { ...r, value: await r.value }] as [string, ProduceRecord]));
  }

  /** Adds one record's outcome and its offset to the pending batch (synchronously). */
  function take(queue: InputQueue, record: TopicRecord, outcome: Outcome, internal: Array<[string, ProduceRecord]> | undefined): void {
    if (isEmpty(pending)) pending.startedAt = Date.now();
    pending.records++;
    pending.offsets.set(queue.key, { topic: record.topic, partition: record.partition, offset: record.offset + 1 });
    if (outcome === undefined) return;
    if (!Array.isArray(outcome)) {
      if (!alreadyWritten(record)) pending.deadLetters.push(outcome.deadLetter);
      return;
    }
    pending.events++;
    if (internal) {
      for (const [topic, produced] of internal) {
        let list = pending.repartition.get(topic);
        if (!list) pending.repartition.set(topic, (list = []));
        list.push(produced);
      }
      for (const effect of outcome) if (effect.kind !== 'repartition') addEffect(pending, effect);
    } else {
      for (const effect of outcome) addEffect(pending, effect);
    }
  }

  /**
   * The queue whose head comes next in the task, or WAIT when that cannot be known yet: a stateful
   * task restores every input up to its sink's offsets before it processes anything new (the sink
   * holds what the previous run did, in that run's order), and takes the lowest (timestamp, input
   * rank) head, waiting for an empty input that is known to hold more records. `force` stops waiting
   * for live records of lagging inputs (after TASK_IDLE_MS), never for records to restore.
   */
  function nextQueue(task: Task, force: boolean): InputQueue | typeof WAIT | undefined {
    let best: InputQueue | undefined;
    let bestTs = 0;
    for (const queue of task.queues) {
      const restoring = queue.restoreUntil > 0;
      if (task.restoring > 0 && !restoring) continue;
      if (queue.head === queue.records.length) {
        if (restoring) {
          if (queue.enqueuedUpTo < queue.restoreUntil) return WAIT;
          restoredOne(task, queue);
          return nextQueue(task, force);
        }
        if (def.stateful && !force && (queue.enqueuedUpTo < queue.knownEnd || grewUnseen(task, queue))) return WAIT;
        continue;
      }
      const head = queue.records[queue.head];
      if (restoring && head.offset >= queue.restoreUntil) { restoredOne(task, queue); return nextQueue(task, force); }
      if (!def.stateful) return queue;
      if (best === undefined || head.timestamp < bestTs) { best = queue; bestTs = head.timestamp; }
    }
    return best;
  }

  /**
   * Records of an empty input may already be readable while its reading loop has not delivered them:
   * the loop of another input that was awake picked up the same commit first (one ingest request
   * writes a user's profile change and their post together). Taking the post now would put it before
   * the earlier profile change, so a stateful task asks where the input ends now, once per drain,
   * where the backend can say without a round trip (the embedded log). Without this check trending
   * counted posts of accounts that had just gone private (test/integration/live-event-order.test.ts).
   */
  function grewUnseen(task: Task, queue: InputQueue): boolean {
    if (queue.peekedIn === task.drains || !consumer?.endOffsetNow) return false;
    queue.peekedIn = task.drains;
    const end = consumer.endOffsetNow(queue.topic, task.partition);
    if (end === undefined || end <= queue.enqueuedUpTo) return false;
    queue.knownEnd = end; // beyond enqueuedUpTo, which is at or beyond the end known so far
    return true;
  }

  /** Processes what the task can, in order; serialised per task, since records may await. */
  function drain(task: Task, force: boolean): Promise<void> {
    task.chain = task.chain.then(async () => {
      task.drains++;
      if (!turns.running) startTurn();
      let processed = 0;
      for (;;) {
        if (stopped || tasks.get(task.partition) !== task) return; // stopping, or revoked meanwhile
        const queue = nextQueue(task, force);
        if (queue === undefined || queue === WAIT) break;
        const record = queue.records[queue.head++];
        if (queue.head === queue.records.length) { queue.records = []; queue.head = 0; }
        const restoring = queue.restoreUntil > 0;
        if (!restoring && fullQueued) await fullQueued;
        let outcome = handleRecord(record, restoring);
        if (outcome instanceof Promise) outcome = await outcome;
        let internal = Array.isArray(outcome) ? encodeRepartitions(record, outcome) : undefined;
        if (internal instanceof Promise) internal = await internal;
        processed++;
        if (restoring) {
          if (record.offset + 1 >= queue.restoreUntil) restoredOne(task, queue);
        } else {
          take(queue, record, outcome, internal);
          if (pending.weight >= maxBatchEffects || pending.records >= maxBatchEffects) await flushFull();
        }
        if ((processed & 15) === 0 && (restoring ? turnSpent(RESTORE_TURN_MS) : queue.knownEnd - record.offset > BACKLOG_RECORDS && turnSpent(PROCESS_TURN_MS))) {
          // Processing a backlog, the task yields with records left: the linger waits for it. A
          // restore adds nothing to the batch, so the processor's live partitions keep their linger.
          if (restoring) await nextTurn();
          else {
            drainsYielded++;
            try { await nextTurn(); } finally { drainsYielded--; }
          }
        }
      }
      if (processed > 0 && processor.punctuate && states.has(task.partition)) {
        const effects = processor.punctuate(states.get(task.partition)!);
        // While restoring, only the state change matters: the sink already holds what was published.
        // The batch may have just been flushed (it was full): then these effects are a batch of their
        // own, which the linger flushes like any other, not only once the next record comes.
        if (task.restoring === 0 && effects.length) {
          if (isEmpty(pending)) pending.startedAt = Date.now();
          for (const effect of effects) addEffect(pending, effect);
        }
      }
      if (processed > 0) { task.wakeUp?.(); task.wakeUp = undefined; }
    });
    return task.chain;
  }

  async function eachBatch(batch: RecordBatch): Promise<void> {
    if (stopped) return;
    const task = taskOf(batch.partition);
    const queue = queueOf(batch.topic, batch.partition);
    for (const record of batch.records) {
      if (record.offset < queue.enqueuedUpTo) continue; // delivered twice by the backend
      queue.records.push(record);
      queue.enqueuedUpTo = record.offset + 1;
    }
    if (batch.highWatermark > queue.knownEnd) queue.knownEnd = batch.highWatermark;
    await drain(task, false);
    // Backpressure: the next batch of this input waits while it is far ahead of the task's other
    // inputs. Only for a while: on Kafka the records those inputs wait for may come with the next
    // fetch, which this call holds back. The embedded log reads every partition in a loop of its own,
    // so there the wait lasts until the other inputs deliver, and the event-time order stays exact
    // however far behind the task is (a burst, a restart on a backlog).
    let deadline = Date.now() + TASK_IDLE_MS;
    while (!stopped && queue.records.length - queue.head > MAX_QUEUED_RECORDS) {
      const left = deadline - Date.now();
      if (left <= 0) {
        if (!fetchBlocksOnWait) { deadline = Date.now() + TASK_IDLE_MS; continue; }
        await drain(task, true);
        break;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        const previous = task.wakeUp;
        task.wakeUp = () => { clearTimeout(timer); previous?.(); resolve(); };
      });
    }
  }

  /**
   * A full batch goes to the sink while the next one fills: the processor waits only for the batch
   * before it. So its records are folded while the sink writes (an lmdb commit, a Redis round trip).
   * Alive at once: the batch written and at most one full batch queued behind it (every task waits
   * for the write before it folds on, and the linger takes no batch while one is written), so at most
   * twice the cap of records.
   */
  async function flushFull(): Promise<void> {
    const before = flushing;
    // A sink that fails for good (only while stopping) rejects `flushing`, which the next flush or
    // stop() awaits; this call has no one to tell.
    flush().catch(() => {});
    const written = before.then(() => {}, () => {});
    fullQueued = written;
    try {
      await before;
    } finally {
      if (fullQueued === written) fullQueued = undefined;
    }
  }

  /**
   * Queues the pending batch for the sink. The batch is taken now, not when the sink is free: the
   * tasks of other partitions go on filling the next one meanwhile, and a batch taken later would be
   * written before a full one queued after this call, its offsets behind the sink's (a Kafka + Redis
   * first build never caught up; bench/RESULTS.md, "A full batch written while the next one is folded").
   */
  function flush(): Promise<void> {
    const batch = isEmpty(pending) ? undefined : pending;
    if (batch !== undefined) pending = emptyBatch();
    flushesUnfinished++;
    flushing = flushing.then(async () => {
      try {
        if (batch !== undefined) await write(batch);
      } finally {
        flushesUnfinished--;
      }
      // Records that came during the write and waited their linger out go now, not at the next tick.
      if (batch !== undefined) lingerCheck();
    });
    return flushing;
  }

  /** Writes one batch, retrying until the sink takes it (or, once stopping, gives up after a few tries). */
  async function write(batch: PendingBatch): Promise<void> {
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
        observer?.onBatch?.(processor.name, { events: batch.events, effects: batch.weight, sinkMs, records: batch.records, offsets });
        break;
      } catch (error) {
        attempt++;
        progress.lastError = (error as Error).message;
        observer?.onSinkError?.(processor.name, error as Error, attempt);
        if (stopped && attempt > 3) throw error;
        // Backoff keeps retrying the same batch: consumption waits behind it, so memory stays bounded.
        // Capped low: once the sink is back, the next try should come within seconds.
        await new Promise((r) => setTimeout(r, Math.min(MAX_SINK_BACKOFF_MS, 100 * 2 ** Math.min(attempt, 9))));
      }
    }
    commitLater(offsets);
  }

  function lingerCheck(): void {
    // While a batch is written or a flush waits its turn (behind a batch retrying against a sink that
    // is down, say), the pending batch keeps filling: taken then, it would be a third batch alive. It is
    // taken when the write ends (flush), or as a full batch.
    // A drain that yielded a turn mid-way is behind: its batch fills up to the cap (a rebuild's
    // throughput depends on large batches), or flushes by the linger once the drain is done.
    if (flushesUnfinished === 0 && drainsYielded === 0 && !isEmpty(pending) && Date.now() - pending.startedAt >= lingerMs) void flush();
  }
  const startLingerTimer = () => {
    const t = setInterval(lingerCheck, Math.max(5, Math.floor(lingerMs / 2)));
    t.unref?.();
    return t;
  };
  let timer = startLingerTimer();

  consumer = options.consumer ?? backend.consumer(consumerOptionsOf(processor, options));
  await consumer.run({ eachBatch, onAssigned, onRevoked });

  return {
    name: processor.name,
    progress: () => progress,
    restored: () => restoredPromise,
    batching: () => ({ maxBatchEffects, lingerMs }),
    setBatching(batching) {
      const previousLinger = lingerMs;
      ({ maxBatchEffects, lingerMs } = withDefaults(batching));
      if (lingerMs !== previousLinger && !stopped) {
        clearInterval(timer);
        timer = startLingerTimer();
      }
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await consumer?.stop();
      await flush();
      commitGroupOffsets();
    },
  };
}
