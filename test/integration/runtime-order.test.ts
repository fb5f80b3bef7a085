// A stateful task folds its input topics in event-time order (Kafka Streams' PartitionGroup), so a
// live run, a restart that catches up a backlog and a replay see the same sequence whatever the
// backend fetched first. Runs on the embedded log and on Kafka: both deliver one topic's batch
// after another, which is exactly the interleaving the runtime must not depend on.
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createTopicBackend } from '../../topics/index.ts';
import { namespacedBackend } from '../../topics/namespaced.ts';
import type { TopicBackend, TopicSpec } from '../../topics/types.ts';
import type { Processor } from '../../processors/processor.ts';
import { startProcessor } from '../../processors/runtime.ts';
import { memorySink } from '../helpers/memory-sink.ts';
import { textCodec } from '../helpers/text-codec.ts';
import { eventually, tempDataDir } from '../helpers/tmp.ts';
import { describeWith } from '../services.ts';
import { SERVICES } from '../service-endpoints.ts';

const A = 'order-a';
const B = 'order-b';
const spec = (name: string): TopicSpec => ({ name, key: 'k', partitions: 1, retentionMs: -1, retentionBytes: -1, compacted: false });

/** Values are plain text "<label>": the codec under test is the runtime's ordering, not Avro. */
const codec = textCodec('order-dead-letters');

/** Remembers the order it saw; emits it as one hset per event so the sink can check it too. */
function recorder(): Processor<{ seen: string[] }, string> {
  return {
    name: 'order-recorder',
    inputs: [A, B],
    init: () => ({ seen: [] }),
    apply(state, label) {
      state.seen.push(label);
      return [{ kind: 'hset', key: 'order', fields: { [String(state.seen.length)]: label } }];
    },
  };
}

// Interleaved timestamps; each topic is written whole before the other, as a backlog would be.
const A_EVENTS = [1, 3, 5, 7, 9].map((ts) => ({ ts, label: `a${ts}` }));
const B_EVENTS = [2, 4, 6, 8, 10].map((ts) => ({ ts, label: `b${ts}` }));
const EXPECTED = [...A_EVENTS, ...B_EVENTS].sort((x, y) => x.ts - y.ts).map((e) => e.label);

async function fill(backend: TopicBackend): Promise<void> {
  await backend.ensureTopics([spec(A), spec(B), spec(codec.deadLetterTopic)]);
  const records = (events: typeof A_EVENTS) => events.map((e) => ({ key: 'k', value: Buffer.from(e.label), timestamp: 1_700_000_000_000 + e.ts, partition: 0 }));
  await backend.produce(B, records(B_EVENTS));
  await backend.produce(A, records(A_EVENTS));
}

function orderSuite(open: () => Promise<TopicBackend>) {
  it('folds two input topics in timestamp order, and restores state in that order after a restart', async () => {
    const backend = await open();
    try {
      await fill(backend);
      const processor = recorder();
      const sink = memorySink();
      const first = await startProcessor({ processor, sink, stateful: true }, { backend, codec, groupPrefix: 'order', lingerMs: 5 });
      await eventually(async () => sink.applied.length === EXPECTED.length, 20_000, 'every event applied');
      await first.stop();
      expect(sink.applied.map((e) => Object.values((e as { fields: Record<string, string> }).fields)[0])).toEqual(EXPECTED);

      // More events on both topics, then a restart: the state is restored by replaying both topics
      // up to the sink's offsets, in the same order, before the new events are folded in.
      const more = [{ ts: 12, label: 'a12', topic: A }, { ts: 11, label: 'b11', topic: B }];
      for (const e of more) await backend.produce(e.topic, [{ key: 'k', value: Buffer.from(e.label), timestamp: 1_700_000_000_000 + e.ts, partition: 0 }]);
      const seen: string[][] = [];
      const watching: Processor<{ seen: string[] }, string> = { ...processor, apply(state, label, source) { const effects = processor.apply(state, label, source); seen.push([...state.seen]); return effects; } };
      const second = await startProcessor({ processor: watching, sink, stateful: true }, { backend, codec, groupPrefix: 'order', lingerMs: 5 });
      await eventually(async () => sink.applied.length === EXPECTED.length + 2, 20_000, 'the new events applied');
      await second.stop();
      expect(seen.at(-1)).toEqual([...EXPECTED, 'b11', 'a12']);
    } finally {
      await backend.close();
    }
  }, 60_000);

  it('applies a punctuation that follows a full batch without waiting for another record', async () => {
    const backend = await open();
    try {
      const topic = 'punctuation-input';
      await backend.ensureTopics([spec(topic), spec(codec.deadLetterTopic)]);
      // Records alone produce nothing; the punctuation publishes how many there were (like trending).
      const counter: Processor<{ count: number }, string> = {
        name: 'punctuation-counter', inputs: [topic], init: () => ({ count: 0 }),
        apply(state) { state.count++; return []; },
        punctuate: (state) => [{ kind: 'hset', key: 'count', fields: { n: String(state.count) } }],
      };
      const sink = memorySink();
      // A batch is full after 4 records: the 4th flushes it right before the punctuation.
      const running = await startProcessor({ processor: counter, sink, stateful: true }, { backend, codec, groupPrefix: 'punct', lingerMs: 5, maxBatchEffects: 4 });
      await backend.produce(topic, ['1', '2', '3', '4'].map((v, i) => ({ key: 'k', value: Buffer.from(v), timestamp: 1_700_000_000_000 + i, partition: 0 })));
      const published = () => sink.applied.map((e) => (e as { fields: Record<string, string> }).fields.n);
      await eventually(async () => published().includes('4'), 10_000, 'the punctuation after the 4th record applied');
      await running.stop();
    } finally {
      await backend.close();
    }
  }, 60_000);
}

describe('runtime input order (embedded log)', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());
  orderSuite(() => createTopicBackend({ dataDir: data.dir }));
});

describeWith(['kafka'], 'runtime input order (Kafka)', () => {
  const data = tempDataDir();
  afterAll(() => data.remove());
  orderSuite(async () => namespacedBackend(await createTopicBackend({ kafkaBrokers: SERVICES.kafka.split(','), dataDir: data.dir }), `order${randomBytes(4).toString('hex')}`));
});
