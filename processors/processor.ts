import type { DarkroomEvent } from '../schemas/events.ts';
import type { Effect } from './effects.ts';

/** Where an event came from; processors use it only for deterministic tie-breaks, never for I/O. */
export interface Source { topic: string; partition: number; offset: number }

/**
 * A processor is a deterministic fold: `apply` may update `state` in place (for speed) and returns
 * the effects of one event. No I/O, no clock (event time `ts` only), no randomness: replay of the same
 * input gives the same effects, and the logic is testable without infrastructure.
 */
export interface Processor<S, E = DarkroomEvent> {
  readonly name: string;
  /** Topics it consumes; all co-partitioned (same partition count, same key space). */
  readonly inputs: readonly string[];
  init(partition: number): S;
  apply(state: S, event: E, source: Source): Effect[];
  /**
   * Punctuation (Kafka Streams' word): called after each batch of records of a partition, so a
   * processor that throttles what it publishes (trending) can publish what its state holds once the
   * input pauses. Depends on state only, so a replay ends with the same views.
   */
  punctuate?(state: S): Effect[];
}
