// Events <-> bytes on the topics, in Confluent's wire format so any Kafka tool can read them:
//   byte 0      magic byte 0
//   bytes 1..4  schema id, 32-bit big-endian, as assigned by the registry
//   bytes 5..   the Avro binary body, written with that schema
// Decoding resolves the writer's schema (looked up by id) to this process's reader schema, so
// records written before or after a compatible schema change stay readable.
//
// The registry is asked once per schema; afterwards encode/decode are synchronous (cached avsc types
// and resolvers). `encodeSync`/`decodeSync` are the hot path once `warm()` loaded every event schema;
// `encode`/`decode`/`decodeBatch` load what is missing and then take the same path.
import avro from 'avsc';
import { RestError, type Client, type SchemaInfo } from '@confluentinc/schemaregistry';
import { EVENT_ROUTES, EVENT_TYPES, routeOf, TOPICS, type DarkroomEvent, type EventType } from './events.ts';
import {
  DEAD_LETTER_RECORD, DEAD_LETTER_SCHEMA, EVENT_SCHEMAS, eventTypeOfRecord, recordFullNameOf, subjectFor,
  type AvroSchema,
} from './avro-schemas.ts';
import type { DeadLetter } from './dead-letter.ts';
import { readProblem } from './registry/compatibility.ts';
import { DecodeError, EncodeError, SchemaNotLoadedError, SchemaRegistrationError } from './errors.ts';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export interface EncodedEvent { topic: string; key: string; value: Buffer }

export interface SerdeOptions {
  /** Register this process's schemas when missing (else they must be registered already). Default true. */
  autoRegister?: boolean;
  /**
   * Schemas to write and read with instead of schemas/avro/<type>.avsc, per event type: how a
   * process built against another version of the catalog sees the events (used by evolution tests).
   */
  schemas?: Partial<Record<EventType, AvroSchema>>;
}

export interface Serde {
  /** Registers (or looks up) every event schema and loads every registered version for decoding. */
  warm(): Promise<void>;
  encode(event: DarkroomEvent): Promise<EncodedEvent>;
  /** Throws SchemaNotLoadedError when the event's schema id is not known yet (see `warm`). */
  encodeSync(event: DarkroomEvent): EncodedEvent;
  /** Throws DecodeError for bad bytes; other errors (registry unreachable) are transient. */
  decode(value: Buffer): Promise<DarkroomEvent>;
  /** Throws SchemaNotLoadedError when the record's schema id was not loaded yet. */
  decodeSync(value: Buffer): DarkroomEvent;
  /** Decodes a batch, loading unseen schema ids once; bad records come back as DecodeError values. */
  decodeBatch(values: readonly Buffer[]): Promise<Array<DarkroomEvent | DecodeError>>;
  encodeDeadLetter(letter: DeadLetter): Promise<EncodedEvent>;
  decodeDeadLetter(value: Buffer): Promise<DeadLetter>;
  /** The id this serde writes `type` with, once known. */
  schemaIdOf(type: EventType): number | undefined;
}

// Decoded records are instances of avsc's generated record classes (fast to build): own enumerable
// fields only, no methods on the prototype. avsc fills `registry` in the options, hence a fresh object.
const typeOptions = () => ({ omitRecordMethods: true });

interface Writer { id: number; type: avro.Type; topic: string; subject: string }
interface Reader { fullName: string; type: avro.Type; resolver?: avro.Resolver }
type ReaderOrFailure = Reader | DecodeError;

/** Reads the 5-byte Confluent header; throws DecodeError when it is not one. */
export function readSchemaId(value: Buffer): number {
  if (value.length === 0) throw new DecodeError('empty-value', 'empty record value');
  if (value[0] !== MAGIC_BYTE) {
    throw new DecodeError('bad-magic-byte', `magic byte is ${value[0]}, expected ${MAGIC_BYTE} (Confluent wire format with a 4-byte schema id)`);
  }
  if (value.length < HEADER_BYTES) {
    throw new DecodeError('truncated-header', `record value has ${value.length} bytes, shorter than the 5-byte header`);
  }
  return value.readInt32BE(1);
}

