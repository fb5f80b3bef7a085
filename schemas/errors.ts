// Errors of the schema layer. A DecodeError means the bytes themselves are bad (the record goes to
// the dead-letter topic with its `reason`); anything else thrown while decoding (registry down,
// network) is transient and must be retried, never dead-lettered.

export type DecodeErrorReason =
  /** A zero-length value (a tombstone): no event in it. */
  | 'empty-value'
  /** The first byte is not 0, Confluent's wire-format magic byte. */
  | 'bad-magic-byte'
  /** Fewer than the 5 header bytes (magic byte + 4-byte schema id). */
  | 'truncated-header'
  /** The registry does not know the schema id in the header. */
  | 'unknown-schema-id'
  /** The schema id names a schema that is not one of darkroom's events. */
  | 'not-an-event-schema'
  /** The writer schema cannot be resolved to the reader schema (schema evolution broke). */
  | 'incompatible-schema'
  /** The Avro body ends before the record does. */
  | 'truncated-body'
  /** Bytes left over after the record: the body was not written with that schema. */
  | 'trailing-bytes'
  /** The Avro body is malformed (bad enum index, negative length, ...). */
  | 'invalid-body';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly reason: DecodeErrorReason,
    message: string,
    readonly schemaId?: number,
  ) {
    super(message);
  }
}

/** `encodeSync`/`decodeSync` met a schema not loaded yet: call the async variant (or `warm()`) first. */
export class SchemaNotLoadedError extends Error {
  override readonly name = 'SchemaNotLoadedError';
}

/** An event that its Avro schema cannot represent (a bug upstream of the serde: validation let it through). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

/** The registry refused a schema (e.g. incompatible with the subject's earlier versions). */
export class SchemaRegistrationError extends Error {
  override readonly name = 'SchemaRegistrationError';
}
