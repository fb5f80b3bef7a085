// Consumer-group membership on Kafka. kafkajs owns membership, fetching and heartbeats; this module
// adds what the topic backend promises on top:
//   - every input's partition p goes to the same member (co-partitioned-assigner.ts);
//   - onAssigned runs on every (re)assignment before any record of it is delivered, and the offsets
//     it returns are seeked to (a processor resumes from what its sink holds, not from commits);
//   - batches of at most maxBatchRecords, one at a time per partition (the await is the backpressure),
//     partitions in parallel;
//   - a failing handler gets the same batch again after a backoff (skipping would lose records);
//   - offsets are committed only by `commit`, never automatically.
//
// One membership may serve several consumers (`consumerSet`), as a Kafka Streams thread serves all
// its tasks with one consumer: each topic-partition is fetched and converted once and handed to every
// consumer that reads it. Fetching and converting were a quarter of a Kafka pipeline's main thread,
// and the posts topic alone was read by four processors. Each consumer keeps its own position: the
// fetch starts at the lowest, and a consumer is handed only the records at or beyond its own.
import type { Consumer as KafkajsConsumer, EachBatchPayload, Kafka } from 'kafkajs';
import type {
  AssignmentContext, Consumer, ConsumerOptions, RecordBatch, RunOptions, TopicPartition, TopicPartitionOffset, TopicRecord,
} from '../types.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { KafkaBackendError, translateKafkaError } from './errors.ts';
import { checkConsumerOptions } from '../consumer-options.ts';
import { coPartitionedAssigner } from './co-partitioned-assigner.ts';

const MAX_BACKOFF_MS = 5_000;
/** A tombstone's value (kafkajs gives null); shared, since it has no bytes to change. */
const EMPTY_VALUE = Buffer.alloc(0);

export interface KafkaConsumerTuning {
  /** Partitions whose batches may be handled at the same time, per subscribed topic (kafkajs partitionsConsumedConcurrently). */
  concurrency: number;
  /** How long a fetch waits for new records; bounds how long `stop` waits for an idle fetch. */
  maxWaitMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /**
   * Largest fetch response. A fetch stops adding partitions once it is full, and a task waiting for a
   * partition left out (an input far behind another, processors/runtime.ts) holds the whole fetch of
   * its consumer set for up to 500 ms: with kafkajs' 10 MB a set of nine processors restored its state
   * in 10.6 s instead of 1.8 s, and in 1.8 s again with 50 MB (bench/RESULTS.md, "One fetch for the
   * processors of a pipeline"). Below the broker's own cap, fetch.max.bytes (55 MB by default).
   */
  maxFetchBytes: number;
}

export const DEFAULT_CONSUMER_TUNING: KafkaConsumerTuning = {
  concurrency: 8, maxWaitMs: 250, sessionTimeoutMs: 30_000, heartbeatIntervalMs: 3_000, maxFetchBytes: 50 * 1024 * 1024,
};

interface Host {
  kafka: Kafka;
  admin: KafkaTopicAdmin;
  brokers: string[];
  tuning: KafkaConsumerTuning;
  reportError(message: string): void;
  released(membership: KafkaGroupMembership): void;
}

const keyOf = (topic: string, partition: number) => `${topic}/${partition}`;
const backoffMs = (failures: number) => Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures - 1, 10));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Index of the first record at or beyond `offset` (records are in offset order). */
function firstAtOrAfter(records: TopicRecord[], offset: number): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid].offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The lowest value the readers hold for `key` in the map `of` picks; a reader without one counts as
 * `missing` (NaN: then the result is NaN, "not every reader has one").
 */
function lowest(readers: KafkaSetConsumer[], of: (reader: KafkaSetConsumer) => Map<string, number>, key: string, missing: number): number {
  let low = Infinity;
  for (const reader of readers) low = Math.min(low, of(reader).get(key) ?? missing);
  return low;
}

