// The knobs of trending, with the defaults the product ships with.

export interface TrendingOptions {
  /** Half-life of a tag's recent rate: how fast a burst fades. */
  halfLifeMinutes: number;
  /** Half-life of a tag's usual rate, the baseline it is compared with. Must exceed halfLifeMinutes. */
  baselineHalfLifeMinutes?: number;
  /** Pseudo-uses added to the baseline, so a brand-new tag needs several authors to outrank old ones. */
  prior?: number;
  /** Within this window only the first use of a tag by one author counts (default: halfLifeMinutes). */
  authorWindowMinutes?: number;
  /** Tags published per partition. */
  topSize?: number;
  /** Publish the partition's top at most once per this much event time. */
  publishEveryMs?: number;
  /** A tag whose usual rate decayed below this many uses is forgotten (bounded memory). */
  forgetBelow?: number;
  /** Landmark time L of forward decay; any fixed instant works, a recent one keeps numbers small. */
  landmarkMs?: number;
}

export type TrendingConfig = Required<TrendingOptions>;

export class TrendingConfigError extends Error {}

export function trendingConfig(options: TrendingOptions): TrendingConfig {
  const config: TrendingConfig = {
    baselineHalfLifeMinutes: 24 * 60,
    prior: 2,
    authorWindowMinutes: options.halfLifeMinutes,
    topSize: 100,
    publishEveryMs: 1000,
    forgetBelow: 0.5,
    landmarkMs: Date.UTC(2025, 0, 1),
    ...stripUndefined(options),
    halfLifeMinutes: options.halfLifeMinutes,
  };
  const positive = ['halfLifeMinutes', 'baselineHalfLifeMinutes', 'prior', 'topSize', 'publishEveryMs'] as const;
  for (const name of positive) {
    if (!(config[name] > 0)) throw new TrendingConfigError(`trending: ${name} must be > 0, got ${config[name]}`);
  }
  // Velocity must fall while a tag is idle (ranking.ts relies on it): the baseline decays slower.
  if (config.baselineHalfLifeMinutes <= config.halfLifeMinutes) {
    throw new TrendingConfigError(
      `trending: baselineHalfLifeMinutes (${config.baselineHalfLifeMinutes}) must exceed halfLifeMinutes (${config.halfLifeMinutes})`,
    );
  }
  return config;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
