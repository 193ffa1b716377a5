import type { Scheduler, Timer } from '../clock/scheduler';
import type { Store } from './store';

/** ms between two sweeps. */
export const SWEEP_INTERVAL_MS = 250;
/** Records turned into tombstones by one sweep at most: a burst of expiries is spread over sweeps, never one long pause. */
export const SWEEP_MAX = 5000;

/**
 * Turns expired values into tombstones (Store.sweepExpired) every SWEEP_INTERVAL_MS, so
 * their memory is given back soon after they expire; until then reads already hide them.
 */
export class ExpirySweep {
  private timer: Timer | undefined;

  constructor(
    private readonly store: Store,
    private readonly scheduler: Scheduler,
  ) {}

  start(): void {
    this.timer ??= this.scheduler.every(SWEEP_INTERVAL_MS, () => this.store.sweepExpired(SWEEP_MAX));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
