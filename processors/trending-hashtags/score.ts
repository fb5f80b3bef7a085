// Stage 2 of trending: scores of the tags of one partition of the repartition topic (all uses of a
// tag land in the same partition). The rules, in the order apply() follows them:
//
// 1. Event time only. "Now" is the latest use time seen in the partition, so a replay of the same
//    records publishes the same rankings.
// 2. Distinct authors: within `authorWindowMinutes` only an author's first use of a tag counts, so one
//    account posting a tag 1,000 times weighs about one post (the window is forgotten after it passes).
// 3. Velocity against the tag's own baseline:
//        velocity = recent rate / (usual rate + prior)
//    recent: distinct-author uses decayed with half-life `halfLifeMinutes`; usual: the same uses
//    decayed with `baselineHalfLifeMinutes`, scaled to the same time unit as recent (× h / H) so a
//    tag used steadily for long scores about 1 and a sudden burst scores far above it. Both are
//    forward-decayed counters: an update touches only its tag, never every tag.
// 4. Uses in the last hour are counted per minute of event time (all public uses, repeats included).
// 5. Publishing is throttled by event time: at most one top-`topSize` per `publishEveryMs`.
// 6. Memory is bounded: once an hour of event time, tags whose usual rate fell below `forgetBelow`
//    and author windows that passed are forgotten.
import type { Effect } from '../effects.ts';
import type { Processor } from '../processor.ts';
import type { TrendingConfig } from './config.ts';
import type { HashtagUse } from './extract.ts';
import { EMPTY_LOG_SUM, ForwardDecay } from './forward-decay.ts';
import { TRENDING_REPARTITION_TOPIC, trendingMetaKey, trendingTopKey, trendingUsesKey } from './keys.ts';
import { MinuteWindow } from './minute-window.ts';
import { LazyTopK, type Ranked } from './ranking.ts';

const MINUTE_MS = 60_000;
const SWEEP_EVERY_MS = 3600_000;

interface TagStats extends Ranked {
  /** log of the forward-decayed distinct-author uses, recent half-life. */
  logRecent: number;
  /** log of the forward-decayed distinct-author uses, baseline half-life. */
  logUsual: number;
  /** Author → event time of their last use that counted. */
  lastCountedUse: Map<string, number>;
  uses: MinuteWindow;
}

export interface ScoreState {
  partition: number;
  tags: Map<string, TagStats>;
  ranking: LazyTopK<TagStats>;
  /** Latest event time seen in this partition. */
  now: number;
  lastPublishSlot: number;
  lastSweepSlot: number;
  /** A use changed the ranking since the last publish (see punctuate). */
  unpublished: boolean;
}

export interface TagScore {
  tag: string;
  score: number;
  uses1h: number;
}

export interface TrendingScorer extends Processor<ScoreState, HashtagUse> {
  /** The current top of a partition's state, as it would be published at `now` (for tests and tools). */
  topAt(state: ScoreState, now?: number): TagScore[];
}

