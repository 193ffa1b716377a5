import type { Scheduler, Timer } from '../clock/scheduler';
import type { Logger } from '@meshkv/common';
import type { Store } from './store';

/**
 * Purges tombstones older than TOMBSTONE_TTL_MS, at an eighth of the TTL (between 1 s and
 * 1 min), so a delete is remembered at least the TTL and at most an eighth longer once
 * `heldUntil` allows it (ms: the deletes every node that may hold the deleted records has
 * seen; by default, all of them).
 */
export class TombstonePurge {
  private timer: Timer | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly scheduler: Scheduler,
    private readonly logger: Logger,
    private readonly heldUntil: () => number = () => Infinity,
  ) {}

  get intervalMs(): number {
    return Math.min(60_000, Math.max(1000, Math.floor(this.ttlMs / 8)));
  }

  start(): void {
    this.timer ??= this.scheduler.every(this.intervalMs, () => {
      const purged = this.store.purgeExpiredTombstones(this.heldUntil());
      if (purged > 0) this.logger.info({ purged }, 'expired tombstones purged');
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
