// A restore folds history and publishes nothing, so nothing else would give the event loop a turn
// while it runs. Beside a running platform (a replay moving its rebuilt processors back to the
// serving thread) the read API shares that loop, so the restores of all tasks together must let
// timers run every few milliseconds, not each task on its own: forty tasks that each kept the loop
// for 20 ms stalled reads for ~1 s at a time (bench/RESULTS.md, 2026-12-06).
import { afterAll, describe, expect, it } from 'vitest';
import { createTopicBackend } from '../../topics/index.ts';
import type { TopicPartitionOffset } from '../../topics/types.ts';
import type { Processor } from '../../processors/processor.ts';
import { startProcessor } from '../../processors/runtime.ts';
import { memorySink } from '../helpers/memory-sink.ts';
import { textCodec } from '../helpers/text-codec.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const TOPIC = 'restore-turns';
const PARTITIONS = 8;
const PROCESSORS = 3;
const RECORDS_PER_PARTITION = 1_500;
/** CPU a record costs to fold: enough that one task's share of the restore outlasts a turn. */
const FOLD_MICROS = 30;
/** Far above a turn (5 ms and the tasks' last few records), far below the stall it guards against. */
const LONGEST_GAP_MS = 250;

const codec = textCodec('restore-turns-dead-letters');

function busy(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until);
}

function slowCounter(name: string): Processor<{ n: number }, string> {
  return {
    name,
    inputs: [TOPIC],
    init: () => ({ n: 0 }),
    apply(state) {
      busy(FOLD_MICROS);
      state.n++;
      return [];
    },
  };
}

describe('restores on one thread', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it('share their turns of the event loop, so timers run every few milliseconds however many tasks restore', async () => {
    const backend = await createTopicBackend({ dataDir: data.dir });
    try {
      const spec = { key: 'k', partitions: PARTITIONS, retentionMs: -1, retentionBytes: -1, compacted: false };
      await backend.ensureTopics([{ name: TOPIC, ...spec }, { name: codec.deadLetterTopic, ...spec }]);
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const records = Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`r${i}`), timestamp: 1_700_000_000_000 + i, partition }));
        await backend.produce(TOPIC, records);
      }
      // Sinks that already hold every record: each stateful task restores its whole partition.
      const caughtUp = (): Map<string, TopicPartitionOffset> => new Map(Array.from({ length: PARTITIONS }, (_, partition) =>
        [`${TOPIC}:${partition}`, { topic: TOPIC, partition, offset: RECORDS_PER_PARTITION }]));

      let longestGap = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 1);
      const startedAt = performance.now();
      const running = await Promise.all(Array.from({ length: PROCESSORS }, (_, i) =>
        startProcessor({ processor: slowCounter(`restore-turns-${i}`), sink: memorySink(caughtUp()), stateful: true }, { backend, codec, groupPrefix: 'turns' })));
      try {
        await Promise.all(running.map((p) => p.restored()));
        const restoreMs = performance.now() - startedAt;
        clearInterval(ticker);
        // The restore really held the thread for longer than the bound, or the bound proves nothing.
        expect(restoreMs).toBeGreaterThan(2 * LONGEST_GAP_MS);
        expect(longestGap).toBeLessThan(LONGEST_GAP_MS);
      } finally {
        clearInterval(ticker);
        await Promise.all(running.map((p) => p.stop()));
      }
    } finally {
      await backend.close();
    }
  }, 60_000);
});
