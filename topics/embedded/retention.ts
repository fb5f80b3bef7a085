// Retention deletes whole stored batches from the head of each partition only (as Kafka deletes whole
// segments), so the log stays a contiguous range [start, next) and `startOffsets` simply moves
// forward. A batch goes when even its newest record is older than retentionMs, or while the
// partition holds more than retentionBytes. Each transaction deletes a bounded chunk of batches, so
// producers never wait behind a long cleanup.
//
// Compacted topics are not compacted by the embedded log: they keep every record (subject to the
// same retention), a superset of what Kafka keeps, so readers still see the latest value per key.
import type { TopicSpec } from '../types.ts';
import { batchKey, batchMaxTimestamp, parseBatchKey, batchCount } from './record-format.ts';
import { partitionState, type LogStore, type PartitionState, type StoredTopic } from './store.ts';

/** Stored batches deleted per transaction. */
export const RETENTION_CHUNK = 1000;

export function hasRetention(spec: TopicSpec): boolean {
  return spec.retentionMs >= 0 || spec.retentionBytes >= 0;
}

/** The check `produce` can afford: the size is known from the partition state it just wrote. */
export function overSize(spec: TopicSpec, state: PartitionState): boolean {
  return spec.retentionBytes >= 0 && state.bytes > spec.retentionBytes;
}

/** Deletes up to `chunk` batches from the head of one partition; returns how many records went. */
export function trimHead(store: LogStore, topic: StoredTopic, partition: number, now: number,
  chunk = RETENTION_CHUNK): Promise<{ batches: number; records: number }> {
  const { id, spec } = topic;
  return store.records.transaction(() => {
    const state = partitionState(store, id, partition);
    const ageCutoff = spec.retentionMs >= 0 ? now - spec.retentionMs : -Infinity;
    let { start, bytes } = state;
    const doomed: Buffer[] = [];
    const head = store.records.getRange({
      start: batchKey(id, partition, state.start), end: batchKey(id, partition, state.next), limit: chunk,
    });
    for (const { key, value } of head) {
      const tooOld = batchMaxTimestamp(value) < ageCutoff;
      const tooBig = spec.retentionBytes >= 0 && bytes > spec.retentionBytes;
      if (!tooOld && !tooBig) break;
      doomed.push(key);
      bytes -= value.length;
      start = parseBatchKey(key).baseOffset + batchCount(value);
    }
    for (const key of doomed) store.records.removeSync(key);
    if (doomed.length > 0) store.partitions.putSync([id, partition], { start, next: state.next, bytes });
    return { batches: doomed.length, records: start - state.start };
  });
}

/** Applies retention to the partitions of the topic, chunk by chunk; returns the records deleted. */
export async function applyRetention(store: LogStore, topic: StoredTopic, now: number,
  partitions: Iterable<number> = Array.from({ length: topic.spec.partitions }, (_, p) => p)): Promise<number> {
  if (!hasRetention(topic.spec)) return 0;
  let total = 0;
  for (const partition of partitions) {
    for (;;) {
      const deleted = await trimHead(store, topic, partition, now);
      total += deleted.records;
      if (deleted.batches < RETENTION_CHUNK) break;
    }
  }
  return total;
}