/** One group member (one kafkajs consumer) and the consumers it fetches for. */
export class KafkaGroupMembership {
  state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private kafkajs: KafkajsConsumer | undefined;
  /** Partitions of every subscribed topic assigned to this member. */
  private assigned: TopicPartition[] = [];
  /** Settles once onAssigned of every consumer has run for the latest assignment and its seeks are issued. */
  private assignmentReady: Promise<void> = Promise.resolve();
  private readonly consumers: KafkaSetConsumer[];
  private readonly topics: string[];
  private registered = 0;
  private started: Promise<void> | undefined;
  private startNow: (() => void) | undefined;
  private readonly canStart = new Promise<void>((resolve) => { this.startNow = resolve; });
  /** Commits in flight through the membership: a stopping member waits for them before it leaves. */
  private readonly commits = new Set<Promise<unknown>>();
  /** Set once this member starts leaving the group; commits through it are no longer possible. */
  private leaving = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly host: Host, readonly groupId: string, members: ConsumerOptions[]) {
    if (members.length === 0) throw new KafkaBackendError(`consumer set of group "${groupId}" needs at least one consumer`);
    this.consumers = members.map((options) => new KafkaSetConsumer(this, options));
    this.topics = [...new Set(members.flatMap((m) => m.topics))];
  }

  get members(): Consumer[] { return this.consumers; }

  /** Called by each consumer's run: the membership joins once every consumer has its handlers. */
  register(): Promise<void> {
    if (++this.registered === this.consumers.length) this.startNow!();
    return this.started ??= this.canStart.then(() => this.start());
  }

  private readersOf(topic: string): KafkaSetConsumer[] {
    return this.consumers.filter((c) => c.live && c.reads(topic));
  }

  private async start(): Promise<void> {
    if (this.state !== 'new') throw new KafkaBackendError(`consumers of group "${this.groupId}" were stopped before they started`);
    this.state = 'running';
    const { kafka, tuning, brokers } = this.host;
    const consumer = kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: tuning.maxWaitMs,
      maxBytes: tuning.maxFetchBytes,
      sessionTimeout: tuning.sessionTimeoutMs,
      heartbeatInterval: tuning.heartbeatIntervalMs,
      partitionAssigners: [coPartitionedAssigner],
    });
    this.kafkajs = consumer;

    // kafkajs emits GROUP_JOIN synchronously after join+sync and before it fetches, but does not
    // await listeners: deliveries wait on assignmentReady instead.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assigned = Object.entries(payload.memberAssignment)
        .flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
      const assigned = this.assigned;
      this.assignmentReady = this.assignmentReady.then(() => this.assign(assigned));
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.state === 'running') {
        this.host.reportError(`kafka: consumer of group "${this.groupId}" crashed${payload.restart ? ' (restarting)' : ''}: ${payload.error?.message}`);
      }
    });

    try {
      await consumer.connect();
      for (const topic of this.topics) {
        await consumer.subscribe({ topic, fromBeginning: this.consumers.some((c) => c.reads(topic) && c.options.reset !== 'latest') });
      }
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: tuning.concurrency * this.topics.length,
        eachBatch: (payload) => this.deliver(payload),
      });
    } catch (error) {
      this.state = 'stopped';
      await consumer.disconnect().catch(() => undefined);
      this.host.released(this);
      throw translateKafkaError(error, brokers, `join group "${this.groupId}"`);
    }
    await this.assignmentReady;
  }

  /**
   * Each consumer learns its share of the assignment, then the fetch of each partition is seeked to
   * the lowest position of the consumers that read it. Where one of them has no position of its own,
   * the fetch starts where kafkajs puts it (the group's committed offset, or the topic's reset).
   */
  private async assign(assigned: TopicPartition[]): Promise<void> {
    const context: AssignmentContext = { othersInGroup: await this.othersInGroup() };
    await Promise.all(this.consumers.filter((c) => c.live).map((c) => c.assignUntilDone(assigned, context)));
    if (this.state !== 'running' || assigned !== this.assigned) return; // a newer assignment follows
    for (const { topic, partition } of assigned) {
      const from = lowest(this.readersOf(topic), (reader) => reader.positions, keyOf(topic, partition), NaN);
      if (Number.isFinite(from)) this.kafkajs!.seek({ topic, partition, offset: String(from) });
    }
  }

  /** Whether the group has members besides this one now; if it cannot tell, it says yes (the safe answer). */
  private async othersInGroup(): Promise<boolean> {
    try {
      return (await this.kafkajs!.describeGroup()).members.length > 1;
    } catch {
      return true;
    }
  }

  /** Restarts a partition's fetch at `offset` (a consumer's seek); the others skip what they had. */
  seek(topic: string, partition: number, offset: number): void {
    this.kafkajs!.seek({ topic, partition, offset: String(offset) });
  }

  async lowWatermark(topic: string, partition: number): Promise<number> {
    return (await this.host.admin.watermarks(topic)).find((w) => w.partition === partition)?.low ?? 0;
  }

  afterAssignment(): Promise<void> { return this.assignmentReady; }
  get running(): boolean { return this.state === 'running'; }

  reportError(message: string): void { this.host.reportError(message); }

  private async deliver(payload: EachBatchPayload): Promise<void> {
    await this.assignmentReady;
    const { batch, resolveOffset, heartbeat } = payload;
    const { topic, partition } = batch;
    const readers = this.readersOf(topic);
    const from = lowest(readers, (reader) => reader.positions, keyOf(topic, partition), 0);
    // One pass, no intermediate array, once for every consumer that reads the topic.
    const records: TopicRecord[] = [];
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      if (offset < from) continue;
      records.push({
        topic, partition, offset,
        key: m.key === null ? null : m.key.toString('utf8'),
        value: m.value ?? EMPTY_VALUE,
        timestamp: Number(m.timestamp),
      });
    }
    const highWatermark = Number(batch.highWatermark);
    if (readers.length === 1) await readers[0].take(records, highWatermark, payload);
    else await Promise.all(readers.map((reader) => reader.take(records, highWatermark, payload)));
    if (this.state !== 'running' || !payload.isRunning() || payload.isStale()) return;
    const last = batch.messages.at(-1);
    if (last) resolveOffset(last.offset);
    await heartbeat();
  }

  /**
   * Through this member's own group membership while it has one (also while it stops, before it
   * leaves). A membership that never ran commits as an idle group (tools, tests). One that has left
   * refuses: committing then means briefly joining the group (kafkajs admin.setOffsets), as a member
   * that would take partitions from the processor replacing this one.
   *
   * With several consumers, a partition's committed offset is the lowest any of its readers
   * committed (none until each has committed): all of them may resume from it.
   */
  async commit(from: KafkaSetConsumer, offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const group: TopicPartitionOffset[] = [];
    for (const o of offsets) {
      const key = keyOf(o.topic, o.partition);
      from.committed.set(key, o.offset);
      const offset = lowest(this.consumers.filter((c) => c.reads(o.topic)), (reader) => reader.committed, key, NaN);
      if (Number.isFinite(offset)) group.push({ topic: o.topic, partition: o.partition, offset });
    }
    if (group.length === 0) return;
    if (this.kafkajs && (this.state === 'running' || (this.state === 'stopping' && !this.leaving))) {
      const commit = this.kafkajs.commitOffsets(group.map(({ topic, partition, offset }) => ({ topic, partition, offset: String(offset) })));
      this.commits.add(commit);
      try {
        await commit;
      } catch (error) {
        throw translateKafkaError(error, this.host.brokers, `commit offsets of group "${this.groupId}"`);
      } finally {
        this.commits.delete(commit);
      }
      return;
    }
    if (this.kafkajs) throw new KafkaBackendError(`consumer of group "${this.groupId}" has left the group; its offsets are committed before it leaves`);
    await this.host.admin.commitAsIdleGroup(this.groupId, group);
  }

  /** A consumer stopped: the member leaves the group once none is left. */
  async released(): Promise<void> {
    if (this.consumers.every((c) => !c.live)) await this.stop();
  }

  /**
   * Resolves once the group is left. Each consumer's onRevoked runs first (KafkaSetConsumer.retire),
   * while this member still belongs to the group, so their last offsets are committed through the
   * membership, not by joining the group again afterwards.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.startNow!(); // consumers waiting for the others to run give up
    this.stopping = (async () => {
      try {
        if (wasRunning && this.kafkajs) {
          // No more fetches meanwhile; throws while kafkajs restarts.
          try { this.kafkajs.pause(this.topics.map((topic) => ({ topic }))); } catch { /* nothing to pause */ }
          await Promise.all(this.consumers.map((c) => c.retire()));
          await Promise.allSettled([...this.commits]);
        }
        this.leaving = true;
        await this.kafkajs?.stop();
      } finally {
        this.leaving = true;
        await this.kafkajs?.disconnect().catch(() => undefined);
        this.state = 'stopped';
        this.host.released(this);
      }
    })();
    return this.stopping;
  }
}

