/**
 * The rate schedule and the arrival process: when each event is meant to be sent.
 *
 * Pacing model: one merged, non-homogeneous Poisson process for the whole run. By the superposition
 * theorem, N players each sending as a Poisson process with mean gap g are together one Poisson process
 * with rate N/g, and (by the marking theorem) assigning each arrival to a player at random gives every
 * player back its own Poisson process. So one exponential draw per event replaces N per-player timers
 * and a priority queue: O(1) per event, whatever the player count.
 *
 * Time-varying rates (k6-like ramps) use time rescaling: with Λ(t) = ∫₀ᵗ rate, the arrivals are
 * Λ⁻¹(E₁), Λ⁻¹(E₁+E₂), … for unit exponentials Eᵢ. The rate is piecewise linear, so Λ is piecewise
 * quadratic and Λ⁻¹ has a closed form. Intended send times therefore come from the seed and the
 * schedule only, never from when a previous send finished. The generator walks the process in
 * Λ-space (the running sum of the exponentials) and maps to time only the arrivals it keeps, which a
 * shard of a split stream needs: it walks every arrival and keeps a fraction of them.
 */
import type { Sfc32 } from './prng.js';

export interface RampStage {
  /** How long the ramp lasts. */
  durationMs: number;
  /** Rate (events/s, total) reached at the end of the stage; the rate moves linearly from the previous one. */
  targetRate: number;
}

export class RateSchedule {
  private readonly starts: number[] = [];
  private readonly durations: number[] = [];
  /** Rates in events per millisecond at the start and end of each segment. */
  private readonly fromPerMs: number[] = [];
  private readonly toPerMs: number[] = [];
  /** Λ at the start of each segment (expected events). */
  private readonly lambdaStarts: number[] = [];
  private readonly tailPerMs: number;
  private readonly tailStartMs: number;
  private readonly tailLambda: number;
  private cursor = 0;

  /**
   * @param startRate events/s at time 0 (the first stage ramps from here).
   * @param stages ramps in order; after the last one the final rate holds.
   */
  constructor(
    readonly startRate: number,
    readonly stages: readonly RampStage[] = [],
  ) {
    let t = 0;
    let lambda = 0;
    let from = startRate / 1000;
    for (const stage of stages) {
      const to = stage.targetRate / 1000;
      this.starts.push(t);
      this.durations.push(stage.durationMs);
      this.fromPerMs.push(from);
      this.toPerMs.push(to);
      this.lambdaStarts.push(lambda);
      lambda += ((from + to) / 2) * stage.durationMs;
      t += stage.durationMs;
      from = to;
    }
    this.tailStartMs = t;
    this.tailLambda = lambda;
    this.tailPerMs = from;
  }

  /** Sum of the stage durations (0 for a constant rate). */
  get stagesDurationMs(): number {
    return this.tailStartMs;
  }

  /** The rate after the last stage, which holds for good, events/s. */
  get finalRate(): number {
    return this.tailPerMs * 1000;
  }

  /** Λ at the end of the stages: all the events a schedule ending at 0/s ever expects. */
  get totalExpected(): number {
    return this.tailLambda;
  }

  /** The highest rate the schedule reaches, events/s. */
  get peakRate(): number {
    return Math.max(this.startRate, ...this.stages.map((s) => s.targetRate));
  }

  /** Target rate at `tMs` after the start, events/s. */
  rateAt(tMs: number): number {
    if (tMs >= this.tailStartMs) return this.tailPerMs * 1000;
    const i = this.segmentAtTime(Math.max(0, tMs));
    const x = Math.max(0, tMs) - (this.starts[i] as number);
    const from = this.fromPerMs[i] as number;
    const slope = ((this.toPerMs[i] as number) - from) / (this.durations[i] as number);
    return (from + slope * x) * 1000;
  }

  /** Λ(t): the expected number of events scheduled in [0, tMs). */
  expectedEvents(tMs: number): number {
    if (tMs <= 0) return 0;
    if (tMs >= this.tailStartMs) return this.tailLambda + this.tailPerMs * (tMs - this.tailStartMs);
    const i = this.segmentAtTime(tMs);
    const x = tMs - (this.starts[i] as number);
    const from = this.fromPerMs[i] as number;
    const slope = ((this.toPerMs[i] as number) - from) / (this.durations[i] as number);
    return (this.lambdaStarts[i] as number) + from * x + (slope * x * x) / 2;
  }

  /** Λ⁻¹: the earliest time at which `expected` events are due; Infinity if the schedule never gets there. */
  timeOfExpected(expected: number): number {
    if (expected >= this.tailLambda) {
      if (this.tailPerMs <= 0)
        return expected === this.tailLambda ? this.tailStartMs : Number.POSITIVE_INFINITY;
      return this.tailStartMs + (expected - this.tailLambda) / this.tailPerMs;
    }
    // Queries from the arrival process only grow, so continue from the last segment found.
    let i = this.cursor;
    if (expected < (this.lambdaStarts[i] as number)) i = 0;
    const last = this.starts.length - 1;
    while (i < last && expected >= (this.lambdaStarts[i + 1] as number)) i++;
    this.cursor = i;
    const from = this.fromPerMs[i] as number;
    const accel = ((this.toPerMs[i] as number) - from) / (this.durations[i] as number);
    const delta = expected - (this.lambdaStarts[i] as number);
    // Root of from·x + accel·x²/2 = delta, in the form that stays accurate when accel ≈ 0.
    const root = Math.sqrt(Math.max(0, from * from + 2 * accel * delta));
    const x = (2 * delta) / (from + root);
    return (this.starts[i] as number) + Math.min(Number.isFinite(x) ? x : 0, this.durations[i] as number);
  }

  private segmentAtTime(tMs: number): number {
    let i = 0;
    const last = this.starts.length - 1;
    while (i < last && tMs >= (this.starts[i + 1] as number)) i++;
    return i;
  }
}

/** Successive intended send times (ms after the start) of a Poisson process that follows a schedule. */
export class ArrivalProcess {
  private expected = 0;

  constructor(
    private readonly schedule: RateSchedule,
    private readonly rng: Sfc32,
  ) {}

  /** The next arrival's offset in ms; Infinity once the schedule's rate has dropped to zero for good. */
  next(): number {
    this.expected += this.rng.exponential();
    return this.schedule.timeOfExpected(this.expected);
  }
}
