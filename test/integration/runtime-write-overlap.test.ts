// A full batch goes to the sink while the processor folds the next one: a rebuild's feed-fanout sat
// idle for ~11% of its thread while lmdb committed its batches (bench/RESULTS.md, "A full batch
// written while the next one is folded"). The overlap must keep what the runtime promises: batches
// reach the sink one at a time and in order, each record once, and no more than two batches' worth
// of records folded and not written.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTopicBackend } from '../../topics/index.ts';
import type { Processor } from '../../processors/processor.ts';
import type { TopicBackend } from '../../topics/types.ts';
import { startProcessor, type Sink } from '../../processors/runtime.ts';
import { memorySink } from '../helpers/memory-sink.ts';
import { textCodec } from '../helpers/text-codec.ts';
import { eventually, tempDataDir } from '../helpers/tmp.ts';

const TOPIC = 'write-overlap';
const RECORDS = 6_000;
const BATCH = 1_000;
const SINK_MS = 150;

const codec = textCodec('write-overlap-dead-letters');

/** A log under `dir` whose topic has `partitions` partitions and `records` records on partition 0. */
async function logWith(dir: string, records: number, partitions = 1): Promise<TopicBackend> {
  const backend = await createTopicBackend({ dataDir: dir });
  const spec = { key: 'k', partitions, retentionMs: -1, retentionBytes: -1, compacted: false };
  await backend.ensureTopics([{ name: TOPIC, ...spec }, { name: codec.deadLetterTopic, ...spec }]);
  if (records > 0) await backend.produce(TOPIC, Array.from({ length: records }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`r${i}`), timestamp: 1_700_000_000_000 + i, partition: 0 })));
  return backend;
}

/** Counts what it folds in `counted.folded`; one effect per record, named after it. */
function counter(name: string, counted: { folded: number }): Processor<{ n: number }, string> {
  return {
    name, inputs: [TOPIC], init: () => ({ n: 0 }),
    apply(_state, input) {
      counted.folded++;
      return [{ kind: 'hincr', key: 'seen', field: input, by: 1 }];
    },
  };
}

