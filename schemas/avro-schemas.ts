// The Avro side of the event catalog: one .avsc file per event type in schemas/avro/, plus the
// dead-letter record. The event type is not a field of the record: it is the record's name
// (`post_created` <-> `io.darkroom.events.PostCreated`), so no record pays bytes for it.
import fs from 'node:fs';
import { EVENT_ROUTES, EVENT_TYPES, type EventType } from './events.ts';

export const AVRO_NAMESPACE = 'io.darkroom.events';
export const DEAD_LETTER_RECORD = `${AVRO_NAMESPACE}.DeadLetter`;

/** An Avro schema as parsed JSON (what `avsc.Type.forSchema` accepts). */
export type AvroSchema = Record<string, unknown>;

const avroDir = new URL('./avro/', import.meta.url);

/** A schema file under schemas/avro/, e.g. `post_created.avsc` or `internal/hashtag_use.avsc`. */
export function readSchema(file: string): AvroSchema {
  return JSON.parse(fs.readFileSync(new URL(file, avroDir), 'utf8')) as AvroSchema;
}

/** `post_created` -> `PostCreated`. */
export function recordNameOf(type: EventType): string {
  return type.split('_').map((word) => word[0].toUpperCase() + word.slice(1)).join('');
}

/** `post_created` -> `io.darkroom.events.PostCreated`. */
export function recordFullNameOf(type: EventType): string {
  return `${AVRO_NAMESPACE}.${recordNameOf(type)}`;
}

const typeByFullName = new Map<string, EventType>(EVENT_TYPES.map((type) => [recordFullNameOf(type), type]));

/** The event type a record full name stands for, or undefined for records that are not events. */
export function eventTypeOfRecord(fullName: string): EventType | undefined {
  return typeByFullName.get(fullName);
}

/** The current (reader) schema of every event type, read once from schemas/avro/<type>.avsc. */
export const EVENT_SCHEMAS: { readonly [T in EventType]: AvroSchema } = Object.fromEntries(
  EVENT_TYPES.map((type) => [type, readSchema(`${type}.avsc`)]),
) as { [T in EventType]: AvroSchema };

export const DEAD_LETTER_SCHEMA: AvroSchema = readSchema('dead_letter.avsc');

/**
 * Subject naming. Confluent's default TopicNameStrategy (`<topic>-value`) allows one record type per
 * topic, but our topics carry several event types (follow and block on social-graph, six kinds of
 * engagement). So every subject is `<topic>-<record full name>`, exactly what the package's
 * `TopicRecordNameStrategy` (SubjectNameStrategyType.TOPIC_RECORD) produces: each event type
 * evolves on its own, per topic, and a Java or Python consumer configured with
 * TopicRecordNameStrategy finds the same subjects.
 */
export function subjectFor(topic: string, recordFullName: string): string {
  return `${topic}-${recordFullName}`;
}

export function eventSubject(type: EventType): string {
  return subjectFor(EVENT_ROUTES[type].topic, recordFullNameOf(type));
}
