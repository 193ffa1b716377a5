import type { Logger } from '@meshkv/common';
import type { Scheduler } from '../clock/scheduler';
import type { MeshConfig } from '../config';
import { fromWire, type ReplicateBody, replicateBody } from '../record/codec';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
import type { ApplyOutcome, Store } from '../store/store';
import type { Membership, Peer } from './membership';
import { type Batch, Outbox } from './outbox';
import { countApplied, type MeshStats } from './stats';
import type { MeshTransport } from './transport';
import { AckCounter, type WriteConcern } from './write-concern';

/** What a replicate request did, as answered to the sender. */
export interface ReceiveOutcome {
  readonly applied: number;
  readonly stale: number;
  readonly refused: number;
}

export interface ReplicatorDeps {
  readonly config: MeshConfig;
  readonly store: Store;
  readonly membership: Membership;
  readonly transport: MeshTransport;
  readonly stats: MeshStats;
  readonly logger: Logger;
  readonly scheduler: Scheduler;
  /** A peer's outbox overflowed: it needs a full anti-entropy round instead. */
  readonly onOverflow: (url: string) => void;
}

/**
 * The write path between nodes: a local write goes into one outbox per peer that is not
 * down (the outbox coalesces and batches it), with a counter when `w` asks for acks; a
 * batch from a peer is merged into the store. Never echoed: the writer sends to every peer
 * itself, so nothing received is forwarded.
 */
export class Replicator {
  private readonly outboxes = new Map<string, Outbox>();

  constructor(private readonly deps: ReplicatorDeps) {}

  /**
   * Sends a local write to every peer that is not down. Undefined when the client can be
   * answered at once (w=1); otherwise a promise that settles when `w` nodes hold the write,
   * or rejects with 504 WRITE_TIMEOUT.
   */
  replicateWrite(key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined {
    const counter = this.counter(concern);
    for (const outbox of this.liveOutboxes()) outbox.enqueue(key, record, counter);
    return counter?.promise;
  }

  replicateClear(watermark: Version, concern: WriteConcern): Promise<void> | undefined {
    const counter = this.counter(concern);
    for (const outbox of this.liveOutboxes()) outbox.enqueueClear(watermark, counter);
    return counter?.promise;
  }

  /** Merges a batch from a peer. */
  receive(body: ReplicateBody): ReceiveOutcome {
    const { store, stats, logger } = this.deps;
    let applied = 0;
    let stale = 0;
    let refused = 0;
    const count = (outcome: ApplyOutcome): void => {
      countApplied(stats, outcome);
      if (outcome === 'applied') applied++;
      else if (outcome === 'stale') stale++;
      else refused++;
    };
    if (body.clear !== null) count(store.applyClear(body.clear, 'replicated'));
    for (const wire of body.records) count(store.apply(wire[0], fromWire(wire), 'replicated'));
    if (refused > 0) logger.warn({ refused }, 'records refused (clock too far ahead, or expired tombstones)');
    return { applied, stale, refused };
  }

  /** What waits for a peer is dropped (its acks never come): it is down, or restarted. */
  drop(url: string): void {
    this.outboxes.get(url)?.drop();
  }

  /** The peer is gone for good. */
  remove(url: string): void {
    this.outboxes.get(url)?.close();
    this.outboxes.delete(url);
  }

  /** Records waiting for a peer, and whether its requests are failing. */
  queue(url: string): { depth: number; retrying: boolean } {
    const outbox = this.outboxes.get(url);
    return { depth: outbox?.depth ?? 0, retrying: outbox?.retrying ?? false };
  }

  close(): void {
    for (const outbox of this.outboxes.values()) outbox.close();
  }

  private counter(concern: WriteConcern): AckCounter | undefined {
    const required = concern.w === 'all' ? 1 + this.deps.membership.alive().length : concern.w;
    return required <= 1 ? undefined : new AckCounter(required, concern.timeoutMs, this.deps.scheduler);
  }

  private *liveOutboxes(): Generator<Outbox> {
    for (const peer of this.deps.membership.each()) {
      if (peer.nodeId === undefined || peer.state === 'down') continue;
      yield this.outboxFor(peer);
    }
  }

  private outboxFor(peer: Peer): Outbox {
    let outbox = this.outboxes.get(peer.url);
    if (outbox === undefined) {
      const { config, stats, logger } = this.deps;
      const url = peer.url;
      outbox = new Outbox((batch) => this.send(url, batch), {
        batchSize: config.batchSize,
        batchDelayMs: config.batchDelayMs,
        retryMaxMs: config.retryMaxMs,
        max: config.outboxMax,
        scheduler: this.deps.scheduler,
        onOverflow: () => {
          stats.outboxOverflows++;
          logger.warn({ peer: url, max: config.outboxMax }, 'outbox full: dropped, the peer gets a full sync');
          this.deps.onOverflow(url);
        },
        onError: (error, failures) => {
          if (failures === 1 || failures % 20 === 0) logger.warn({ peer: url, failures, err: String(error) }, 'replication failed; retrying');
        },
      });
      this.outboxes.set(url, outbox);
    }
    return outbox;
  }

  private async send(url: string, batch: Batch): Promise<void> {
    await this.deps.transport.post(url, '/_mesh/replicate', replicateBody(batch.records, batch.clear ?? null), this.deps.config.requestTimeoutMs);
    this.deps.stats.recordsSent += batch.records.length;
  }
}
