// The contract every topic backend keeps, run against the embedded log (embedded-log.test.ts) and
// against Kafka. Names are unique per run so the suite can run again and again on a long-lived broker.
// Waits are generous: a Kafka consumer group needs seconds to join; the embedded log needs milliseconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionFor } from '../../topics/partitioner.ts';
import type {
  Consumer, ConsumerOptions, RecordBatch, RunOptions, TopicBackend, TopicRecord, TopicSpec,
} from '../../topics/types.ts';

export interface SuiteOptions {
  /** How long to wait for expected records before failing. Default 30 s. */
  waitMs?: number;
}

const runId = `${Date.now().toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
const unique = (label: string) => `suite-${label}-${runId}`;

function spec(name: string, partitions: number): TopicSpec {
  return { name, partitions, key: 'test key', retentionMs: -1, retentionBytes: -1, compacted: false };
}

const bytes = (text: string) => Buffer.from(text, 'utf8');

/** A running consumer that collects what it is given, and a way to wait for enough of it. */
interface Collector {
  consumer: Consumer;
  records: TopicRecord[];
  batches: RecordBatch[];
  until(done: (records: TopicRecord[]) => boolean, what: string): Promise<void>;
}

async function collect(backend: TopicBackend, options: ConsumerOptions, waitMs: number,
  hooks: Partial<RunOptions> & { commit?: boolean } = {}): Promise<Collector> {
  const consumer = backend.consumer(options);
  const records: TopicRecord[] = [];
  const batches: RecordBatch[] = [];
  await consumer.run({
    onAssigned: hooks.onAssigned,
    onRevoked: hooks.onRevoked,
    async eachBatch(batch) {
      await hooks.eachBatch?.(batch);
      batches.push(batch);
      records.push(...batch.records);
      if (hooks.commit && batch.records.length > 0) {
        await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.records.at(-1)!.offset + 1 }]);
      }
    },
  });
  return {
    consumer, records, batches,
    async until(done, what) {
      const deadline = Date.now() + waitMs;
      while (!done(records)) {
        if (Date.now() > deadline) throw new Error(`timed out after ${waitMs} ms waiting for ${what}; got ${records.length} records`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

export function runTopicBackendSuite(name: string, makeBackend: () => Promise<TopicBackend>, options: SuiteOptions = {}): void {
  const waitMs = options.waitMs ?? 30_000;

  describe(`topic backend contract: ${name}`, () => {
    let backend: TopicBackend;
    beforeAll(async () => { backend = await makeBackend(); });
    afterAll(async () => { await backend?.close(); });

    it('ensureTopics is idempotent', async () => {
      const topic = spec(unique('idempotent'), 3);
      await backend.ensureTopics([topic]);
      await backend.ensureTopics([topic]);
      await backend.ensureTopics([{ ...topic }, spec(unique('idempotent-b'), 2)]);
      expect(await backend.endOffsets(topic.name)).toEqual([0, 1, 2].map((partition) => ({ topic: topic.name, partition, offset: 0 })));
      expect(await backend.startOffsets(topic.name)).toEqual([0, 1, 2].map((partition) => ({ topic: topic.name, partition, offset: 0 })));
      expect(await backend.endOffsets(unique('idempotent-b'))).toHaveLength(2);
    });

    it('round-trips keys, values and timestamps; a key always lands in partitionFor(key)', async () => {
      const topic = spec(unique('roundtrip'), 4);
      await backend.ensureTopics([topic]);
      const sent = Array.from({ length: 40 }, (_, i) => ({
        key: `user-${i % 7}-é`, value: bytes(`value ${i}`), timestamp: 1_700_000_000_000 + i,
      }));
      const acks = await backend.produce(topic.name, sent);
      expect(acks).toHaveLength(sent.length);
      acks.forEach((ack, i) => expect(ack.partition).toBe(partitionFor(sent[i].key, 4)));

      const reader = await collect(backend, { groupId: unique('roundtrip-g'), topics: [topic.name] }, waitMs);
      await reader.until((got) => got.length >= sent.length, `${sent.length} records`);
      await reader.consumer.stop();

      const byValue = new Map(reader.records.map((r) => [r.value.toString(), r]));
      expect(reader.records).toHaveLength(sent.length);
      sent.forEach((s, i) => {
        const got = byValue.get(s.value.toString())!;
        expect(got).toMatchObject({ topic: topic.name, key: s.key, timestamp: s.timestamp, partition: acks[i].partition, offset: acks[i].offset });
        expect(Buffer.isBuffer(got.value)).toBe(true);
      });
    });

    it('takes produce calls of 25,000 records (5 MB, more than one Kafka batch may hold): one offset per record, gap-free', async () => {
      const topic = spec(unique('large-call'), 4);
      await backend.ensureTopics([topic]);
      const value = Buffer.alloc(200, 'x');
      // Two calls: the second's offsets must continue where the first's ended.
      for (const call of [0, 1]) {
        const sent = Array.from({ length: 25_000 }, (_, i) => ({ key: `user-${(call * 25_000 + i) % 9_973}`, value }));
        const acks = await backend.produce(topic.name, sent);
        expect(acks).toHaveLength(sent.length);
        acks.forEach((ack, i) => expect(ack.partition).toBe(partitionFor(sent[i].key, 4)));
        const byPartition = new Map<number, number[]>();
        for (const ack of acks) {
          let offsets = byPartition.get(ack.partition);
          if (!offsets) byPartition.set(ack.partition, (offsets = []));
          offsets.push(ack.offset);
        }
        const ends = new Map((await backend.endOffsets(topic.name)).map((e) => [e.partition, e.offset]));
        for (const [partition, offsets] of byPartition) {
          // In call order, consecutive, ending at the partition's end.
          expect(offsets.every((o, i) => i === 0 || o === offsets[i - 1] + 1)).toBe(true);
          expect(offsets[offsets.length - 1] + 1).toBe(ends.get(partition));
        }
      }
      const total = (await backend.endOffsets(topic.name)).reduce((n, e) => n + e.offset, 0);
      expect(total).toBe(50_000);
    });

    it('honours an explicit partition and a null key', async () => {
      const topic = spec(unique('explicit'), 3);
      await backend.ensureTopics([topic]);
      const acks = await backend.produce(topic.name, [
        { key: 'k', value: bytes('a'), partition: 2 },
        { key: null, value: bytes('b'), partition: 1 },
      ]);
      expect(acks.map((a) => a.partition)).toEqual([2, 1]);
      const reader = await collect(backend, { groupId: unique('explicit-g'), topics: [topic.name] }, waitMs);
      await reader.until((got) => got.length >= 2, '2 records');
      await reader.consumer.stop();
      expect(reader.records.find((r) => r.value.toString() === 'b')).toMatchObject({ key: null, partition: 1 });
    });

    it('delivers each partition in offset order, gap-free, with per-key order kept', async () => {
      const topic = spec(unique('order'), 3);
      await backend.ensureTopics([topic]);
      const keys = Array.from({ length: 10 }, (_, k) => `key-${k}`);
      let seq = 0;
      for (let round = 0; round < 3; round++) {
        await backend.produce(topic.name, Array.from({ length: 100 }, () => {
          const n = seq++;
          return { key: keys[n % keys.length], value: bytes(String(n)) };
        }));
      }
      const reader = await collect(backend, { groupId: unique('order-g'), topics: [topic.name], maxBatchRecords: 17 }, waitMs);
      await reader.until((got) => got.length >= seq, `${seq} records`);
      await reader.consumer.stop();

      const ends = await backend.endOffsets(topic.name);
      for (const { partition, offset: end } of ends) {
        const offsets = reader.records.filter((r) => r.partition === partition).map((r) => r.offset);
        expect(offsets).toEqual(Array.from({ length: end }, (_, i) => i));
      }
      for (const key of keys) {
        const numbers = reader.records.filter((r) => r.key === key).map((r) => Number(r.value.toString()));
        expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
        expect(numbers).toHaveLength(30);
      }
    });

    it('resumes a group from its committed offsets after the backend is closed and reopened', async () => {
      const topic = spec(unique('resume'), 1);
      const groupId = unique('resume-g');
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: bytes(String(i)) })));

      const first = await collect(backend, { groupId, topics: [topic.name] }, waitMs);
      await first.until((got) => got.length >= 10, '10 records');
      await first.consumer.commit([{ topic: topic.name, partition: 0, offset: 6 }]);
      await first.consumer.stop();
      await backend.close();

      backend = await makeBackend();
      expect(await backend.committed(groupId, [topic.name])).toEqual([{ topic: topic.name, partition: 0, offset: 6 }]);
      const second = await collect(backend, { groupId, topics: [topic.name] }, waitMs);
      await second.until((got) => got.length >= 4, 'the 4 uncommitted records');
      await second.consumer.stop();
      expect(second.records.map((r) => r.offset)).toEqual([6, 7, 8, 9]);
    });

    it('keeps the offsets of two groups independent', async () => {
      const topic = spec(unique('groups'), 2);
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: bytes(String(i)) })));
      const a = await collect(backend, { groupId: unique('groups-a'), topics: [topic.name] }, waitMs, { commit: true });
      await a.until((got) => got.length >= 20, '20 records for group a');
      await a.consumer.stop();

      const b = await collect(backend, { groupId: unique('groups-b'), topics: [topic.name] }, waitMs);
      await b.until((got) => got.length >= 20, '20 records for group b');
      await b.consumer.stop();
      expect(b.records).toHaveLength(20);

      const ends = await backend.endOffsets(topic.name);
      expect(await backend.committed(unique('groups-a'), [topic.name])).toEqual(ends);
      expect((await backend.committed(unique('groups-b'), [topic.name])).map((c) => c.offset)).toEqual([-1, -1]);
    });

    it('seekToBeginning replays the partitions from the first offset', async () => {
      const topic = spec(unique('seek'), 2);
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: bytes(String(i)) })));
      const reader = await collect(backend, { groupId: unique('seek-g'), topics: [topic.name] }, waitMs);
      await reader.until((got) => got.length >= 12, '12 records');
      await reader.consumer.seekToBeginning(topic.name);
      await reader.until((got) => got.length >= 24, '12 records replayed');
      await reader.consumer.stop();
      const values = reader.records.map((r) => r.value.toString()).sort();
      expect(values).toEqual(Array.from({ length: 12 }, (_, i) => [String(i), String(i)]).flat().sort());
    });

    it('reports end offsets, start offsets and lag per partition', async () => {
      const topic = spec(unique('lag'), 3);
      const groupId = unique('lag-g');
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 5 }, () => ({ key: null, value: bytes('x'), partition: 0 })));
      await backend.produce(topic.name, Array.from({ length: 3 }, () => ({ key: null, value: bytes('y'), partition: 1 })));
      expect((await backend.endOffsets(topic.name)).map((o) => o.offset)).toEqual([5, 3, 0]);
      expect((await backend.startOffsets(topic.name)).map((o) => o.offset)).toEqual([0, 0, 0]);

      const committer = backend.consumer({ groupId, topics: [topic.name] });
      await committer.commit([{ topic: topic.name, partition: 0, offset: 2 }]);
      const lag = await backend.lag(groupId, [topic.name]);
      expect(lag.map(({ partition, highWatermark, lag: l }) => ({ partition, highWatermark, lag: l }))).toEqual([
        { partition: 0, highWatermark: 5, lag: 3 },
        { partition: 1, highWatermark: 3, lag: 3 }, // never committed: everything retained is ahead
        { partition: 2, highWatermark: 0, lag: 0 },
      ]);
    });

    it('lets onAssigned override the committed offsets', async () => {
      const topic = spec(unique('override'), 1);
      const groupId = unique('override-g');
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: bytes(String(i)) })));
      await backend.consumer({ groupId, topics: [topic.name] }).commit([{ topic: topic.name, partition: 0, offset: 2 }]);
      const assigned: string[] = [];
      const reader = await collect(backend, { groupId, topics: [topic.name] }, waitMs, {
        async onAssigned(partitions) {
          assigned.push(...partitions.map((p) => `${p.topic}/${p.partition}`));
          return [{ topic: topic.name, partition: 0, offset: 7 }];
        },
      });
      await reader.until((got) => got.length >= 3, 'records from offset 7');
      await new Promise((resolve) => setTimeout(resolve, 100)); // nothing more may come
      await reader.consumer.stop();
      expect(assigned).toEqual([`${topic.name}/0`]);
      expect(reader.records.map((r) => r.offset)).toEqual([7, 8, 9]);
    });

    it('never hands a slow eachBatch two batches of one partition at once; stop waits for it', async () => {
      const topic = spec(unique('backpressure'), 2);
      await backend.ensureTopics([topic]);
      await backend.produce(topic.name, Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: bytes(String(i)) })));
      const inFlight = new Map<number, number>();
      let overlaps = 0;
      let running = 0;
      const reader = await collect(backend, { groupId: unique('backpressure-g'), topics: [topic.name], maxBatchRecords: 5 }, waitMs, {
        async eachBatch(batch) {
          const now = (inFlight.get(batch.partition) ?? 0) + 1;
          inFlight.set(batch.partition, now);
          if (now > 1) overlaps++;
          running++;
          await new Promise((resolve) => setTimeout(resolve, 15));
          running--;
          inFlight.set(batch.partition, now - 1);
        },
      });
      await reader.until((got) => got.length >= 30, 'half of the records');
      await reader.consumer.stop();
      expect(running).toBe(0);
      const delivered = reader.records.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(reader.records.length).toBe(delivered);
      expect(overlaps).toBe(0);
      expect(reader.batches.length).toBeGreaterThan(1);
      for (const batch of reader.batches) expect(batch.records.length).toBeLessThanOrEqual(5);
    });
  });
}
