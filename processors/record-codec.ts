// How the runtime reads and writes records: events through the serde (Confluent-framed Avro),
// internal repartition records through their topic's envelope (schemas/internal-records.ts), dead
// letters through the serde too.
import avro from 'avsc';
import type { Client } from '@confluentinc/schemaregistry';
import { deadLetterFor } from '../schemas/dead-letter.ts';
import { DecodeError, SchemaNotLoadedError } from '../schemas/errors.ts';
import { internalRecordSchema } from '../schemas/internal-records.ts';
import { HEADER_BYTES, MAGIC_BYTE, readSchemaId, type Serde } from '../schemas/serde.ts';
import { TOPICS } from '../schemas/events.ts';
import type { TopicRecord, TopicSpec } from '../topics/types.ts';
import { DecodeFailure, type Origin, type RecordCodec } from './runtime.ts';

interface InternalRecord {
  source_topic: string; source_partition: number; source_offset: number; source_index: number;
  /** The typed value, or its JSON in records written before the value had a schema. */
  payload: string | Record<string, unknown>;
}

/** One internal topic's envelope: the id records are written under, and a reader per registered id. */
interface InternalTopicCodec {
  id: number;
  type: avro.Type;
  /** Registered ids of the topic's subject → resolver from that version (undefined: the current one). */
  readers: Map<number, avro.Resolver | undefined>;
}

/**
 * Decoded records shared between the processors of this process. Up to five processors read the same
 * source record, each through its own consumer, a few thousand records apart: decoding it once and
 * handing the others the same value saves most of the Avro work (and its garbage). Per
 * topic-partition a ring keeps the last RING_SIZE decoded offsets (slot = offset mod size), so a
 * lookup is an array index, not a hash. Values are read-only for processors (they already are: a
 * processor changes only its own state).
 */
export const DECODE_RING_SIZE = 4096;

class DecodedRing {
  readonly offsets: Float64Array;
  /** Timestamp and length of the bytes decoded: the same position with other bytes (a recreated topic) misses. */
  readonly timestamps: Float64Array;
  readonly lengths: Int32Array;
  readonly values: unknown[];
  constructor(readonly mask: number) {
    this.offsets = new Float64Array(mask + 1).fill(-1);
    this.timestamps = new Float64Array(mask + 1);
    this.lengths = new Int32Array(mask + 1);
    this.values = new Array(mask + 1).fill(undefined);
  }
}

class DecodedCache {
  private readonly rings = new Map<string, DecodedRing[]>();
  private readonly mask: number;
  constructor(size: number) {
    // A power of two, so the slot is a mask.
    this.mask = 2 ** Math.ceil(Math.log2(size)) - 1;
  }

  private ring(record: TopicRecord): DecodedRing {
    let byPartition = this.rings.get(record.topic);
    if (!byPartition) this.rings.set(record.topic, (byPartition = []));
    return byPartition[record.partition] ??= new DecodedRing(this.mask);
  }

  get(record: TopicRecord): unknown {
    const ring = this.rings.get(record.topic)?.[record.partition];
    if (!ring) return undefined;
    const slot = record.offset & ring.mask;
    if (ring.offsets[slot] !== record.offset || ring.timestamps[slot] !== record.timestamp
      || ring.lengths[slot] !== record.value.length) return undefined;
    return ring.values[slot];
  }

  set(record: TopicRecord, value: unknown): void {
    const ring = this.ring(record);
    const slot = record.offset & ring.mask;
    ring.offsets[slot] = record.offset;
    ring.timestamps[slot] = record.timestamp;
    ring.lengths[slot] = record.value.length;
    ring.values[slot] = value;
  }
}

/** Values read from internal topics carry their origin under this symbol-free key. */
export const ORIGIN = '__origin';

