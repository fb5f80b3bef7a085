// Reading a partition: one cursor walk over the key range [position, next), from the current LMDB
// read snapshot (lmdb-js renews it every event turn, so new commits, also other processes', show up).
import type { RecordBatch, TopicRecord } from '../types.ts';
import { decodeRecord, offsetOfKey, recordKey } from './record-format.ts';
import { partitionState, type LogStore, type StoredTopic } from './store.ts';

/** Up to `max` records from `position` on; a position below the retained start reads from the start. */
export function readBatch(store: LogStore, topic: StoredTopic, partition: number, position: number,
  max: number): RecordBatch {
  const { id, spec } = topic;
  const state = partitionState(store, id, partition);
  const records: TopicRecord[] = [];
  const from = Math.max(position, state.start);
  if (from < state.next) {
    const range = store.records.getRange({
      start: recordKey(id, partition, from), end: recordKey(id, partition, state.next), limit: max,
    });
    for (const { key, value } of range) {
      const { key: recordKeyString, timestamp, value: payload } = decodeRecord(value);
      records.push({ topic: spec.name, partition, offset: offsetOfKey(key), key: recordKeyString, value: payload, timestamp });
    }
  }
  return { topic: spec.name, partition, records, highWatermark: state.next };
}
