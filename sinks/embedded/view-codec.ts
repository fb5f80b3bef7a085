// How a view's value is laid out in lmdb: the encoder the `views` database is opened with.
//
// Sorted sets (feeds, the story tray...) and hashes (post counters) have binary layouts of their own:
// live, every batch reads and rewrites each key it touches, and through msgpack that round trip was
// ~23% of the main thread at 10k events/s (msgpackr redescribes an object's fields in every value and
// grows its buffer for every large one; CPU profile of bench/pipeline-throughput.ts' latency phase).
// Every layout starts with 0xC1, a byte MessagePack never uses, then the layout's number:
//
//   layout 1, sorted set   byte 2: flags (1 = has member words, 2 = has an expiry)
//                          bytes 4-7: member count n (u32 LE); bytes 8-15: expiry in ms (f64 LE) or 0
//                          then n scores (f64 LE), n member words when flagged (u32 LE), and the
//                          members joined by NUL (UTF-8). The scores start at byte 16, so a copy of
//                          the numeric part is 8-byte aligned and viewed as typed arrays as it is.
//   layout 2, hash         bytes 2-3: 0; then field, value, field, value... joined by NUL (UTF-8)
//
// Values of other shapes (a sorted set or hash whose strings hold a NUL) stay msgpack, as every value
// was before these layouts, so stores written by earlier versions read unchanged.
import { Packr } from 'msgpackr';
import { SEPARATOR } from './packed-members.ts';
import type { StoredSortedSet } from './sorted-set.ts';

export interface StoredHash { t: 'h'; f: Record<string, string> }
export type StoredView = StoredSortedSet | StoredHash;

const TAG = 0xc1;
const SORTED_SET = 1;
const HASH = 2;
const HAS_WORDS = 1;
const HAS_EXPIRY = 2;
const HEADER_BYTES = 16;

// The options lmdb-js gives its own msgpack encoder, so values it wrote decode the same way.
const msgpack = new Packr({ copyBuffers: true });

/** A value of `size` bytes whose 4-byte header (tag, layout, flags, 0) is written. */
function newValue(size: number, layout: number, flags: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  out[0] = TAG;
  out[1] = layout;
  out[2] = flags;
  out[3] = 0;
  return out;
}

function encodeCompact(value: Extract<StoredSortedSet, { j: string }>): Buffer {
  const count = value.d.byteLength / 8;
  const words = value.k !== undefined && value.k.byteLength === count * 4 ? value.k : undefined;
  const numericBytes = count * 8 + (words ? count * 4 : 0);
  const textStart = HEADER_BYTES + numericBytes;
  const flags = (words ? HAS_WORDS : 0) | (value.x !== undefined ? HAS_EXPIRY : 0);
  const out = newValue(textStart + Buffer.byteLength(value.j, 'utf8'), SORTED_SET, flags);
  out.writeUInt32LE(count, 4);
  out.writeDoubleLE(value.x ?? 0, 8);
  out.set(value.d, HEADER_BYTES);
  if (words) out.set(words, HEADER_BYTES + count * 8);
  out.write(value.j, textStart, 'utf8');
  return out;
}

/** The hash as field NUL value NUL..., or undefined when a field or value holds a NUL. */
function encodeHash(value: StoredHash): Buffer | undefined {
  let text = '';
  let first = true;
  for (const field in value.f) {
    const v = value.f[field];
    if (field.includes(SEPARATOR) || v.includes(SEPARATOR)) return undefined;
    text += first ? `${field}${SEPARATOR}${v}` : `${SEPARATOR}${field}${SEPARATOR}${v}`;
    first = false;
  }
  const out = newValue(4 + Buffer.byteLength(text, 'utf8'), HASH, 0);
  out.write(text, 4, 'utf8');
  return out;
}

function decodeHash(view: Buffer): StoredHash {
  const fields: Record<string, string> = {};
  if (view.length > 4) {
    const parts = view.toString('utf8', 4, view.length).split(SEPARATOR);
    for (let i = 0; i + 1 < parts.length; i += 2) fields[parts[i]] = parts[i + 1];
  }
  return { t: 'h', f: fields };
}

function decodeCompact(view: Buffer): StoredSortedSet {
  const flags = view[2];
  const count = view.readUInt32LE(4);
  const scoreBytes = count * 8;
  const numericBytes = scoreBytes + (flags & HAS_WORDS ? count * 4 : 0);
  // One copy of the numbers into a buffer of their own (lmdb reuses `bytes` for the next read), at
  // offset 0, so the scores and words can be viewed as typed arrays without another copy.
  const numbers = new Uint8Array(numericBytes);
  numbers.set(view.subarray(HEADER_BYTES, HEADER_BYTES + numericBytes));
  const set: StoredSortedSet = {
    t: 'z',
    j: view.toString('utf8', HEADER_BYTES + numericBytes, view.length),
    d: numbers.subarray(0, scoreBytes),
  };
  if (flags & HAS_WORDS) set.k = numbers.subarray(scoreBytes);
  if (flags & HAS_EXPIRY) set.x = view.readDoubleLE(8);
  return set;
}

/** The `views` database's encoder (lmdb-js calls encode on every put, decode on every read). */
export const viewCodec = {
  encode(value: StoredView): Buffer {
    if (value.t === 'h') return encodeHash(value) ?? msgpack.pack(value);
    return 'j' in value ? encodeCompact(value) : msgpack.pack(value);
  },
  decode(bytes: Uint8Array): StoredView {
    if (bytes[0] !== TAG) return msgpack.unpack(bytes) as StoredView;
    // `length`, not `byteLength`: lmdb reads into a reused buffer longer than the value and sets its length.
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (view[1] === SORTED_SET) return decodeCompact(view);
    if (view[1] === HASH) return decodeHash(view);
    throw new Error(`view store: a value in layout ${view[1]}, which this version of darkroom does not know`);
  },
  /** decode copies what it keeps, so lmdb may hand it the buffer it reuses for the next read. */
  needsStableBuffer: false,
};
