// Schema compatibility the way Confluent's registry defines it, decided by avsc's schema resolution
// (the same rules a reader applies to data written with another schema):
//   BACKWARD  the new schema can read data written with the previous one (consumers upgrade first)
//   FORWARD   the previous schema can read data written with the new one (producers upgrade first)
//   FULL      both
// The *_TRANSITIVE variants check against every earlier version instead of only the latest.
import avro from 'avsc';
import { Compatibility } from '@confluentinc/schemaregistry';

export const COMPATIBILITY_LEVELS = Object.values(Compatibility) as Compatibility[];

export function isCompatibilityLevel(value: unknown): value is Compatibility {
  return COMPATIBILITY_LEVELS.includes(value as Compatibility);
}

export function parseAvro(schema: string): avro.Type {
  return avro.Type.forSchema(JSON.parse(schema) as avro.Schema);
}

/** Why `reader` cannot read data written with `writer`, or undefined when it can. */
export function readProblem(reader: avro.Type, writer: avro.Type): string | undefined {
  try {
    reader.createResolver(writer);
    return undefined;
  } catch (err) {
    return fieldProblem(reader, writer) ?? (err as Error).message;
  }
}

/** avsc says what failed ("cannot read long as string") but not where; find the field. */
function fieldProblem(reader: avro.Type, writer: avro.Type): string | undefined {
  if (!(reader instanceof avro.types.RecordType) || !(writer instanceof avro.types.RecordType)) return undefined;
  for (const field of reader.fields) {
    const where = `field ${reader.name}.${field.name}`;
    const written = writer.fields.find((f) => f.name === field.name || field.aliases.includes(f.name));
    if (!written) {
      if (field.defaultValue() === undefined) return `${where} is missing from the written data and has no default`;
      continue;
    }
    try {
      field.type.createResolver(written.type);
    } catch (err) {
      return fieldProblem(field.type, written.type) ?? `${where}: ${(err as Error).message}`;
    }
  }
  return undefined;
}

/**
 * Checks a candidate schema against the earlier versions of a subject (oldest first) and returns
 * the first problem, phrased for a human, or undefined when the candidate may be registered.
 */
export function compatibilityProblem(
  level: Compatibility,
  candidate: avro.Type,
  earlier: { version: number; type: avro.Type }[],
): string | undefined {
  if (level === Compatibility.NONE || earlier.length === 0) return undefined;
  const transitive = level.endsWith('_TRANSITIVE');
  const against = transitive ? earlier : earlier.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  for (const { version, type } of against) {
    if (backward) {
      const problem = readProblem(candidate, type);
      if (problem) return `${level}: the new schema cannot read data written with version ${version} (${problem})`;
    }
    if (forward) {
      const problem = readProblem(type, candidate);
      if (problem) return `${level}: version ${version} cannot read data written with the new schema (${problem})`;
    }
  }
  return undefined;
}
