import type { Scheduler, Timer } from '../clock/scheduler';
import type { Logger } from '@meshkv/common';
import type { Store } from './store';

/**
 * Purges tombstones older than TOMBSTONE_TTL_MS, at an eighth of the TTL (between 1 s and
 * 1 min), so a delete is remembered at least the TTL and at most an eighth longer.
 */
export class TombstonePurge {
  private timer: Timer | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly scheduler: Scheduler,
    private readonly logger: Logger,
  ) {}

  get intervalMs(): number {
    return Math.min(60_000, Math.max(1000, Math.floor(this.ttlMs / 8)));
  }

  start(): void {
    this.timer ??= this.scheduler.every(this.intervalMs, () => {
      const purged = this.store.purgeExpiredTombstones();
      if (purged > 0) this.logger.info({ purged }, 'expired tombstones purged');
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
