import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import avsc from 'avsc';
import { EVENT_TYPES, MEDIA_TYPES } from '../../schemas/events.ts';
import {
  DEAD_LETTER_SCHEMA, EVENT_SCHEMAS, eventSubject, eventTypeOfRecord, recordFullNameOf,
} from '../../schemas/avro-schemas.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';

type Field = { name: string; type: unknown; default?: unknown };
const fieldsOf = (schema: object) => (schema as { fields: Field[] }).fields;

describe('Avro schema files', () => {
  it('there is one .avsc per event type, plus the dead letter', () => {
    const files = fs.readdirSync(new URL('../../schemas/avro/', import.meta.url));
    expect(files).toEqual(expect.arrayContaining([...EVENT_TYPES.map((t) => `${t}.avsc`), 'dead_letter.avsc']));
  });

  it.each(EVENT_TYPES)('%s is a record named after the type in io.darkroom.events', (type) => {
    const parsed = avsc.Type.forSchema(EVENT_SCHEMAS[type] as avsc.Schema);
    expect(parsed.name).toBe(recordFullNameOf(type));
    expect(eventTypeOfRecord(parsed.name!)).toBe(type);
  });

  it.each(EVENT_TYPES)('%s has exactly the fields of events.ts (the type is the record name)', (type) => {
    const { type: _type, ...example } = EXAMPLE_EVENTS[type];
    expect(fieldsOf(EVENT_SCHEMAS[type]).map((f) => f.name).sort()).toEqual(Object.keys(example).sort());
  });

  it.each(EVENT_TYPES)('%s starts with event_id string and ts long', (type) => {
    expect(fieldsOf(EVENT_SCHEMAS[type]).slice(0, 2)).toEqual([{ name: 'event_id', type: 'string' }, { name: 'ts', type: 'long' }]);
  });

  it('optional fields are ["null", T] with default null', () => {
    const username = fieldsOf(EVENT_SCHEMAS.profile_updated).find((f) => f.name === 'username');
    expect(username).toEqual({ name: 'username', type: ['null', 'string'], default: null });
  });

  it('media_type is an enum of the catalog media types and hashtags an array of string', () => {
    const fields = fieldsOf(EVENT_SCHEMAS.post_created);
    expect(fields.find((f) => f.name === 'media_type')!.type).toMatchObject({ type: 'enum', symbols: [...MEDIA_TYPES] });
    expect(fields.find((f) => f.name === 'hashtags')!.type).toEqual({ type: 'array', items: 'string' });
  });

  it('dead letters keep source topic, partition, offset, reason, raw bytes and ts', () => {
    const names = fieldsOf(DEAD_LETTER_SCHEMA).map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['source_topic', 'source_partition', 'source_offset', 'reason', 'raw', 'ts']));
    expect(fieldsOf(DEAD_LETTER_SCHEMA).find((f) => f.name === 'raw')!.type).toBe('bytes');
  });

  it('subjects are <topic>-<record full name> so event types share topics', () => {
    expect(eventSubject('post_created')).toBe('posts-io.darkroom.events.PostCreated');
    expect(eventSubject('follow')).toBe('social-graph-io.darkroom.events.Follow');
    expect(new Set(EVENT_TYPES.map(eventSubject)).size).toBe(EVENT_TYPES.length);
  });
});
