// The Redis view store (REDIS_URL). Key layout, all under one namespace (default "dr"):
//
//   dr:current-generation             string   generation serving reads (absent → "g1")
//   dr:generations                    set      generations that ever received a batch
//   dr:rebuild-lease                  string   owner of the one rebuild running (PX, renewed)
//   dr:identity                       string   random id made on first use: gone = data lost
//   dr:<gen>:<logical key>            zset     zadd/zrem/zremTagged/zreplace (feeds, top-K)   no TTL
//   dr:<gen>:<logical key>            zset     sadd/srem sets, scored by expiry (+inf = none)
//                                              PEXPIREAT at the latest expiry; expired members
//                                              trimmed (ZREMRANGEBYSCORE) on every write and
//                                              filtered by score on read — never a scan
//   dr:<gen>:<logical key>            hash     hset/hincr (post stats, profiles)              no TTL
//   dr:<gen>:offsets:<processor>      hash     "topic:partition" → next offset to read        no TTL
//
// A batch is one EVALSHA of apply-batch.lua (checks, then writes every effect and the offsets hash),
// so it is atomic and costs one round trip however many effects it carries. Reads of many keys go in
// one pipeline, on a read connection of their own. Redis Cluster would need all keys of a generation
// in one slot (a {gen} hash tag); not done yet.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { TopicPartitionOffset } from '../../topics/types.ts';
import { SinkError, SinkUnavailableError, redactUrl } from '../errors.ts';
import {
  INITIAL_GENERATION, checkGeneration, checkKey, checkProcessor, offsetField, parseOffsetFields, validateBatch,
  type CopyRequest, type ViewEffect, type ScoreRange, type ScoredMember, type ViewBatch, type ViewEntry, type ViewStore,
} from '../view-store.ts';
import { APPLY_BATCH_LUA } from './apply-batch.lua.ts';
import { READ_HASHES_LUA } from './read-hashes.lua.ts';
import { Packr } from 'msgpackr';

export interface RedisViewStoreOptions {
  url: string;
  /** Prefix of every key; tests use their own so they never touch real views. Default "dr". */
  namespace?: string;
  connectTimeoutMs?: number;
}

type ScriptedRedis = Redis & { drApplyBatch(...args: Array<string | number>): Promise<number> };
/** Field lists one hashFieldsMany call can carry (one character each, '1' up to before 'a'). */
const MAX_FIELD_LISTS = 40;
type ReadScripts = Redis & { drReadHashes(...args: unknown[]): Promise<Array<string | number | null>> };

