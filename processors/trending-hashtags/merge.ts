// How serving turns the partitions' published tops into the global top (pure, so serving and tests
// share it). Every tag lives in exactly one partition, so the global top K is the best K of the
// partitions' top Ks. Partitions publish at their own event time (`as_of`); while traffic flows they
// are within a second of each other. A partition that went quiet holds scores from its `as_of`, which
// only overstate the present (velocity falls while a tag is idle), so they are discounted by the
// recent-rate decay over the gap: exact when the prior dominates the baseline, close otherwise.

export interface PublishedTop {
  /** Event time of the scores (trending:p<n>:meta as_of). */
  asOf: number;
  entries: Array<{ tag: string; score: number; uses1h: number }>;
}

export interface TrendingTag {
  tag: string;
  score: number;
  uses1h: number;
}

export function mergePartitionTops(parts: PublishedTop[], halfLifeMinutes: number, limit = 100): TrendingTag[] {
  const newest = Math.max(...parts.map((p) => p.asOf).filter(Number.isFinite), -Infinity);
  const merged: TrendingTag[] = [];
  for (const part of parts) {
    const gapMinutes = Number.isFinite(newest) && Number.isFinite(part.asOf) ? (newest - part.asOf) / 60_000 : 0;
    const discount = 2 ** (-gapMinutes / halfLifeMinutes);
    for (const e of part.entries) merged.push({ tag: e.tag, score: e.score * discount, uses1h: e.uses1h });
  }
  merged.sort((a, b) => b.score - a.score || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return merged.slice(0, limit);
}
