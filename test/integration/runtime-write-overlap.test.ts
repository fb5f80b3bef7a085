// A full batch goes to the sink while the processor folds the next one: a rebuild's feed-fanout sat
// idle for ~11% of its thread while lmdb committed its batches (bench/RESULTS.md, "The next batch
// folded while the last one is written"). The overlap must keep what the runtime promises: batches
// reach the sink one at a time and in order, each record once, and no more than two batches alive.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTopicBackend } from '../../topics/index.ts';
import type { Processor } from '../../processors/processor.ts';
import { startProcessor, type Sink } from '../../processors/runtime.ts';
import { memorySink } from '../helpers/memory-sink.ts';
import { textCodec } from '../helpers/text-codec.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const TOPIC = 'write-overlap';
const RECORDS = 6_000;
const BATCH = 1_000;
const SINK_MS = 150;

const codec = textCodec('write-overlap-dead-letters');

describe('a processor whose sink is slow', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it('folds the next batch while the sink writes a full one, one write at a time, in order, each record once', async () => {
    const backend = await createTopicBackend({ dataDir: path.join(data.dir, 'log') });
    const spec = { key: 'k', partitions: 1, retentionMs: -1, retentionBytes: -1, compacted: false };
    await backend.ensureTopics([{ name: TOPIC, ...spec }, { name: codec.deadLetterTopic, ...spec }]);
    await backend.produce(TOPIC, Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`r${i}`), timestamp: 1_700_000_000_000 + i, partition: 0 })));

    let folded = 0;
    const counter: Processor<{ n: number }, string> = {
      name: 'overlap-counter', inputs: [TOPIC], init: () => ({ n: 0 }),
      apply(_state, input) {
        folded++;
        return [{ kind: 'hincr', key: 'seen', field: input, by: 1 }];
      },
    };
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
        const before = folded;
        await new Promise((r) => setTimeout(r, SINK_MS));
        // Records folded and not yet written: this batch, and at most the one filling behind it.
        mostAhead = Math.max(mostAhead, folded - inner.applied.length);
        foldedWhileWriting += folded - before;
        ends.push(offsets[0].offset);
        await inner.apply(effects, offsets);
        writing--;
      },
    };
    const running = await startProcessor({ processor: counter, sink: slow, stateful: false }, { backend, codec, groupPrefix: 'overlap', maxBatchEffects: BATCH, lingerMs: 10 });
    try {
      const deadline = Date.now() + 30_000;
      while (inner.applied.length < RECORDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
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

  it('has written every record it folded when stop resolves, a full batch in flight or not', async () => {
    const backend = await createTopicBackend({ dataDir: path.join(data.dir, 'stop') });
    const spec = { key: 'k', partitions: 1, retentionMs: -1, retentionBytes: -1, compacted: false };
    await backend.ensureTopics([{ name: TOPIC, ...spec }, { name: codec.deadLetterTopic, ...spec }]);
    await backend.produce(TOPIC, Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`r${i}`), timestamp: 1_700_000_000_000 + i, partition: 0 })));
    let folded = 0;
    const counter: Processor<{ n: number }, string> = {
      name: 'overlap-stop', inputs: [TOPIC], init: () => ({ n: 0 }),
      apply(_state, input) {
        folded++;
        return [{ kind: 'hincr', key: 'seen', field: input, by: 1 }];
      },
    };
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
    const running = await startProcessor({ processor: counter, sink: slow, stateful: false }, { backend, codec, groupPrefix: 'overlap-stop', maxBatchEffects: BATCH, lingerMs: 10 });
    try {
      while (writes < 2) await new Promise((r) => setTimeout(r, 5));
    } finally {
      await running.stop();
      await backend.close();
    }
    expect(folded).toBeGreaterThan(BATCH);
    expect(inner.applied).toHaveLength(folded);
    expect([...inner.held.values()][0].offset).toBe(folded);
  }, 60_000);
});
