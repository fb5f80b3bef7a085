// The embedded view store (default, no REDIS_URL): durable under <dataDir>/views on lmdb.
//
// Layout (one lmdb environment, three named databases):
//   views     [generation, logical key] → sorted set (sorted-set.ts) | { t:'h', f } hash, laid out
//             as view-codec.ts says
//   offsets   [generation, processor]   → { "topic:partition": next offset }
//   meta      'current-generation'      → generation serving reads (absent → "g1")
//             'identity'                → random id made on first use (ViewStore.identity)
//             ['generation', g]         → true for every generation that received a batch
//
// A batch runs in one abortable lmdb write transaction (a child transaction: lmdb-js folds the
// transactions queued meanwhile into one commit, and aborts only this one if it throws). Effects are
// grouped by key, keeping their order per key (effects on different keys are independent): each key
// is read once, changed by all its effects, and written back at once, so only one decoded value is
// alive at a time instead of every feed the batch touches (that garbage outlived the young
// generation and cost more than the work). Any error (a key of the wrong type) aborts the
// transaction: neither effects nor offsets are written. lmdb commits the transaction as a whole, so a
// kill -9 at any moment leaves the previous batch or this one, never half. Reads are memory-mapped
// lmdb gets (no cache of our own, so several threads or processes on the same directory always read
// the latest committed batch).
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { open, type Database, type RootDatabase, type RootDatabaseOptions } from 'lmdb';
import { effectWeight, splitTaggedMember, type KeyNumbering } from '../../processors/effects.ts';
import type { TopicPartitionOffset } from '../../topics/types.ts';
import { SinkError } from '../errors.ts';
import {
  INITIAL_GENERATION, checkGeneration, checkKey, checkProcessor, offsetField, parseOffsetFields, validateBatch,
  type CopyRequest, type ViewBatch, type ViewEffect, type ViewEntry, type ViewStore,
} from '../view-store.ts';
import { memberWord, type SetChange } from './packed-members.ts';
import { groupBySlot, type SlotGroups } from './slot-groups.ts';
import { SortedSet, storedArrays, type StoredSortedSet } from './sorted-set.ts';
import { viewCodec, type StoredView } from './view-codec.ts';

type ViewKey = [string, string];

export interface EmbeddedViewStoreOptions {
  dataDir: string;
  /** Told once when the store on disk has a page size this version no longer creates. */
  onWarning?: (line: string) => void;
}

const TYPE_NAME = { z: 'zset', h: 'hash' } as const;
/**
 * LMDB's default page size. 64 KB pages (2026-12-04 to 12-06) rebuilt 8-24% faster, because a full
 * feed fitted in a leaf page instead of a chain of overflow pages. But LMDB splits a page holding many
 * keys at its middle by count. With 64 KB pages, small values and values of up to ~32 KB share leaf
 * pages, and such a split can leave a half with no room for a node: at 10.95M source events a batch
 * failed with MDB_PAGE_FULL on every retry (bench/RESULTS.md, "Views on 64 KB pages failed at 10M
 * events"; the split heuristic is OpenLDAP ITS#9806). With 4 KB pages, values over ~2 KB go to
 * overflow pages.
 */
const VIEW_PAGE_SIZE = 4_096;

/** A key being changed by the batch: its new value (undefined = deleted). */
type Working = { kind: 'zset'; set: SortedSet; expiresAt?: number } | { kind: 'hash'; fields: Record<string, string> } | undefined;