/** One consumer of a membership: its own handlers, positions and commits. */
class KafkaSetConsumer implements Consumer {
  private handlers: RunOptions | undefined;
  private ran = false;
  /** False once stopped: nothing more is delivered to it, and it takes no part in assignments. */
  live = true;
  /** Its share of the current assignment, as told to onAssigned. */
  private partitions: TopicPartition[] = [];
  /** Next offset to deliver per partition, where we know it better than kafkajs (overrides, seeks). */
  readonly positions = new Map<string, number>();
  /** Offsets it committed, per partition (the membership commits the lowest of its readers'). */
  readonly committed = new Map<string, number>();
  private readonly pendingSeeks = new Set<string | undefined>();
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private readonly maxBatch: number;

  constructor(private readonly membership: KafkaGroupMembership, readonly options: ConsumerOptions) {
    this.maxBatch = checkConsumerOptions(options, KafkaBackendError);
  }

  reads(topic: string): boolean { return this.options.topics.includes(topic); }

  /** Resolves once the membership has joined the group and onAssigned has run (not when consuming ends). */
  async run(handlers: RunOptions): Promise<void> {
    if (this.ran) throw new KafkaBackendError(`consumer of group "${this.membership.groupId}" was already run; create a new one`);
    this.ran = true;
    this.handlers = handlers;
    try {
      await this.membership.register();
    } catch (error) {
      this.live = false;
      throw error;
    }
  }

