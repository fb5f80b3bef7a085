// Topic creation and offset queries through the kafkajs admin client. Offsets cross the kafkajs API
// as decimal strings; here they become numbers (safe: 2^53 records per partition is plenty).
// kafkajs is CommonJS: Node's ESM loader sees only some of its names (not ConfigResourceTypes), so the
// values come from its default export. (vitest's transform sees them all, so only the real CLI failed.)
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import type { PartitionLag, TopicPartitionOffset, TopicRetention, TopicSpec } from '../types.ts';
import { KafkaBackendError, translateKafkaError, UnknownKafkaTopicError } from './errors.ts';

/** Kafka topic configs for a catalog spec; -1 means "no limit" for both retention settings, as in Kafka. */
export function topicConfig(spec: TopicSpec): { name: string; value: string }[] {
  return [
    { name: 'cleanup.policy', value: spec.compacted ? 'compact' : 'delete' },
    { name: 'retention.ms', value: String(spec.retentionMs) },
    { name: 'retention.bytes', value: String(spec.retentionBytes) },
  ];
}

const ADMIN_ATTEMPTS = 6;
/** How long ensureTopics waits for the topics it just created to show in the broker's metadata. */
const CREATED_TOPICS_WAIT_MS = 10_000;

export class KafkaTopicAdmin {
  private admin: Admin | undefined;
  private connecting: Promise<Admin> | undefined;
  /** Partition counts of topics this process has seen; partition counts of a topic never shrink. */
  private readonly partitionCounts = new Map<string, number>();

  constructor(private readonly kafka: Kafka, private readonly brokers: string[]) {}

  private connected(): Promise<Admin> {
    this.connecting ??= (async () => {
      const admin = this.kafka.admin();
      try {
        await admin.connect();
      } catch (error) {
        this.connecting = undefined;
        throw translateKafkaError(error, this.brokers, 'connect');
      }
      return (this.admin = admin);
    })();
    return this.connecting;
  }

  /** Runs an admin request; `topics` name the topics it is about, for a clear unknown-topic error. */
  private async call<T>(doing: string, action: (admin: Admin) => Promise<T>, topics: string[] = []): Promise<T> {
    const admin = await this.connected();
    for (let attempt = 1; ; attempt++) {
      try {
        return await action(admin);
      } catch (error) {
        const { type, retriable, name } = error as { type?: string; retriable?: boolean; name?: string };
        if (type === 'UNKNOWN_TOPIC_OR_PARTITION' && topics.length > 0) {
          throw new UnknownKafkaTopicError(topics.join('", "'));
        }
        // Right after a topic is created, metadata can lag for a moment (NOT_LEADER_FOR_PARTITION,
        // LEADER_NOT_AVAILABLE); some admin calls of kafkajs do not retry those themselves.
        if (retriable && name === 'KafkaJSProtocolError' && attempt < ADMIN_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
          continue;
        }
        throw translateKafkaError(error, this.brokers, doing);
      }
    }
  }

