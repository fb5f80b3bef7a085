// A consumer-group member on Kafka. kafkajs owns membership, fetching and heartbeats; this class adds
// what the topic backend promises on top:
//   - every input's partition p goes to the same member (co-partitioned-assigner.ts);
//   - onAssigned runs on every (re)assignment before any record of it is delivered, and the offsets
//     it returns are seeked to (a processor resumes from what its sink holds, not from commits);
//   - batches of at most maxBatchRecords, one at a time per partition (the await is the backpressure),
//     partitions in parallel;
//   - a failing handler gets the same batch again after a backoff (skipping would lose records);
//   - offsets are committed only by `commit`, never automatically.
import type { Consumer as KafkajsConsumer, EachBatchPayload, Kafka } from 'kafkajs';
import type {
  Consumer, ConsumerOptions, RecordBatch, RunOptions, TopicPartition, TopicPartitionOffset, TopicRecord,
} from '../types.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { KafkaBackendError, translateKafkaError } from './errors.ts';
import { checkConsumerOptions } from '../consumer-options.ts';
import { coPartitionedAssigner } from './co-partitioned-assigner.ts';

const MAX_BACKOFF_MS = 5_000;
/** A tombstone's value (kafkajs gives null); shared, since it has no bytes to change. */
const EMPTY_VALUE = Buffer.alloc(0);

export interface KafkaConsumerTuning {
  /** Partitions whose batches may be handled at the same time (kafkajs partitionsConsumedConcurrently). */
  concurrency: number;
  /** How long a fetch waits for new records; bounds how long `stop` waits for an idle fetch. */
  maxWaitMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
}

export const DEFAULT_CONSUMER_TUNING: KafkaConsumerTuning = {
  concurrency: 8, maxWaitMs: 250, sessionTimeoutMs: 30_000, heartbeatIntervalMs: 3_000,
};

interface Host {
  kafka: Kafka;
  admin: KafkaTopicAdmin;
  brokers: string[];
  tuning: KafkaConsumerTuning;
  reportError(message: string): void;
  released(consumer: KafkaGroupConsumer): void;
}

const keyOf = (topic: string, partition: number) => `${topic}/${partition}`;

export class KafkaGroupConsumer implements Consumer {
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private kafkajs: KafkajsConsumer | undefined;
  private assigned: TopicPartition[] = [];
  /** Settles once onAssigned of the latest assignment has run and its seeks are issued. */
  private assignmentReady: Promise<void> = Promise.resolve();
  /** Next offset to deliver per partition, where we know it better than kafkajs (overrides, seeks). */
  private readonly positions = new Map<string, number>();
  private readonly pendingSeeks = new Set<string | undefined>();
  private inFlight = 0;
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  private revoke: RunOptions['onRevoked'];
  /** Commits in flight through the membership: a stopping member waits for them before it leaves. */
  private readonly commits = new Set<Promise<unknown>>();
  /** Set once this member starts leaving the group; commits through it are no longer possible. */
  private leaving = false;
  private readonly maxBatch: number;

  constructor(private readonly host: Host, private readonly options: ConsumerOptions) {
    this.maxBatch = checkConsumerOptions(options, KafkaBackendError);
  }