function frame(id: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(id, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

function isNotFound(err: unknown): boolean {
  return err instanceof RestError && err.status === 404;
}

export function createSerde(registry: Client, options: SerdeOptions = {}): Serde {
  const autoRegister = options.autoRegister ?? true;

  // This process's view of each record: written with, and what foreign writers resolve to.
  const readerTypes = new Map<string, avro.Type>();
  const schemaInfos = new Map<string, SchemaInfo>(); // registered as written, docs included
  const addRecord = (fullName: string, schema: AvroSchema) => {
    readerTypes.set(fullName, avro.Type.forSchema(schema as avro.Schema, typeOptions()));
    schemaInfos.set(fullName, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
  };
  for (const eventType of EVENT_TYPES) {
    addRecord(recordFullNameOf(eventType), options.schemas?.[eventType] ?? EVENT_SCHEMAS[eventType]);
  }
  addRecord(DEAD_LETTER_RECORD, DEAD_LETTER_SCHEMA);

  const writers = new Map<string, Writer>(); // by record full name
  const pendingWriters = new Map<string, Promise<Writer>>();
  const readers = new Map<number, ReaderOrFailure>(); // by schema id
  const pendingReaders = new Map<number, Promise<ReaderOrFailure>>();

  function loadWriter(fullName: string, topic: string): Promise<Writer> {
    const known = writers.get(fullName);
    if (known) return Promise.resolve(known);
    let pending = pendingWriters.get(fullName);
    if (!pending) {
      pending = (async () => {
        const type = readerTypes.get(fullName)!;
        const info = schemaInfos.get(fullName)!;
        const subject = subjectFor(topic, fullName);
        let id: number;
        try {
          id = autoRegister
            ? await registry.register(subject, info, false)
            : await registry.getId(subject, info, false);
        } catch (err) {
          const what = autoRegister ? 'cannot register' : 'no registered';
          throw new SchemaRegistrationError(`${what} schema for ${fullName} under subject "${subject}": ${(err as Error).message}`, { cause: err });
        }
        const writer = { id, type, topic, subject };
        writers.set(fullName, writer);
        // Our own records decode without a registry round trip.
        readers.set(id, { fullName, type });
        return writer;
      })().finally(() => pendingWriters.delete(fullName));
      pendingWriters.set(fullName, pending);
    }
    return pending;
  }

  function loadReader(id: number): Promise<ReaderOrFailure> {
    const known = readers.get(id);
    if (known) return Promise.resolve(known);
    let pending = pendingReaders.get(id);
    if (!pending) {
      pending = (async () => {
        let info: SchemaInfo;
        try {
          info = await registry.getBySubjectAndId('', id);
        } catch (err) {
          // Only "no such id" is the record's fault; anything else (registry down) is retried.
          if (!isNotFound(err)) throw err;
          return new DecodeError('unknown-schema-id', `schema id ${id} is not in the registry`, id);
        }
        const entry = readerFor(id, info);
        readers.set(id, entry); // a schema id never changes meaning, so failures are final too
        return entry;
      })().finally(() => pendingReaders.delete(id));
      pendingReaders.set(id, pending);
    }
    return pending;
  }

  function readerFor(id: number, info: SchemaInfo): ReaderOrFailure {
    let writer: avro.Type;
    try {
      writer = avro.Type.forSchema(JSON.parse(info.schema) as avro.Schema, typeOptions());
    } catch (err) {
      return new DecodeError('not-an-event-schema', `schema id ${id} is not a usable Avro schema: ${(err as Error).message}`, id);
    }
    const fullName = writer.name;
    const reader = fullName ? readerTypes.get(fullName) : undefined;
    if (!fullName || !reader) {
      return new DecodeError('not-an-event-schema', `schema id ${id} (${fullName ?? writer.typeName}) is not a darkroom record`, id);
    }
    if (reader.equals(writer)) return { fullName, type: reader };
    const problem = readProblem(reader, writer);
    if (problem) return new DecodeError('incompatible-schema', `schema id ${id} cannot be read as ${fullName}: ${problem}`, id);
    return { fullName, type: reader, resolver: reader.createResolver(writer) };
  }

  function encodeWith(writer: Writer, value: object, what: string): Buffer {
    let body: Buffer;
    try {
      body = writer.type.toBuffer(value);
    } catch (err) {
      throw new EncodeError(`${what} does not fit schema ${writer.subject}: ${(err as Error).message}`);
    }
    return frame(writer.id, body);
  }

  /** Decodes a framed record whose schema id is loaded; returns the record and its full name. */
  function decodeLoaded(value: Buffer, id: number, entry: ReaderOrFailure): { fullName: string; record: Record<string, unknown> } {
    if (entry instanceof DecodeError) throw entry;
    const body = value.subarray(HEADER_BYTES);
    try {
      return { fullName: entry.fullName, record: entry.type.fromBuffer(body, entry.resolver) };
    } catch (err) {
      const message = (err as Error).message;
      if (message === 'truncated buffer') throw new DecodeError('truncated-body', `Avro body ends early for schema id ${id}`, id);
      if (message === 'trailing data') throw new DecodeError('trailing-bytes', `bytes left after the record for schema id ${id}`, id);
      throw new DecodeError('invalid-body', `malformed Avro body for schema id ${id}: ${message}`, id);
    }
  }

  function toEvent(fullName: string, record: Record<string, unknown>, id: number): DarkroomEvent {
    const type = eventTypeOfRecord(fullName);
    if (!type) throw new DecodeError('not-an-event-schema', `schema id ${id} is ${fullName}, not an event`, id);
    record.type = type;
    return record as unknown as DarkroomEvent;
  }

  function decodeSync(value: Buffer): DarkroomEvent {
    const id = readSchemaId(value);
    const entry = readers.get(id);
    if (!entry) throw new SchemaNotLoadedError(`schema id ${id} is not loaded; use decode() or decodeBatch()`);
    const { fullName, record } = decodeLoaded(value, id, entry);
    return toEvent(fullName, record, id);
  }

  function encodeSync(event: DarkroomEvent): EncodedEvent {
    const writer = writers.get(recordFullNameOf(event.type));
    if (!writer) throw new SchemaNotLoadedError(`schema of ${event.type} is not loaded; use encode() or warm()`);
    const { topic, key } = routeOf(event);
    return { topic, key, value: encodeWith(writer, event, `${event.type} event ${event.event_id}`) };
  }

  async function loadAllVersions(subject: string): Promise<void> {
    let versions: number[];
    try {
      versions = await registry.getAllVersions(subject);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const version of versions) {
      const { id } = await registry.getSchemaMetadata(subject, version, false);
      if (id !== undefined) await loadReader(id);
    }
  }

  return {
    async warm() {
      const records = [
        ...EVENT_TYPES.map((type) => [recordFullNameOf(type), EVENT_ROUTES[type].topic] as const),
        [DEAD_LETTER_RECORD, TOPICS.deadLetters] as const,
      ];
      for (const [fullName, topic] of records) {
        try {
          await loadWriter(fullName, topic);
        } catch (err) {
          // A reader that may not register can still decode what others wrote; encoding an
          // unregistered type fails later with the registration error.
          if (autoRegister || !isNotFound((err as Error).cause)) throw err;
        }
        await loadAllVersions(subjectFor(topic, fullName));
      }
    },

    async encode(event) {
      if (!(event.type in EVENT_ROUTES)) throw new EncodeError(`unknown event type "${event.type}"`);
      await loadWriter(recordFullNameOf(event.type), EVENT_ROUTES[event.type].topic);
      return encodeSync(event);
    },

    encodeSync,

    async decode(value) {
      const id = readSchemaId(value);
      const entry = await loadReader(id);
      const { fullName, record } = decodeLoaded(value, id, entry);
      return toEvent(fullName, record, id);
    },

    decodeSync,

    async decodeBatch(values) {
      // Unknown ids are not cached (a registry may learn them later), so remember them per batch.
      const unknown = new Map<number, ReaderOrFailure>();
      for (const value of values) {
        if (value.length >= HEADER_BYTES && value[0] === MAGIC_BYTE) {
          const id = value.readInt32BE(1);
          if (!readers.has(id) && !unknown.has(id)) unknown.set(id, await loadReader(id));
        }
      }
      return values.map((value) => {
        try {
          const id = readSchemaId(value);
          const { fullName, record } = decodeLoaded(value, id, readers.get(id) ?? unknown.get(id)!);
          return toEvent(fullName, record, id);
        } catch (err) {
          if (err instanceof DecodeError) return err;
          throw err;
        }
      });
    },

    async encodeDeadLetter(letter) {
      const writer = await loadWriter(DEAD_LETTER_RECORD, TOPICS.deadLetters);
      return {
        topic: TOPICS.deadLetters,
        key: letter.source_topic,
        value: encodeWith(writer, letter, `dead letter of ${letter.source_topic}/${letter.source_partition}@${letter.source_offset}`),
      };
    },

    async decodeDeadLetter(value) {
      const id = readSchemaId(value);
      const { fullName, record } = decodeLoaded(value, id, await loadReader(id));
      if (fullName !== DEAD_LETTER_RECORD) {
        throw new DecodeError('not-an-event-schema', `schema id ${id} is ${fullName}, not a dead letter`, id);
      }
      return record as unknown as DeadLetter;
    },

    schemaIdOf(type) {
      return writers.get(recordFullNameOf(type))?.id;
    },
  };
}
