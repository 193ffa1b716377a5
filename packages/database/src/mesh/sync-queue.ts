import type { SyncReport } from '@meshkv/client';
import type { Logger } from '@meshkv/common';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Scheduler } from '../clock/scheduler';
import type { AntiEntropy } from './anti-entropy';
import type { Membership, Peer } from './membership';
import { countApplied, type MeshStats } from './stats';

export interface SyncQueueDeps {
  readonly antiEntropy: AntiEntropy;
  readonly membership: Membership;
  readonly stats: MeshStats;
  readonly logger: Logger;
  readonly scheduler: Scheduler;
  /** True once this node holds what its peers hold (it bootstrapped, or started a mesh). */
  readonly isReady: () => boolean;
  /** A round completed with `peer`: a node that was not ready is now. */
  readonly onRound: (peer: Peer, report: SyncReport) => void;
  /** A round with the node at `url`, started at `startedAt` (ms), completed (for the PurgeGuard). */
  readonly onSynced?: (url: string, startedAt: number) => void;
}

/**
 * Anti-entropy rounds, one at a time so a node never floods itself or a peer: rounds asked
 * for (a peer joined, came back, restarted, overflowed its outbox) are queued, once per
 * peer, and every AE_INTERVAL_MS the next alive peer in turn gets one. A node that is not
 * ready syncs with any peer; a ready one only with ready peers (a bootstrapping peer pulls
 * from us itself).
 */
export class SyncQueue {
  private readonly queued = new Set<string>();
  private running = false;
  private cursor = 0;
  private stopped = false;

  constructor(private readonly deps: SyncQueueDeps) {}

  /** Every AE_INTERVAL_MS: one round with the next alive peer, in turn. */
  periodic(): void {
    const ready = this.deps.isReady();
    const peers = this.deps.membership.alive().filter((peer) => peer.ready || !ready);
    if (peers.length === 0) return;
    const peer = peers[this.cursor++ % peers.length] as Peer;
    this.request(peer.url);
  }

  /** Queues a round with the peer at `url` (once, however often asked before it runs). */
  request(url: string): void {
    this.queued.add(url);
    void this.run();
  }

  /** One round with the peer at `url`, now; resolves with what it did. */
  async syncNow(url: string): Promise<SyncReport> {
    const { antiEntropy, stats, scheduler } = this.deps;
    const startedAt = scheduler.now();
    const report = await antiEntropy.sync(url, (outcome) => countApplied(stats, outcome));
    this.deps.onSynced?.(url, startedAt);
    stats.syncRounds++;
    stats.syncPulled += report.pulled;
    stats.syncPushed += report.pushed;
    stats.syncBytesIn += report.bytesIn;
    stats.syncBytesOut += report.bytesOut;
    stats.lastSync = { ...report, peer: url, at: scheduler.now() };
    return report;
  }

  stop(): void {
    this.stopped = true;
    this.queued.clear();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queued.size > 0 && !this.stopped) {
        const url = this.queued.values().next().value as string;
        this.queued.delete(url);
        const peer = this.deps.membership.get(url);
        if (peer === undefined || peer.nodeId === undefined || peer.state === 'down') continue;
        await this.syncWith(peer);
        await yieldToLoop();
      }
    } finally {
      this.running = false;
    }
  }

  private async syncWith(peer: Peer): Promise<void> {
    try {
      const report = await this.syncNow(peer.url);
      if (report.buckets > 0) this.deps.logger.info({ peer: peer.url, ...report }, 'anti-entropy round');
      this.deps.onRound(peer, report);
    } catch (error) {
      this.deps.stats.syncFailures++;
      this.deps.logger.warn({ peer: peer.url, err: String(error) }, 'anti-entropy round failed');
    }
  }
}