  /**
   * Nothing of an assignment may be delivered before onAssigned said where to resume, or a processor
   * would re-apply records its sink already holds: a failing onAssigned is retried, not skipped.
   */
  async assignUntilDone(assigned: TopicPartition[], context: AssignmentContext): Promise<void> {
    let previous = this.partitions;
    for (let failures = 1; this.live && this.membership.running; failures++) {
      try {
        await this.assign(previous, assigned.filter((tp) => this.reads(tp.topic)), context);
        return;
      } catch (error) {
        const backoff = backoffMs(failures);
        this.membership.reportError(`kafka: assigning partitions of group "${this.membership.groupId}" failed (attempt ${failures}, retrying in ${backoff} ms): ${(error as Error)?.message ?? error}`);
        await sleep(backoff);
        previous = []; // onRevoked already ran, or failed and is not repeated
      }
    }
  }

  private async assign(previous: TopicPartition[], assigned: TopicPartition[], context: AssignmentContext): Promise<void> {
    // kafkajs uses eager rebalancing: every join revokes everything, then assigns anew.
    this.positions.clear();
    this.partitions = [];
    if (previous.length > 0) await this.handlers?.onRevoked?.(previous);
    this.partitions = assigned;
    const overrides = (await this.handlers?.onAssigned?.(assigned, context)) ?? [];
    const seekAll = this.pendingSeeks.has(undefined);
    for (const { topic, partition } of assigned) {
      if (seekAll || this.pendingSeeks.has(topic)) this.positions.set(keyOf(topic, partition), await this.membership.lowWatermark(topic, partition));
    }
    this.pendingSeeks.clear();
    for (const override of overrides) {
      if (!Number.isSafeInteger(override.offset) || override.offset < 0) continue;
      if (!assigned.some((a) => a.topic === override.topic && a.partition === override.partition)) continue;
      this.positions.set(keyOf(override.topic, override.partition), override.offset);
    }
  }