/** Redis writes infinities as "inf"; JSON-minded code needs real numbers. */
function toScore(text: string): number {
  if (text === 'inf' || text === '+inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

/** Plain msgpack (no msgpackr extensions), as Redis' cmsgpack reads it. */
const effectPacker = new Packr({ useRecords: false, variableMapSize: true });
const packEffects = (ops: Array<string | number>): Buffer => effectPacker.pack(ops);

/** Takes the rebuild lease when free or already ARGV[1]'s, for ARGV[2] ms: 1 when held. */
const LEASE_LUA = `local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** The identity (ARGV[1] when there is none yet). GET then SET in one script: `SET NX GET` needs Redis 7. */
const IDENTITY_LUA = `local id = redis.call('GET', KEYS[1])
if not id then redis.call('SET', KEYS[1], ARGV[1]) id = ARGV[1] end
return id`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0`;

/** KEYS[1] and KEYS[2] are the offsets hash and the generations set; view keys follow (1-based). */
const FIRST_VIEW_KEY = 3;

/** Whether effects[from..to), all zadds, add `member`; runs are short, a scan beats a Set. */
function addsMember(effects: ViewEffect[], from: number, to: number, member: string): boolean {
  for (let j = from; j < to; j++) if ((effects[j] as Extract<ViewEffect, { kind: 'zadd' }>).member === member) return true;
  return false;
}

const endsSetRun = (effects: ViewEffect[], i: number) =>
  i + 1 === effects.length || (effects[i + 1].kind !== 'sadd' && effects[i + 1].kind !== 'srem');

/**
 * One key's effects, in order, as apply-batch.lua reads them. Consecutive zadds with one cap and
 * distinct members become one 'zm' run: Redis then does one ZADD and one trim for the run instead
 * of a ZADD and a trim per member (a feed gets several posts per batch, a follow up to 200).
 */
function packKeyEffects(ops: Array<string | number>, k: number, effects: ViewEffect[]): void {
  for (let i = 0; i < effects.length;) {
    const e = effects[i];
    if (e.kind === 'zadd') {
      const cap = e.cap ?? 0;
      let end = i + 1;
      for (; end < effects.length; end++) {
        const next = effects[end];
        if (next.kind !== 'zadd' || (next.cap ?? 0) !== cap || addsMember(effects, i, end, next.member)) break;
      }
      if (end - i === 1) ops.push('za', k, e.member, scoreArg(e.score), cap);
      else {
        ops.push('zm', k, cap, end - i);
        for (let j = i; j < end; j++) {
          const add = effects[j] as Extract<ViewEffect, { kind: 'zadd' }>;
          ops.push(add.member, scoreArg(add.score));
        }
      }
      i = end;
      continue;
    }
    switch (e.kind) {
      case 'zrem': ops.push('zr', k, e.member); break;
      case 'zremTagged': ops.push('zt', k, e.tag); break;
      case 'zreplace':
        ops.push('zp', k, e.entries.length);
        for (const entry of e.entries) ops.push(entry.member, scoreArg(entry.score));
        break;
      // In a run of set changes, only the last trims expired members and sets the key's expiry.
      case 'sadd': ops.push(endsSetRun(effects, i) ? 'sa' : 's+', k, e.member, scoreArg(e.expiresAt ?? Infinity)); break;
      case 'srem': ops.push(endsSetRun(effects, i) ? 'sr' : 's-', k, e.member); break;
      case 'hset': {
        const fields = Object.entries(e.fields);
        ops.push('hs', k, fields.length);
        for (const [field, value] of fields) ops.push(field, String(value));
        break;
      }
      case 'hincr': ops.push('hi', k, e.field, String(e.by)); break;
      case 'del': ops.push('dl', k); break;
    }
    i++;
  }
}

function scoreArg(score: number): string {
  if (score === Infinity) return '+inf';
  if (score === -Infinity) return '-inf';
  return String(score);
}

function pairs(flat: string[]): ScoredMember[] {
  const out: ScoredMember[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push({ member: flat[i], score: toScore(flat[i + 1]) });
  return out;
}

/**
 * Selects the URL's database again and fails when Redis has none of that number: ioredis reports a
 * failed SELECT only as an error event and stays on database 0, where darkroom would then write.
 */
async function selectDatabase(redis: Redis, url: string, where: string): Promise<void> {
  let db = 0;
  try {
    db = Number(new URL(url).pathname.slice(1) || 0);
  } catch { /* ioredis accepted it; it names no database */ }
  if (!Number.isInteger(db) || db === 0) return;
  try {
    await redis.select(db);
  } catch (error) {
    redis.disconnect();
    throw new SinkUnavailableError(`Redis at ${where} has no database ${db} (${(error as Error).message})`);
  }
}

export async function createRedisViewStore(options: RedisViewStoreOptions): Promise<ViewStore> {
  const ns = options.namespace ?? 'dr';
  if (!/^[A-Za-z0-9_-]+$/.test(ns)) throw new SinkError(`invalid Redis key namespace "${ns}"`);
  const where = redactUrl(options.url);
  let connectedOnce = false;
  const redis = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    maxRetriesPerRequest: 3,
    // Fail fast on the first connect (a wrong URL should say so at once), then ride out restarts.
    retryStrategy: (times) => (connectedOnce ? Math.min(times * 200, 2000) : null),
  }) as ScriptedRedis;
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => { lastError = error; });
  try {
    await redis.connect();
    connectedOnce = true;
  } catch (error) {
    redis.disconnect();
    const reason = (lastError ?? (error as Error))?.message?.replace(options.url, where) ?? 'unknown error';
    throw new SinkUnavailableError(`cannot reach Redis at ${where} (${reason.replace(/\s+/g, ' ')})`);
  }
  await selectDatabase(redis, options.url, where);
  redis.defineCommand('drApplyBatch', { lua: APPLY_BATCH_LUA });

  // View reads (the read API's hot path) have a connection of their own: they never queue behind a
  // batch script the processors sent just before, and with auto-pipelining every read issued in the
  // same tick (the reads of one page, or of concurrent requests) leaves in one socket write.
  const reader = redis.duplicate({ enableAutoPipelining: true }) as ReadScripts;
  reader.defineCommand('drReadHashes', { lua: READ_HASHES_LUA });
  reader.on('error', (error: Error) => { lastError = error; });
  try {
    await reader.connect();
  } catch (error) {
    reader.disconnect();
    redis.disconnect();
    const reason = (lastError ?? (error as Error))?.message?.replace(options.url, where) ?? 'unknown error';
    throw new SinkUnavailableError(`cannot reach Redis at ${where} (${reason.replace(/\s+/g, ' ')})`);
  }

  const viewKey = (gen: string, key: string) => `${ns}:${gen}:${key}`;
  const offsetsKey = (gen: string, processor: string) => `${ns}:${gen}:offsets:${processor}`;
  const currentKey = `${ns}:current-generation`;
  const generationsKey = `${ns}:generations`;
  const leaseKey = `${ns}:rebuild-lease`;
  const identityKey = `${ns}:identity`;

  const rangeArgs = (range: ScoreRange): [string, string] => [
    range.max === undefined ? '+inf' : `${range.exclusiveMax ? '(' : ''}${scoreArg(range.max)}`,
    range.min === undefined ? '-inf' : scoreArg(range.min),
  ];

  /**
   * One pipelined command per view key of `generation`, on the read connection; one reply per key.
   * Plain commands rather than one Lua script: a command inside a script costs Redis ~2x what it
   * costs pipelined. The feed's hydration is the exception (hashFieldsMany, read-hashes.lua.ts):
   * there ~45 commands per page cost the serving process far more than the script costs Redis.
   */
  async function readMany<T>(generation: string, keys: string[], send: (r: Redis, key: string) => Promise<unknown>, map: (reply: unknown) => T): Promise<T[]> {
    checkGeneration(generation);
    keys.forEach(checkKey);
    if (keys.length === 0) return [];
    // Plain commands on the auto-pipelined connection rather than an explicit pipeline: every read
    // issued in this tick (a feed page's sets and feed slice, concurrent requests') leaves in ONE
    // socket write, where each pipeline's exec is a write (a syscall) of its own.
    try {
      const replies = await Promise.all(keys.map((key) => send(reader, viewKey(generation, key))));
      return replies.map(map);
    } catch (error) {
      throw new SinkError(`Redis read failed: ${(error as Error).message}`);
    }
  }

  // A copy of a generation (a snapshot) must see every processor's views and offsets at one point.
  // Redis has no read snapshot, so the batches this store object sends to the copied generation wait
  // while it copies (`holds`), after the ones already sent have landed (`inFlight`). Writers in other
  // processes are not held: see copyGeneration.
  const holds = new Map<string, Promise<void>>();
  const inFlight = new Map<string, Set<Promise<void>>>();

  const store: ViewStore = {
    kind: 'redis',

    async applyBatch(batch: ViewBatch): Promise<void> {
      const effects = validateBatch(batch);
      const { generation } = batch;
      const keys: string[] = [offsetsKey(generation, batch.processor), generationsKey];
      const keyIndex = new Map<string, number>();
      const indexOf = (logical: string): number => {
        let index = keyIndex.get(logical);
        if (index === undefined) {
          keys.push(viewKey(generation, logical));
          keyIndex.set(logical, (index = keys.length)); // Lua KEYS are 1-based
        }
        return index;
      };
      const args: Array<string | number | Buffer> = [Date.now(), generation, batch.offsets.length];
      for (const o of batch.offsets) args.push(offsetField(o), o.offset);
      // Effects on different keys commute (each touches its own key), so they go to Redis key by key,
      // in batch order within a key: a key's consecutive capped adds then travel as one run (below).
      const byKey: ViewEffect[][] = [];
      for (const e of effects) {
        if (e.kind === 'zaddEach') {
          for (const key of e.keys) (byKey[indexOf(key) - FIRST_VIEW_KEY] ??= []).push({ kind: 'zadd', key, member: e.member, score: e.score, cap: e.cap });
          continue;
        }
        const k = indexOf(e.key) - FIRST_VIEW_KEY;
        (byKey[k] ??= []).push(e);
      }
      const ops: Array<string | number> = [];
      for (let k = 0; k < byKey.length; k++) packKeyEffects(ops, k + FIRST_VIEW_KEY, byKey[k]);
      args.push(packEffects(ops));
      // A generation being copied takes no batch until the copy is done (see copyGeneration).
      for (let hold = holds.get(generation); hold; hold = holds.get(generation)) await hold;
      const running = (async () => {
        try {
          // Arrays, not spread arguments: ioredis flattens them, and a spread of 100k+ arguments overflows the stack.
          await (redis.drApplyBatch as unknown as (...parts: unknown[]) => Promise<number>)(keys.length, keys, args);
        } catch (error) {
          throw new SinkError(`Redis rejected the batch of ${batch.processor} (nothing applied): ${(error as Error).message}`);
        }
      })();
      let list = inFlight.get(generation);
      if (!list) inFlight.set(generation, (list = new Set()));
      list.add(running);
      try {
        await running;
      } finally {
        list.delete(running);
      }
    },

    async offsets(generation, processor): Promise<TopicPartitionOffset[]> {
      checkGeneration(generation);
      checkProcessor(processor);
      return parseOffsetFields(await redis.hgetall(offsetsKey(generation, processor)));
    },

    async currentGeneration() {
      return (await redis.get(currentKey)) ?? INITIAL_GENERATION;
    },

    async setCurrentGeneration(generation) {
      checkGeneration(generation);
      await redis.set(currentKey, generation);
    },

    async generations() {
      return (await redis.smembers(generationsKey)).sort();
    },

    async leaseRebuild(owner, ttlMs) {
      return (await redis.eval(LEASE_LUA, 1, leaseKey, owner, Math.max(1, Math.round(ttlMs)))) === 1;
    },

    async releaseRebuild(owner) {
      await redis.eval(RELEASE_LUA, 1, leaseKey, owner);
    },

    async rebuildLeaseHolder() {
      return (await redis.get(leaseKey)) ?? undefined;
    },

    async identity() {
      return String(await redis.eval(IDENTITY_LUA, 1, identityKey, randomUUID()));
    },

    async dropGeneration(generation) {
      checkGeneration(generation);
      if (generation === (await store.currentGeneration())) {
        throw new SinkError(`cannot drop generation ${generation}: it serves reads (switch first)`);
      }
      // Admin path, not hot: SCAN the generation's prefix and UNLINK in chunks.
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${ns}:${generation}:*`, 'COUNT', 1000);
        if (found.length) await redis.unlink(...found);
        cursor = next;
      } while (cursor !== '0');
      await redis.srem(generationsKey, generation);
    },

    async zrangeByScoreDesc(generation, key, range) {
      return (await store.zrangeByScoreDescMany(generation, [key], range))[0];
    },

    async zrangeByScoreDescMany(generation, keys, range) {
      const [max, min] = rangeArgs(range);
      return readMany(generation, keys,
        (r, k) => r.zrange(k, max, min, 'BYSCORE', 'REV', 'LIMIT', 0, range.limit, 'WITHSCORES'),
        (reply) => pairs(reply as string[]));
    },

    async zscoreMany(generation, key, members) {
      checkGeneration(generation);
      checkKey(key);
      if (members.length === 0) return [];
      const scores = await reader.zmscore(viewKey(generation, key), ...members);
      return scores.map((s) => (s === null ? null : toScore(s)));
    },

    async zcard(generation, key) {
      checkGeneration(generation);
      checkKey(key);
      return redis.zcard(viewKey(generation, key));
    },

    async hgetallMany(generation, keys) {
      return readMany(generation, keys, (r, k) => r.hgetall(k), (reply) => {
        const hash = reply as Record<string, string>;
        return Object.keys(hash).length ? hash : null;
      });
    },

    async hashFieldsMany(generation, reads) {
      checkGeneration(generation);
      if (reads.length === 0) return [];
      // Packed as read-hashes.lua.ts expects: a mode character per key, each distinct field list once.
      const keys: string[] = new Array(reads.length);
      const lists: Array<readonly string[]> = [];
      let modes = '';
      for (let i = 0; i < reads.length; i++) {
        const { key, fields } = reads[i];
        checkKey(key);
        keys[i] = viewKey(generation, key);
        if (fields === undefined) modes += 'a';
        else if (fields.length === 0) modes += 'e';
        else {
          let list = lists.indexOf(fields);
          if (list < 0) list = lists.findIndex((l) => l.length === fields.length && l.every((f, j) => f === fields[j]));
          if (list < 0) {
            if (lists.length === MAX_FIELD_LISTS) throw new SinkError(`hashFieldsMany takes at most ${MAX_FIELD_LISTS} distinct field lists per call`);
            list = lists.push(fields) - 1;
          }
          modes += String.fromCharCode(49 + list); // '1' + list: never 'a' nor 'e'
        }
      }
      const argv: Array<string | number> = [modes];
      for (const list of lists) argv.push(list.length, ...list);
      let flat: Array<string | number | null>;
      try {
        flat = await reader.drReadHashes(keys.length, keys, argv);
      } catch (error) {
        throw new SinkError(`Redis read failed: ${(error as Error).message}`);
      }
      const out: Array<Record<string, string> | null> = new Array(reads.length);
      let at = 0;
      for (let i = 0; i < reads.length; i++) {
        const count = flat[at++] as number;
        if (count < 0) { out[i] = null; continue; }
        const hash: Record<string, string> = {};
        const fields = reads[i].fields;
        if (fields === undefined) {
          for (let j = 0; j < count; j += 2) hash[flat[at + j] as string] = flat[at + j + 1] as string;
        } else {
          for (let j = 0; j < count; j++) if (flat[at + j] !== null) hash[fields[j]] = flat[at + j] as string;
        }
        at += count;
        out[i] = hash;
      }
      return out;
    },

    async smembers(generation, key, now) {
      return (await store.smembersMany(generation, [key], now))[0];
    },

    async smembersMany(generation, keys, now) {
      return readMany(generation, keys, (r, k) => r.zrange(k, `(${now}`, '+inf', 'BYSCORE'), (reply) => reply as string[]);
    },

    async sismemberMany(generation, key, members, now) {
      const scores = await store.zscoreMany(generation, key, members);
      return scores.map((s) => s !== null && s > now);
    },

    async scan(generation, cursor, count) {
      checkGeneration(generation);
      const prefix = `${ns}:${generation}:`;
      const [next, found] = await redis.scan(cursor ?? '0', 'MATCH', `${prefix}*`, 'COUNT', count);
      const keys = found.filter((k) => !k.startsWith(`${prefix}offsets:`));
      // Admin path (verify, snapshots): one pipeline for the types, one for the values and TTLs.
      const replies = async (build: (p: ReturnType<Redis['pipeline']>) => void): Promise<unknown[]> => {
        const p = redis.pipeline();
        build(p);
        return ((await p.exec()) ?? []).map(([error, reply]) => {
          if (error) throw new SinkError(`Redis scan failed: ${error.message}`);
          return reply;
        });
      };
      const types = (await replies((p) => keys.forEach((k) => p.type(k)))) as string[];
      const now = Date.now();
      const values = await replies((p) => keys.forEach((k, i) => {
        if (types[i] === 'hash') p.hgetall(k);
        else if (types[i] === 'zset') p.zrange(k, '0', '-1', 'WITHSCORES');
        else p.exists(k);
        p.pttl(k);
      }));
      const entries: ViewEntry[] = [];
      keys.forEach((k, i) => {
        const key = k.slice(prefix.length);
        const value = values[2 * i];
        if (types[i] === 'hash' && Object.keys(value as object).length) {
          entries.push({ key, type: 'hash', fields: value as Record<string, string> });
        } else if (types[i] === 'zset') {
          // Expiring sets carry a PEXPIREAT; their expired members are filtered as reads do.
          const expiring = (values[2 * i + 1] as number) > 0;
          const members = pairs(value as string[]).filter((m) => !expiring || m.score > now);
          if (members.length) entries.push({ key, type: 'zset', members, expiring });
        }
      });
      return { cursor: next === '0' ? undefined : next, entries };
    },

    async copyGeneration(from: string, to: string, request: CopyRequest) {
      checkGeneration(from);
      checkGeneration(to);
      request.processors.forEach(checkProcessor);
      if (from === to) throw new SinkError(`cannot copy generation ${from} onto itself`);
      if (holds.has(from)) throw new SinkError(`a copy of generation ${from} is already running`);
      // Server-side COPY (values and TTLs, never through this process), pipelined a SCAN page at a
      // time, so Redis stays free for reads in between. Batches of this process to `from` wait
      // meanwhile, so views and offsets match; the processors see a slow sink, nothing else.
      let release!: () => void;
      holds.set(from, new Promise<void>((resolve) => { release = resolve; }));
      try {
        await Promise.allSettled([...(inFlight.get(from) ?? [])]);
        return await copyViews(from, to, request);
      } finally {
        holds.delete(from);
        release();
      }
    },

    async close() {
      await Promise.all([reader, redis].map((connection) => connection.quit().catch(() => connection.disconnect())));
    },
  };

  /** The copy itself: SCAN pages of `from`, COPY ... REPLACE pipelined per page, then the offsets. */
  async function copyViews(from: string, to: string, request: CopyRequest): Promise<number> {
    const prefix = `${ns}:${from}:`;
    let copied = 0;
    let cursor = request.offsetsOnly ? undefined : '0';
    while (cursor !== undefined) {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next === '0' ? undefined : next;
      const keys = found.filter((k) => !k.startsWith(`${prefix}offsets:`) && (!request.keys || request.keys(k.slice(prefix.length))));
      if (!keys.length) continue;
      const p = redis.pipeline();
      for (const k of keys) p.copy(k, viewKey(to, k.slice(prefix.length)), 'REPLACE');
      for (const [error, reply] of (await p.exec()) ?? []) {
        if (error) throw new SinkError(`Redis copy of generation ${from} failed: ${error.message}`);
        copied += Number(reply);
      }
    }
    const p = redis.pipeline();
    for (const processor of request.processors) p.copy(offsetsKey(from, processor), offsetsKey(to, processor), 'REPLACE');
    p.sadd(generationsKey, to);
    for (const [error] of (await p.exec()) ?? []) {
      if (error) throw new SinkError(`Redis copy of the offsets of generation ${from} failed: ${error.message}`);
    }
    return copied;
  }
  return store;
}
