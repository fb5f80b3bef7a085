import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { murmur2, partitionFor, toPositive } from '../../topics/partitioner.ts';

describe('murmur2 (Kafka Utils.murmur2)', () => {
  // The vectors of Kafka's own UtilsTest.testMurmur2: matching them proves the Java algorithm,
  // including the signed-int wrap-around and the fall-through of the 1-3 byte tail.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %j to %i', (key, expected) => {
    expect(murmur2(Buffer.from(key))).toBe(expected);
  });
});

describe('toPositive', () => {
  it('masks the sign bit rather than negating', () => {
    expect(toPositive(5)).toBe(5);
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-2147483648)).toBe(0);
  });
});

describe('partitionFor', () => {
  it('takes the masked hash modulo the partition count', () => {
    // -790332482 & 0x7fffffff = 1357151166 = 8 * 169643895 + 6
    expect(partitionFor('foobar', 8)).toBe(6);
    expect(partitionFor('foobar', 1)).toBe(0);
  });

  it('hashes the UTF-8 bytes of the key', () => {
    expect(partitionFor('héllo', 1000)).toBe(toPositive(murmur2(Buffer.from([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]))) % 1000);
  });

  it('rejects a partition count that is not a positive integer', () => {
    expect(() => partitionFor('k', 0)).toThrow(/positive integer/);
  });

  it('agrees with the kafkajs DefaultPartitioner (Java-compatible) on any key', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), fc.integer({ min: 1, max: 1000 }), (key, n) => {
      const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 }));
      const expected = kafkajs({ topic: 't', partitionMetadata: partitionMetadata as never, message: { key, value: null } });
      expect(partitionFor(key, n)).toBe(expected);
    }), { numRuns: 2000 });
  });
});
