// Retention deletes from the head of each partition only, so the log stays a contiguous range
// [start, next) and `startOffsets` simply moves forward. A record goes when it is older than
// retentionMs (by its timestamp) or while the partition holds more than retentionBytes.
// Each transaction deletes a bounded chunk, so producers never wait behind a long cleanup.
//
// Compacted topics are not compacted by the embedded log: they keep every record (subject to the
// same retention), which is a superset of what Kafka keeps, so readers see at least the latest value
// per key. Processors that read them fold "latest wins" anyway.
import type { TopicSpec } from '../types.ts';
import { offsetOfKey, recordKey, timestampOf } from './record-format.ts';
import { partitionState, type LogStore, type PartitionState, type StoredTopic } from './store.ts';

export const RETENTION_CHUNK = 1000;

export function hasRetention(spec: TopicSpec): boolean {
  return spec.retentionMs >= 0 || spec.retentionBytes >= 0;
}

/** The check `produce` can afford: the size is known from the partition state it just wrote. */
export function overSize(spec: TopicSpec, state: PartitionState): boolean {
  return spec.retentionBytes >= 0 && state.bytes > spec.retentionBytes;
}

/** Deletes up to `chunk` records from the head of one partition; returns how many went. */
export function trimHead(store: LogStore, topic: StoredTopic, partition: number, now: number,
  chunk = RETENTION_CHUNK): Promise<number> {
  const { id, spec } = topic;
  return store.records.transaction(() => {
    const state = partitionState(store, id, partition);
    const ageCutoff = spec.retentionMs >= 0 ? now - spec.retentionMs : -Infinity;
    let { start, bytes } = state;
    const doomed: Buffer[] = [];
    const head = store.records.getRange({
      start: recordKey(id, partition, state.start), end: recordKey(id, partition, state.next), limit: chunk,
    });
    for (const { key, value } of head) {
      const tooOld = timestampOf(value) < ageCutoff;
      const tooBig = spec.retentionBytes >= 0 && bytes > spec.retentionBytes;
      if (!tooOld && !tooBig) break;
      doomed.push(key);
      bytes -= value.length;
      start = offsetOfKey(key) + 1;
    }
    for (const key of doomed) store.records.removeSync(key);
    if (doomed.length > 0) store.partitions.putSync([id, partition], { start, next: state.next, bytes });
    return doomed.length;
  });
}

/** Applies retention to every partition of the topic, chunk by chunk; returns the records deleted. */
export async function applyRetention(store: LogStore, topic: StoredTopic, now: number,
  partitions: Iterable<number> = Array.from({ length: topic.spec.partitions }, (_, p) => p)): Promise<number> {
  if (!hasRetention(topic.spec)) return 0;
  let total = 0;
  for (const partition of partitions) {
    for (;;) {
      const deleted = await trimHead(store, topic, partition, now);
      total += deleted;
      if (deleted < RETENTION_CHUNK) break;
    }
  }
  return total;
}