describe('a processor whose sink is slow', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it('folds the next batch while the sink writes a full one, one write at a time, in order, each record once', async () => {
    const backend = await logWith(path.join(data.dir, 'log'), RECORDS);
    const counted = { folded: 0 };
    const inner = memorySink();
    let writing = 0;
    let mostAtOnce = 0;
    let foldedWhileWriting = 0;
    let mostAhead = 0;
    const ends: number[] = [];
    const slow: Sink = {
      ...inner,
      async apply(effects, offsets) {
        writing++;
        mostAtOnce = Math.max(mostAtOnce, writing);
        const before = counted.folded;
        await new Promise((r) => setTimeout(r, SINK_MS));
        // Records folded and not yet written: this batch, and at most the one filling behind it.
        mostAhead = Math.max(mostAhead, counted.folded - inner.applied.length);
        foldedWhileWriting += counted.folded - before;
        ends.push(offsets[0].offset);
        await inner.apply(effects, offsets);
        writing--;
      },
    };
    const running = await startProcessor({ processor: counter('overlap-counter', counted), sink: slow, stateful: false }, { backend, codec, groupPrefix: 'overlap', maxBatchEffects: BATCH, lingerMs: 10 });
    try {
      await eventually(async () => inner.applied.length >= RECORDS, 30_000, 'every record written');
      expect(inner.applied).toHaveLength(RECORDS);
      // Each record once, in order.
      expect(inner.applied.map((e) => (e.kind === 'hincr' ? e.field : ''))).toEqual(Array.from({ length: RECORDS }, (_, i) => `r${i}`));
      expect(ends).toEqual([...ends].sort((a, b) => a - b));
      expect(ends.at(-1)).toBe(RECORDS);
      expect(mostAtOnce).toBe(1);
      // The overlap itself: with the sink awaited before folding on, nothing is folded during a write.
      expect(foldedWhileWriting).toBeGreaterThanOrEqual(BATCH);
      expect(mostAhead).toBeLessThanOrEqual(2 * BATCH);
    } finally {
      await running.stop();
      await backend.close();
    }
  }, 60_000);

  it('holds at most two batches of records folded and not written, whatever number of partitions fill them', async () => {
    // Each task awaited only its own full batch, so the tasks of other partitions went on folding and
    // queued a full batch each: with four partitions, five batches could be alive at once.
    const partitions = 4;
    const perPartition = 3_000;
    const backend = await logWith(path.join(data.dir, 'bound'), 0, partitions);
    for (let partition = 0; partition < partitions; partition++) {
      await backend.produce(TOPIC, Array.from({ length: perPartition }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`p${partition}-${i}`), timestamp: 1_700_000_000_000 + i, partition })));
    }
    const counted = { folded: 0 };
    const inner = memorySink();
    let mostAhead = 0;
    const slow: Sink = {
      ...inner,
      async apply(effects, offsets) {
        mostAhead = Math.max(mostAhead, counted.folded - inner.applied.length);
        await new Promise((r) => setTimeout(r, SINK_MS));
        mostAhead = Math.max(mostAhead, counted.folded - inner.applied.length);
        await inner.apply(effects, offsets);
      },
    };
    const running = await startProcessor({ processor: counter('overlap-bound', counted), sink: slow, stateful: false }, { backend, codec, groupPrefix: 'overlap-bound', maxBatchEffects: BATCH, lingerMs: 10 });
    try {
      await eventually(async () => inner.applied.length >= partitions * perPartition, 30_000, 'every record written');
      expect(inner.applied).toHaveLength(partitions * perPartition);
      // A record per partition may be folding when a batch fills: each waits in its task, not in a batch.
      expect(mostAhead).toBeGreaterThan(BATCH);
      expect(mostAhead).toBeLessThanOrEqual(2 * BATCH + partitions);
    } finally {
      await running.stop();
      await backend.close();
    }
  }, 60_000);

  it('writes each partition in order when the linger flushes a partial batch while another is being written', async () => {
    // Tasks of several partitions fill one batch. A flush that took its batch only once the sink was
    // free could write records that came after a full batch before that batch, and the offsets the
    // sink held went backwards: a Kafka + Redis first build then never caught up (bench/RESULTS.md,
    // "A full batch written while the next one is folded").
    const partitions = 4;
    const perPartition = 1_500;
    const backend = await logWith(path.join(data.dir, 'linger'), 0, partitions);
    const inner = memorySink();
    /** Per partition, the offsets the sink was told, in the order of its writes. */
    const told = new Map<number, number[]>();
    const slow: Sink = {
      ...inner,
      async apply(effects, offsets) {
        await new Promise((r) => setTimeout(r, SINK_MS));
        for (const o of offsets) told.set(o.partition, [...(told.get(o.partition) ?? []), o.offset]);
        await inner.apply(effects, offsets);
      },
    };
    const running = await startProcessor({ processor: counter('overlap-linger', { folded: 0 }), sink: slow, stateful: false }, { backend, codec, groupPrefix: 'overlap-linger', maxBatchEffects: BATCH, lingerMs: 10 });
    try {
      // Records keep coming in small deliveries on every partition, so the linger queues partial
      // batches while a write is in flight and batches fill up to their cap meanwhile.
      for (let i = 0; i < perPartition; i += 25) {
        for (let partition = 0; partition < partitions; partition++) {
          await backend.produce(TOPIC, Array.from({ length: 25 }, (_, j) => ({ key: `k${i + j}`, value: Buffer.from(`p${partition}-${i + j}`), timestamp: 1_700_000_000_000 + i + j, partition })));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await eventually(async () => inner.applied.length >= partitions * perPartition, 30_000, 'every record written');
      for (let partition = 0; partition < partitions; partition++) {
        const fields = inner.applied.map((e) => (e.kind === 'hincr' ? e.field : '')).filter((f) => f.startsWith(`p${partition}-`));
        expect(fields).toEqual(Array.from({ length: perPartition }, (_, i) => `p${partition}-${i}`));
        const offsets = told.get(partition) ?? [];
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
        expect(inner.held.get(`${TOPIC}:${partition}`)?.offset).toBe(perPartition);
      }
    } finally {
      await running.stop();
      await backend.close();
    }
  }, 60_000);

  it('has written every record it folded when stop resolves, a full batch in flight or not', async () => {
    const backend = await logWith(path.join(data.dir, 'stop'), RECORDS);
    const counted = { folded: 0 };
    const inner = memorySink();
    let writes = 0;
    const slow: Sink = {
      ...inner,
      async apply(effects, offsets) {
        writes++;
        await new Promise((r) => setTimeout(r, SINK_MS));
        await inner.apply(effects, offsets);
      },
    };
    const running = await startProcessor({ processor: counter('overlap-stop', counted), sink: slow, stateful: false }, { backend, codec, groupPrefix: 'overlap-stop', maxBatchEffects: BATCH, lingerMs: 10 });
    try {
      while (writes < 2) await new Promise((r) => setTimeout(r, 5));
    } finally {
      await running.stop();
      await backend.close();
    }
    expect(counted.folded).toBeGreaterThan(BATCH);
    expect(inner.applied).toHaveLength(counted.folded);
    expect([...inner.held.values()][0].offset).toBe(counted.folded);
  }, 60_000);
});
