import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import avsc from 'avsc';
import {
  AvroDeserializer, AvroSerializer, SerdeType, SubjectNameStrategyType, type Client,
} from '@confluentinc/schemaregistry';
import { FileRegistryClient } from '../../schemas/registry/index.ts';
import { createSerde, type Serde } from '../../schemas/serde.ts';
import { DecodeError, SchemaNotLoadedError, SchemaRegistrationError, type DecodeErrorReason } from '../../schemas/errors.ts';
import { ALL_EXAMPLE_EVENTS, EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import { EVENT_SCHEMAS, eventSubject } from '../../schemas/avro-schemas.ts';
import { routeOf, type DarkroomEvent, type PostCreated } from '../../schemas/events.ts';
import { deadLetterFor } from '../../schemas/dead-letter.ts';

let dataDir: string;
let registry: FileRegistryClient;
let serde: Serde;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-serde-'));
  registry = new FileRegistryClient({ dataDir });
  serde = createSerde(registry, { autoRegister: true });
});

afterEach(async () => {
  await registry.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** The event as the package's deserializer returns it: the type is the record name, not a field. */
function withoutType(event: DarkroomEvent): Record<string, unknown> {
  const { type: _type, ...fields } = event;
  return fields;
}

async function decodeFailure(value: Buffer, use: Serde = serde): Promise<DecodeError> {
  const err = await use.decode(value).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DecodeError);
  return err as DecodeError;
}

function framed(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

describe('serde round trip through the file registry', () => {
  it.each(ALL_EXAMPLE_EVENTS.map((e) => [e.type, e] as const))('%s survives encode and decode unchanged', async (_type, event) => {
    const encoded = await serde.encode(event);
    expect({ topic: encoded.topic, key: encoded.key }).toEqual(routeOf(event));
    expect(encoded.value[0]).toBe(0);
    const registered = await registry.getLatestSchemaMetadata(eventSubject(event.type));
    expect(encoded.value.readInt32BE(1)).toBe(registered.id);
    expect(await serde.decode(encoded.value)).toEqual(event);
  });

  it('a second serde on the same registry (a restarted process) decodes what the first wrote', async () => {
    const values = await Promise.all(ALL_EXAMPLE_EVENTS.map(async (e) => (await serde.encode(e)).value));
    const other = createSerde(registry, { autoRegister: false });
    expect(await other.decodeBatch(values)).toEqual(ALL_EXAMPLE_EVENTS);
  });

  it('encodeSync and decodeSync need the schema loaded first, then work without the registry', async () => {
    const like = EXAMPLE_EVENTS.like;
    expect(() => serde.encodeSync(like)).toThrow(SchemaNotLoadedError);
    await serde.warm();
    const { value } = serde.encodeSync(like);
    expect(serde.decodeSync(value)).toEqual(like);
    expect(serde.schemaIdOf('like')).toBe(value.readInt32BE(1));
  });

  it('an event that does not fit its schema fails to encode with the field in the message', async () => {
    const bad = { ...EXAMPLE_EVENTS.post_created, media_type: 'hologram' } as unknown as DarkroomEvent;
    await expect(serde.encode(bad)).rejects.toThrow(/post_created event .* does not fit schema posts-io.darkroom.events.PostCreated.*hologram/);
  });

  it('an event of a type outside the catalog fails to encode', async () => {
    await expect(serde.encode({ ...EXAMPLE_EVENTS.like, type: 'poke' } as unknown as DarkroomEvent)).rejects.toThrow('unknown event type "poke"');
  });

  it('without autoRegister an unregistered schema is a clear error', async () => {
    const strict = createSerde(registry, { autoRegister: false });
    await expect(strict.encode(EXAMPLE_EVENTS.like)).rejects.toThrow(SchemaRegistrationError);
    await expect(strict.encode(EXAMPLE_EVENTS.like)).rejects.toThrow(/no registered schema for io.darkroom.events.Like under subject "engagement-io.darkroom.events.Like"/);
  });
});

describe('decode errors carry a reason for the dead-letter topic', () => {
  const reasonOf = async (value: Buffer): Promise<DecodeErrorReason> => (await decodeFailure(value)).reason;

  it('empty value', async () => expect(await reasonOf(Buffer.alloc(0))).toBe('empty-value'));
  it('bad magic byte', async () => expect(await reasonOf(Buffer.from('{"json":"not avro"}'))).toBe('bad-magic-byte'));
  it('truncated header', async () => expect(await reasonOf(Buffer.from([0, 0, 0]))).toBe('truncated-header'));
  it('unknown schema id', async () => expect(await reasonOf(framed(9999, Buffer.from([2, 65])))).toBe('unknown-schema-id'));

  it('truncated body', async () => {
    const { value } = await serde.encode(EXAMPLE_EVENTS.comment);
    expect(await reasonOf(value.subarray(0, value.length - 3))).toBe('truncated-body');
  });

  it('trailing bytes', async () => {
    const { value } = await serde.encode(EXAMPLE_EVENTS.comment);
    expect(await reasonOf(Buffer.concat([value, Buffer.from([1, 2, 3])]))).toBe('trailing-bytes');
  });

  it('invalid body (enum index out of range)', async () => {
    const { value } = await serde.encode({ ...EXAMPLE_EVENTS.post_created, caption: '', hashtags: [] });
    const broken = Buffer.from(value);
    broken[broken.length - 2] = 0x7e; // media_type index 63
    expect(await reasonOf(broken)).toBe('invalid-body');
  });

  it('schema id of a record that is not a darkroom event', async () => {
    const schema = { type: 'record', name: 'com.other.Thing', fields: [{ name: 'x', type: 'int' }] };
    const id = await registry.register('other-value', { schemaType: 'AVRO', schema: JSON.stringify(schema) }, false);
    expect(await reasonOf(framed(id, avsc.Type.forSchema(schema as avsc.Schema).toBuffer({ x: 1 })))).toBe('not-an-event-schema');
  });

  it('writer schema that cannot be resolved to the reader schema', async () => {
    const schema = {
      type: 'record', name: 'io.darkroom.events.Like',
      fields: [{ name: 'event_id', type: 'string' }, { name: 'ts', type: 'long' }, { name: 'user_id', type: 'long' }, { name: 'post_id', type: 'string' }],
    };
    const id = await registry.register('elsewhere-io.darkroom.events.Like', { schemaType: 'AVRO', schema: JSON.stringify(schema) }, false);
    const body = avsc.Type.forSchema(schema as avsc.Schema).toBuffer({ event_id: 'e', ts: 1, user_id: 7, post_id: 'p' });
    const err = await decodeFailure(framed(id, body));
    expect(err.reason).toBe('incompatible-schema');
    expect(err.message).toContain('user_id');
  });

  it('a registry that cannot be reached is not a decode error (the record must be retried)', async () => {
    const down = { getBySubjectAndId: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8081')) } as unknown as Client;
    const err = await createSerde(down).decode(framed(1, Buffer.from([2, 65]))).then(() => undefined, (e: unknown) => e);
    expect(err).not.toBeInstanceOf(DecodeError);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('decodeBatch returns good events and DecodeErrors side by side', async () => {
    const good = (await serde.encode(EXAMPLE_EVENTS.share)).value;
    const out = await createSerde(registry).decodeBatch([good, Buffer.from('junk'), good]);
    expect(out[0]).toEqual(EXAMPLE_EVENTS.share);
    expect((out[1] as DecodeError).reason).toBe('bad-magic-byte');
    expect(out[2]).toEqual(EXAMPLE_EVENTS.share);
  });
});

describe('dead letters', () => {
  it('round trip with source position, reason and the raw bytes', async () => {
    const raw = Buffer.from([1, 2, 3]);
    const letter = deadLetterFor({ topic: 'posts', partition: 3, offset: 1234, key: 'u-bo', value: raw },
      new DecodeError('bad-magic-byte', 'magic byte is 1'), 1_767_225_600_000);
    const encoded = await serde.encodeDeadLetter(letter);
    expect(encoded).toMatchObject({ topic: 'dead-letters', key: 'posts' });
    const back = await serde.decodeDeadLetter(encoded.value);
    expect({ ...back, raw: Buffer.from(back.raw) }).toEqual({ ...letter, reason: 'bad-magic-byte', detail: 'magic byte is 1' });
  });
});

describe('interoperability with @confluentinc/schemaregistry serializers', () => {
  it('records from our serde decode with the package AvroDeserializer (default and TOPIC_RECORD strategies)', async () => {
    const byDefault = new AvroDeserializer(registry, SerdeType.VALUE, {});
    const byTopicRecord = new AvroDeserializer(registry, SerdeType.VALUE, { subjectNameStrategyType: SubjectNameStrategyType.TOPIC_RECORD });
    for (const event of ALL_EXAMPLE_EVENTS) {
      const { topic, value } = await serde.encode(event);
      expect({ ...(await byDefault.deserialize(topic, value)) }).toEqual(withoutType(event));
      expect({ ...(await byTopicRecord.deserialize(topic, value)) }).toEqual(withoutType(event));
    }
  });

  it('records from the package AvroSerializer decode with our serde', async () => {
    await serde.warm(); // registers the schemas the package serializer will look up
    for (const event of ALL_EXAMPLE_EVENTS) {
      const serializer = new AvroSerializer(registry, SerdeType.VALUE, {
        useLatestVersion: true,
        subjectNameStrategy: () => eventSubject(event.type),
      });
      const value = await serializer.serialize(routeOf(event).topic, withoutType(event));
      expect(await createSerde(registry).decode(value)).toEqual(event);
    }
  });
});

describe('schema evolution', () => {
  const V1 = EVENT_SCHEMAS.post_created as { fields: object[] };
  const withField = (field: object) => ({ ...V1, fields: [...V1.fields, field] });
  const V2 = withField({ name: 'location', type: ['null', 'string'], default: null });
  const post = EXAMPLE_EVENTS.post_created;

  it('v2 adds an optional field: v1 records read as v2 with the default, v2 records read as v1 without it', async () => {
    const v1 = createSerde(registry);
    const v2 = createSerde(registry, { schemas: { post_created: V2 } });
    const fromV1 = (await v1.encode(post)).value;
    const fromV2 = (await v2.encode({ ...post, location: 'Lisboa' } as PostCreated)).value;
    expect(fromV2.readInt32BE(1)).not.toBe(fromV1.readInt32BE(1));
    expect(await registry.getAllVersions(eventSubject('post_created'))).toEqual([1, 2]);

    expect(await createSerde(registry, { schemas: { post_created: V2 } }).decode(fromV1)).toEqual({ ...post, location: null });
    expect(await createSerde(registry).decode(fromV2)).toEqual(post);
  });

  it('warm() loads every registered version, so decodeSync reads old and new writers', async () => {
    const oldWriter = (await createSerde(registry).encode(post)).value;
    const newWriter = (await createSerde(registry, { schemas: { post_created: V2 } }).encode({ ...post, location: 'Porto' } as PostCreated)).value;
    const reader = createSerde(registry, { autoRegister: false });
    await reader.warm();
    expect(reader.decodeSync(oldWriter)).toEqual(post);
    expect(reader.decodeSync(newWriter)).toEqual(post);
  });

  it('an incompatible change (a new field without default) is rejected by the registry', async () => {
    await createSerde(registry).encode(post);
    const v3 = createSerde(registry, { schemas: { post_created: withField({ name: 'location', type: 'string' }) } });
    const err = await v3.encode(post).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaRegistrationError);
    expect((err as Error).message).toMatch(/cannot register schema for io.darkroom.events.PostCreated .*incompatible.*location/);
    expect(await registry.getAllVersions(eventSubject('post_created'))).toEqual([1]);
  });
});

describe('hot path speed', () => {
  it('encodeSync and decodeSync handle hundreds of thousands of records per second', async () => {
    await serde.warm();
    for (const e of ALL_EXAMPLE_EVENTS.concat(ALL_EXAMPLE_EVENTS)) serde.decodeSync(serde.encodeSync(e).value); // JIT warm-up
    const events = Array.from({ length: 100_000 }, (_, i) => ALL_EXAMPLE_EVENTS[i % ALL_EXAMPLE_EVENTS.length]);
    const t0 = performance.now();
    const values = events.map((e) => serde.encodeSync(e).value);
    const t1 = performance.now();
    for (const value of values) serde.decodeSync(value);
    const t2 = performance.now();
    const encodePerSecond = Math.round(events.length / ((t1 - t0) / 1000));
    const decodePerSecond = Math.round(events.length / ((t2 - t1) / 1000));
    console.log(`serde: encodeSync ${encodePerSecond}/s, decodeSync ${decodePerSecond}/s (mixed event types)`);
    // A loose floor (the box is shared, numbers are in the log) that still catches a registry
    // round trip or a schema parse per record, which would be 100x slower.
    expect(encodePerSecond).toBeGreaterThan(25_000);
    expect(decodePerSecond).toBeGreaterThan(25_000);
  });
});