  /** Resolves once this member has joined the group and onAssigned has run (not when consuming ends). */
  async run({ eachBatch, onAssigned, onRevoked }: RunOptions): Promise<void> {
    if (this.state !== 'new') throw new KafkaBackendError(`consumer of group "${this.options.groupId}" was already run; create a new one`);
    this.state = 'running';
    this.revoke = onRevoked;
    const { kafka, tuning, brokers } = this.host;
    const consumer = kafka.consumer({
      groupId: this.options.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: tuning.maxWaitMs,
      sessionTimeout: tuning.sessionTimeoutMs,
      heartbeatInterval: tuning.heartbeatIntervalMs,
      partitionAssigners: [coPartitionedAssigner],
    });
    this.kafkajs = consumer;

    // kafkajs emits GROUP_JOIN synchronously after join+sync and before it fetches, but does not
    // await listeners: deliveries wait on assignmentReady instead.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const previous = this.assigned;
      this.assigned = Object.entries(payload.memberAssignment)
        .flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
      this.positions.clear();
      this.assignmentReady = this.assignmentReady.then(() => this.assignUntilDone(previous, onAssigned, onRevoked));
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.state === 'running') {
        this.host.reportError(`kafka: consumer of group "${this.options.groupId}" crashed${payload.restart ? ' (restarting)' : ''}: ${payload.error?.message}`);
      }
    });

    try {
      await consumer.connect();
      for (const topic of this.options.topics) {
        await consumer.subscribe({ topic, fromBeginning: this.options.reset !== 'latest' });
      }
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: tuning.concurrency,
        eachBatch: (payload) => this.deliver(payload, eachBatch),
      });
    } catch (error) {
      this.state = 'stopped';
      await consumer.disconnect().catch(() => undefined);
      this.host.released(this);
      throw translateKafkaError(error, brokers, `join group "${this.options.groupId}"`);
    }
    await this.assignmentReady;
  }

  /**
   * Nothing of an assignment may be delivered before onAssigned said where to resume, or a processor
   * would re-apply records its sink already holds: a failing onAssigned is retried, not skipped.
   */
  private async assignUntilDone(previous: TopicPartition[], onAssigned: RunOptions['onAssigned'], onRevoked: RunOptions['onRevoked']) {
    for (let failures = 1; this.state === 'running'; failures++) {
      try {
        await this.assign(previous, onAssigned, onRevoked);
        return;
      } catch (error) {
        const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures - 1, 10));
        this.host.reportError(`kafka: assigning partitions of group "${this.options.groupId}" failed (attempt ${failures}, retrying in ${backoff} ms): ${(error as Error)?.message ?? error}`);
        await new Promise((resolve) => setTimeout(resolve, backoff));
        previous = []; // onRevoked already ran, or failed and is not repeated
      }
    }
  }

  private async assign(previous: TopicPartition[], onAssigned: RunOptions['onAssigned'], onRevoked: RunOptions['onRevoked']) {
    // kafkajs uses eager rebalancing: every join revokes everything, then assigns anew.
    if (previous.length > 0) await onRevoked?.(previous);
    const assigned = this.assigned;
    const overrides = (await onAssigned?.(assigned)) ?? [];
    const seekAll = this.pendingSeeks.has(undefined);
    for (const { topic, partition } of assigned) {
      if (seekAll || this.pendingSeeks.has(topic)) this.seek({ topic, partition, offset: (await this.lowWatermark(topic, partition)) });
    }
    this.pendingSeeks.clear();
    for (const override of overrides) {
      if (!Number.isSafeInteger(override.offset) || override.offset < 0) continue;
      if (!assigned.some((a) => a.topic === override.topic && a.partition === override.partition)) continue;
      this.seek(override);
    }
  }

  private seek({ topic, partition, offset }: TopicPartitionOffset): void {
    this.positions.set(keyOf(topic, partition), offset);
    this.kafkajs!.seek({ topic, partition, offset: String(offset) });
  }

  private async lowWatermark(topic: string, partition: number): Promise<number> {
    return (await this.host.admin.watermarks(topic)).find((w) => w.partition === partition)?.low ?? 0;
  }

  private async deliver(payload: EachBatchPayload, eachBatch: RunOptions['eachBatch']): Promise<void> {
    await this.assignmentReady;
    const { batch, isRunning, isStale, resolveOffset, heartbeat } = payload;
    const { topic, partition } = batch;
    const key = keyOf(topic, partition);
    const from = this.positions.get(key) ?? 0;
    // One pass, no intermediate array: every processor's consumer converts every record it reads.
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

    for (let start = 0; start < records.length; start += this.maxBatch) {
      const chunk: RecordBatch = { topic, partition, records: records.slice(start, start + this.maxBatch), highWatermark };
      let failures = 0;
      for (;;) {
        // A seek (override, seekToBeginning) or a stop makes the rest of this fetch irrelevant.
        if (this.state !== 'running' || !isRunning() || isStale()) return;
        this.inFlight++;
        try {
          await eachBatch(chunk);
          break;
        } catch (error) {
          failures++;
          const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures - 1, 10));
          this.host.reportError(`kafka: ${topic}/${partition} at offset ${chunk.records[0].offset} failed (attempt ${failures}, retrying in ${backoff} ms): ${(error as Error)?.message ?? error}`);
          await new Promise((resolve) => setTimeout(resolve, backoff));
        } finally {
          if (--this.inFlight === 0) this.idle?.();
        }
        await heartbeat(); // a rebalance shows up here and ends this fetch
      }
      const next = chunk.records[chunk.records.length - 1].offset + 1;
      this.positions.set(key, next);
      resolveOffset(String(next - 1));
      await heartbeat();
    }
  }

  /**
   * Through this member's own group membership while it has one (also while it stops, before it
   * leaves). A consumer that never ran commits as an idle group (tools, tests). One that has left
   * refuses: committing then means briefly joining the group (kafkajs admin.setOffsets), as a member
   * that would take partitions from the processor replacing this one.
   */
  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    if (this.kafkajs && (this.state === 'running' || (this.state === 'stopping' && !this.leaving))) {
      const commit = this.kafkajs.commitOffsets(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: String(offset) })));
      this.commits.add(commit);
      try {
        await commit;
      } catch (error) {
        throw translateKafkaError(error, this.host.brokers, `commit offsets of group "${this.options.groupId}"`);
      } finally {
        this.commits.delete(commit);
      }
      return;
    }
    if (this.kafkajs) throw new KafkaBackendError(`consumer of group "${this.options.groupId}" has left the group; its offsets are committed before it leaves`);
    await this.host.admin.commitAsIdleGroup(this.options.groupId, offsets);
  }

  async seekToBeginning(topic?: string): Promise<void> {
    if (topic !== undefined && !this.options.topics.includes(topic)) {
      throw new KafkaBackendError(`cannot seek "${topic}": consumer of group "${this.options.groupId}" reads ${this.options.topics.join(', ')}`);
    }
    if (this.state !== 'running') {
      this.pendingSeeks.add(topic);
      return;
    }
    await this.assignmentReady;
    for (const { topic: t, partition } of this.assigned) {
      if (topic === undefined || t === topic) this.seek({ topic: t, partition, offset: await this.lowWatermark(t, partition) });
    }
  }

  /**
   * Resolves once every in-flight eachBatch has finished, onRevoked has run and the group is left.
   * onRevoked runs while this member still belongs to the group, so the owner's last offsets are
   * committed through the membership before it leaves, not by joining the group again afterwards.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.stopping = (async () => {
      const handlersDone = this.inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => { this.idle = resolve; });
      try {
        if (wasRunning && this.kafkajs) {
          // No more fetches meanwhile (deliver would hand nothing on anyway); throws while kafkajs restarts.
          try { this.kafkajs.pause(this.options.topics.map((topic) => ({ topic }))); } catch { /* nothing to pause */ }
          await handlersDone;
          await this.assignmentReady;
          if (this.assigned.length > 0) await this.revoke?.(this.assigned);
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