export async function createRecordCodec(options: {
  serde: Serde;
  registry: Client;
  /** Internal topics with their value schemas (TopicSpec.valueSchema). */
  internalTopics: Array<Pick<TopicSpec, 'name' | 'valueSchema'>>;
  now?: () => number;
  /** Decoded records kept per topic-partition for other processors of this process (0 = no sharing). */
  decodeRingSize?: number;
}): Promise<RecordCodec> {
  const { serde, registry } = options;
  const now = options.now ?? Date.now;
  // One subject per internal topic (TopicNameStrategy): each holds one envelope. Records written
  // under its earlier versions (before source_index, before typed values) are read through a resolver,
  // so topics written by an older darkroom still replay.
  const internal = new Map<string, InternalTopicCodec>();
  for (const topic of options.internalTopics) {
    if (!topic.valueSchema) throw new Error(`internal topic ${topic.name} declares no value schema`);
    const schema = internalRecordSchema(topic.valueSchema);
    const type = avro.Type.forSchema(schema as avro.Schema);
    const subject = `${topic.name}-value`;
    const id = await registry.register(subject, { schemaType: 'AVRO', schema: JSON.stringify(schema) }, false);
    const readers = new Map<number, avro.Resolver | undefined>([[id, undefined]]);
    for (const version of await registry.getAllVersions(subject)) {
      const meta = await registry.getSchemaMetadata(subject, version, false);
      if (meta.id === undefined || readers.has(meta.id)) continue;
      readers.set(meta.id, type.createResolver(avro.Type.forSchema(JSON.parse(meta.schema!))));
    }
    internal.set(topic.name, { id, type, readers });
  }
  const ringSize = options.decodeRingSize ?? DECODE_RING_SIZE;
  const cache = ringSize > 0 ? new DecodedCache(ringSize) : undefined;

  function decodeInternal(topic: InternalTopicCodec, value: Buffer): Record<string, unknown> {
    const id = readSchemaId(value);
    if (!topic.readers.has(id)) throw new DecodeFailure(`unknown-schema-id: ${id} is not a schema of this internal topic`);
    try {
      const record = topic.type.fromBuffer(value.subarray(HEADER_BYTES), topic.readers.get(id)) as InternalRecord;
      const payload = typeof record.payload === 'string' ? JSON.parse(record.payload) as Record<string, unknown> : record.payload;
      const origin: Origin = { topic: record.source_topic, partition: record.source_partition, offset: record.source_offset, index: record.source_index };
      payload[ORIGIN] = origin;
      return payload;
    } catch (error) {
      throw new DecodeFailure(`invalid-body: ${(error as Error).message}`);
    }
  }

  const asFailure = (error: unknown): never => {
    if (error instanceof DecodeError) throw new DecodeFailure(`${error.reason}: ${error.message}`);
    if (error instanceof DecodeFailure) throw error;
    throw error;
  };

  return {
    deadLetterTopic: TOPICS.deadLetters,
    isInternal: (topic) => internal.has(topic),
    decode(record: TopicRecord) {
      const topic = internal.get(record.topic);
      // Internal records have one reader each: nothing to share.
      const shared = cache !== undefined && topic === undefined;
      if (shared) {
        const hit = cache!.get(record);
        if (hit !== undefined) return hit;
      }
      try {
        if (topic) return decodeInternal(topic, record.value);
        const value = serde.decodeSync(record.value);
        if (shared) cache!.set(record, value);
        return value;
      } catch (error) {
        if (error instanceof SchemaNotLoadedError) return serde.decode(record.value).catch(asFailure);
        return asFailure(error);
      }
    },
    sourceOf(decoded) {
      return (decoded as Record<string, unknown> | null)?.[ORIGIN] as Origin | undefined;
    },
    encodeInternal(name, value, source) {
      const topic = internal.get(name);
      if (topic === undefined) throw new Error(`${name} is not a declared internal topic`);
      const envelope = {
        source_topic: source.topic, source_partition: source.partition, source_offset: source.offset,
        source_index: source.index, payload: value,
      };
      let body: Buffer;
      try {
        body = topic.type.toBuffer(envelope);
      } catch {
        // A processor wrote a value its topic's schema does not describe: name the fields.
        const wrong: string[] = [];
        topic.type.isValid(envelope, { errorHook: (path) => wrong.push(path.join('.')) });
        throw new Error(`${name}: the value does not match the topic's schema (${wrong.join(', ') || 'unknown field'})`);
      }
      const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
      out[0] = MAGIC_BYTE;
      out.writeInt32BE(topic.id, 1);
      body.copy(out, HEADER_BYTES);
      return out;
    },
    async encodeDeadLetter(record, reason) {
      const cut = reason.indexOf(': ');
      const letter = deadLetterFor(record, new DecodeError('invalid-body', reason), now());
      letter.reason = cut > 0 ? reason.slice(0, cut) : reason;
      letter.detail = cut > 0 ? reason.slice(cut + 2) : null;
      return (await serde.encodeDeadLetter(letter)).value;
    },
  };
}
