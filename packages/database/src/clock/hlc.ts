/**
 * Hybrid logical clock (Kulkarni et al., 2014), packed into one JavaScript number:
 *
 *   hlc = physicalMilliseconds * 2^LOGICAL_BITS + counter
 *
 * A tick takes the larger of "wall clock now" and "last value + 1", so values issued by
 * one clock always grow, stay close to physical time, and a value observed from another
 * node pushes this clock past it (causality: a write made after seeing a version is
 * always newer than that version). When more than 2^LOGICAL_BITS values are issued in
 * one millisecond the counter carries into the millisecond field: the clock runs ahead of
 * the wall clock by a fraction of a millisecond until time catches up.
 *
 * NB: 2^53 / 2^10 ms is about the year 2255, so the packed value stays an exact integer.
 */
export const LOGICAL_BITS = 10;
const LOGICAL_SPAN = 2 ** LOGICAL_BITS;

export type Now = () => number;

export class HybridClock {
  private last: number;

  constructor(
    private readonly now: Now = Date.now,
    initial = 0,
  ) {
    this.last = initial;
  }

  /** A new value, larger than every value this clock issued or observed. */
  tick(): number {
    const physical = this.now() * LOGICAL_SPAN;
    this.last = physical > this.last ? physical : this.last + 1;
    return this.last;
  }

  /** Takes in a value seen from elsewhere, so the next tick is larger than it. */
  observe(remote: number): void {
    if (remote > this.last) this.last = remote;
  }

  /** The largest value issued or observed so far (for persistence across restarts). */
  peek(): number {
    return this.last;
  }
}

/** The wall-clock millisecond part of a packed HLC value. */
export function physicalMs(hlc: number): number {
  return Math.floor(hlc / LOGICAL_SPAN);
}

/** The packed value for a wall-clock time, counter 0. */
export function hlcFromMs(ms: number): number {
  return ms * LOGICAL_SPAN;
}
