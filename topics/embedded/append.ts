// Appending a produce call: one LMDB write transaction per call (lmdb-js folds the transactions of one
// event turn into a single commit), offsets read and advanced inside it, so concurrent producers, in
// this process or another, get monotonic gap-free offsets. The promise resolves once the commit is
// fsynced (see store.ts), which is what lets `produce` promise durability.
import type { ProduceRecord, TopicPartitionOffset } from '../types.ts';
import { partitionFor } from '../partitioner.ts';
import { EmbeddedLogError } from './errors.ts';
import { batchKey, encodeBatch, MAX_BATCH_RECORDS, type EncodableRecord } from './record-format.ts';
import { durable, partitionState, type LogStore, type PartitionState, type StoredTopic } from './store.ts';

export interface AppendResult {
  /** One per record, in the order given. */
  offsets: TopicPartitionOffset[];
  /** Partition states after the append, for cheap retention checks. */
  touched: Map<number, PartitionState>;
}

export class Appender {
  /** Records without key or partition are spread round-robin, as Kafka's client does. */
  private readonly roundRobin = new Map<string, number>();

  constructor(private readonly store: LogStore) {}

  async append(topic: StoredTopic, records: ProduceRecord[], now: number): Promise<AppendResult> {
    const { id, spec } = topic;
    // Everything that can fail is checked and encoded before the transaction: a callback that threw
    // halfway would still commit its earlier puts together with other callers' writes.
    const partitionOf = new Array<number>(records.length);
    const byPartition = new Map<number, EncodableRecord[]>();
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      const timestamp = record.timestamp ?? now;
      if (!Number.isFinite(timestamp)) throw new EmbeddedLogError(`record timestamp must be a number of ms, got ${timestamp}`);
      if (!(record.value instanceof Uint8Array)) throw new EmbeddedLogError(`record value must be a Buffer (topic "${spec.name}")`);
      const partition = (partitionOf[i] = this.choosePartition(spec.name, spec.partitions, record));
      let list = byPartition.get(partition);
      if (!list) byPartition.set(partition, (list = []));
      list.push({ key: record.key ?? null, timestamp, value: Buffer.isBuffer(record.value) ? record.value : Buffer.from(record.value) });
    }
    const batches = [...byPartition].flatMap(([partition, list]) => {
      const chunks: { partition: number; count: number; encoded: Buffer }[] = [];
      for (let i = 0; i < list.length; i += MAX_BATCH_RECORDS) {
        const chunk = list.slice(i, i + MAX_BATCH_RECORDS);
        chunks.push({ partition, count: chunk.length, encoded: encodeBatch(chunk) });
      }
      return chunks;
    });

    const { states, bases } = await this.store.records.transaction(() => {
      const states = new Map<number, PartitionState>();
      const bases = new Map<number, number>();
      for (const { partition, count, encoded } of batches) {
        let state = states.get(partition);
        if (!state) {
          states.set(partition, (state = { ...partitionState(this.store, id, partition) }));
          bases.set(partition, state.next);
        }
        this.store.records.putSync(batchKey(id, partition, state.next), encoded);
        state.next += count;
        state.bytes += encoded.length;
      }
      for (const [partition, state] of states) this.store.partitions.putSync([id, partition], state);
      return { states, bases };
    });
    await durable(this.store);
    // Records of a partition got consecutive offsets from its base, in the order given.
    const offsets = partitionOf.map((partition) => {
      const offset = bases.get(partition)!;
      bases.set(partition, offset + 1);
      return { topic: spec.name, partition, offset };
    });
    return { offsets, touched: states };
  }

  private choosePartition(topic: string, count: number, record: ProduceRecord): number {
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0 || record.partition >= count) {
        throw new EmbeddedLogError(`topic "${topic}" has partitions 0-${count - 1}, got partition ${record.partition}`);
      }
      return record.partition;
    }
    if (record.key !== null && record.key !== undefined) return partitionFor(record.key, count);
    const next = (this.roundRobin.get(topic) ?? 0) + 1;
    this.roundRobin.set(topic, next);
    return next % count;
  }
}
