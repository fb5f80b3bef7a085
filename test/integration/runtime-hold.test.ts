// A rebuild far behind lets the embedded view store hold its full batches in memory (runtime.ts
// holdBytes): the views and the offsets the runtime reports must then only ever show what is written,
// and once the processor has caught up everything is written. Real embedded log, real view store.
import { afterAll, describe, expect, it } from 'vitest';
import { createTopicBackend } from '../../topics/index.ts';
import type { TopicSpec } from '../../topics/types.ts';
import type { Processor } from '../../processors/processor.ts';
import { startProcessor } from '../../processors/runtime.ts';
import { createEmbeddedViewStore } from '../../sinks/embedded/embedded-view-store.ts';
import { viewSink } from '../../sinks/view-store.ts';
import { textCodec } from '../helpers/text-codec.ts';
import { eventually, tempDataDir } from '../helpers/tmp.ts';

const TOPIC = 'hold-input';
const RECORDS = 3_000;
const spec: TopicSpec = { name: TOPIC, key: 'k', partitions: 2, retentionMs: -1, retentionBytes: -1, compacted: false };

const codec = textCodec('hold-dead-letters');

/** Each record counts once and enters a capped feed: what a rebuild's feeds and counters do. */
const counter: Processor<Record<string, never>, string> = {
  name: 'hold-counter',
  inputs: [TOPIC],
  init: () => ({}),
  apply: (_state, label) => [
    { kind: 'hincr', key: 'count', field: 'n', by: 1 },
    { kind: 'zadd', key: 'feed', member: label, score: Number(label), cap: 50 },
  ],
};

describe('held rebuild batches (embedded log and view store)', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it('reports only written offsets while it holds, and writes everything once caught up', async () => {
    const backend = await createTopicBackend({ dataDir: data.dir });
    const views = await createEmbeddedViewStore({ dataDir: data.dir });
    try {
      await backend.ensureTopics([spec, { ...spec, name: codec.deadLetterTopic }]);
      const records = Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(i)), timestamp: 1_700_000_000_000 + i, partition: i % 2 }));
      for (let i = 0; i < RECORDS; i += 500) await backend.produce(TOPIC, records.slice(i, i + 500));

      let written = 0;
      const reported: number[] = [];
      // g2 is not the generation serving reads (g1), as in a rebuild.
      const running = await startProcessor({ processor: counter, sink: viewSink(views, 'g2', counter.name), stateful: false }, {
        backend, codec, groupPrefix: 'hold', lingerMs: 5, maxBatchEffects: 100, holdBytes: 1 << 30,
        observer: { onBatch: (_p, info) => { written++; reported.push((info.offsets ?? []).reduce((n, o) => n + o.offset, 0)); } },
      });
      const sum = (offsets: Array<{ offset: number }>) => offsets.reduce((n, o) => n + o.offset, 0);
      // While it runs, what the runtime reports never runs ahead of what the store holds on disk.
      const checks: Array<[number, number]> = [];
      await eventually(async () => {
        const progress = sum([...running.progress().offsets.values()].map((offset) => ({ offset })));
        const stored = sum(await views.offsets('g2', counter.name));
        checks.push([progress, stored]);
        return stored === RECORDS;
      }, 20_000, 'every record written');
      for (const [progress, stored] of checks) expect(progress).toBeLessThanOrEqual(stored);
      expect(await views.hgetallMany('g2', ['count'])).toEqual([{ n: String(RECORDS) }]);
      const feed = await views.zrangeByScoreDesc('g2', 'feed', { limit: 100 });
      expect(feed.map((e) => e.member)).toEqual(Array.from({ length: 50 }, (_, i) => String(RECORDS - 1 - i)));
      expect(sum([...running.progress().offsets.values()].map((offset) => ({ offset })))).toBe(RECORDS);
      expect(running.progress().eventsProcessed).toBe(RECORDS);
      // 3,000 records at 2 effects each fill 60 batches of 100: held, they reach the disk in a few writes.
      expect(written).toBeLessThan(10);
      expect(reported.at(-1)).toBe(RECORDS);
      await running.stop();
    } finally {
      await views.close();
      await backend.close();
    }
  }, 60_000);
});
