// A dead letter: a record the pipeline could not use, kept with why, so bad input never stops
// processing and nothing is silently lost. Schema: schemas/avro/dead_letter.avsc; topic: dead-letters,
// keyed by the source topic.
import { DecodeError } from './errors.ts';

export interface DeadLetter {
  source_topic: string;
  source_partition: number;
  source_offset: number;
  /** Machine-readable: a DecodeError reason, or e.g. 'processing-failed'. */
  reason: string;
  /** Human-readable explanation. */
  detail: string | null;
  /** The record value exactly as read. */
  raw: Buffer;
  raw_key: string | null;
  /** When it was dead-lettered, ms since epoch. */
  ts: number;
}

/** The dead letter for a record that failed with `error` (a DecodeError keeps its reason). */
export function deadLetterFor(
  record: { topic: string; partition: number; offset: number; key: string | null; value: Buffer },
  error: unknown,
  now: number,
): DeadLetter {
  return {
    source_topic: record.topic,
    source_partition: record.partition,
    source_offset: record.offset,
    reason: error instanceof DecodeError ? error.reason : 'processing-failed',
    detail: error instanceof Error ? error.message : String(error),
    raw: record.value,
    raw_key: record.key,
    ts: now,
  };
}
