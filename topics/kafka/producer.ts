// The write path to Kafka: an idempotent producer with acks=all, every record sent to an explicit
// partition chosen by the shared partitioner, so a key lands in the same partition whichever backend
// wrote it. Sends are serialized: kafkajs' idempotent producer can assign out-of-order sequence
// numbers when sends to one partition overlap (kafkajs issue 598), and callers batch anyway.
//
// A send has a deadline. kafkajs retries an idempotent producer's send without end by default, so with
// the broker away a request would hang for minutes and every later send would queue behind it. Here a
// send gives up after `timeoutMs` (kafkajs' own retries are bounded below that), and a producer whose
// send failed is retired: its successor starts with a new producer id, so a batch the broker may have
// written without the ack reaching us can never make the broker drop a later batch as a "duplicate" of
// the same sequence number (the reason kafkajs warns that bounded retries invalidate exactly-once).
import type { Kafka, Message, Producer } from 'kafkajs';
import { partitionFor } from '../partitioner.ts';
import type { ProduceRecord, TopicPartitionOffset } from '../types.ts';
import type { KafkaTopicAdmin } from './admin.ts';
import { KafkaBackendError, translateKafkaError } from './errors.ts';

/**
 * A large produce call goes out in sends of at most this many records and bytes, one after the other.
 * Records: kafkajs groups a send's messages by partition copying the partition's list for every
 * message (quadratic in the records per partition). Bytes: the broker refuses a partition's batch
 * above its message.max.bytes (1 MB by default), so one send of 50,000 records of 200 bytes failed
 * with MESSAGE_TOO_LARGE, however small each record. bench/kafka-raw.ts, bench/RESULTS.md.
 * A call that fails may have landed its earlier sends, as one send may have landed some of its
 * partitions: the caller is told it failed and retries (re-sent internal records are recognised by
 * their origin, processors/runtime.ts).
 */
const SEND_MAX_RECORDS = 2_000;
const SEND_MAX_BYTES = 512 * 1024;

/** How long a send may take before the caller is told it failed (DARKROOM_PRODUCE_TIMEOUT_MS). */
export const DEFAULT_PRODUCE_TIMEOUT_MS = 10_000;

export class KafkaRecordProducer {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Keyless records without a partition go round-robin, per topic. */
  private readonly nextKeyless = new Map<string, number>();

  constructor(
    private readonly kafka: Kafka, private readonly admin: KafkaTopicAdmin, private readonly brokers: string[],
    private readonly timeoutMs = DEFAULT_PRODUCE_TIMEOUT_MS,
  ) {}

  private connected(): Promise<Producer> {
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false,
        // Bounded, so a failed send ends inside kafkajs too instead of writing on after we gave up.
        retry: { retries: 3, initialRetryTime: 200, maxRetryTime: Math.max(500, Math.floor(this.timeoutMs / 4)) },
      });
      try {
        await producer.connect();
      } catch (error) {
        this.connecting = undefined;
        void producer.disconnect().catch(() => {});
        throw translateKafkaError(error, this.brokers, 'connect producer');
      }
      return (this.producer = producer);
    })();
    return this.connecting;
  }

  /** A producer whose send failed is not used again (see the top of this file). */
  private retire(producer: Producer | undefined): void {
    if (!producer || this.producer !== producer) return;
    this.producer = undefined;
    this.connecting = undefined;
    void producer.disconnect().catch(() => {});
  }

  /**
   * Resolves when every record is acknowledged by all in-sync replicas; one offset per record, in
   * order. Rejects within `timeoutMs` of the call (time spent queued behind earlier sends included)
   * when that cannot be done: broker away, no leader.
   */
  produce(topic: string, records: ProduceRecord[]): Promise<TopicPartitionOffset[]> {
    let expired = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expired = true;
        reject(new KafkaBackendError(
          `Kafka did not acknowledge the records for "${topic}" within ${this.timeoutMs} ms (broker unreachable or without a leader)`));
      }, this.timeoutMs);
    });
    const used: { producer?: Producer } = {};
    // A send whose caller was already told it failed is never started: its records must not land.
    const work = this.queue.then(() => (expired ? undefined : this.send(topic, records, used, () => expired)));
    this.queue = work.catch(() => undefined);
    return Promise.race([work as Promise<TopicPartitionOffset[]>, deadline])
      .catch((error: unknown) => {
        this.retire(used.producer);
        throw error;
      })
      .finally(() => clearTimeout(timer));
  }

  private async send(topic: string, records: ProduceRecord[], used: { producer?: Producer }, expired: () => boolean): Promise<TopicPartitionOffset[]> {
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

    const producer = (used.producer = await this.connected());
    const offsets: TopicPartitionOffset[] = [];
    for (let start = 0, end = 0; start < messages.length; start = end) {
      // Connecting (or an earlier send) may have outlived the deadline (the broker came back
      // meanwhile): the caller was told these records failed, so they are not sent now.
      if (expired()) throw new KafkaBackendError(`Kafka produce to "${topic}" abandoned after its deadline`);
      end = sendEnd(records, start);
      let metadata;
      try {
        metadata = await producer.send({ topic, messages: messages.slice(start, end), acks: -1, timeout: this.timeoutMs });
      } catch (error) {
        throw translateKafkaError(error, this.brokers, `produce to "${topic}"`);
      }
      // kafkajs sends the records of one partition as one batch in the order given, so the n-th record
      // of a partition sits at that partition's base offset + n.
      const base = new Map(metadata.map((m) => [m.partition, Number(m.baseOffset)]));
      const seen = new Map<number, number>();
      for (let i = start; i < end; i++) {
        const partition = placed[i];
        const index = seen.get(partition) ?? 0;
        seen.set(partition, index + 1);
        const first = base.get(partition);
        if (first === undefined) throw new KafkaBackendError(`Kafka returned no offset for ${topic}/${partition}`);
        offsets.push({ topic, partition, offset: first + index });
      }
    }
    return offsets;
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

/** Where the send that starts at `start` ends: SEND_MAX_RECORDS records or SEND_MAX_BYTES, at least one record. */
function sendEnd(records: ProduceRecord[], start: number): number {
  const last = Math.min(records.length, start + SEND_MAX_RECORDS);
  let bytes = 0;
  for (let i = start; i < last; i++) {
    const record = records[i];
    bytes += record.value.length + (record.key === null ? 0 : Buffer.byteLength(record.key));
    if (bytes > SEND_MAX_BYTES && i > start) return i;
  }
  return last;
}