  /** Hands this consumer the fetched records at or beyond its position, in batches of at most maxBatch. */
  async take(records: TopicRecord[], highWatermark: number, payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, heartbeat } = payload;
    const { topic, partition } = batch;
    const key = keyOf(topic, partition);
    for (let start = firstAtOrAfter(records, this.positions.get(key) ?? 0); start < records.length; start += this.maxBatch) {
      const chunk: RecordBatch = { topic, partition, records: records.slice(start, start + this.maxBatch), highWatermark };
      let failures = 0;
      for (;;) {
        // A seek (override, seekToBeginning) or a stop makes the rest of this fetch irrelevant.
        if (!this.live || !this.membership.running || !isRunning() || isStale()) return;
        this.inFlight++;
        try {
          await this.handlers!.eachBatch(chunk);
          break;
        } catch (error) {
          failures++;
          const backoff = backoffMs(failures);
          this.membership.reportError(`kafka: ${topic}/${partition} at offset ${chunk.records[0].offset} failed (attempt ${failures}, retrying in ${backoff} ms): ${(error as Error)?.message ?? error}`);
          await sleep(backoff);
        } finally {
          if (--this.inFlight === 0) this.idle?.();
        }
        await heartbeat(); // a rebalance shows up here and ends this fetch
      }
      this.positions.set(key, chunk.records[chunk.records.length - 1].offset + 1);
      await heartbeat();
    }
  }

  commit(offsets: TopicPartitionOffset[]): Promise<void> {
    return this.membership.commit(this, offsets);
  }

  async seekToBeginning(topic?: string): Promise<void> {
    if (topic !== undefined && !this.reads(topic)) {
      throw new KafkaBackendError(`cannot seek "${topic}": consumer of group "${this.membership.groupId}" reads ${this.options.topics.join(', ')}`);
    }
    if (!this.membership.running) {
      this.pendingSeeks.add(topic);
      return;
    }
    await this.membership.afterAssignment();
    for (const { topic: t, partition } of this.partitions) {
      if (topic !== undefined && t !== topic) continue;
      const low = await this.membership.lowWatermark(t, partition);
      this.positions.set(keyOf(t, partition), low);
      this.membership.seek(t, partition, low);
    }
  }

  /**
   * Resolves once every in-flight eachBatch has finished and onRevoked has run; the membership
   * leaves the group once its last consumer stopped.
   */
  async stop(): Promise<void> {
    // Before the group was joined: the others cannot start without this one, so none does.
    if (this.membership.state === 'new') return this.membership.stop();
    await this.retire();
    await this.membership.released();
  }

  /** Ends deliveries to this consumer and revokes its partitions, while the membership still holds them. */
  retire(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const wasLive = this.live && this.ran;
      this.live = false;
      if (wasLive && this.membership.state !== 'new') {
        if (this.inFlight > 0) await new Promise<void>((resolve) => { this.idle = resolve; });
        await this.membership.afterAssignment();
        if (this.partitions.length > 0) await this.handlers?.onRevoked?.(this.partitions);
        this.partitions = [];
      }
    })();
    return this.stopping;
  }
}
