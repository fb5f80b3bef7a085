// The view store: where processors' effects become the views the product reads. Two implementations
// pass one contract suite (test/integration/view-store-suite.ts): an embedded one on lmdb (default)
// and Redis. Both apply a batch's effects AND its input offsets in one atomic step, so a processor that
// restarts resumes exactly from the offsets its store holds.
//
// Semantics shared by both stores (the contract):
// - Sorted sets order members by score, ties by member (byte order), like Redis.
// - `zadd` with `cap` keeps the `cap` highest-scored members after the insert.
// - `zremTagged` removes members whose tag (text after the last '|') equals the tag.
// - `sadd` sets are sorted sets scored by their expiry (+Infinity for none); a member is visible while
//   `expiresAt > now`, and expired members are trimmed whenever the set is written.
// - `hincr` counts in integers or floats; `hset` stores numbers as their decimal text.
// - A batch that cannot apply (bad effect, a key used as two different types) changes nothing:
//   neither its effects nor its offsets.
// - `row` and `repartition` effects do not belong here (the runtime routes them to the analytics store
//   and to internal topics); a batch that contains one is rejected as a programming error.
import type { Effect } from '../processors/effects.ts';
import type { Sink } from '../processors/runtime.ts';
import type { TopicPartitionOffset } from '../topics/types.ts';
import { SinkError } from './errors.ts';

/** The effects a view store applies. */
export type ViewEffect = Exclude<Effect, { kind: 'row' } | { kind: 'repartition' }>;

export interface ScoredMember { member: string; score: number }

export interface ScoreRange {
  /** Highest score to return (inclusive unless `exclusiveMax`); +Infinity when omitted. */
  max?: number;
  /** Lowest score to return (inclusive); -Infinity when omitted. */
  min?: number;
  /** Page below a score already shown ("older than the last item"). */
  exclusiveMax?: boolean;
  limit: number;
}

/**
 * One view as `scan` returns it: a sorted set (with `expiring` when it is an expiring set whose key
 * lapses with its last member) or a hash. Expired members and lapsed keys are left out.
 */
export type ViewEntry =
  | { key: string; type: 'zset'; members: ScoredMember[]; expiring: boolean }
  | { key: string; type: 'hash'; fields: Record<string, string> };

/** A page of `scan`; `cursor` undefined once the generation has been walked to its end. */
export interface ViewPage { cursor: string | undefined; entries: ViewEntry[] }

/** What `copyGeneration` copies. */
export interface CopyRequest {
  /** Which logical view keys to copy; every view of the generation when omitted. */
  keys?: (key: string) => boolean;
  /** Copy the offsets only (no walk over the views at all). */
  offsetsOnly?: boolean;
  /** Processors whose resume points (offsets) are copied along. */
  processors: string[];
}

export interface ViewBatch {
  generation: string;
  processor: string;
  effects: Effect[];
  /** Next offset to read per input topic-partition once this batch is applied. */
  offsets: TopicPartitionOffset[];
}

export interface ViewStore {
  readonly kind: 'embedded' | 'redis';
  /** Atomically apply effects and record `offsets` as the processor's resume point, within `generation`. */
  applyBatch(batch: ViewBatch): Promise<void>;
  /** The resume point a processor left in `generation` (empty when it never wrote there). */
  offsets(generation: string, processor: string): Promise<TopicPartitionOffset[]>;

  /** The generation serving reads; INITIAL_GENERATION until a replay switches it. */
  currentGeneration(): Promise<string>;
  /** Switches reads to `generation` in one atomic step. */
  setCurrentGeneration(generation: string): Promise<void>;
  /** Generations that hold data (or a resume point). */
  generations(): Promise<string[]>;
  /** Deletes every view and offset of a generation; refuses the current one. */
  dropGeneration(generation: string): Promise<void>;

