// One interface, two backends: the embedded on-disk log and Apache Kafka. Processors, ingest and
// tools only ever see these types, so the same code runs on one laptop and on a cluster.

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Human description of the key, for the catalog and the README. */
  key: string;
  /** Records older than this are dropped; -1 keeps them forever. */
  retentionMs: number;
  /** Per-partition size cap in bytes; -1 for none. */
  retentionBytes: number;
  /** Compacted topics keep the latest record per key. */
  compacted: boolean;
  internal?: boolean;
  /** Internal topics: the Avro record of their values (schemas/internal-records.ts). */
  valueSchema?: Record<string, unknown>;
}

export interface ProduceRecord {
  key: string | null;
  value: Buffer;
  /** ms since epoch; defaults to the produce time. */
  timestamp?: number;
  /** Explicit partition; otherwise murmur2(key) like Kafka's default partitioner. */
  partition?: number;
}

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer;
  timestamp: number;
}

export interface RecordBatch {
  topic: string;
  partition: number;
  records: TopicRecord[];
  /** Offset of the next record to be written in this partition when the batch was read. */
  highWatermark: number;
}

export interface TopicPartition { topic: string; partition: number }
export interface TopicPartitionOffset extends TopicPartition {
  /** The next offset to read (Kafka's convention for committed offsets). */
  offset: number;
}

export interface PartitionLag extends TopicPartitionOffset {
  highWatermark: number;
  lag: number;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a partition with no committed offset starts. Default: 'earliest'. */
  reset?: 'earliest' | 'latest';
  /** Largest number of records handed over in one batch. */
  maxBatchRecords?: number;
  /**
   * Own only these partition numbers of every subscribed topic (worker threads split partitions this
   * way); all partitions when omitted. Kafka backends may instead leave assignment to the group protocol.
   */
  partitions?: number[];
}

export interface RunOptions {
  /** Called with records in partition order; the next batch of a partition waits for it (backpressure). */
  eachBatch(batch: RecordBatch): Promise<void>;
  /**
   * Called when partitions are assigned, before any of their records is delivered. The returned
   * offsets override the committed ones: a processor resumes from what its sink holds.
   */
  onAssigned?(partitions: TopicPartition[], assignment?: AssignmentContext): Promise<TopicPartitionOffset[] | void>;
  onRevoked?(partitions: TopicPartition[]): Promise<void>;
}

export interface AssignmentContext {
  /**
   * Other live members share the group (Kafka): one of them may have held these partitions until
   * this rebalance and still be writing its last batch of them. False for a member alone in its
   * group, and on the embedded log, whose partitions never move between live consumers.
   */
  othersInGroup: boolean;
}

export interface Consumer {
  run(options: RunOptions): Promise<void>;
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  /** Restart every assigned partition of the topic (all subscribed topics if omitted) from offset 0. */
  seekToBeginning(topic?: string): Promise<void>;
  stop(): Promise<void>;
  /**
   * The end of an assigned partition as a reader sees it now, without I/O (the embedded log: one
   * local read); absent where it would cost a round trip (Kafka).
   */
  endOffsetNow?(topic: string, partition: number): number | undefined;
}

export interface TopicRetention {
  /** -1: unlimited, as in Kafka. */
  ms: number;
  bytes: number;
  compacted: boolean;
}

export interface EnsureTopicsOptions {
  /**
   * Existing topics take the spec's retention (the embedded log; on Kafka the configs of existing
   * topics stay as the operator set them). Off by default: tools read topics, the platform sets them.
   */
  updateRetention?: boolean;
}

export interface TopicBackend {
  readonly kind: 'embedded' | 'kafka';
  /** Creates missing topics; an existing topic with another partition count is refused. */
  ensureTopics(specs: TopicSpec[], options?: EnsureTopicsOptions): Promise<void>;
  /**
   * Resolves once every record is durable (fsynced log / acks=all); returns the assigned offsets,
   * one per record in the order given.
   */
  produce(topic: string, records: ProduceRecord[]): Promise<TopicPartitionOffset[]>;
  consumer(options: ConsumerOptions): Consumer;
  /**
   * Consumers that share one group membership and one fetch, as a Kafka Streams thread serves all its
   * tasks with one consumer: each topic-partition is fetched once and handed to every consumer that
   * reads it. Each keeps its own position (its onAssigned offsets); the group's committed offset of a
   * partition is the lowest of its readers'. The group joins once every consumer has called `run`.
   * Absent where a consumer reads cheaply on its own (the embedded log reads a local file).
   */
  consumerSet?(groupId: string, members: ConsumerOptions[]): Consumer[];
  /** Every partition of the topics; offset -1 where the group never committed (Kafka's convention). */
  committed(groupId: string, topics: string[]): Promise<TopicPartitionOffset[]>;
  lag(groupId: string, topics: string[]): Promise<PartitionLag[]>;
  /** Next offset to be written per partition. */
  endOffsets(topic: string): Promise<TopicPartitionOffset[]>;
  /** First offset still retained per partition (greater than 0 once retention dropped records). */
  startOffsets(topic: string): Promise<TopicPartitionOffset[]>;
  /** The retention the topic has now (as stored: the platform sets it, or the operator on Kafka). */
  retention(topic: string): Promise<TopicRetention>;
  close(): Promise<void>;
}
