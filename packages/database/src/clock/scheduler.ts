/** A timer started by a Scheduler, to cancel it. */
export interface Timer {
  cancel(): void;
}

/**
 * Time as an input: what reads the clock or waits takes a Scheduler, so a test can run a
 * whole mesh on a fake one (advance the clock, the timers due run) with no real waiting.
 * Timers never keep the process alive on their own.
 */
export interface Scheduler {
  /** ms since the epoch. */
  now(): number;
  /** Runs `task` once after `ms` (0: once the I/O of this event-loop turn is done). */
  after(ms: number, task: () => void): Timer;
  /** Runs `task` every `ms` until cancelled. */
  every(ms: number, task: () => void): Timer;
}

/** The real clock and timers (unref'd). */
export const realScheduler: Scheduler = {
  now: Date.now,
  after(ms, task) {
    // setTimeout(0) waits a whole millisecond; an immediate runs after this turn's I/O.
    if (ms <= 0) {
      const immediate = setImmediate(task);
      immediate.unref();
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(task, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
  every(ms, task) {
    const timer = setInterval(task, ms);
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  },
};
