/**
 * Keeps the generator threads of one unpaced run (`--no-pace --workers N`) within a bounded distance
 * of each other on the schedule.
 *
 * Paced threads share the clock, so their event times stay together by themselves. Unpaced, each
 * thread runs as fast as its producer goes, and one could get minutes of event time ahead of another.
 * Every Kafka partition holds players of every thread, so the partition's watermark would follow the
 * fastest thread and the slower threads' events would arrive late — lateness that the ground truth
 * never injected, and that `verify` would then blame on the pipeline. With this, no thread produces a
 * record more than `skewMs` of schedule time beyond the slowest thread's next record.
 *
 * Each thread publishes its next offset (ms of schedule time) in a shared Int32Array, one slot each;
 * DONE marks a finished thread, which holds nobody back. The slowest thread is never held back itself,
 * so the threads cannot wait for each other in a circle.
 */
export const LOCKSTEP_DONE = 0x7fffffff;

/** How far (schedule ms) one unpaced thread may run ahead of the slowest. */
export const DEFAULT_LOCKSTEP_SKEW_MS = 1000;

export class Lockstep {
  private readonly offsets: Int32Array;

  /**
   * @param buffer shared by all threads of the run: 4 bytes per thread (see `Lockstep.buffer`).
   * @param self this thread's slot.
   */
  constructor(
    buffer: SharedArrayBuffer,
    private readonly self: number,
    private readonly skewMs = DEFAULT_LOCKSTEP_SKEW_MS,
  ) {
    this.offsets = new Int32Array(buffer);
  }

  /** A buffer for `threads` threads, every slot at offset 0. */
  static buffer(threads: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * threads);
  }

  /** This thread's next record is at `offsetMs` (Infinity: finished). */
  publish(offsetMs: number): void {
    const value = Number.isFinite(offsetMs)
      ? Math.min(LOCKSTEP_DONE - 1, Math.floor(offsetMs))
      : LOCKSTEP_DONE;
    Atomics.store(this.offsets, this.self, value);
  }

  /** The furthest schedule offset this thread may produce up to now. */
  horizon(): number {
    let slowest = LOCKSTEP_DONE;
    for (let i = 0; i < this.offsets.length; i++) {
      if (i === this.self) continue;
      slowest = Math.min(slowest, Atomics.load(this.offsets, i));
    }
    return slowest === LOCKSTEP_DONE ? Number.POSITIVE_INFINITY : slowest + this.skewMs;
  }
}
