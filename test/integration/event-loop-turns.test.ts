// The embedded log hands over its records in promise callbacks, so a task behind its input awaits
// nothing until its batch is full: a restore (which publishes nothing) or a rebuild (whose batches
// hold millions of effects) would keep the event loop, and the read API or a replay's progress
// beside it, for seconds. The tasks of a thread must together let timers run every few
// milliseconds while restoring (every ~50 ms while processing), not each on its own: forty tasks
// that each kept the loop for 20 ms stalled reads for ~1 s at a time, and a standalone replay's
// processors kept it for 13.8 s (bench/RESULTS.md, 2026-12-06).
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTopicBackend } from '../../topics/index.ts';
import type { TopicBackend, TopicPartitionOffset } from '../../topics/types.ts';
import type { Processor } from '../../processors/processor.ts';
import { startProcessor, type RunningProcessor, type Sink } from '../../processors/runtime.ts';
import { memorySink } from '../helpers/memory-sink.ts';
import { textCodec } from '../helpers/text-codec.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const TOPIC = 'event-loop-turns';
const PARTITIONS = 8;
const PROCESSORS = 3;
const RECORDS_PER_PARTITION = 1_500;
/** CPU a record costs to fold: enough that one task's share of the restore outlasts a turn. */
const FOLD_MICROS = 30;
/** Far above a turn (5 ms restoring, 50 ms processing, and the tasks' last few records), far below the stalls it guards against. */
const LONGEST_GAP_MS = 250;
/**
 * The backlog: more records, each cheaper. Processing yields only while a task is hundreds of records
 * behind (runtime.ts BACKLOG_RECORDS), so the last few hundred of each partition run without turns.
 */
const BACKLOG_PER_PARTITION = 4_000;
const BACKLOG_FOLD_MICROS = 10;

const codec = textCodec('event-loop-turns-dead-letters');

function busy(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until);
}

function slowCounter(name: string, foldMicros = FOLD_MICROS): Processor<{ n: number }, string> {
  return {
    name,
    inputs: [TOPIC],
    init: () => ({ n: 0 }),
    apply(state, _input, source) {
      busy(foldMicros);
      state.n++;
      return [{ kind: 'hincr', key: `count:${source.partition}`, field: 'n', by: 1 }];
    },
  };
}

/** Runs `body` with a 1 ms timer beside it; returns the longest gap between the timer's callbacks. */
async function longestTimerGap(body: () => Promise<void>): Promise<number> {
  let longest = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  try {
    await body();
  } finally {
    clearInterval(ticker);
  }
  return longest;
}

/** A log whose topic holds `perPartition` records on each partition. */
async function filledBackend(dir: string, perPartition = RECORDS_PER_PARTITION): Promise<TopicBackend> {
  const backend = await createTopicBackend({ dataDir: dir });
  const spec = { key: 'k', partitions: PARTITIONS, retentionMs: -1, retentionBytes: -1, compacted: false };
  await backend.ensureTopics([{ name: TOPIC, ...spec }, { name: codec.deadLetterTopic, ...spec }]);
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const records = Array.from({ length: perPartition }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`r${i}`), timestamp: 1_700_000_000_000 + i, partition }));
    await backend.produce(TOPIC, records);
  }
  return backend;
}

describe('tasks behind their input on one thread', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());

  it('share their turns of the event loop while restoring, so timers run every few milliseconds however many tasks restore', async () => {
    const backend = await filledBackend(path.join(data.dir, 'restore'));
    // Sinks that already hold every record: each stateful task restores its whole partition.
    const caughtUp = (): Map<string, TopicPartitionOffset> => new Map(Array.from({ length: PARTITIONS }, (_, partition) =>
      [`${TOPIC}:${partition}`, { topic: TOPIC, partition, offset: RECORDS_PER_PARTITION }]));
    const running: RunningProcessor[] = [];
    try {
      const startedAt = performance.now();
      const longestGap = await longestTimerGap(async () => {
        for (let i = 0; i < PROCESSORS; i++) {
          running.push(await startProcessor({ processor: slowCounter(`restore-turns-${i}`), sink: memorySink(caughtUp()), stateful: true }, { backend, codec, groupPrefix: 'turns' }));
        }
        await Promise.all(running.map((p) => p.restored()));
      });
      // The restore really held the thread for longer than the bound, or the bound proves nothing.
      expect(performance.now() - startedAt).toBeGreaterThan(2 * LONGEST_GAP_MS);
      expect(longestGap).toBeLessThan(LONGEST_GAP_MS);
    } finally {
      await Promise.all(running.map((p) => p.stop()));
      await backend.close();
    }
  }, 60_000);

  it('share their turns while processing a backlog in rebuild-sized batches, and the linger does not cut those batches short', async () => {
    const backend = await filledBackend(path.join(data.dir, 'backlog'), BACKLOG_PER_PARTITION);
    const sinks = Array.from({ length: PROCESSORS }, () => memorySink());
    const batches: number[] = [];
    const total = PARTITIONS * BACKLOG_PER_PARTITION;
    const running: RunningProcessor[] = [];
    try {
      const startedAt = performance.now();
      const longestGap = await longestTimerGap(async () => {
        for (let i = 0; i < PROCESSORS; i++) {
          const sink = sinks[i];
          const counted: Sink = { ...sink, apply: async (effects, offsets) => { batches.push(effects.length); await sink.apply(effects, offsets); } };
          // A rebuild's batching: a cap no backlog here reaches, and the live linger.
          running.push(await startProcessor({ processor: slowCounter(`backlog-turns-${i}`, BACKLOG_FOLD_MICROS), sink: counted, stateful: true }, { backend, codec, groupPrefix: 'turns', maxBatchEffects: 10_000_000, lingerMs: 10 }));
        }
        while (sinks.some((sink) => sink.applied.length < total)) await new Promise((r) => setTimeout(r, 20));
      });
      expect(performance.now() - startedAt).toBeGreaterThan(2 * LONGEST_GAP_MS);
      expect(longestGap).toBeLessThan(LONGEST_GAP_MS);
      // A task that yields a turn is still behind: the linger flushing then would write a batch per
      // turn instead of one per backlog.
      expect(total * PROCESSORS / batches.length).toBeGreaterThan(1_000);
    } finally {
      await Promise.all(running.map((p) => p.stop()));
      await backend.close();
    }
  }, 60_000);
});
