// Which hashtags a new post carries. Everyday popularity follows a Zipf law over the vocabulary
// (a few tags everywhere, a long tail rarely seen). On top of that come bursts: now and then a tag
// from the tail suddenly takes off and rides on a large share of posts for a while, then falls back
// to the tail. Bursts are what a trending view exists to catch.
import { PowerLaw, type Random } from './random.ts';
import { hashtagVocabulary } from './text.ts';

export interface BurstOptions {
  /** Mean event-time gap between the end of one burst and the start of the next (exponential). */
  meanGapMs: number;
  /** A burst lasts uniformly between these two durations of event time. */
  minDurationMs: number;
  maxDurationMs: number;
  /** Share of new posts that carry the burst tag while it lasts. */
  postShare: number;
}

export const DEFAULT_BURSTS: BurstOptions = {
  meanGapMs: 10 * 60_000,
  minDurationMs: 2 * 60_000,
  maxDurationMs: 15 * 60_000,
  postShare: 0.25,
};

/** A burst seen from outside: which tag, and over which span of event time. */
export interface Burst {
  tag: string;
  startTs: number;
  endTs: number;
}

/** The head of the Zipf law stays popular; bursts are drawn from the tail behind it. */
const HEAD = 20;
const POPULARITY_EXPONENT = 1.1;

export class HashtagTrends {
  private readonly tagByPopularity: string[];
  private readonly popularity: PowerLaw;
  private readonly options: BurstOptions;
  private current: Burst | null = null;
  private nextBurstAt: number;
  private readonly history: Burst[] = [];

  constructor(random: Random, startTs: number, options: BurstOptions) {
    const vocabulary = hashtagVocabulary();
    const order = random.permutation(vocabulary.length);
    this.tagByPopularity = Array.from(order, (i) => vocabulary[i]);
    this.popularity = new PowerLaw(vocabulary.length, POPULARITY_EXPONENT);
    this.options = options;
    // The first burst comes early, so even a short run shows one.
    this.nextBurstAt = startTs + random.exponential(options.meanGapMs / 4);
  }

  /** Bursts started so far, oldest first (the last 100). */
  bursts(): readonly Burst[] {
    return this.history;
  }

  /** The tags of a post created at `ts`: usually 0-5, distinct, Zipf-popular, plus the burst tag now and then. */
  tagsFor(random: Random, ts: number): string[] {
    this.advanceBursts(random, ts);
    const tags: string[] = [];
    const roll = random.float();
    // 30% no tag, then one to five, and a few tag-stuffers with up to twelve.
    const count = roll < 0.3 ? 0 : roll < 0.95 ? 1 + random.below(5) : 6 + random.below(7);
    for (let i = 0; i < count; i++) {
      const tag = this.tagByPopularity[this.popularity.sample(random)];
      if (!tags.includes(tag)) tags.push(tag);
    }
    const burst = this.current;
    if (burst !== null && random.chance(this.options.postShare) && !tags.includes(burst.tag)) tags.unshift(burst.tag);
    return tags;
  }

  private advanceBursts(random: Random, ts: number): void {
    if (this.current !== null && ts >= this.current.endTs) this.current = null;
    if (this.current === null && ts >= this.nextBurstAt) {
      const { minDurationMs, maxDurationMs, meanGapMs } = this.options;
      const tail = this.tagByPopularity.length - HEAD;
      const tag = this.tagByPopularity[HEAD + random.below(tail)];
      const endTs = ts + minDurationMs + random.float() * (maxDurationMs - minDurationMs);
      this.current = { tag, startTs: ts, endTs: Math.floor(endTs) };
      this.history.push(this.current);
      if (this.history.length > 100) this.history.shift();
      this.nextBurstAt = endTs + random.exponential(meanGapMs);
    }
  }
}