  /** Members of a sorted set from the highest score down. */
  zrangeByScoreDesc(generation: string, key: string, range: ScoreRange): Promise<ScoredMember[]>;
  /** The same for many keys in one round trip (e.g. a page of feeds, several trending windows). */
  zrangeByScoreDescMany(generation: string, keys: string[], range: ScoreRange): Promise<ScoredMember[][]>;
  /** Scores of `members` in one sorted set (null where absent), e.g. a viewer's seen-state for a page. */
  zscoreMany(generation: string, key: string, members: string[]): Promise<Array<number | null>>;
  zcard(generation: string, key: string): Promise<number>;
  /** Whole hashes (post stats, profiles) for many keys in one round trip; null where absent. */
  hgetallMany(generation: string, keys: string[]): Promise<Array<Record<string, string> | null>>;
  /**
   * Optional, for hot read paths: like hgetallMany, but per key either every field (`fields` omitted),
   * only `fields` (absent ones left out), or, with an empty `fields`, whether the key exists ({}), in
   * ONE store command (Redis: one script call, not one command per key). null where nothing asked
   * for was found: the key is absent, or has none of `fields`. Callers fall back to hgetallMany
   * where a store does not have it.
   */
  hashFieldsMany?(generation: string, reads: ReadonlyArray<{ key: string; fields?: readonly string[] }>): Promise<Array<Record<string, string> | null>>;
  /** Members of an expiring set still alive at `now` (wall-clock ms). */
  smembers(generation: string, key: string, now: number): Promise<string[]>;
  smembersMany(generation: string, keys: string[], now: number): Promise<string[][]>;
  /** For each member: is it in the set and alive at `now`? */
  sismemberMany(generation: string, key: string, members: string[], now: number): Promise<boolean[]>;

  /**
   * Walks every view of a generation (offsets excluded), about `count` keys a page; pass the returned
   * cursor back until it is undefined. For replay tooling (verify, snapshots), not for serving: it
   * reads whole values. Keys may repeat across pages (Redis SCAN); callers keep the last one.
   */
  scan(generation: string, cursor: string | undefined, count: number): Promise<ViewPage>;

  /**
   * Copies views and resume points from one generation into another inside the store (Redis COPY,
   * one lmdb write transaction), without moving the values through this process: snapshots are made
   * this way, a replay from a snapshot starts with such a copy, and a switch carries views over with
   * it. A copy replaces what the target held under the same key. For views and offsets to match, the
   * writers of the copied processors in `from` must be paused (each batch is atomic, a copy on Redis
   * is not). Resolves with the number of views copied.
   */
  copyGeneration(from: string, to: string, request: CopyRequest): Promise<number>;

  /**
   * Takes or renews the store's one rebuild lease for `owner`, for `ttlMs`: true when `owner` holds
   * it now, false while another owner's lease runs. Processes sharing a store (`darkroom process`
   * replicas on one Redis) rebuild one at a time, and the others follow the pointer it moves.
   */
  leaseRebuild(owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `owner` holds it. */
  releaseRebuild(owner: string): Promise<void>;
  /** Who holds the rebuild lease now. */
  rebuildLeaseHolder(): Promise<string | undefined>;

  /**
   * The store's identity: a random id made on first use and kept with the data. A different answer
   * later means the data went (Redis restarted empty, flushed): the live processors check it, since
   * offsets alone tell only once a partition that got no new batch is looked at.
   */
  identity(): Promise<string>;

  close(): Promise<void>;
}

/** The generation a fresh store serves until the first replay switches it. */
export const INITIAL_GENERATION = 'g1';

const GENERATION_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PROCESSOR_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** Logical keys that would collide with the store's own bookkeeping under a generation prefix. */
const RESERVED_PREFIX = 'offsets:';

export function checkGeneration(generation: string): void {
  if (typeof generation !== 'string' || !GENERATION_NAME.test(generation)) {
    throw new SinkError(`invalid generation "${generation}": use 1-64 letters, digits, '-' or '_'`);
  }
}

export function checkProcessor(processor: string): void {
  if (typeof processor !== 'string' || !PROCESSOR_NAME.test(processor)) {
    throw new SinkError(`invalid processor name "${processor}": use letters, digits, '.', '-' or '_'`);
  }
}

export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new SinkError('view key must be a non-empty string');
  if (key.startsWith(RESERVED_PREFIX)) throw new SinkError(`view key "${key}" uses the reserved prefix "${RESERVED_PREFIX}"`);
}

function checkScore(score: number, what: string): void {
  if (typeof score !== 'number' || Number.isNaN(score)) throw new SinkError(`${what} must be a number, got ${score}`);
}

function checkCap(cap: number | undefined, key: string): void {
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 1)) throw new SinkError(`zadd cap for ${key} must be a positive integer, got ${cap}`);
}

