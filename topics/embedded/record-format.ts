// How records sit in LMDB. Like Kafka, the log stores record *batches*: each produce call writes one
// entry per partition it touches (split at MAX_BATCH_RECORDS), keyed by the offset of its first record.
// One B-tree entry per batch instead of per record is what lets one thread append and read a million
// small records a second: LMDB, the allocator and the GC see a handful of entries, not every record.
//
// All topics share one ordered database; the key [topic id, partition, base offset] in big-endian bytes
// sorts exactly as the log is read, so a fetch is one cursor walk and retention deletes whole batches
// from the front of a key range. Fixed-width binary keys are cheaper than ordered-binary arrays.
//
// Batch value (no msgpack or JSON around the payloads):
//   u8 format (2) | u32 record count | f64 largest timestamp | records...
// Record:
//   f64 timestamp | i32 key length (-1: null key) | u32 value length | key UTF-8 | value bytes

const FORMAT = 2;
const BATCH_HEADER = 13;
const RECORD_HEADER = 16;
const KEY_BYTES = 16;
const TWO_32 = 2 ** 32;

/** Upper bound of records per stored batch: bounds what a reader decodes to reach one offset. */
export const MAX_BATCH_RECORDS = 1000;

export function batchKey(topicId: number, partition: number, baseOffset: number): Buffer {
  const key = Buffer.allocUnsafe(KEY_BYTES);
  key.writeUInt32BE(topicId, 0);
  key.writeUInt32BE(partition, 4);
  key.writeUInt32BE(Math.floor(baseOffset / TWO_32), 8);
  key.writeUInt32BE(baseOffset % TWO_32, 12);
  return key;
}

export function parseBatchKey(key: Uint8Array): { topicId: number; partition: number; baseOffset: number } {
  const view = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return {
    topicId: view.readUInt32BE(0),
    partition: view.readUInt32BE(4),
    baseOffset: view.readUInt32BE(8) * TWO_32 + view.readUInt32BE(12),
  };
}

export interface EncodableRecord { key: string | null; timestamp: number; value: Buffer }

export function encodeBatch(records: EncodableRecord[]): Buffer {
  let size = BATCH_HEADER;
  const keyLengths = records.map((r) => (r.key === null ? -1 : Buffer.byteLength(r.key, 'utf8')));
  for (let i = 0; i < records.length; i++) size += RECORD_HEADER + Math.max(0, keyLengths[i]) + records[i].value.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = FORMAT;
  out.writeUInt32BE(records.length, 1);
  let maxTimestamp = -Infinity;
  let pos = BATCH_HEADER;
  for (let i = 0; i < records.length; i++) {
    const { key, timestamp, value } = records[i];
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    out.writeDoubleBE(timestamp, pos);
    out.writeInt32BE(keyLengths[i], pos + 8);
    out.writeUInt32BE(value.length, pos + 12);
    pos += RECORD_HEADER;
    if (key !== null) pos += out.write(key, pos, 'utf8');
    pos += value.copy(out, pos);
  }
  out.writeDoubleBE(maxTimestamp, 5);
  return out;
}

export function batchCount(batch: Buffer): number {
  return batch.readUInt32BE(1);
}

/** The newest timestamp in the batch: age retention drops a batch only once all of it is too old. */
export function batchMaxTimestamp(batch: Buffer): number {
  return batch.readDoubleBE(5);
}

/**
 * Calls `visit` for the records of the batch from offset `from` on, at most `max` of them; returns how
 * many it visited. Values are views into `batch` (LMDB hands each range entry its own copy).
 */
export function forEachRecord(batch: Buffer, baseOffset: number, from: number, max: number,
  visit: (offset: number, key: string | null, timestamp: number, value: Buffer) => void): number {
  if (batch[0] !== FORMAT) throw new Error(`embedded log: unknown batch format ${batch[0]}`);
  const count = batch.readUInt32BE(1);
  let pos = BATCH_HEADER;
  let visited = 0;
  for (let i = 0; i < count && visited < max; i++) {
    const keyLength = batch.readInt32BE(pos + 8);
    const valueLength = batch.readUInt32BE(pos + 12);
    const keyStart = pos + RECORD_HEADER;
    const valueStart = keyStart + Math.max(0, keyLength);
    if (baseOffset + i >= from) {
      visit(baseOffset + i, keyLength < 0 ? null : batch.toString('utf8', keyStart, valueStart),
        batch.readDoubleBE(pos), batch.subarray(valueStart, valueStart + valueLength));
      visited++;
    }
    pos = valueStart + valueLength;
  }
  return visited;
}
