// Reading a partition: find the stored batch holding the position, then one cursor walk forward,
// from the current LMDB read snapshot (lmdb-js renews it every event turn, so new commits, also
// other processes', show up).
import type { RecordBatch, TopicRecord } from '../types.ts';
import { batchKey, forEachRecord, parseBatchKey } from './record-format.ts';
import { partitionState, type LogStore, type StoredTopic } from './store.ts';

/** Up to `max` records from `position` on; a position below the retained start reads from the start. */
export function readBatch(store: LogStore, topic: StoredTopic, partition: number, position: number,
  max: number): RecordBatch {
  const { id, spec } = topic;
  const name = spec.name;
  const state = partitionState(store, id, partition);
  const records: TopicRecord[] = [];
  const from = Math.max(position, state.start);
  if (from < state.next) {
    const end = batchKey(id, partition, state.next);
    for (const { key, value } of store.records.getRange({ start: batchKey(id, partition, baseOf(store, id, partition, from)), end })) {
      const { baseOffset } = parseBatchKey(key);
      forEachRecord(value, baseOffset, from, max - records.length, (offset, recordKey, timestamp, payload) => {
        records.push({ topic: name, partition, offset, key: recordKey, value: payload, timestamp });
      });
      if (records.length >= max) break;
    }
  }
  return { topic: name, partition, records, highWatermark: state.next };
}

/** Base offset of the batch holding `offset`: the last batch key at or before it (retention keeps
 * `start` on a batch boundary, so for start <= offset < next it is in this partition). */
function baseOf(store: LogStore, topicId: number, partition: number, offset: number): number {
  for (const key of store.records.getKeys({ start: batchKey(topicId, partition, offset), reverse: true, limit: 1 })) {
    const found = parseBatchKey(key as Buffer);
    if (found.topicId === topicId && found.partition === partition) return found.baseOffset;
  }
  return offset;
}
