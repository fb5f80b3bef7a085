import type { Effect } from '../../processors/effects.ts';
import type { Sink } from '../../processors/runtime.ts';
import type { TopicPartitionOffset } from '../../topics/types.ts';

/** An in-memory sink for tests of the runtime alone: what it applied, and the offsets it holds. */
export function memorySink(held = new Map<string, TopicPartitionOffset>()): Sink & { applied: Effect[]; held: Map<string, TopicPartitionOffset> } {
  const applied: Effect[] = [];
  return {
    name: 'memory', applied, held,
    offsets: async () => [...held.values()],
    async apply(effects, offsets) {
      applied.push(...effects);
      for (const o of offsets) held.set(`${o.topic}:${o.partition}`, o);
    },
  };
}
