// The embedded view store (default, no REDIS_URL): durable under <dataDir>/views on lmdb.
//
// Layout (one lmdb environment, three named databases):
//   views     [generation, logical key] → { t:'z', m, s, x? } sorted set | { t:'h', f } hash
//   offsets   [generation, processor]   → { "topic:partition": next offset }
//   meta      'current-generation'      → generation serving reads (absent → "g1")
//             ['generation', g]         → true for every generation that received a batch
//
// A batch runs in one lmdb write transaction: it reads the keys it touches, computes every new value
// in memory (any error throws here, before a single write), then writes values and offsets. lmdb
// commits the transaction as a whole, so a kill -9 at any moment leaves the previous batch or this
// one, never half. Reads are memory-mapped lmdb gets (no cache of our own, so several threads or
// processes on the same directory always read the latest committed batch).
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { splitTaggedMember } from '../../processors/effects.ts';
import type { TopicPartitionOffset } from '../../topics/types.ts';
import { SinkError } from '../errors.ts';
import {
  INITIAL_GENERATION, checkGeneration, checkKey, checkProcessor, offsetField, parseOffsetFields, validateBatch,
  type ViewBatch, type ViewEffect, type ViewStore,
} from '../view-store.ts';
import { SortedSet, type StoredSortedSet } from './sorted-set.ts';

interface StoredHash { t: 'h'; f: Record<string, string> }
type StoredView = StoredSortedSet | StoredHash;
type ViewKey = [string, string];

export interface EmbeddedViewStoreOptions {
  dataDir: string;
}

const TYPE_NAME = { z: 'zset', h: 'hash' } as const;

/** A key being changed by the batch: its new value (undefined = deleted). */
type Working = { kind: 'zset'; set: SortedSet; expiresAt?: number } | { kind: 'hash'; fields: Record<string, string> } | undefined;

