// Bad records on an input topic go to the dead-letter topic with a reason and their source position,
// and processing goes on with the valid events after them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../../schemas/events.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import { tempDataDir } from '../helpers/tmp.ts';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.ts';

const data = tempDataDir();
let platform: TestPlatform;

beforeAll(async () => { platform = await startTestPlatform({ mode: 'embedded', dataDir: data.dir }); });
afterAll(async () => { await platform?.close(); data.remove(); });

describe('dead letters', () => {
  it('garbage bytes and an unknown schema id end up in the dead-letter topic; later events are processed', async () => {
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0x00, 0x02, 0x41]);
    const garbage = Buffer.from('definitely not avro');
    await platform.backend.produce(TOPICS.engagement, [
      { key: 'p-bad', value: garbage, partition: 0 },
      { key: 'p-bad', value: unknownId, partition: 0 },
    ]);
    await platform.producer.send([
      { type: 'like', event_id: '00000000-0000-4000-8000-000000000001', ts: 1_700_000_000_000, user_id: 'u1', post_id: 'p-ok' },
      { type: 'like', event_id: '00000000-0000-4000-8000-000000000002', ts: 1_700_000_000_001, user_id: 'u2', post_id: 'p-ok' },
    ]);
    await platform.caughtUp();

    const [stats] = await platform.views.hgetallMany(platform.generation, [statsKey('p-ok')]);
    expect(Number(stats?.likes)).toBe(2);

    const letters: Array<Awaited<ReturnType<typeof platform.serde.decodeDeadLetter>>> = [];
    const consumer = platform.backend.consumer({ groupId: 'dlq-reader', topics: [TOPICS.deadLetters], reset: 'earliest' });
    await consumer.run({ eachBatch: async (b) => { for (const r of b.records) letters.push(await platform.serde.decodeDeadLetter(r.value)); } });
    const deadline = Date.now() + 10_000;
    // Each consumer of `engagement` (counters, seen-state, analytics) reports the two bad records.
    while (letters.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    const reasons = new Set(letters.map((l) => l.reason));
    expect(reasons).toContain('bad-magic-byte');
    expect(reasons).toContain('unknown-schema-id');
    for (const letter of letters) {
      expect(letter.source_topic).toBe(TOPICS.engagement);
      expect(letter.source_partition).toBe(0);
      expect([0, 1]).toContain(letter.source_offset);
    }
    expect(letters.find((l) => l.reason === 'bad-magic-byte')!.raw.equals(garbage)).toBe(true);
  });
});
