/**
 * The simulator's own pseudo-random numbers. The event stream must be byte-for-byte reproducible from a
 * seed and must cost a few nanoseconds per draw, so it never touches Math.random or faker: it uses sfc32
 * (Chris Doty-Humphrey's Small Fast Counting generator, 128 bits of state, passes PractRand), seeded
 * through splitmix32. sfc32 needs only 32-bit integer operations, which V8 keeps in registers.
 */

/** One step of splitmix32 over `state`; returns [output, nextState]. Used only to spread a seed. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [(z ^ (z >>> 16)) >>> 0, next];
}

/**
 * Named, independent streams derived from one seed. Separate streams keep concerns apart: with the
 * same seed, turning on duplicates does not change the arrival times, and the identity pools do not
 * depend on how many events are generated.
 */
export const STREAMS = {
  arrivals: 1,
  world: 2,
  content: 3,
  disorder: 4,
  identities: 5,
} as const;

export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal = Number.NaN;

  /** `seed` is any 32-bit unsigned integer; `stream` selects an independent sequence for the same seed. */
  constructor(seed: number, stream = 0) {
    let state = (seed ^ Math.imul(stream + 1, 0x632be5ab)) | 0;
    let out: number;
    [out, state] = splitmix32(state);
    this.a = out | 0;
    [out, state] = splitmix32(state);
    this.b = out | 0;
    [out, state] = splitmix32(state);
    this.c = out | 0;
    [out, state] = splitmix32(state);
    this.d = out | 0;
    for (let i = 0; i < 16; i++) this.uint32();
  }

  /** A uniformly distributed integer in [0, 2^32). */
  uint32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.float();
  }

  /** Exponential with mean 1 (1 - u is in (0, 1], so the logarithm is finite). */
  exponential(): number {
    return -Math.log(1 - this.float());
  }

  /** Number of failures before the first success when the mean is `mean` (geometric on 0, 1, 2, …). */
  geometric(mean: number): number {
    if (mean <= 0) return 0;
    const p = 1 / (1 + mean);
    return Math.floor(Math.log(1 - this.float()) / Math.log(1 - p));
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const spare = this.spareNormal;
      this.spareNormal = Number.NaN;
      return spare;
    }
    const u = 1 - this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal: exp(mu + sigma·N(0,1)). */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** Pareto with scale `xm` and shape `alpha`: heavy tail, P(X > x) = (xm/x)^alpha. */
  pareto(xm: number, alpha: number): number {
    return xm / (1 - this.float()) ** (1 / alpha);
  }
}

/**
 * Weighted choice over a small fixed set: cumulative weights, linear scan (for up to a dozen options
 * the scan beats an alias table and allocates nothing).
 */
export class WeightedChoice {
  private readonly cumulative: Float64Array;

  constructor(weights: readonly number[]) {
    if (weights.length === 0) throw new Error('WeightedChoice needs at least one weight');
    this.cumulative = new Float64Array(weights.length);
    let total = 0;
    for (const [i, w] of weights.entries()) {
      if (!(w >= 0)) throw new Error(`weight ${i} must be a non-negative number, got ${w}`);
      total += w;
      this.cumulative[i] = total;
    }
    if (!(total > 0)) throw new Error('WeightedChoice needs a positive total weight');
    for (let i = 0; i < this.cumulative.length; i++)
      this.cumulative[i] = (this.cumulative[i] as number) / total;
  }

  /** The index chosen by the uniform number u in [0, 1). */
  pick(u: number): number {
    const cumulative = this.cumulative;
    const last = cumulative.length - 1;
    for (let i = 0; i < last; i++) if (u < (cumulative[i] as number)) return i;
    return last;
  }
}