  /**
   * Creates missing topics with the spec's partitions and retention; an existing topic must already
   * have the spec's partition count, because records are placed by `partitionFor(key, partitions)`
   * and a different count would silently break co-partitioning. Configs of existing topics are
   * left as the operator set them.
   */
  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    if (specs.length === 0) return;
    await this.call('create topics', (admin) => admin.createTopics({
      waitForLeaders: true,
      topics: specs.map((spec) => ({ topic: spec.name, numPartitions: spec.partitions, configEntries: topicConfig(spec) })),
    }));
    const actual = await this.fetchCreatedPartitionCounts(specs.map((s) => s.name));
    for (const spec of specs) {
      const count = actual.get(spec.name);
      if (count !== spec.partitions) {
        throw new KafkaBackendError(`Kafka topic "${spec.name}" has ${count} partitions but the catalog says ${spec.partitions}; recreate it or change the partition count`);
      }
    }
  }

  async partitionCount(topic: string): Promise<number> {
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return known;
    return (await this.fetchPartitionCounts([topic])).get(topic)!;
  }

  /**
   * Partition counts of topics createTopics has just answered for. Its `waitForLeaders` is not enough:
   * on the first run after a KRaft broker started, a metadata request right after it still named all
   * eleven new topics unknown (2026-12-07), so an unknown topic is asked for again for a while.
   */
  private async fetchCreatedPartitionCounts(topics: string[]): Promise<Map<string, number>> {
    const deadline = Date.now() + CREATED_TOPICS_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchPartitionCounts(topics);
      } catch (error) {
        if (!(error instanceof UnknownKafkaTopicError) || Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 25 * 2 ** attempt)));
      }
    }
  }

  private async fetchPartitionCounts(topics: string[]): Promise<Map<string, number>> {
    const { topics: metadata } = await this.call('read topic metadata', (admin) => admin.fetchTopicMetadata({ topics }), topics);
    for (const { name, partitions } of metadata) this.partitionCounts.set(name, partitions.length);
    for (const topic of topics) if (!this.partitionCounts.has(topic)) throw new UnknownKafkaTopicError(topic);
    return this.partitionCounts;
  }

  /** Low and high watermark per partition, ordered by partition. */
  async watermarks(topic: string): Promise<{ partition: number; low: number; high: number }[]> {
    const offsets = await this.call(`read offsets of "${topic}"`, (admin) => admin.fetchTopicOffsets(topic), [topic]);
    return offsets
      .map(({ partition, low, high }) => ({ partition, low: Number(low), high: Number(high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async retention(topic: string): Promise<TopicRetention> {
    const { resources } = await this.call(`read the configs of "${topic}"`, (admin) => admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'retention.bytes', 'cleanup.policy'] }],
    }), [topic]);
    const value = (name: string) => resources[0]?.configEntries.find((e) => e.configName === name)?.configValue;
    return { ms: Number(value('retention.ms') ?? -1), bytes: Number(value('retention.bytes') ?? -1), compacted: value('cleanup.policy')?.includes('compact') ?? false };
  }

  async endOffsets(topic: string): Promise<TopicPartitionOffset[]> {
    return (await this.watermarks(topic)).map(({ partition, high }) => ({ topic, partition, offset: high }));
  }

  async startOffsets(topic: string): Promise<TopicPartitionOffset[]> {
    return (await this.watermarks(topic)).map(({ partition, low }) => ({ topic, partition, offset: low }));
  }

  /** Every partition of the topics, in the order asked; -1 where the group never committed. */
  async committed(groupId: string, topics: string[]): Promise<TopicPartitionOffset[]> {
    const result = await this.call(`read offsets of group "${groupId}"`, (admin) => admin.fetchOffsets({ groupId, topics }), topics);
    return topics.flatMap((topic) => {
      const partitions = result.find((t) => t.topic === topic)?.partitions ?? [];
      return partitions
        .map(({ partition, offset }) => ({ topic, partition, offset: Number(offset) }))
        .sort((a, b) => a.partition - b.partition);
    });
  }

  async lag(groupId: string, topics: string[]): Promise<PartitionLag[]> {
    const committed = await this.committed(groupId, topics);
    const lags: PartitionLag[] = [];
    for (const topic of topics) {
      for (const { partition, low, high } of await this.watermarks(topic)) {
        const offset = committed.find((c) => c.topic === topic && c.partition === partition)?.offset ?? -1;
        // Never committed, or committed below what retention kept: everything retained is ahead.
        const from = offset < low ? low : offset;
        lags.push({ topic, partition, offset, highWatermark: high, lag: Math.max(0, high - from) });
      }
    }
    return lags;
  }

  /**
   * Commits offsets for a group that has no running member here (tools, tests, a processor that
   * has not started yet). kafkajs does it by briefly joining the group, so it fails while another
   * member is active: running consumers commit through their own membership instead.
   */
  async commitAsIdleGroup(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const { topic, partition, offset } of offsets) {
      const list = byTopic.get(topic) ?? [];
      list.push({ partition, offset: String(offset) });
      byTopic.set(topic, list);
    }
    for (const [topic, partitions] of byTopic) {
      await this.call(`commit offsets of group "${groupId}"`, (admin) => admin.setOffsets({ groupId, topic, partitions }));
    }
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    this.connecting = undefined;
    await admin?.disconnect();
  }
}
