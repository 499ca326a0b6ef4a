import type { Clock } from '../../src/clock.js';

/** Lets every pending promise callback (and the ones they queue) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that moves only when told to. Unlike ManualClock its sleeps wait: advance() moves time in
 * steps and wakes each sleeper when its time has come, so retry loops, backoffs and budgets run as
 * they would, without real waiting.
 */
export class StepClock implements Clock {
  private sleepers: Array<{ at: number; wake: () => void }> = [];

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ at: this.current + ms, wake }));
  }

  /** Moves `ms` forward in `stepMs` steps, letting what wakes up run after each step. */
  async advance(ms: number, stepMs = 100): Promise<void> {
    const end = this.current + ms;
    await settle();
    while (this.current < end) {
      this.current = Math.min(end, this.current + stepMs);
      const due = this.sleepers.filter((s) => s.at <= this.current);
      this.sleepers = this.sleepers.filter((s) => s.at > this.current);
      for (const sleeper of due) sleeper.wake();
      await settle();
    }
  }

  /** Advances until `done()` holds or `limitMs` has passed; returns the time it took. */
  async advanceUntil(done: () => boolean, limitMs: number, stepMs = 100): Promise<number> {
    const start = this.current;
    await settle();
    while (!done() && this.current - start < limitMs) await this.advance(stepMs, stepMs);
    return this.current - start;
  }
}
