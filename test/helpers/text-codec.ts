// A record codec for tests of the runtime alone: values are plain UTF-8 text, nothing is internal.
// What those tests check is the runtime (order, batching), not Avro.
import type { TopicRecord } from '../../topics/types.ts';
import type { RecordCodec } from '../../processors/runtime.ts';

export function textCodec(deadLetterTopic: string): RecordCodec {
  return {
    decode: (record: TopicRecord) => record.value.toString('utf8'),
    encodeInternal: () => Buffer.alloc(0),
    isInternal: () => false,
    sourceOf: () => undefined,
    encodeDeadLetter: (record) => record.value,
    deadLetterTopic,
  };
}
