// The embedded topic backend: a durable, partitioned, append-only log on local disk, built on LMDB
// (memory-mapped B+tree, ACID, multi-process safe). It gives the platform Kafka's contract on one
// machine: offsets per partition, murmur2 key partitioning, consumer-group offsets, retention.
// Several processes may open the same data dir (e.g. the server and `darkroom tail`).
import type { Consumer, ConsumerOptions, EnsureTopicsOptions, PartitionLag, ProduceRecord, TopicBackend, TopicPartitionOffset, TopicSpec } from '../types.ts';
import { commitOffsets, committedOffsets, endOffsets, ensureTopics, startOffsets } from './admin.ts';
import { Appender } from './append.ts';
import { EmbeddedConsumer } from './consumer.ts';
import type { Doorbell } from './doorbell.ts';
import { EmbeddedLogError } from './errors.ts';
import { applyRetention, overSize } from './retention.ts';
import { openLogStore, TopicDirectory, type StoredTopic } from './store.ts';
import path from 'node:path';

export { EmbeddedLogError, UnknownTopicError } from './errors.ts';

export interface EmbeddedBackendOptions {
  dataDir: string;
  /** How often age and size retention sweeps every topic; 0 turns the sweep off. Default: 60 s. */
  retentionCheckMs?: number;
  /** How often an idle consumer looks for records written by another process. Default: 50 ms. */
  pollMs?: number;
  /** Where consumer retries are reported. Default: console.error. */
  onError?: (message: string) => void;
  /** The clock for default timestamps and retention (tests move it). Default: Date.now. */
  now?: () => number;
}

export interface EmbeddedBackend extends TopicBackend {
  readonly kind: 'embedded';
  /** Runs retention over every topic now; resolves with the number of records deleted. */
  applyRetention(): Promise<number>;
  /** Commits offsets for a group without a running consumer (tools, tests). */
  commit(groupId: string, offsets: TopicPartitionOffset[]): Promise<void>;
}

export function createEmbeddedBackend(options: EmbeddedBackendOptions): EmbeddedBackend {
  const store = openLogStore(options.dataDir);
  const directory = new TopicDirectory(store);
  const appender = new Appender(store);
  const now = options.now ?? Date.now;
  const reportError = options.onError ?? ((message: string) => console.error(message));
  const doorbells = new Map<string, Set<Doorbell>>();
  const consumers = new Set<EmbeddedConsumer>();
  let closed = false;

  // Retention runs one job at a time, behind whatever ran before; a partition already queued is not
  // queued twice, so a burst of produces over the size cap costs one trim.
  let retentionQueue: Promise<unknown> = Promise.resolve();
  const queuedTrims = new Set<string>();
  function enqueueRetention(job: () => Promise<number>): Promise<number> {
    const run = retentionQueue.then(job);
    retentionQueue = run.catch((error) => reportError(`embedded log: retention failed: ${(error as Error).message}`));
    return run;
  }
  function trimSoon(topic: StoredTopic, partition: number): void {
    const id = `${topic.spec.name}/${partition}`;
    if (queuedTrims.has(id)) return;
    queuedTrims.add(id);
    void enqueueRetention(() => {
      queuedTrims.delete(id);
      return closed ? Promise.resolve(0) : applyRetention(store, topic, now(), [partition]);
    }).catch(() => {});
  }
  const sweepAll = () => enqueueRetention(async () => {
    let deleted = 0;
    for (const topic of directory.all()) if (!closed) deleted += await applyRetention(store, topic, now());
    return deleted;
  });
  const retentionCheckMs = options.retentionCheckMs ?? 60_000;
  const sweeper = retentionCheckMs > 0 ? setInterval(() => void sweepAll().catch(() => {}), retentionCheckMs) : undefined;
  sweeper?.unref();

  function open(): void {
    if (closed) throw new EmbeddedLogError(`embedded log at ${options.dataDir} is closed`);
  }

  function ringLocal(topic: string): void {
    for (const doorbell of doorbells.get(topic) ?? []) doorbell.ring();
  }
  // Worker threads of this process open their own environment on the same directory: a produce in
  // one thread wakes the consumers of the others at once instead of at their next poll.
  const threads = new BroadcastChannel(`darkroom-embedded-log:${path.resolve(options.dataDir)}`);
  threads.unref();
  threads.onmessage = (event) => {
    if (closed) return;
    store.root.resetReadTxn(); // read the other thread's commit, not this thread's older snapshot
    ringLocal((event as { data: string }).data);
  };

  const host = {
    store,
    directory,
    pollMs: options.pollMs ?? 50,
    reportError,
    subscribe(topics: string[], doorbell: Doorbell) {
      for (const topic of topics) {
        let set = doorbells.get(topic);
        if (!set) doorbells.set(topic, (set = new Set()));
        set.add(doorbell);
      }
      return () => { for (const topic of topics) doorbells.get(topic)?.delete(doorbell); };
    },
    released(consumer: EmbeddedConsumer) {
      consumers.delete(consumer);
    },
  };

  return {
    kind: 'embedded',

    async ensureTopics(specs: TopicSpec[], options?: EnsureTopicsOptions) {
      open();
      await ensureTopics(store, directory, specs, options);
    },

    async produce(topic: string, records: ProduceRecord[]) {
      open();
      if (records.length === 0) return [];
      const stored = directory.get(topic);
      const { offsets, touched } = await appender.append(stored, records, now());
      for (const [partition, state] of touched) if (overSize(stored.spec, state)) trimSoon(stored, partition);
      ringLocal(topic);
      threads.postMessage(topic);
      return offsets;
    },

    consumer(consumerOptions: ConsumerOptions): Consumer {
      open();
      const consumer = new EmbeddedConsumer(host, consumerOptions);
      consumers.add(consumer);
      return consumer;
    },

    async commit(groupId: string, offsets: TopicPartitionOffset[]) {
      open();
      await commitOffsets(store, groupId, offsets);
    },

    async committed(groupId: string, topics: string[]) {
      open();
      store.root.resetReadTxn(); // offsets written by other threads or processes count too
      return topics.flatMap((name) => committedOffsets(store, groupId, directory.get(name)));
    },

    async lag(groupId: string, topics: string[]): Promise<PartitionLag[]> {
      open();
      store.root.resetReadTxn(); // offsets written by other threads or processes count too
      return topics.flatMap((name) => {
        const topic = directory.get(name);
        const starts = startOffsets(store, topic);
        const ends = endOffsets(store, topic);
        // A group that never committed (offset -1) has everything still retained ahead of it.
        return committedOffsets(store, groupId, topic).map((committed, p) => ({
          ...committed,
          highWatermark: ends[p].offset,
          lag: Math.max(0, ends[p].offset - Math.max(committed.offset, starts[p].offset)),
        }));
      });
    },

    async endOffsets(topic: string) {
      open();
      store.root.resetReadTxn(); // offsets written by other threads or processes count too
      return endOffsets(store, directory.get(topic));
    },

    async startOffsets(topic: string) {
      open();
      store.root.resetReadTxn(); // offsets written by other threads or processes count too
      return startOffsets(store, directory.get(topic));
    },

    async retention(topic: string) {
      open();
      const { spec } = directory.get(topic);
      return { ms: spec.retentionMs, bytes: spec.retentionBytes, compacted: spec.compacted };
    },

    applyRetention() {
      open();
      return sweepAll();
    },

    async close() {
      if (closed) return;
      closed = true;
      threads.close();
      if (sweeper) clearInterval(sweeper);
      await Promise.all([...consumers].map((consumer) => consumer.stop()));
      await retentionQueue;
      await store.root.close();
    },
  };
}
