// Topic creation and the offset bookkeeping that tools read (committed, end and start offsets).
import type { EnsureTopicsOptions, TopicPartitionOffset, TopicSpec } from '../types.ts';
import { EmbeddedLogError } from './errors.ts';
import { durable, partitionState, type LogStore, type StoredTopic, type TopicDirectory } from './store.ts';

function validateSpec(spec: TopicSpec): void {
  const where = `topic spec ${JSON.stringify(spec?.name)}`;
  if (typeof spec?.name !== 'string' || spec.name === '') throw new EmbeddedLogError(`${where}: name must be a non-empty string`);
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
    throw new EmbeddedLogError(`${where}: partitions must be an integer >= 1, got ${spec.partitions}`);
  }
  for (const field of ['retentionMs', 'retentionBytes'] as const) {
    if (!Number.isInteger(spec[field]) || spec[field] < -1) {
      throw new EmbeddedLogError(`${where}: ${field} must be an integer >= -1 (-1: unlimited), got ${spec[field]}`);
    }
  }
}

/**
 * Creates missing topics, atomically and idempotently. An existing topic must have the spec's
 * partition count: records are placed by partitionFor(key, partitions), so a count that grew would
 * move keys away from the state their partition holds, as silently as one that shrank (the same rule
 * as the Kafka backend's). Its retention changes only with `updateRetention` (what the running
 * platform asks for at start): a tool run with another value in its environment must not set it.
 */
export async function ensureTopics(store: LogStore, directory: TopicDirectory, specs: TopicSpec[], options: EnsureTopicsOptions = {}): Promise<void> {
  specs.forEach(validateSpec);
  store.root.resetReadTxn();
  for (const spec of specs) {
    const existing = store.topics.get(spec.name);
    if (existing && spec.partitions !== existing.spec.partitions) {
      throw new EmbeddedLogError(
        `topic "${spec.name}" has ${existing.spec.partitions} partitions, not ${spec.partitions}: a record's partition follows from its key and the count, so keys would move away from their state; run with DARKROOM_PARTITIONS=${existing.spec.partitions}`);
    }
  }
  await store.root.transaction(() => {
    let nextId = 1 + Math.max(0, ...[...store.topics.getRange({})].map(({ value }) => value.id));
    for (const spec of specs) {
      const existing = store.topics.get(spec.name);
      const kept = existing && !options.updateRetention ? { retentionMs: existing.spec.retentionMs, retentionBytes: existing.spec.retentionBytes } : {};
      const stored: StoredTopic = { id: existing?.id ?? nextId++, spec: { ...spec, ...kept } };
      if (JSON.stringify(existing) !== JSON.stringify(stored)) store.topics.putSync(spec.name, stored);
      for (let p = 0; p < spec.partitions; p++) {
        if (store.partitions.get([stored.id, p]) === undefined) {
          store.partitions.putSync([stored.id, p], { start: 0, next: 0, bytes: 0 });
        }
      }
    }
  });
  await durable(store);
  directory.forget();
}

export function endOffsets(store: LogStore, topic: StoredTopic): TopicPartitionOffset[] {
  return partitionsOf(topic).map((partition) =>
    ({ topic: topic.spec.name, partition, offset: partitionState(store, topic.id, partition).next }));
}

export function startOffsets(store: LogStore, topic: StoredTopic): TopicPartitionOffset[] {
  return partitionsOf(topic).map((partition) =>
    ({ topic: topic.spec.name, partition, offset: partitionState(store, topic.id, partition).start }));
}

/** Committed offset per partition; -1 where the group never committed (Kafka's convention). */
export function committedOffsets(store: LogStore, groupId: string, topic: StoredTopic): TopicPartitionOffset[] {
  const name = topic.spec.name;
  return partitionsOf(topic).map((partition) =>
    ({ topic: name, partition, offset: store.groupOffsets.get([groupId, name, partition]) ?? -1 }));
}

export async function commitOffsets(store: LogStore, groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
  for (const { topic, partition, offset } of offsets) {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new EmbeddedLogError(`cannot commit offset ${offset} for ${topic}/${partition}: offsets are integers >= 0`);
    }
  }
  if (offsets.length === 0) return;
  await store.groupOffsets.transaction(() => {
    for (const { topic, partition, offset } of offsets) store.groupOffsets.putSync([groupId, topic, partition], offset);
  });
  await durable(store);
}

export function partitionsOf(topic: StoredTopic): number[] {
  return Array.from({ length: topic.spec.partitions }, (_, p) => p);
}