export function createTrendingScorer(config: TrendingConfig): TrendingScorer {
  const recent = new ForwardDecay(config.halfLifeMinutes * MINUTE_MS, config.landmarkMs);
  const usual = new ForwardDecay(config.baselineHalfLifeMinutes * MINUTE_MS, config.landmarkMs);
  const usualToRecentUnits = config.halfLifeMinutes / config.baselineHalfLifeMinutes;
  const authorWindowMs = config.authorWindowMinutes * MINUTE_MS;

  const velocityAt = (tag: TagStats, now: number): number =>
    recent.valueAt(tag.logRecent, now) /
    (usual.valueAt(tag.logUsual, now) * usualToRecentUnits + config.prior);

  function countsForAuthor(tag: TagStats, author: string, ts: number): boolean {
    const last = tag.lastCountedUse.get(author);
    if (last !== undefined && Math.abs(ts - last) < authorWindowMs) return false;
    tag.lastCountedUse.set(author, last === undefined ? ts : Math.max(last, ts));
    return true;
  }

  function statsOf(state: ScoreState, name: string): TagStats {
    let tag = state.tags.get(name);
    if (!tag) {
      tag = {
        name, bound: 0, evaluatedAt: -Infinity, heapIndex: -1,
        logRecent: EMPTY_LOG_SUM, logUsual: EMPTY_LOG_SUM, lastCountedUse: new Map(), uses: new MinuteWindow(60),
      };
      state.tags.set(name, tag);
    }
    return tag;
  }

  function forgetFaded(state: ScoreState): void {
    const now = state.now;
    for (const [name, tag] of state.tags) {
      for (const [author, ts] of tag.lastCountedUse) {
        if (now - ts >= authorWindowMs) tag.lastCountedUse.delete(author);
      }
      if (usual.valueAt(tag.logUsual, now) < config.forgetBelow && tag.uses.isEmptyAt(now)) {
        state.ranking.remove(tag);
        state.tags.delete(name);
      }
    }
  }

  function topAt(state: ScoreState, now = state.now): TagScore[] {
    return state.ranking.top(config.topSize, now, velocityAt).map((tag) => ({
      tag: tag.name, score: tag.bound, uses1h: tag.uses.countAt(now),
    }));
  }

  function publish(state: ScoreState): Effect[] {
    const top = topAt(state);
    const effects: Effect[] = [
      { kind: 'zreplace', key: trendingTopKey(state.partition), entries: top.map((t) => ({ member: t.tag, score: t.score })) },
      { kind: 'del', key: trendingUsesKey(state.partition) },
    ];
    if (top.length) {
      const uses: Record<string, number> = {};
      for (const t of top) uses[t.tag] = t.uses1h;
      effects.push({ kind: 'hset', key: trendingUsesKey(state.partition), fields: uses });
    }
    effects.push({ kind: 'hset', key: trendingMetaKey(state.partition), fields: { as_of: state.now, tags: state.tags.size } });
    return effects;
  }

  return {
    name: 'trending-hashtags',
    inputs: [TRENDING_REPARTITION_TOPIC],
    init: (partition) => ({
      partition, tags: new Map(), ranking: new LazyTopK(), now: -Infinity, lastPublishSlot: -Infinity, lastSweepSlot: -Infinity, unpublished: false,
    }),
    apply(state, use) {
      if (!isHashtagUse(use)) return []; // malformed internal record: nothing to count
      state.now = Math.max(state.now, use.ts);
      const now = state.now;

      const tag = statsOf(state, use.hashtag);
      tag.uses.add(use.ts, now);
      if (countsForAuthor(tag, use.author_id, use.ts)) {
        tag.logRecent = recent.add(tag.logRecent, use.ts);
        tag.logUsual = usual.add(tag.logUsual, use.ts);
        tag.bound = velocityAt(tag, now);
        tag.evaluatedAt = now;
        state.ranking.upsert(tag);
      }

      const sweepSlot = Math.floor(now / SWEEP_EVERY_MS);
      if (sweepSlot > state.lastSweepSlot) {
        state.lastSweepSlot = sweepSlot;
        forgetFaded(state);
      }
      const publishSlot = Math.floor(now / config.publishEveryMs);
      if (publishSlot <= state.lastPublishSlot) {
        state.unpublished = true;
        return [];
      }
      state.lastPublishSlot = publishSlot;
      state.unpublished = false;
      return publish(state);
    },
    // A use that arrived late in its second (common: one tag's uses come from many upstream
    // partitions) is published once the batch is in, instead of waiting for the next second.
    punctuate(state) {
      if (!state.unpublished) return [];
      state.unpublished = false;
      return publish(state);
    },
    topAt,
  };
}

function isHashtagUse(value: unknown): value is HashtagUse {
  const use = value as HashtagUse | null;
  return typeof use?.hashtag === 'string' && use.hashtag !== '' && typeof use.author_id === 'string' &&
    typeof use.ts === 'number' && Number.isFinite(use.ts);
}
