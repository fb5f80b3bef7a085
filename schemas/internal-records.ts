// Records of internal (repartition) topics: a processor's value re-keyed for its next stage, wrapped
// with the position of the source record, so that a record re-sent after a crash is recognised and
// dropped. Each internal topic declares the Avro record of its values (schemas/avro/internal/), and
// its subject (`<topic>-value`) holds one envelope around that record.
//
// darkroom before 2026-12-06 wrote the value as a JSON string. The payload is therefore a union of
// string and the value record: records already on disk (internal topics are kept forever) still
// decode, through the registered earlier version, and a registry enforcing BACKWARD accepts the
// change, since a string is one branch of the new union.
import { readSchema, type AvroSchema } from './avro-schemas.ts';

const INTERNAL_NAMESPACE = 'io.darkroom.internal';

/** The value record of an internal topic, read from schemas/avro/internal/<name>.avsc. */
export function internalValueSchema(name: string): AvroSchema {
  return readSchema(`internal/${name}.avsc`);
}

/** The envelope registered for an internal topic whose values are `value`. */
export function internalRecordSchema(value: AvroSchema): AvroSchema {
  return {
    type: 'record',
    name: 'InternalRecord',
    namespace: INTERNAL_NAMESPACE,
    doc: 'A processor\'s value re-keyed for its next stage, with the position of the record it came from.',
    fields: [
      { name: 'source_topic', type: 'string' },
      { name: 'source_partition', type: 'int' },
      { name: 'source_offset', type: 'long' },
      {
        name: 'source_index', type: 'int', default: 0,
        doc: 'Which of the source record\'s internal records this is (a post with three tags writes three): with the offset, a position no sibling shares.',
      },
      {
        name: 'payload', type: ['string', value],
        doc: 'The value; a JSON string in records written before the value had a schema of its own.',
      },
    ],
  };
}