export async function createEmbeddedViewStore(options: EmbeddedViewStoreOptions): Promise<ViewStore> {
  const root: RootDatabase = open({ path: path.join(options.dataDir, 'views'), compression: false });
  const views: Database<StoredView, ViewKey> = root.openDB({ name: 'views' });
  const offsetsDb: Database<Record<string, number>, [string, string]> = root.openDB({ name: 'offsets' });
  const meta: Database<unknown, string | [string, string]> = root.openDB({ name: 'meta' });

  /** The stored value if it is alive at `now` (expiring sets vanish at their last member's expiry). */
  function live(generation: string, key: string, now = Date.now()): StoredView | undefined {
    const value = views.get([generation, key]);
    if (value && value.t === 'z' && value.x !== undefined && value.x <= now) return undefined;
    return value;
  }

  function sortedSet(generation: string, key: string): StoredSortedSet | undefined {
    const value = live(generation, key);
    if (value && value.t !== 'z') throw new SinkError(`WRONGTYPE ${key} holds a hash, not a sorted set`);
    return value;
  }

  /** Computes the batch's new values; throws before anything is written. */
  function computeBatch(generation: string, effects: ViewEffect[], now: number): Map<string, Working> {
    const working = new Map<string, Working>();
    const load = (key: string): Working => {
      if (working.has(key)) return working.get(key);
      const stored = live(generation, key, now);
      const value: Working = stored === undefined ? undefined
        : stored.t === 'z' ? { kind: 'zset', set: SortedSet.from(stored), expiresAt: stored.x }
          : { kind: 'hash', fields: { ...stored.f } };
      working.set(key, value);
      return value;
    };
    const zset = (key: string, op: string): SortedSet => {
      const value = load(key);
      if (value === undefined) {
        const fresh = { kind: 'zset' as const, set: new SortedSet() };
        working.set(key, fresh);
        return fresh.set;
      }
      if (value.kind !== 'zset') throw new SinkError(`WRONGTYPE darkroom: ${op} needs ${key} to be a zset but it is a hash`);
      return value.set;
    };
    const hash = (key: string, op: string): Record<string, string> => {
      const value = load(key);
      if (value === undefined) {
        const fresh = { kind: 'hash' as const, fields: {} };
        working.set(key, fresh);
        return fresh.fields;
      }
      if (value.kind !== 'hash') throw new SinkError(`WRONGTYPE darkroom: ${op} needs ${key} to be a hash but it is a zset`);
      return value.fields;
    };
    /** Expiring sets: drop expired members and let the key expire with its last member (Redis parity). */
    const trimExpired = (key: string, set: SortedSet) => {
      set.removeScoresUpTo(now);
      const top = set.highestScore();
      const value = working.get(key) as { kind: 'zset'; set: SortedSet; expiresAt?: number };
      value.expiresAt = top === undefined || top === Infinity ? undefined : Math.ceil(top);
    };

    for (const e of effects) {
      switch (e.kind) {
        case 'zadd': {
          const set = zset(e.key, 'zadd');
          set.add(e.member, e.score);
          if (e.cap !== undefined) set.keepHighest(e.cap);
          break;
        }
        case 'zrem': zset(e.key, 'zrem').remove(e.member); break;
        case 'zremTagged': zset(e.key, 'zremTagged').removeWhere((m) => splitTaggedMember(m).tag === e.tag); break;
        case 'zreplace':
          zset(e.key, 'zreplace');
          working.set(e.key, { kind: 'zset', set: SortedSet.of(e.entries) });
          break;
        case 'sadd': {
          const set = zset(e.key, 'sadd');
          set.add(e.member, e.expiresAt ?? Infinity);
          trimExpired(e.key, set);
          break;
        }
        case 'srem': {
          const set = zset(e.key, 'srem');
          set.remove(e.member);
          trimExpired(e.key, set);
          break;
        }
        case 'hset': {
          const fields = hash(e.key, 'hset');
          for (const [field, value] of Object.entries(e.fields)) fields[field] = String(value);
          break;
        }
        case 'hincr': {
          const fields = hash(e.key, 'hincr');
          const current = Number(fields[e.field] ?? 0);
          if (Number.isNaN(current)) throw new SinkError(`ERR darkroom: hincr of ${e.key} field ${e.field} which holds a non-number`);
          fields[e.field] = String(current + e.by);
          break;
        }
        case 'del': working.set(e.key, undefined); break;
      }
    }
    return working;
  }

  async function writeBatch(batch: ViewBatch, effects: ViewEffect[]): Promise<void> {
    const { generation, processor } = batch;
    await root.transaction(() => {
      const working = computeBatch(generation, effects, Date.now());
      for (const [key, value] of working) {
        const id: ViewKey = [generation, key];
        if (value === undefined || (value.kind === 'zset' && value.set.size === 0) || (value.kind === 'hash' && !Object.keys(value.fields).length)) {
          views.removeSync(id);
        } else if (value.kind === 'zset') {
          const stored = value.set.toStored();
          if (value.expiresAt !== undefined) stored.x = value.expiresAt;
          views.putSync(id, stored);
        } else {
          views.putSync(id, { t: 'h', f: value.fields });
        }
      }
      if (batch.offsets.length) {
        const held = { ...(offsetsDb.get([generation, processor]) ?? {}) };
        for (const o of batch.offsets) held[offsetField(o)] = o.offset;
        offsetsDb.putSync([generation, processor], held);
      }
      meta.putSync(['generation', generation], true);
    });
  }

  const store: ViewStore = {
    kind: 'embedded',

    async applyBatch(batch) {
      const effects = validateBatch(batch);
      try {
        await writeBatch(batch, effects);
      } catch (error) {
        if (error instanceof SinkError) {
          throw new SinkError(`the view store rejected the batch of ${batch.processor} (nothing applied): ${error.message}`);
        }
        throw error;
      }
    },

    async offsets(generation, processor): Promise<TopicPartitionOffset[]> {
      checkGeneration(generation);
      checkProcessor(processor);
      return parseOffsetFields(offsetsDb.get([generation, processor]) ?? {});
    },

    async currentGeneration() {
      return (meta.get('current-generation') as string | undefined) ?? INITIAL_GENERATION;
    },

    async setCurrentGeneration(generation) {
      checkGeneration(generation);
      await meta.put('current-generation', generation);
    },

    async generations() {
      const found: string[] = [];
      for (const key of meta.getKeys({ start: ['generation', ''] })) {
        if (!Array.isArray(key) || key[0] !== 'generation') break;
        found.push(key[1]);
      }
      return found.sort();
    },

    async dropGeneration(generation) {
      checkGeneration(generation);
      if (generation === (await store.currentGeneration())) {
        throw new SinkError(`cannot drop generation ${generation}: it serves reads (switch first)`);
      }
      // In chunks, so a big generation does not hold one huge write transaction.
      for (;;) {
        const doomed: ViewKey[] = [];
        for (const key of views.getKeys({ start: [generation, ''], limit: 10_000 })) {
          if (key[0] !== generation) break;
          doomed.push(key);
        }
        if (!doomed.length) break;
        await root.transaction(() => { for (const key of doomed) views.removeSync(key); });
      }
      await root.transaction(() => {
        for (const key of offsetsDb.getKeys({ start: [generation, ''] })) {
          if (key[0] !== generation) break;
          offsetsDb.removeSync(key);
        }
        meta.removeSync(['generation', generation]);
      });
    },

    async zrangeByScoreDesc(generation, key, range) {
      checkGeneration(generation);
      checkKey(key);
      const set = sortedSet(generation, key);
      return set ? SortedSet.rangeDesc(set, range) : [];
    },

    async zrangeByScoreDescMany(generation, keys, range) {
      return Promise.all(keys.map((k) => store.zrangeByScoreDesc(generation, k, range)));
    },

    async zscoreMany(generation, key, members) {
      checkGeneration(generation);
      checkKey(key);
      const set = sortedSet(generation, key);
      if (!set) return members.map(() => null);
      const scores = new Map<string, number>();
      for (let i = 0; i < set.m.length; i++) scores.set(set.m[i], set.s[i]);
      return members.map((m) => scores.get(m) ?? null);
    },

    async zcard(generation, key) {
      checkGeneration(generation);
      checkKey(key);
      return sortedSet(generation, key)?.m.length ?? 0;
    },

    async hgetallMany(generation, keys) {
      checkGeneration(generation);
      keys.forEach(checkKey);
      return keys.map((key) => {
        const value = live(generation, key);
        if (value && value.t !== 'h') throw new SinkError(`WRONGTYPE ${key} holds a ${TYPE_NAME[value.t]}, not a hash`);
        return value ? { ...value.f } : null;
      });
    },

    async smembers(generation, key, now) {
      checkGeneration(generation);
      checkKey(key);
      const set = sortedSet(generation, key);
      return set ? SortedSet.membersAbove(set, now) : [];
    },

    async smembersMany(generation, keys, now) {
      return Promise.all(keys.map((k) => store.smembers(generation, k, now)));
    },

    async sismemberMany(generation, key, members, now) {
      const scores = await store.zscoreMany(generation, key, members);
      return scores.map((s) => s !== null && s > now);
    },

    async close() {
      await root.close();
    },
  };
  return store;
}
