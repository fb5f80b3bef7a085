// Topic creation and the offset bookkeeping that tools read (committed, end and start offsets).
import type { TopicPartitionOffset, TopicSpec } from '../types.ts';
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
 * Creates missing topics and updates the retention of existing ones, atomically and idempotently.
 * Like Kafka, a topic can gain partitions but never lose them (keys would silently move).
 */
export async function ensureTopics(store: LogStore, directory: TopicDirectory, specs: TopicSpec[]): Promise<void> {
  specs.forEach(validateSpec);
  store.root.resetReadTxn();
  for (const spec of specs) {
    const existing = store.topics.get(spec.name);
    if (existing && spec.partitions < existing.spec.partitions) {
      throw new EmbeddedLogError(
        `topic "${spec.name}" has ${existing.spec.partitions} partitions and cannot shrink to ${spec.partitions}`);
    }
  }
  await store.root.transaction(() => {
    let nextId = 1 + Math.max(0, ...[...store.topics.getRange({})].map(({ value }) => value.id));
    for (const spec of specs) {
      const existing = store.topics.get(spec.name);
      const partitions = Math.max(existing?.spec.partitions ?? 0, spec.partitions);
      const stored: StoredTopic = { id: existing?.id ?? nextId++, spec: { ...spec, partitions } };
      if (JSON.stringify(existing) !== JSON.stringify(stored)) store.topics.putSync(spec.name, stored);
      for (let p = 0; p < partitions; p++) {
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
