// A consumer of the embedded log. There is no group membership protocol in one process: a consumer
// owns every partition of its topics, or the subset given in `partitions` (worker threads split them
// that way). Each partition runs its own loop: read a batch, await eachBatch, advance. The await is
// the backpressure: a partition never has two batches in flight, and order within it is kept.
// Offsets are committed only by `commit` (the runtime commits what its sink has applied).
import type { Consumer, ConsumerOptions, RunOptions, TopicPartition, TopicPartitionOffset } from '../types.ts';
import { commitOffsets, partitionsOf } from './admin.ts';
import { Doorbell } from './doorbell.ts';
import { EmbeddedLogError } from './errors.ts';
import { readBatch } from './read.ts';
import { partitionState, type LogStore, type StoredTopic, type TopicDirectory } from './store.ts';
import { checkConsumerOptions } from '../consumer-options.ts';

/** What a consumer needs from its backend. */
export interface ConsumerHost {
  store: LogStore;
  directory: TopicDirectory;
  pollMs: number;
  /** Ring the doorbell whenever one of these topics gets records; returns the unsubscribe. */
  subscribe(topics: string[], doorbell: Doorbell): () => void;
  /** A consumer stopped: the backend no longer needs to stop it on close. */
  released(consumer: EmbeddedConsumer): void;
  reportError(message: string): void;
}

interface Assignment {
  topic: StoredTopic;
  partition: number;
  /** Next offset to hand over. */
  position: number;
  seekPending: boolean;
}

const MAX_BACKOFF_MS = 5_000;

export class EmbeddedConsumer implements Consumer {
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private assignments: Assignment[] | undefined;
  private readonly pendingSeeks = new Set<string | undefined>();
  private loops: Promise<void>[] = [];
  private readonly doorbell = new Doorbell();
  private stopRequested!: () => void;
  private readonly stopSignal = new Promise<void>((resolve) => { this.stopRequested = resolve; });
  private stopping: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private revoke: RunOptions['onRevoked'];
  private readonly maxBatch: number;

  constructor(private readonly host: ConsumerHost, private readonly options: ConsumerOptions) {
    this.maxBatch = checkConsumerOptions(options, EmbeddedLogError);
  }

  /** Resolves once the partitions are assigned and their loops started (not when consuming ends). */
  async run({ eachBatch, onAssigned, onRevoked }: RunOptions): Promise<void> {
    if (this.state !== 'new') throw new EmbeddedLogError(`consumer of group "${this.options.groupId}" was already run; create a new one`);
    const { store, directory } = this.host;
    const wanted = this.options.partitions && new Set(this.options.partitions);
    const owned = this.options.topics.map((name) => directory.get(name)).flatMap((topic) =>
      partitionsOf(topic).filter((p) => !wanted || wanted.has(p)).map((partition) => ({ topic, partition })));
    this.state = 'running';
    this.revoke = onRevoked;

    const overrides = new Map<string, number>();
    for (const { topic, partition, offset } of (await onAssigned?.(owned.map(asTopicPartition))) ?? []) {
      if (Number.isSafeInteger(offset) && offset >= 0) overrides.set(`${topic}/${partition}`, offset);
    }
    this.assignments = owned.map(({ topic, partition }) => {
      const name = topic.spec.name;
      const state = partitionState(store, topic.id, partition);
      const fallback = this.options.reset === 'latest' ? state.next : state.start;
      const position = overrides.get(`${name}/${partition}`) ?? store.groupOffsets.get([this.options.groupId, name, partition]) ?? fallback;
      return { topic, partition, position, seekPending: this.pendingSeeks.has(undefined) || this.pendingSeeks.has(name) };
    });
    if (this.state !== 'running') return; // stopped while onAssigned ran
    this.unsubscribe = this.host.subscribe(this.options.topics, this.doorbell);
    this.loops = this.assignments.map((assignment) => this.drive(assignment, eachBatch));
  }

  endOffsetNow(topic: string, partition: number): number | undefined {
    const assignment = this.assignments?.find((a) => a.partition === partition && a.topic.spec.name === topic);
    return assignment && partitionState(this.host.store, assignment.topic.id, partition).next;
  }

  commit(offsets: TopicPartitionOffset[]): Promise<void> {
    return commitOffsets(this.host.store, this.options.groupId, offsets);
  }

  async seekToBeginning(topic?: string): Promise<void> {
    if (topic !== undefined && !this.options.topics.includes(topic)) {
      throw new EmbeddedLogError(`cannot seek "${topic}": consumer of group "${this.options.groupId}" reads ${this.options.topics.join(', ')}`);
    }
    if (!this.assignments) {
      this.pendingSeeks.add(topic);
      return;
    }
    for (const assignment of this.assignments) {
      if (topic === undefined || assignment.topic.spec.name === topic) assignment.seekPending = true;
    }
    this.doorbell.ring();
  }

  /** Resolves once every in-flight eachBatch has finished and onRevoked has run. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.stopRequested();
    this.doorbell.ring();
    this.stopping = (async () => {
      await Promise.all(this.loops);
      this.unsubscribe?.();
      if (wasRunning && this.assignments) await this.revoke?.(this.assignments.map(asTopicPartition));
      this.state = 'stopped';
      this.host.released(this);
    })();
    return this.stopping;
  }

  private async drive(assignment: Assignment, eachBatch: RunOptions['eachBatch']): Promise<void> {
    const { store, pollMs } = this.host;
    let failures = 0;
    while (this.state === 'running') {
      const seen = this.doorbell.rings;
      if (assignment.seekPending) {
        assignment.seekPending = false;
        assignment.position = 0; // readBatch starts at the first retained record
      }
      try {
        const batch = readBatch(store, assignment.topic, assignment.partition, assignment.position, this.maxBatch);
        if (batch.records.length === 0) {
          const rung = await this.doorbell.wait(pollMs, seen);
          // Another process may have committed: read from a fresh snapshot next time.
          if (!rung) store.root.resetReadTxn();
          continue;
        }
        await eachBatch(batch);
        failures = 0;
        if (!assignment.seekPending) assignment.position = batch.records[batch.records.length - 1].offset + 1;
      } catch (error) {
        // The same batch is retried after a backoff: skipping it would lose records, and stopping the
        // partition silently would stall it. The handler decides what is poison (dead letters).
        failures++;
        const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures - 1, 10));
        this.host.reportError(`embedded log: ${assignment.topic.spec.name}/${assignment.partition} at offset ${assignment.position} failed (attempt ${failures}, retrying in ${backoff} ms): ${(error as Error)?.message ?? error}`);
        await Promise.race([this.stopSignal, new Promise((resolve) => setTimeout(resolve, backoff).unref())]);
      }
    }
  }
}

function asTopicPartition({ topic, partition }: { topic: StoredTopic; partition: number }): TopicPartition {
  return { topic: topic.spec.name, partition };
}