export async function createEmbeddedViewStore(options: EmbeddedViewStoreOptions): Promise<ViewStore> {
  // The page size is fixed when the store is created: a store made with 64 KB pages keeps them until
  // it is deleted (the platform then rebuilds it from the topics, see README, Recovery).
  const dir = path.join(options.dataDir, 'views');
  const root: RootDatabase = open({ path: dir, compression: false, pageSize: VIEW_PAGE_SIZE });
  const pageSize = (root.getStats() as { pageSize?: number }).pageSize;
  if (pageSize !== undefined && pageSize !== VIEW_PAGE_SIZE) {
    options.onWarning?.(`views: ${dir} was created with ${pageSize / 1024} KB pages, whose writes can fail with MDB_PAGE_FULL at ~10M events; stop the platform and delete that directory to have it rebuilt from the topics with ${VIEW_PAGE_SIZE / 1024} KB pages`);
  }
  // `encoder` is documented for every database, but lmdb's typings declare it on the root's options only.
  const viewsOptions: RootDatabaseOptions & { name: string } = { name: 'views', encoder: viewCodec };
  const views: Database<StoredView, ViewKey> = root.openDB(viewsOptions);
  const offsetsDb: Database<Record<string, number>, [string, string]> = root.openDB({ name: 'offsets' });
  const meta: Database<unknown, string | [string, string]> = root.openDB({ name: 'meta' });
  /** The rebuild lease (leaseRebuild). */
  let lease: { owner: string; until: number } | undefined;

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

  /** The stored value of `key` as the value a batch changes (undefined = absent or lapsed). */
  function load(generation: string, key: string, now: number): Working {
    const stored = live(generation, key, now);
    if (stored === undefined) return undefined;
    return stored.t === 'z' ? { kind: 'zset', set: SortedSet.from(stored), expiresAt: stored.x } : { kind: 'hash', fields: stored.f };
  }

  /**
   * Applies the effects of one key, in order, to its current value; returns the new value. `words`,
   * when given, holds the member word of each effect that has a member (memberWordsOf).
   */
  function applyToKey(key: string, value: Working, effects: ViewEffect[], now: number, words: Uint32Array | undefined): Working {
    const together = changedTogether(value, effects, words);
    if (together) return together;
    if (value?.kind === 'zset') value.set.expectChanges(effects.length);
    // No closures here: this runs once per touched key, and each closure would cost an allocation.
    for (const e of effects) {
      if (e.kind === 'del') { value = undefined; continue; }
      if (e.kind === 'hset' || e.kind === 'hincr') {
        if (value === undefined) value = { kind: 'hash', fields: {} };
        if (value.kind !== 'hash') throw new SinkError(`WRONGTYPE darkroom: ${e.kind} needs ${key} to be a hash but it is a zset`);
        const fields = value.fields;
        if (e.kind === 'hset') {
          for (const [field, v] of Object.entries(e.fields)) fields[field] = String(v);
        } else {
          const current = Number(fields[e.field] ?? 0);
          if (Number.isNaN(current)) throw new SinkError(`ERR darkroom: hincr of ${key} field ${e.field} which holds a non-number`);
          fields[e.field] = String(current + e.by);
        }
        continue;
      }
      if (value === undefined) value = { kind: 'zset', set: new SortedSet() };
      if (value.kind !== 'zset') throw new SinkError(`WRONGTYPE darkroom: ${e.kind} needs ${key} to be a zset but it is a hash`);
      const set = value.set;
      switch (e.kind) {
        case 'zadd':
        case 'zaddEach':
          set.add(e.member, e.score, e.cap);
          break;
        case 'zrem': set.remove(e.member); break;
        case 'zremTagged': {
          const tag = e.tag;
          set.removeWhere((m) => splitTaggedMember(m).tag === tag);
          break;
        }
        case 'zreplace': value = { kind: 'zset', set: SortedSet.of(e.entries) }; break;
        case 'sadd':
        case 'srem': {
          if (e.kind === 'sadd') set.add(e.member, e.expiresAt ?? Infinity);
          else set.remove(e.member);
          // Expiring sets: drop expired members and let the key expire with its last member (Redis parity).
          set.removeScoresUpTo(now);
          const top = set.highestScore();
          value.expiresAt = top === undefined || top === Infinity ? undefined : Math.ceil(top);
          break;
        }
      }
    }
    return value;
  }

  /**
   * A key whose effects in this batch are all zadds and zrems (a feed in a fanout) gets them in one
   * pass over its packed set (SortedSet.applyChanges); undefined when they are anything else or the
   * set cannot take them that way.
   */
  function changedTogether(value: Working, effects: ViewEffect[], words: Uint32Array | undefined): Working {
    if (effects.length < 2 || (value !== undefined && value.kind !== 'zset')) return undefined;
    for (const e of effects) if (e.kind !== 'zadd' && e.kind !== 'zaddEach' && e.kind !== 'zrem') return undefined;
    const working = value ?? { kind: 'zset', set: new SortedSet() };
    return working.set.applyChanges(effects as SetChange[], words) ? working : undefined;
  }

  /**
   * The member word (packed-members.ts) of each effect of a batch with fanouts, made once per effect
   * where each of its keys would make it again: 0 for effects without a member. Undefined when the
   * batch has no fanout, or a member holds the separator (each key then makes its own words, as
   * sets holding such a member need).
   */
  function memberWordsOf(effects: ViewEffect[]): Uint32Array | undefined {
    if (!effects.some((e) => e.kind === 'zaddEach')) return undefined;
    const words = new Uint32Array(effects.length);
    for (let i = 0; i < effects.length; i++) {
      const e = effects[i];
      if (e.kind !== 'zadd' && e.kind !== 'zaddEach' && e.kind !== 'zrem') continue;
      const word = memberWord(e.member);
      if (word < 0) return undefined;
      words[i] = word;
    }
    return words;
  }

  function put(id: ViewKey, value: Working): void {
    if (value === undefined || (value.kind === 'zset' && value.set.size === 0)) {
      views.removeSync(id);
    } else if (value.kind === 'zset') {
      const stored = value.set.toStored();
      if (value.expiresAt !== undefined) stored.x = value.expiresAt;
      views.putSync(id, stored);
    } else {
      let empty = true;
      for (const _ in value.fields) { empty = false; break; }
      if (empty) views.removeSync(id);
      else views.putSync(id, { t: 'h', f: value.fields });
    }
  }

  /** Per key numbering seen in fanouts (KeyNumbering): slot of each number in the batch being grouped, -1 for none. */
  const slotTables = new WeakMap<KeyNumbering, Int32Array>();

  /**
   * Effects grouped by key, in batch order per key, keys in first-seen order; a zaddEach joins the
   * group of each of its keys. Each (effect, key) pair gets its key's slot, then the pairs are grouped
   * by slot (slot-groups.ts). A numbered fanout finds its keys' slots by number: hashing each of a
   * rebuild batch's 12M fanout keys took longer than applying them. Every distinct key is checked
   * here, once.
   */
  function byKey(effects: ViewEffect[]): { keys: string[]; groups: SlotGroups<ViewEffect> } {
    const slots = new Map<string, number>();
    const keys: string[] = [];
    let pairs = 0;
    for (const e of effects) pairs += effectWeight(e);
    // The slot of every (effect, key) pair, in batch order.
    const slotOf = new Int32Array(pairs);
    let at = 0;
    const slotFor = (key: string): number => {
      let slot = slots.get(key);
      if (slot === undefined) {
        checkKey(key);
        slot = keys.length;
        slots.set(key, slot);
        keys.push(key);
      }
      return slot;
    };
    // Per numbering met in this batch: its table, and the numbers this batch set in it (cleared after).
    const used = new Map<KeyNumbering, { table: Int32Array; numbered: number[] }>();
    const tableFor = (numbering: KeyNumbering): { table: Int32Array; numbered: number[] } => {
      let entry = used.get(numbering);
      if (entry === undefined) used.set(numbering, (entry = { table: slotTables.get(numbering) ?? new Int32Array(0), numbered: [] }));
      if (entry.table.length < numbering.size) {
        const grown = new Int32Array(Math.max(1024, numbering.size * 2)).fill(-1);
        grown.set(entry.table);
        slotTables.set(numbering, (entry.table = grown));
      }
      return entry;
    };
    // `at` stays out of closures: this loop runs once per pair, 12M times in a rebuild batch.
    try {
      for (const e of effects) {
        if (e.kind !== 'zaddEach') slotOf[at++] = slotFor(e.key);
        else if (e.numbers === undefined) for (const key of e.keys) slotOf[at++] = slotFor(key);
        else {
          const { table, numbered } = tableFor(e.numbering!);
          const { numbers, keys: named } = e;
          for (let i = 0; i < numbers.length; i++) {
            const n = numbers[i];
            let slot = table[n];
            if (slot === undefined || slot < 0) {
              // First met in this batch (the table is longer than the numbering, and typed arrays take no other index).
              if (slot === undefined || n >= e.numbering!.size) throw new SinkError(`zaddEach of ${e.member}: key number ${n} is outside its numbering (size ${e.numbering!.size})`);
              slot = table[n] = slotFor(named[i]);
              numbered.push(n);
            } else if (keys[slot] !== named[i]) {
              throw new SinkError(`zaddEach of ${e.member}: key number ${n} names both "${keys[slot]}" and "${named[i]}"`);
            }
            slotOf[at++] = slot;
          }
        }
      }
    } finally {
      // The tables outlive the batch: only the numbers it used are cleared.
      for (const { table, numbered } of used.values()) for (const n of numbered) table[n] = -1;
    }
    return { keys, groups: groupBySlot(slotOf, keys.length, effects, effectWeight, memberWordsOf(effects)) };
  }

  async function writeBatch(batch: ViewBatch, effects: ViewEffect[]): Promise<void> {
    const { generation, processor } = batch;
    const { keys, groups: { start, grouped, groupedValues: words } } = byKey(effects);
    await root.childTransaction(() => {
      const now = Date.now();
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i];
        const from = start[i];
        const to = start[i + 1];
        put([generation, key], applyToKey(key, load(generation, key, now), grouped.slice(from, to), now, words?.subarray(from, to)));
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
      const effects = validateBatch(batch, { fanoutKeys: 'checked by the caller' });
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

    // One process owns an embedded store, so the lease lives in its memory.
    async leaseRebuild(owner, ttlMs) {
      if (lease && lease.owner !== owner && lease.until > Date.now()) return false;
      lease = { owner, until: Date.now() + ttlMs };
      return true;
    },

    async releaseRebuild(owner) {
      if (lease?.owner === owner) lease = undefined;
    },

    async rebuildLeaseHolder() {
      return lease && lease.until > Date.now() ? lease.owner : undefined;
    },

    async identity() {
      const known = meta.get('identity') as string | undefined;
      if (known) return known;
      const made = randomUUID();
      await meta.put('identity', made);
      return made;
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
      const stored = sortedSet(generation, key);
      if (!stored) return members.map(() => null);
      const set = storedArrays(stored);
      const scores = new Map<string, number>();
      for (let i = 0; i < set.m.length; i++) scores.set(set.m[i], set.s[i]);
      return members.map((m) => scores.get(m) ?? null);
    },

    async zcard(generation, key) {
      checkGeneration(generation);
      checkKey(key);
      const stored = sortedSet(generation, key);
      return stored ? ('m' in stored ? stored.m.length : stored.d.byteLength / 8) : 0;
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

    async scan(generation, cursor, count) {
      checkGeneration(generation);
      const now = Date.now();
      const entries: ViewEntry[] = [];
      let last: string | undefined;
      // Keys are ordered [generation, key]; the cursor is the last key of the previous page.
      for (const { key, value } of views.getRange({ start: [generation, cursor ?? ''] })) {
        if (key[0] !== generation) return { cursor: undefined, entries };
        if (cursor !== undefined && key[1] === cursor) continue;
        if (entries.length >= count && last !== undefined) return { cursor: last, entries };
        last = key[1];
        if (value.t === 'h') { entries.push({ key: key[1], type: 'hash', fields: { ...value.f } }); continue; }
        if (value.x !== undefined && value.x <= now) continue; // lapsed with its last member
        const set = storedArrays(value);
        const members = set.m.map((member, i) => ({ member, score: set.s[i] }))
          .filter((m) => value.x === undefined || m.score > now);
        entries.push({ key: key[1], type: 'zset', members, expiring: value.x !== undefined });
      }
      return { cursor: undefined, entries };
    },

    async copyGeneration(from: string, to: string, request: CopyRequest) {
      checkGeneration(from);
      checkGeneration(to);
      request.processors.forEach(checkProcessor);
      if (from === to) throw new SinkError(`cannot copy generation ${from} onto itself`);
      // One write transaction: lmdb has one writer at a time, so the copy sees no batch half-way and
      // views and offsets match even while processors keep writing `from` (they wait behind it;
      // readers do not). Values are copied as stored, in chunks read through the transaction.
      return root.transaction(() => {
        const now = Date.now();
        let copied = 0;
        let start: ViewKey = [from, ''];
        for (let first = true; !request.offsetsOnly; first = false) {
          const chunk: Array<{ key: ViewKey; value: StoredView }> = [];
          for (const entry of views.getRange({ start, limit: 5_000 })) {
            if (entry.key[0] !== from) break;
            if (!first && chunk.length === 0 && entry.key[1] === start[1]) continue; // the previous chunk's last key
            chunk.push(entry);
          }
          if (chunk.length === 0) break;
          for (const { key, value } of chunk) {
            if (request.keys && !request.keys(key[1])) continue;
            if (value.t === 'z' && value.x !== undefined && value.x <= now) continue; // lapsed expiring set
            views.putSync([to, key[1]], value);
            copied++;
          }
          start = chunk[chunk.length - 1].key;
        }
        for (const processor of request.processors) {
          const held = offsetsDb.get([from, processor]);
          if (held) offsetsDb.putSync([to, processor], { ...held });
        }
        meta.putSync(['generation', to], true);
        return copied;
      });
    },

    async close() {
      await root.close();
    },
  };
  return store;
}
