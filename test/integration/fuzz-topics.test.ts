// Fuzzed bytes and truncated Avro on every input topic of the topology (source and internal): each
// bad record ends up in the dead-letter topic with a reason and its source position, no processor
// stops, and the valid events written after the garbage are processed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, TOPICS, type DarkroomEvent } from '../../schemas/events.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import type { DeadLetter } from '../../schemas/dead-letter.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import { tempDataDir } from '../helpers/tmp.ts';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.ts';

const data = tempDataDir();
let platform: TestPlatform;

beforeAll(async () => { platform = await startTestPlatform({ mode: 'embedded', dataDir: data.dir }); });
afterAll(async () => { await platform?.close(); data.remove(); });

async function readDeadLetters(atLeast: number): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  const consumer = platform.backend.consumer({ groupId: `dlq-${Date.now()}`, topics: [TOPICS.deadLetters], reset: 'earliest' });
  await consumer.run({ eachBatch: async (b) => { for (const r of b.records) letters.push(await platform.serde.decodeDeadLetter(r.value)); } });
  const deadline = Date.now() + 30_000;
  while (letters.length < atLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await consumer.stop();
  return letters;
}

describe('fuzzed records on every input topic', () => {
  it('go to dead letters with a reason; processing goes on', async () => {
    const inputs = [...new Set(platform.topology.nodes.flatMap((n) => n.processor.inputs))];
    expect(inputs.length).toBeGreaterThan(5);
    const ids = EVENT_TYPES.map((t) => platform.serde.schemaIdOf(t)).filter((id): id is number => id !== undefined);
    const header = (id: number) => Buffer.from([0, (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]);
    const valid = await Promise.all(Object.values(EXAMPLE_EVENTS as Record<string, DarkroomEvent>).map((e) => platform.serde.encode(e)));

    // Records that must be dead letters: garbage without the magic byte, unknown schema ids, truncated Avro.
    const mustFail = new Map<string, Buffer[]>();
    const maybeFail = new Map<string, Buffer[]>();
    const seed = 20_260_301;
    for (const topic of inputs) {
      const bad: Buffer[] = [];
      for (const bytes of fc.sample(fc.uint8Array({ minLength: 0, maxLength: 200 }), { numRuns: 10, seed })) {
        bad.push(Buffer.concat([Buffer.from([1 + (bytes[0] ?? 0) % 255]), Buffer.from(bytes)])); // not magic byte 0
      }
      bad.push(Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 0, 0]), Buffer.concat([header(0x7ffffff0), Buffer.from('x')]));
      const source = valid.filter((v) => v.topic === topic);
      for (const encoded of source.length ? source : valid.slice(0, 3)) {
        for (const cut of fc.sample(fc.integer({ min: 5, max: encoded.value.length - 1 }), { numRuns: 3, seed })) {
          if (source.length) bad.push(encoded.value.subarray(0, cut)); // truncated Avro of this topic's own events
        }
      }
      mustFail.set(topic, bad);
      // A valid header with a random body may even decode; either way the pipeline must not stop.
      maybeFail.set(topic, fc.sample(fc.tuple(fc.constantFrom(...ids), fc.uint8Array({ maxLength: 100 })), { numRuns: 10, seed })
        .map(([id, body]) => Buffer.concat([header(id), Buffer.from(body)])));
    }
    const start = new Map<string, number>();
    for (const topic of inputs) {
      start.set(topic, (await platform.backend.endOffsets(topic)).find((e) => e.partition === 0)!.offset);
      const records = [...mustFail.get(topic)!, ...maybeFail.get(topic)!].map((value) => ({ key: 'fuzz', value, partition: 0 }));
      await platform.backend.produce(topic, records);
    }
    // Valid events after the garbage.
    await platform.producer.send([
      { type: 'like', event_id: '00000000-0000-4000-8000-0000000000a1', ts: 1_700_000_000_000, user_id: 'u1', post_id: 'p-after' },
      { type: 'like', event_id: '00000000-0000-4000-8000-0000000000a2', ts: 1_700_000_000_001, user_id: 'u2', post_id: 'p-after' },
    ]);
    await platform.caughtUp(120_000);

    const [stats] = await platform.views.hgetallMany(platform.generation, [statsKey('p-after')]);
    expect(Number(stats?.likes)).toBe(2);
    for (const p of platform.pipeline!.processors) expect(p.running.progress().lastError, p.name).toBeUndefined();

    // Each consumer of a topic reports each of its bad records.
    const expected = platform.topology.nodes.reduce((sum, n) => sum + n.processor.inputs.reduce((s, t) => s + mustFail.get(t)!.length, 0), 0);
    const letters = await readDeadLetters(expected);
    for (const letter of letters) {
      expect(letter.reason).toMatch(/^[a-z-]+$/);
      expect(inputs).toContain(letter.source_topic);
    }
    for (const topic of inputs) {
      const offsets = new Set(letters.filter((l) => l.source_topic === topic).map((l) => l.source_offset));
      const firstOffset = start.get(topic)!;
      mustFail.get(topic)!.forEach((_, i) => expect(offsets.has(firstOffset + i), `${topic} record ${i}`).toBe(true));
    }
    const reasons = new Set(letters.map((l) => l.reason));
    expect(reasons).toContain('bad-magic-byte');
    expect(reasons).toContain('unknown-schema-id');
    expect([...reasons].some((r) => /truncat|invalid-body/.test(r))).toBe(true);
  });
});
