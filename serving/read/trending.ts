// GET /v1/hashtags/trending: the global top, merged from the tops each partition of the trending
// processor publishes (processors/trending-hashtags/keys.ts, merge.ts). Every request of every user
// reads the same few keys, so the merged top goes through the hot cache: one read of the
// partitions per cache period, however many requests arrive.
import type { ViewStore } from '../../sinks/view-store.ts';
import { mergePartitionTops, type PublishedTop, type TrendingTag } from '../../processors/trending-hashtags/merge.ts';
import { trendingMetaKey, trendingTopKey, trendingUsesKey } from '../../processors/trending-hashtags/keys.ts';
import type { HotCache } from '../single-flight.ts';

const itemsOf = (merged: TrendingTag[], limit: number): TrendingItem[] =>
  merged.slice(0, limit).map((t) => ({ hashtag: t.tag, score: t.score, uses_1h: t.uses1h }));

/** Each partition publishes its top 100; the global top is never longer. */
export const TRENDING_TOP = 100;

export interface TrendingItem {
  hashtag: string;
  score: number;
  uses_1h: number;
}

export class TrendingReader {
  constructor(
    private readonly views: ViewStore,
    private readonly cache: HotCache<TrendingTag[]>,
    private readonly partitions: number,
    private readonly halfLifeMinutes: number,
  ) {}

  /** Response bodies by merged top (one per cache period) and limit; gone with their top. */
  private readonly bodies = new WeakMap<TrendingTag[], Map<number, Buffer>>();

  /**
   * The response body `{"items": top(limit)}` as bytes. Every request of a cache period gets the
   * same top, so it is serialized once per period and limit, not once per request.
   */
  async topJson(generation: string, limit: number): Promise<Buffer> {
    const merged = await this.cache.get(generation, () => this.readAll(generation));
    let byLimit = this.bodies.get(merged);
    if (!byLimit) this.bodies.set(merged, (byLimit = new Map()));
    let body = byLimit.get(limit);
    if (!body) byLimit.set(limit, (body = Buffer.from(JSON.stringify({ items: itemsOf(merged, limit) }))));
    return body;
  }

  /** Every partition's published top, uses and as_of: two pipelined reads sent together. */
  private async readAll(generation: string): Promise<TrendingTag[]> {
    const parts = Array.from({ length: this.partitions }, (_, p) => p);
    const [tops, hashes] = await Promise.all([
      this.views.zrangeByScoreDescMany(generation, parts.map(trendingTopKey), { limit: TRENDING_TOP }),
      this.views.hgetallMany(generation, [...parts.map(trendingUsesKey), ...parts.map(trendingMetaKey)]),
    ]);
    const published: PublishedTop[] = [];
    parts.forEach((p, i) => {
      const meta = hashes[this.partitions + i];
      if (!meta || tops[i].length === 0) return; // this partition has published nothing yet
      const uses = hashes[i] ?? {};
      published.push({
        asOf: Number(meta.as_of),
        entries: tops[i].map((e) => ({ tag: e.member, score: e.score, uses1h: Number(uses[e.member] ?? 0) })),
      });
    });
    return published.length ? mergePartitionTops(published, this.halfLifeMinutes, TRENDING_TOP) : [];
  }
}
