// The LMDB environment under <dataDir>/log/ and its four databases. Everything that must survive a
// crash lives here, in one environment, so a produce and its partition bookkeeping commit together:
//   records      [topic id, partition, base offset] -> record batch (see record-format.ts)
//   topics       name -> { id, spec }                                (other processes see the topics)
//   partitions   [topic id, partition] -> { start, next, bytes }     (offsets survive retention)
//   group-offsets [group, topic, partition] -> next offset to read
import fs from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { TopicSpec } from '../types.ts';
import { UnknownTopicError } from './errors.ts';

export interface StoredTopic { id: number; spec: TopicSpec }

export interface PartitionState {
  /** First offset still retained. */
  start: number;
  /** Next offset to assign: never reused, even when retention has emptied the partition. */
  next: number;
  /** Stored bytes between start and next, for size-based retention. */
  bytes: number;
}

export interface LogStore {
  root: RootDatabase;
  records: Database<Buffer, Buffer>;
  topics: Database<StoredTopic, string>;
  partitions: Database<PartitionState, [number, number]>;
  groupOffsets: Database<number, [string, string, number]>;
}

export function openLogStore(dataDir: string): LogStore {
  const dir = path.join(dataDir, 'log');
  fs.mkdirSync(dir, { recursive: true });
  const root = open({
    path: dir,
    maxDbs: 8,
    // Overlapping sync: LMDB commits (the write is visible) and releases the writer lock, then fsyncs
    // outside the lock. Without it every commit held the lock through its fsync, so a producer in one
    // process waited behind another process's fsync, slowed by whatever else was writing to the disk
    // (a burst's appends stalled 0.3-1 s behind the processors' commits). Writes that promise
    // durability (a produce, a group commit, a topic) wait for `flushed` themselves: see `durable`.
    overlappingSync: true,
    noSync: false,
  });
  return {
    root,
    records: root.openDB<Buffer, Buffer>('records', { keyEncoding: 'binary', encoding: 'binary' }),
    topics: root.openDB<StoredTopic, string>('topics', {}),
    partitions: root.openDB<PartitionState, [number, number]>('partitions', {}),
    groupOffsets: root.openDB<number, [string, string, number]>('group-offsets', {}),
  };
}

/** Topic specs, cached; a miss re-reads LMDB so topics created by another process appear. */
export class TopicDirectory {
  private readonly cache = new Map<string, StoredTopic>();
  constructor(private readonly store: LogStore) {}

  get(name: string): StoredTopic {
    const cached = this.cache.get(name);
    if (cached) return cached;
    this.store.root.resetReadTxn();
    const stored = this.store.topics.get(name);
    if (!stored) throw new UnknownTopicError(name, this.names());
    this.cache.set(name, stored);
    return stored;
  }

  /** Whatever is stored now, bypassing the cache (after ensureTopics, or for periodic retention). */
  all(): StoredTopic[] {
    const topics = [...this.store.topics.getRange({})].map(({ value }) => value);
    for (const topic of topics) this.cache.set(topic.spec.name, topic);
    return topics;
  }

  forget(): void {
    this.cache.clear();
  }

  private names(): string[] {
    return [...this.store.topics.getKeys({})] as string[];
  }
}

/** Resolves once every write committed so far is on disk (fsynced), not merely visible. */
export function durable(store: LogStore): Promise<boolean> {
  return store.root.flushed;
}

export function partitionState(store: LogStore, topicId: number, partition: number): PartitionState {
  return store.partitions.get([topicId, partition]) ?? { start: 0, next: 0, bytes: 0 };
}
