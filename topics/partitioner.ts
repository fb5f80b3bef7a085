// Kafka's default partitioner, bit for bit: murmur2 over the UTF-8 bytes of the key, made positive by
// masking the sign bit (not Math.abs), modulo the partition count. Matching the Java client means a key
// lands in the same partition on the embedded log and on Kafka, so co-partitioned topics stay
// co-partitioned whichever backend wrote them.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's `Utils.murmur2`: a signed 32-bit hash. Math.imul gives Java's wrapping int multiply. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The tail falls through like Java's switch: 3 bytes mix in all three, then multiply once.
  switch (length & 3) {
    case 3: h ^= data[whole + 2] << 16; // falls through
    case 2: h ^= data[whole + 1] << 8; // falls through
    case 1: h ^= data[whole]; h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit, so -1 maps to 2147483647, not 1. */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition a keyed record goes to, exactly as Kafka's Java client and kafkajs pick it. */
export function partitionFor(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partition count must be a positive integer, got ${partitions}`);
  }
  return toPositive(murmur2(Buffer.from(key, 'utf8'))) % partitions;
}
