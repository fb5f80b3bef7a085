// Retention by age and by size: records leave from the head of a partition, the start offset moves
// forward, offsets are never reused, and readers positioned before the start continue from it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../topics/embedded/index.ts';
import type { TopicRecord, TopicSpec } from '../../topics/types.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-retention-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;
const spec = (name: string, retentionMs: number, retentionBytes: number, partitions = 1): TopicSpec =>
  ({ name, partitions, key: 'k', retentionMs, retentionBytes, compacted: false });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const offsets = async (backend: ReturnType<typeof createEmbeddedBackend>, topic: string) =>
  ({ start: (await backend.startOffsets(topic))[0].offset, end: (await backend.endOffsets(topic))[0].offset });

describe('embedded log retention', () => {
  it('drops records older than retentionMs by their timestamps; readers and committed groups skip ahead', async () => {
    let now = T0;
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'age'), retentionCheckMs: 0, now: () => now });
    await backend.ensureTopics([spec('age', 1_000, -1)]);
    // One produce per record: retention removes whole stored batches, as Kafka removes whole segments.
    for (let i = 0; i < 10; i++) await backend.produce('age', [{ key: 'k', value: Buffer.from(String(i)), timestamp: T0 + i * 1_000 }]);
    await backend.commit('behind', [{ topic: 'age', partition: 0, offset: 2 }]);

    now = T0 + 5_500; // cutoff T0 + 4_500: records 0..4 are too old
    expect(await backend.applyRetention()).toBe(5);
    expect(await offsets(backend, 'age')).toEqual({ start: 5, end: 10 });
    expect(await backend.applyRetention()).toBe(0);
    expect((await backend.lag('behind', ['age']))[0].lag).toBe(5);

    const got: TopicRecord[] = [];
    const consumer = backend.consumer({ groupId: 'behind', topics: ['age'] });
    await consumer.run({ async eachBatch(batch) { got.push(...batch.records); } });
    while (got.length < 5) await sleep(5);
    await consumer.stop();
    expect(got.map((r) => r.offset)).toEqual([5, 6, 7, 8, 9]);

    now = T0 + 100_000; // everything expires; the next record still gets offset 10
    await backend.applyRetention();
    expect(await offsets(backend, 'age')).toEqual({ start: 10, end: 10 });
    const [ack] = await backend.produce('age', [{ key: 'k', value: Buffer.from('new') }]);
    expect(ack.offset).toBe(10);
    await backend.close();
  });

  it('keeps each partition under retentionBytes, triggered by produce itself', async () => {
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'size'), retentionCheckMs: 0 });
    // A batch of one: 13-byte batch header + 16-byte record header + 1-byte key + 70-byte value = 100 bytes.
    await backend.ensureTopics([spec('size', -1, 1_000, 2)]);
    const one = (partition: number) => [{ key: 'k', value: Buffer.alloc(70), partition }];
    await Promise.all(Array.from({ length: 25 }, () => backend.produce('size', one(0))));
    await Promise.all(Array.from({ length: 3 }, () => backend.produce('size', one(1))));
    const deadline = Date.now() + 5_000;
    while ((await backend.startOffsets('size'))[0].offset === 0 && Date.now() < deadline) await sleep(5);
    expect((await backend.startOffsets('size')).map((o) => o.offset)).toEqual([15, 0]);
    expect((await backend.endOffsets('size')).map((o) => o.offset)).toEqual([25, 3]);
    await backend.close();
  });

  it('deletes a long expired head in bounded chunks, and the periodic sweep finds it on its own', async () => {
    let now = T0;
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'sweep'), retentionCheckMs: 20, now: () => now });
    await backend.ensureTopics([spec('sweep', 60_000, -1)]);
    // 2,500 stored batches: more than one retention transaction deletes (RETENTION_CHUNK).
    await Promise.all(Array.from({ length: 2_500 }, (_, i) => backend.produce('sweep', [{ key: 'k', value: Buffer.from(String(i)), timestamp: T0 }])));
    await backend.produce('sweep', [{ key: 'k', value: Buffer.from('young'), timestamp: T0 + 120_000 }]);
    now = T0 + 100_000;
    const deadline = Date.now() + 5_000;
    while ((await offsets(backend, 'sweep')).start < 2_500 && Date.now() < deadline) await sleep(10);
    expect(await offsets(backend, 'sweep')).toEqual({ start: 2_500, end: 2_501 });
    await backend.close();
  });
});

describe('a stateful processor on a topic that retention emptied', () => {
  it('restores what is left and goes on, instead of waiting for records that retention removed', async () => {
    const { startProcessor } = await import('../../processors/runtime.ts');
    const { memorySink } = await import('../helpers/memory-sink.ts');
    const { textCodec } = await import('../helpers/text-codec.ts');
    let now = T0;
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'emptied'), retentionCheckMs: 0, now: () => now });
    const codec = textCodec('emptied-dead-letters');
    await backend.ensureTopics([spec('emptied', 1_000, -1, 2), spec(codec.deadLetterTopic, -1, -1)]);
    for (const partition of [0, 1]) await backend.produce('emptied', [{ key: 'k', value: Buffer.from('old'), timestamp: T0, partition }]);
    now = T0 + 5_000;
    expect(await backend.applyRetention()).toBe(2);
    // The sink holds both old records' effects; partition 1 gets a new record, partition 0 none.
    const sink = memorySink(new Map([0, 1].map((partition) => [`emptied:${partition}`, { topic: 'emptied', partition, offset: 1 }])));
    await backend.produce('emptied', [{ key: 'k', value: Buffer.from('new'), timestamp: now, partition: 1 }]);
    const counter = {
      name: 'emptied-counter', inputs: ['emptied'], init: () => ({}),
      apply: (_state: object, input: string) => [{ kind: 'hincr' as const, key: 'count', field: input, by: 1 }],
    };
    const running = await startProcessor({ processor: counter, sink, stateful: true }, { backend, codec, groupPrefix: 'emptied', lingerMs: 5 });
    try {
      await Promise.race([running.restored(), sleep(5_000).then(() => { throw new Error('still restoring after 5 s'); })]);
      const deadline = Date.now() + 5_000;
      while (sink.applied.length === 0 && Date.now() < deadline) await sleep(20);
      expect(sink.applied).toEqual([{ kind: 'hincr', key: 'count', field: 'new', by: 1 }]);
    } finally {
      await running.stop();
      await backend.close();
    }
  });
});
