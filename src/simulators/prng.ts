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
  /** Per player: each player's own stream (its initial state, then its events' content). */
  content: 3,
  /** Per record: the hashed disorder decisions (see recordHash). */
  disorder: 4,
  identities: 5,
  /** Which region and player each arrival belongs to: walked by every shard. */
  players: 6,
} as const;

/** A 32-bit integer finalizer (lowbias32): every input bit affects every output bit. */
export function mix32(value: number): number {
  let x = value | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The key for recordHash: one per seed and stream. */
export function hashKey(seed: number, stream: number): number {
  return mix32((seed >>> 0) ^ Math.imul(stream + 1, 0x632be5ab));
}

/**
 * A uniform number in [0, 1) for (key, index, salt) with no state: decisions that must come out the
 * same whoever computes them (each shard decides only its own records, yet the union is one stream).
 * `index` is any whole number below 2^53; `salt` separates decisions about the same record.
 */
export function recordHash(key: number, index: number, salt: number): number {
  const low = index >>> 0;
  const high = Math.floor(index / 4294967296);
  const h = mix32(mix32(low ^ key) + Math.imul(high ^ Math.imul(salt, 0x9e3779b9), 0x85ebca77));
  return h / 4294967296;
}

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

  /**
   * Restarts the generator on an independent sequence for (seed, stream, index): one per player,
   * without an object per player (the state then lives in the player's row, see save/load).
   */
  reseed(seed: number, stream: number, index: number): void {
    const key = hashKey(seed, stream);
    this.a = mix32(key ^ Math.imul(index | 0, 0x9e3779b1)) | 0;
    this.b = mix32(this.a ^ 0x5bd1e995 ^ Math.imul(Math.floor(index / 4294967296) + 1, 0x27d4eb2f)) | 0;
    this.c = mix32(this.b ^ key) | 0;
    // The counter word starts at the index itself: two indices never share a state.
    this.d = index | 0;
    this.spareNormal = Number.NaN;
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** Continues from a state saved with `save` (the normal-pair spare is not part of it). */
  load(state: Int32Array, at: number): void {
    this.a = state[at] as number;
    this.b = state[at + 1] as number;
    this.c = state[at + 2] as number;
    this.d = state[at + 3] as number;
    this.spareNormal = Number.NaN;
  }

  /** Writes the 128-bit state into `state` at `at` (4 int32s). */
  save(state: Int32Array, at: number): void {
    state[at] = this.a;
    state[at + 1] = this.b;
    state[at + 2] = this.c;
    state[at + 3] = this.d;
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

  /**
   * Exponential with mean 1, by Marsaglia and Tsang's ziggurat: a draw, a table look-up and a
   * multiplication in 98.9% of the cases (a logarithm costs several times that, and every arrival of
   * the stream, walked by every shard, takes one exponential).
   */
  exponential(): number {
    const jz = this.uint32();
    const iz = jz & 255;
    if (jz < (ZIGGURAT_K[iz] as number)) return jz * (ZIGGURAT_W[iz] as number);
    return this.exponentialTail(jz, iz);
  }

  /** The ziggurat's rare cases: the base strip's tail, or a point near a layer's edge. */
  private exponentialTail(first: number, firstIndex: number): number {
    let jz = first;
    let iz = firstIndex;
    for (;;) {
      // 1 − u is in (0, 1], so the logarithm is finite.
      if (iz === 0) return ZIGGURAT_R - Math.log(1 - this.float());
      const x = jz * (ZIGGURAT_W[iz] as number);
      const low = ZIGGURAT_F[iz] as number;
      if (low + this.float() * ((ZIGGURAT_F[iz - 1] as number) - low) < Math.exp(-x)) return x;
      jz = this.uint32();
      iz = jz & 255;
      if (jz < (ZIGGURAT_K[iz] as number)) return jz * (ZIGGURAT_W[iz] as number);
    }
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

// The exponential ziggurat's tables (Marsaglia & Tsang, "The Ziggurat Method for Generating Random
// Variables", 2000): 256 layers of equal area under e^-x; R is where the base strip's tail begins.
const ZIGGURAT_R = 7.697117470131487;
const ZIGGURAT_K = new Float64Array(256);
const ZIGGURAT_W = new Float64Array(256);
const ZIGGURAT_F = new Float64Array(256);
{
  const area = 3.949659822581572e-3;
  const m2 = 4294967296;
  let d = ZIGGURAT_R;
  let t = d;
  const q = area / Math.exp(-d);
  ZIGGURAT_K[0] = Math.floor((d / q) * m2);
  ZIGGURAT_K[1] = 0;
  ZIGGURAT_W[0] = q / m2;
  ZIGGURAT_W[255] = d / m2;
  ZIGGURAT_F[0] = 1;
  ZIGGURAT_F[255] = Math.exp(-d);
  for (let i = 254; i >= 1; i--) {
    d = -Math.log(area / d + Math.exp(-d));
    ZIGGURAT_K[i + 1] = Math.floor((d / t) * m2);
    t = d;
    ZIGGURAT_F[i] = Math.exp(-d);
    ZIGGURAT_W[i] = d / m2;
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
