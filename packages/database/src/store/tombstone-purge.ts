import type { Scheduler, Timer } from '../clock/scheduler';
import type { Logger } from '@meshkv/common';
import type { Store } from './store';

/**
 * Which tombstones every node that may hold the records they deleted has (see PurgeGuard):
 * those written before `writtenBeforeMs` (their versions' time, give or take the clocks'
 * drift) and, for those that came from another node, that arrived here before
 * `arrivedBeforeMs` (this node's clock). By default, all of them.
 */
export interface PurgeHorizon {
  readonly writtenBeforeMs: number;
  readonly arrivedBeforeMs: number;
}

const EVERY_NODE_HAS_ALL: PurgeHorizon = { writtenBeforeMs: Infinity, arrivedBeforeMs: Infinity };

/**
 * Purges tombstones older than TOMBSTONE_TTL_MS, at an eighth of the TTL (between 1 s and
 * 1 min), so a delete is remembered at least the TTL and at most an eighth longer once
 * `heldUntil` allows it.
 */
export class TombstonePurge {
  private timer: Timer | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly scheduler: Scheduler,
    private readonly logger: Logger,
    private readonly heldUntil: () => PurgeHorizon = () => EVERY_NODE_HAS_ALL,
  ) {}

  get intervalMs(): number {
    return Math.min(60_000, Math.max(1000, Math.floor(this.ttlMs / 8)));
  }

  start(): void {
    this.timer ??= this.scheduler.every(this.intervalMs, () => {
      const { writtenBeforeMs, arrivedBeforeMs } = this.heldUntil();
      const purged = this.store.purgeExpiredTombstones(writtenBeforeMs, arrivedBeforeMs);
      if (purged > 0) this.logger.info({ purged }, 'expired tombstones purged');
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
