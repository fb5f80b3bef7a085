// How one record sits in LMDB. All records of all topics share one ordered database; the key
// [topic id, partition, offset] in big-endian bytes sorts exactly like the log reads it, so a fetch is
// one cursor walk and retention deletes from the front of a key range. Fixed-width binary keys are
// cheaper to build and compare than ordered-binary arrays at half a million records a second.
//
// The value keeps the record's own fields, no msgpack or JSON around the payload:
//   u8 format (1) | f64 timestamp | i32 key length (-1: null key) | key UTF-8 | value bytes

const FORMAT = 1;
const HEADER = 13;
const KEY_BYTES = 16;
const TWO_32 = 2 ** 32;

export function recordKey(topicId: number, partition: number, offset: number): Buffer {
  const key = Buffer.allocUnsafe(KEY_BYTES);
  key.writeUInt32BE(topicId, 0);
  key.writeUInt32BE(partition, 4);
  key.writeUInt32BE(Math.floor(offset / TWO_32), 8);
  key.writeUInt32BE(offset % TWO_32, 12);
  return key;
}

export function offsetOfKey(key: Uint8Array): number {
  const view = Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return view.readUInt32BE(8) * TWO_32 + view.readUInt32BE(12);
}

export function encodeRecord(key: string | null, timestamp: number, value: Buffer): Buffer {
  const keyLength = key === null ? 0 : Buffer.byteLength(key, 'utf8');
  const out = Buffer.allocUnsafe(HEADER + keyLength + value.length);
  out[0] = FORMAT;
  out.writeDoubleBE(timestamp, 1);
  out.writeInt32BE(key === null ? -1 : keyLength, 9);
  if (key !== null) out.write(key, HEADER, 'utf8');
  value.copy(out, HEADER + keyLength);
  return out;
}

export interface StoredRecord { key: string | null; timestamp: number; value: Buffer }

/** The returned value is a view into `stored` (LMDB hands each range entry its own copy). */
export function decodeRecord(stored: Buffer): StoredRecord {
  if (stored[0] !== FORMAT) throw new Error(`embedded log: unknown record format ${stored[0]}`);
  const keyLength = stored.readInt32BE(9);
  const valueStart = HEADER + Math.max(0, keyLength);
  return {
    key: keyLength < 0 ? null : stored.toString('utf8', HEADER, valueStart),
    timestamp: stored.readDoubleBE(1),
    value: stored.subarray(valueStart),
  };
}

/** Timestamp only, for retention scans that never need the payload. */
export function timestampOf(stored: Buffer): number {
  return stored.readDoubleBE(1);
}
