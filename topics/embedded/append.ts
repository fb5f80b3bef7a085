// Appending a produce call: one LMDB write transaction per call (lmdb-js folds the transactions of one
// event turn into a single commit), offsets read and advanced inside it, so concurrent producers, in
// this process or another, get monotonic gap-free offsets. The commit fsyncs before the promise
// resolves (see store.ts), which is what lets `produce` promise durability.
import type { ProduceRecord, TopicPartitionOffset } from '../types.ts';
import { partitionFor } from '../partitioner.ts';
import { EmbeddedLogError } from './errors.ts';
import { encodeRecord, recordKey } from './record-format.ts';
import { partitionState, type LogStore, type PartitionState, type StoredTopic } from './store.ts';

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
    // Everything that can fail is checked before the transaction: a callback that threw halfway
    // would still commit its earlier puts together with other callers' writes.
    const partitions = records.map((record) => this.choosePartition(spec.name, spec.partitions, record));
    const encoded = records.map((record) => {
      const timestamp = record.timestamp ?? now;
      if (!Number.isFinite(timestamp)) throw new EmbeddedLogError(`record timestamp must be a number of ms, got ${timestamp}`);
      if (!(record.value instanceof Uint8Array)) throw new EmbeddedLogError(`record value must be a Buffer (topic "${spec.name}")`);
      return encodeRecord(record.key ?? null, timestamp, Buffer.isBuffer(record.value) ? record.value : Buffer.from(record.value));
    });

    const touched = await this.store.records.transaction(() => {
      const states = new Map<number, PartitionState>();
      const offsets = new Array<number>(records.length);
      for (let i = 0; i < records.length; i++) {
        const partition = partitions[i];
        let state = states.get(partition);
        if (!state) states.set(partition, (state = { ...partitionState(this.store, id, partition) }));
        offsets[i] = state.next++;
        state.bytes += encoded[i].length;
        this.store.records.putSync(recordKey(id, partition, offsets[i]), encoded[i]);
      }
      for (const [partition, state] of states) this.store.partitions.putSync([id, partition], state);
      return { states, offsets };
    });
    return {
      offsets: touched.offsets.map((offset, i) => ({ topic: spec.name, partition: partitions[i], offset })),
      touched: touched.states,
    };
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
