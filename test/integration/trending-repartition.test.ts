// Trending's repartition topic: every tag of a post is one use, even when several tags of one post land
// in the same partition; a record re-sent after a crash upstream is dropped; records written by an
// older darkroom (envelopes without source_index, values as JSON) still read. On the embedded log, with the
// real record codec and file-backed registry.
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.ts';
import { tempDataDir } from '../helpers/tmp.ts';
import { TOPICS, type DarkroomEvent } from '../../schemas/events.ts';
import { createRegistryClient } from '../../schemas/registry/index.ts';
import { createSerde } from '../../schemas/serde.ts';
import { createRecordCodec } from '../../processors/record-codec.ts';
import { internalValueSchema } from '../../schemas/internal-records.ts';
import { ABUSE_FOLLOWS_TOPIC } from '../../processors/abuse/keys.ts';
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

  // What darkroom registered before values had schemas of their own: the value as a JSON string, first
  // without source_index, then with it.
  const envelope = (fields: object[]) => ({ type: 'record', name: 'InternalRecord', namespace: 'io.darkroom.internal', fields });
  const firstEnvelope = envelope([
    { name: 'source_topic', type: 'string' }, { name: 'source_partition', type: 'int' }, { name: 'source_offset', type: 'long' },
    { name: 'payload', type: 'string' },
  ]);
  const jsonEnvelope = envelope([...firstEnvelope.fields.slice(0, 3), { name: 'source_index', type: 'int', default: 0 }, { name: 'payload', type: 'string' }]);
  const topic = { name: TRENDING_REPARTITION_TOPIC, valueSchema: internalValueSchema('hashtag_use') };
  const use = { hashtag: 'cats', author_id: 'ana', post_id: 'p9', ts: 1_764_000_000_123 };
  const framed = (id: number, body: Buffer) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, body]);
  };
  const record = (value: Buffer) => ({ topic: TRENDING_REPARTITION_TOPIC, partition: 0, offset: 0, key: 'cats', value, timestamp: 0 });

  it('decode through the registered earlier schemas, JSON values included; new records are typed', async () => {
    const registry = createRegistryClient({ dataDir: root.dir });
    const subject = `${TRENDING_REPARTITION_TOPIC}-value`;
    const firstId = await registry.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(firstEnvelope) }, false);
    const jsonId = await registry.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(jsonEnvelope) }, false);
    const first = framed(firstId, avro.Type.forSchema(firstEnvelope as avro.Schema).toBuffer({
      source_topic: TOPICS.posts, source_partition: 2, source_offset: 41, payload: JSON.stringify(use),
    }));
    const json = framed(jsonId, avro.Type.forSchema(jsonEnvelope as avro.Schema).toBuffer({
      source_topic: TOPICS.posts, source_partition: 2, source_offset: 42, source_index: 1, payload: JSON.stringify(use),
    }));

    // The registry (BACKWARD by default) accepts the typed envelope as the subject's next version.
    const codec = await createRecordCodec({ serde: createSerde(registry), registry, internalTopics: [topic] });
    expect((await registry.getAllVersions(subject)).length).toBe(3);

    const fromFirst = await codec.decode(record(first));
    expect({ ...fromFirst as object }).toMatchObject(use);
    expect(codec.sourceOf(fromFirst)).toEqual({ topic: TOPICS.posts, partition: 2, offset: 41, index: 0 });
    const fromJson = await codec.decode(record(json));
    expect({ ...fromJson as object }).toMatchObject(use);
    expect(codec.sourceOf(fromJson)).toEqual({ topic: TOPICS.posts, partition: 2, offset: 42, index: 1 });

    const typed = await codec.encodeInternal(TRENDING_REPARTITION_TOPIC, { ...use }, { topic: TOPICS.posts, partition: 2, offset: 43, index: 0 });
    expect(typed.readInt32BE(1)).not.toBe(jsonId);
    const fromTyped = await codec.decode(record(typed));
    expect({ ...fromTyped as object }).toEqual({ ...use, __origin: { topic: TOPICS.posts, partition: 2, offset: 43, index: 0 } });
    // The value's field names and digits no longer travel as text.
    expect(typed.length).toBeLessThan(json.length - 40);
    await (registry as unknown as { close?: () => unknown }).close?.();
  });

  it('refuses an envelope registered for another internal topic, and a value its schema does not describe', async () => {
    const registry = createRegistryClient({ dataDir: root.dir });
    const codec = await createRecordCodec({
      serde: createSerde(registry), registry,
      internalTopics: [topic, { name: ABUSE_FOLLOWS_TOPIC, valueSchema: internalValueSchema('follow_by_follower') }],
    });
    const follow = await codec.encodeInternal(ABUSE_FOLLOWS_TOPIC, { follower_id: 'a', followee_id: 'b', ts: 1 }, { topic: TOPICS.socialGraph, partition: 0, offset: 0, index: 0 });
    await expect(Promise.resolve().then(() => codec.decode(record(follow)))).rejects.toThrow(/unknown-schema-id/);
    // A value its topic's schema does not describe fails at once, naming the fields.
    expect(() => codec.encodeInternal(ABUSE_FOLLOWS_TOPIC, { follower_id: 'a', ts: 'soon' }, { topic: TOPICS.socialGraph, partition: 0, offset: 1, index: 0 }))
      .toThrow(/abuse-follows-by-follower: the value does not match the topic's schema \(.*followee_id.*ts/);
    await (registry as unknown as { close?: () => unknown }).close?.();
  });
});
