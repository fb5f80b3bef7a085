// Trending's repartition topic: every tag of a post is one use, even when several tags of one post land
// in the same partition; a record re-sent after a crash upstream is dropped; records written by an
// older darkroom (internal schema without source_index) still read. On the embedded log, with the
// real record codec and file-backed registry.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.ts';
import { tempDataDir } from '../helpers/tmp.ts';
import { TOPICS, type DarkroomEvent } from '../../schemas/events.ts';
import { createRegistryClient } from '../../schemas/registry/index.ts';
import { createSerde } from '../../schemas/serde.ts';
import { createRecordCodec } from '../../processors/record-codec.ts';
import { TRENDING_REPARTITION_TOPIC, trendingUsesKey } from '../../processors/trending-hashtags/index.ts';

const post = (id: string, offsetMs: number, hashtags: string[]): DarkroomEvent => ({
  type: 'post_created', event_id: `e-${id}`, ts: Date.now() - offsetMs, post_id: id, author_id: 'ana',
  caption: hashtags.map((h) => `#${h}`).join(' '), media_type: 'photo', hashtags,
} as DarkroomEvent);

describe('trending repartition: uses of one post, re-sent records', () => {
  const root = tempDataDir('darkroom-trending-repartition-');
  let platform: TestPlatform;
  const uses = async () => platform.views.hgetallMany(platform.generation, [trendingUsesKey(0)]).then(([h]) => h ?? {});

  beforeAll(async () => {
    // One partition: every tag of a post lands in the same partition of the repartition topic.
    platform = await startTestPlatform({ mode: 'embedded', dataDir: root.dir, topology: { partitions: 1 } });
  });
  afterAll(async () => {
    await platform?.close();
    root.remove();
  });

  it('counts each tag of a post once, and drops the post\'s records when they are sent again', async () => {
    await platform.producer.send([post('p1', 60_000, ['sunrise', 'beach', 'cats'])]);
    await platform.caughtUp(30_000);
    expect(await uses()).toEqual({ sunrise: '1', beach: '1', cats: '1' });

    // What an extractor that crashed before storing its offsets writes again: the same origins.
    const [{ offset }] = await platform.backend.endOffsets(TOPICS.posts);
    const origin = (index: number) => ({ topic: TOPICS.posts, partition: 0, offset: offset - 1, index });
    const use = (hashtag: string) => ({ hashtag, author_id: 'ana', post_id: 'p1', ts: Date.now() - 60_000 });
    const again = ['sunrise', 'beach', 'cats'].map((tag, i) => ({
      key: tag, value: platform.codec.encodeInternal(TRENDING_REPARTITION_TOPIC, use(tag), origin(i)) as Buffer, timestamp: Date.now(),
    }));
    await platform.backend.produce(TRENDING_REPARTITION_TOPIC, again);
    await platform.producer.send([post('p2', 30_000, ['cats', 'dogs'])]);
    await platform.caughtUp(30_000);
    expect(await uses()).toEqual({ sunrise: '1', beach: '1', cats: '2', dogs: '1' });
  });
});

describe('internal records of an older darkroom', () => {
  const root = tempDataDir('darkroom-internal-schema-');
  afterAll(() => root.remove());

  it('decode through the registered earlier schema, as index 0', async () => {
    const registry = createRegistryClient({ dataDir: root.dir });
    const current = JSON.parse(readFileSync(new URL('../../schemas/avro/internal_record.avsc', import.meta.url), 'utf8'));
    const earlier = { ...current, fields: current.fields.filter((f: { name: string }) => f.name !== 'source_index') };
    const subject = `${TRENDING_REPARTITION_TOPIC}-value`;
    const earlierId = await registry.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(earlier) }, false);
    const body = avro.Type.forSchema(earlier).toBuffer({ source_topic: TOPICS.posts, source_partition: 2, source_offset: 41, payload: JSON.stringify({ hashtag: 'cats' }) });
    const header = Buffer.alloc(5);
    header.writeInt32BE(earlierId, 1);

    const codec = await createRecordCodec({ serde: createSerde(registry), registry, internalTopics: [TRENDING_REPARTITION_TOPIC] });
    const decoded = await codec.decode({ topic: TRENDING_REPARTITION_TOPIC, partition: 0, offset: 0, key: 'cats', value: Buffer.concat([header, body]), timestamp: 0 });
    expect(decoded).toMatchObject({ hashtag: 'cats' });
    expect(codec.sourceOf(decoded)).toEqual({ topic: TOPICS.posts, partition: 2, offset: 41, index: 0 });
    // The current schema is a later version of the same subject, so both ids decode.
    expect((await registry.getAllVersions(subject)).length).toBe(2);
    await (registry as unknown as { close?: () => unknown }).close?.();
  });
});