/** The data type an effect needs its key to hold; `del` works on any. */
export function keyTypeOf(effect: ViewEffect): 'zset' | 'hash' | 'any' {
  switch (effect.kind) {
    case 'hset': case 'hincr': return 'hash';
    case 'del': return 'any';
    default: return 'zset';
  }
}

/**
 * Checks a whole batch before anything is written, so that a bad effect fails the batch as a unit
 * (Redis has no rollback; the embedded store aborts its transaction, but failing early is clearer).
 * With `fanoutKeys: 'checked by the caller'` the keys of zaddEach effects are left out: a store that
 * visits every distinct key anyway checks each once (checkKey) before it writes, instead of once per
 * follower of every post.
 */
export function validateBatch(batch: ViewBatch, options: { fanoutKeys?: 'checked by the caller' } = {}): ViewEffect[] {
  const checkFanoutKeys = options.fanoutKeys === undefined;
  checkGeneration(batch.generation);
  checkProcessor(batch.processor);
  for (const o of batch.offsets) {
    if (typeof o.topic !== 'string' || !o.topic || !Number.isInteger(o.partition) || o.partition < 0
      || !Number.isInteger(o.offset) || o.offset < 0) {
      throw new SinkError(`invalid offset ${JSON.stringify(o)} in batch of ${batch.processor}`);
    }
  }
  for (const effect of batch.effects) {
    switch (effect.kind) {
      case 'row': case 'repartition':
        throw new SinkError(`a view store does not apply "${effect.kind}" effects (processor ${batch.processor}); route them to the ${effect.kind === 'row' ? 'analytics store' : 'repartition topic'}`);
      case 'zadd':
        checkKey(effect.key); checkScore(effect.score, `zadd score for ${effect.key}`);
        checkCap(effect.cap, effect.key);
        break;
      case 'zaddEach':
        if (!Array.isArray(effect.keys) || effect.keys.length === 0) throw new SinkError(`zaddEach of ${effect.member} names no keys`);
        if (checkFanoutKeys) for (const key of effect.keys) checkKey(key);
        if (effect.numbers !== undefined && (effect.numbering === undefined || effect.numbers.length !== effect.keys.length)) {
          throw new SinkError(`zaddEach of ${effect.member} has ${effect.keys.length} keys but ${effect.numbers.length} numbers${effect.numbering ? '' : ' and no numbering'}`);
        }
        checkScore(effect.score, `zaddEach score for ${effect.keys[0]}`);
        checkCap(effect.cap, effect.keys[0]);
        break;
      case 'zreplace':
        checkKey(effect.key);
        for (const e of effect.entries) checkScore(e.score, `zreplace score for ${effect.key}`);
        break;
      case 'sadd':
        checkKey(effect.key);
        if (effect.expiresAt !== undefined) checkScore(effect.expiresAt, `sadd expiresAt for ${effect.key}`);
        break;
      case 'hset':
        checkKey(effect.key);
        if (Object.keys(effect.fields).length === 0) throw new SinkError(`hset on ${effect.key} has no fields`);
        break;
      case 'hincr':
        checkKey(effect.key);
        if (typeof effect.by !== 'number' || !Number.isFinite(effect.by)) throw new SinkError(`hincr of ${effect.key}.${effect.field} by ${effect.by}: not a finite number`);
        break;
      case 'zrem': case 'zremTagged': case 'srem': case 'del':
        checkKey(effect.key);
        break;
      default:
        throw new SinkError(`unknown effect kind "${(effect as { kind: string }).kind}"`);
    }
  }
  return batch.effects as ViewEffect[];
}

export const offsetField = (o: { topic: string; partition: number }) => `${o.topic}:${o.partition}`;

export function parseOffsetFields(fields: Record<string, string | number>): TopicPartitionOffset[] {
  return Object.entries(fields).map(([field, offset]) => {
    const cut = field.lastIndexOf(':');
    return { topic: field.slice(0, cut), partition: Number(field.slice(cut + 1)), offset: Number(offset) };
  }).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** Adapts a view store to the runtime's Sink for one processor writing one generation. */
export function viewSink(store: ViewStore, generation: string, processor: string): Sink {
  return {
    name: `${store.kind}-views:${processor}@${generation}`,
    offsets: () => store.offsets(generation, processor),
    apply: (effects, offsets) => store.applyBatch({ generation, processor, effects, offsets }),
  };
}
