// Randomness for the simulator. Everything random comes from pure-rand's xoroshiro128+ generator,
// seeded from the simulation seed: the same seed gives the same world and the same stream, byte for
// byte. Independent streams (world, bootstrap ids, traffic) are cut from one generator with jump(),
// so consuming one of them never shifts the others.
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

const TWO_POW_32 = 4294967296;
const INV_TWO_POW_32 = 1 / TWO_POW_32;

/** Char codes of '0'..'9', 'a'..'f'. */
const HEX_CODE = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const DASH = 0x2d;

export class Random {
  private readonly generator: JumpableRandomGenerator;

  constructor(generator: JumpableRandomGenerator) {
    this.generator = generator;
  }

  /** An independent copy that will draw the same numbers as this one from here on. */
  clone(): Random {
    return new Random(this.generator.clone());
  }

  /** Uniform in [0, 1) with 32 bits of resolution: plenty for choosing actions, cheap enough for 500k events/s. */
  float(): number {
    return (this.generator.next() >>> 0) * INV_TWO_POW_32;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }

  /** Exponentially distributed with the given mean: the gap between events of a Poisson process. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** A version-4, RFC 9562 variant UUID string, drawn from the generator (never from crypto). */
  uuid(): string {
    const g = this.generator;
    const a = g.next();
    const b = g.next();
    // Version nibble 4 and variant bits 10, so strict UUID validators accept it.
    const c = (g.next() & 0x3fffffff) | 0x80000000;
    const d = g.next();
    const h = HEX_CODE;
    // One flat string from char codes: no intermediate strings for the GC (this runs once per event).
    return String.fromCharCode(
      h[a >>> 28], h[(a >>> 24) & 15], h[(a >>> 20) & 15], h[(a >>> 16) & 15],
      h[(a >>> 12) & 15], h[(a >>> 8) & 15], h[(a >>> 4) & 15], h[a & 15], DASH,
      h[b >>> 28], h[(b >>> 24) & 15], h[(b >>> 20) & 15], h[(b >>> 16) & 15], DASH,
      h[4], h[(b >>> 8) & 15], h[(b >>> 4) & 15], h[b & 15], DASH,
      h[c >>> 28], h[(c >>> 24) & 15], h[(c >>> 20) & 15], h[(c >>> 16) & 15], DASH,
      h[(c >>> 12) & 15], h[(c >>> 8) & 15], h[(c >>> 4) & 15], h[c & 15],
      h[d >>> 28], h[(d >>> 24) & 15], h[(d >>> 20) & 15], h[(d >>> 16) & 15],
      h[(d >>> 12) & 15], h[(d >>> 8) & 15], h[(d >>> 4) & 15], h[d & 15],
    );
  }

  /** Fisher-Yates shuffle of 0..n-1: maps a popularity rank to a user, so rank 0 is not always u1. */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }
}

/** Folds any safe integer seed into 32 bits, so seeds above 2^32 still give distinct streams. */
function seed32(seed: number): number {
  const low = seed >>> 0;
  const high = Math.floor(seed / TWO_POW_32) >>> 0;
  return (low ^ Math.imul(high, 0x9e3779b1)) | 0;
}

/**
 * Independent random streams for one seed, in a fixed order. Each is 2^64 steps apart from the next
 * (xoroshiro128+ jump), far more than any simulation draws.
 */
export function randomStreams(seed: number, count: number): Random[] {
  const root = xoroshiro128plus(seed32(seed));
  // Small seeds start from a sparse state; one jump mixes it before the first stream is cut.
  root.jump();
  const streams: Random[] = [];
  for (let i = 0; i < count; i++) {
    streams.push(new Random(root.clone()));
    root.jump();
  }
  return streams;
}

/**
 * Ranks in [0, n) with P(rank = k) roughly proportional to (k + 1)^-exponent: the Zipf law of
 * popularity (hashtags, celebrities, recent posts). Sampled in O(1) by inverting the continuous
 * power law on [1, n + 1): one pow() per sample even for a million users.
 */
export class PowerLaw {
  readonly n: number;
  private readonly exponent: number;
  private readonly oneMinus: number;
  private readonly span: number;
  private readonly inverse: number;

  constructor(n: number, exponent: number) {
    this.n = n;
    this.exponent = exponent;
    this.oneMinus = 1 - exponent;
    const logarithmic = Math.abs(this.oneMinus) < 1e-9;
    this.span = logarithmic ? Math.log(n + 1) : Math.pow(n + 1, this.oneMinus) - 1;
    this.inverse = logarithmic ? 0 : 1 / this.oneMinus;
  }

  sample(random: Random): number {
    const u = random.float();
    const x = this.inverse === 0 ? Math.exp(u * this.span) : Math.pow(1 + u * this.span, this.inverse);
    const rank = Math.floor(x) - 1;
    return rank < 0 ? 0 : rank >= this.n ? this.n - 1 : rank;
  }

  /** The same law over a different n (the post window while it fills up); reuses this one if n matches. */
  resized(n: number): PowerLaw {
    return n === this.n ? this : new PowerLaw(n, this.exponent);
  }
}
