// The write path to Kafka: an idempotent producer with acks=all, every record sent to an explicit
// partition chosen by the shared partitioner, so a key lands in the same partition whichever backend
// wrote it. Sends are serialized: kafkajs' idempotent producer can assign out-of-order sequence
// numbers when sends to one partition overlap (kafkajs issue 598), and callers batch anyway.
import type { Kafka, Message, Producer } from 'kafkajs';
import { partitionFor } from '../partitioner.ts';
import type { ProduceRecord, TopicPartitionOffset } from '../types.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { KafkaBackendError, translateKafkaError } from './errors.ts';

export class KafkaRecordProducer {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Keyless records without a partition go round-robin, per topic. */
  private readonly nextKeyless = new Map<string, number>();

  constructor(private readonly kafka: Kafka, private readonly admin: KafkaTopicAdmin, private readonly brokers: string[]) {}

  private connected(): Promise<Producer> {
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      try {
        await producer.connect();
      } catch (error) {
        this.connecting = undefined;
        throw translateKafkaError(error, this.brokers, 'connect producer');
      }
      return (this.producer = producer);
    })();
    return this.connecting;
  }

  /** Resolves when every record is acknowledged by all in-sync replicas; one offset per record, in order. */
  produce(topic: string, records: ProduceRecord[]): Promise<TopicPartitionOffset[]> {
    const result = this.queue.then(() => this.send(topic, records));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async send(topic: string, records: ProduceRecord[]): Promise<TopicPartitionOffset[]> {
    if (records.length === 0) return [];
    const partitions = await this.admin.partitionCount(topic);
    const now = Date.now();
    const placed = records.map((record) => this.place(topic, record, partitions));
    const messages: Message[] = records.map((record, i) => ({
      key: record.key,
      value: record.value,
      partition: placed[i],
      timestamp: String(record.timestamp ?? now),
    }));

    const producer = await this.connected();
    let metadata;
    try {
      metadata = await producer.send({ topic, messages, acks: -1 });
    } catch (error) {
      throw translateKafkaError(error, this.brokers, `produce to "${topic}"`);
    }

    // kafkajs sends the records of one partition as one batch in the order given, so the n-th record
    // of a partition sits at that partition's base offset + n.
    const base = new Map(metadata.map((m) => [m.partition, Number(m.baseOffset)]));
    const seen = new Map<number, number>();
    return placed.map((partition) => {
      const index = seen.get(partition) ?? 0;
      seen.set(partition, index + 1);
      const first = base.get(partition);
      if (first === undefined) throw new KafkaBackendError(`Kafka returned no offset for ${topic}/${partition}`);
      return { topic, partition, offset: first + index };
    });
  }

  private place(topic: string, record: ProduceRecord, partitions: number): number {
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= partitions) {
        throw new KafkaBackendError(`partition ${record.partition} does not exist in "${topic}" (${partitions} partitions)`);
      }
      return record.partition;
    }
    if (record.key !== null) return partitionFor(record.key, partitions);
    const next = this.nextKeyless.get(topic) ?? 0;
    this.nextKeyless.set(topic, next + 1);
    return next % partitions;
  }

  async close(): Promise<void> {
    await this.queue;
    const producer = this.producer;
    this.producer = undefined;
    this.connecting = undefined;
    await producer?.disconnect();
  }
}
