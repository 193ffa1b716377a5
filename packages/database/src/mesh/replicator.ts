import { Buckets, type Logger } from '@meshkv/common';
import type { Scheduler } from '../clock/scheduler';
import { physicalMs } from '../clock/hlc';
import type { MeshConfig } from '../config';
import { fromWire, type ReplicateBody, replicateBodyText } from '../record/codec';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
import type { ApplyOutcome, Store } from '../store/store';
import type { Membership, Peer } from './membership';
import { type Ack, type Batch, Outbox, Outgoing, type Refusals } from './outbox';
import { countApplied, type MeshStats } from './stats';
import { JsonText, type MeshTransport } from './transport';
import { AckCounter, requiredNodes, type WriteConcern } from './write-concern';

/** What a replicate request did, as answered to the sender. */
export interface ReceiveOutcome {
  readonly applied: number;
  readonly stale: number;
  readonly refused: number;
  /** The records refused, `[key, reason]` (`drift`: too far in this node's future; `expired`: a tombstone past its TTL here). */
  readonly refusals: [string, RefusalReason][];
  /** Why the clear was refused, if it was. */
  readonly clearRefused: RefusalReason | null;
}

export type RefusalReason = 'drift' | 'expired' | 'limits';

/** What a refusal means, for the client whose write it was. */
const REFUSAL_TEXT: Record<RefusalReason, string> = {
  drift: "its version is further ahead of that node's clock than MAX_CLOCK_DRIFT_MS allows (a clock is off)",
  expired: "it is a delete older than that node's TOMBSTONE_TTL_MS (a clock is off)",
  limits: "its key or value is longer than that node's MAX_KEY_LENGTH or MAX_VALUE_LENGTH (give every node the same limits)",
};

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

  /**
   * For each batch received: how long ago (by the mesh's time, as this node measures it)
   * its newest write was made where it was made, seconds. The lag of a write from its
   * origin's answer to its arrival here, give or take the clocks' measured offset.
   */
  readonly lag = new Buckets();

  constructor(private readonly deps: ReplicatorDeps) {}

  /**
   * Sends a local write to every peer that is not down. Undefined when the client can be
   * answered at once (w=1); otherwise a promise that settles when `w` nodes hold the write
   * (`all`: every member, a down one included; `majority`: more than half of them), or
   * rejects with 504 WRITE_TIMEOUT naming who did not answer.
   */
  replicateWrite(key: string, record: StoredRecord, concern: WriteConcern): Promise<void> | undefined {
    const counter = this.counter(concern);
    const write = new Outgoing(key, record);
    // A loop of its own rather than liveOutboxes(): this runs for every write.
    for (const peer of this.deps.membership.each()) {
      if (takesWrites(peer)) this.outboxFor(peer).enqueue(write, counter?.sendTo(peer.url));
    }
    counter?.sent();
    return counter?.promise;
  }

  /**
   * Sends several local writes (a batch) as one write for `w`: a peer counts once it has
   * acknowledged every one of them, and a refusal of any is a refusal of the batch. The
   * writes go into the outboxes together, so they leave in as few requests as
   * REPLICATION_BATCH and MESH_MAX_BODY_BYTES allow.
   */
  replicateWrites(writes: readonly (readonly [string, StoredRecord])[], concern: WriteConcern): Promise<void> | undefined {
    if (writes.length === 0) return undefined;
    const counter = this.counter(concern);
    const outgoing = writes.map(([key, record]) => new Outgoing(key, record));
    for (const [url, outbox] of this.liveOutboxes()) {
      const ack = counter === undefined ? undefined : allOf(writes.length, counter.sendTo(url));
      for (const write of outgoing) outbox.enqueue(write, ack);
    }
    counter?.sent();
    return counter?.promise;
  }

  replicateClear(watermark: Version, concern: WriteConcern): Promise<void> | undefined {
    const counter = this.counter(concern);
    for (const [url, outbox] of this.liveOutboxes()) outbox.enqueueClear(watermark, counter?.sendTo(url));
    counter?.sent();
    return counter?.promise;
  }

  /** A peer that answers pings but whose replication requests keep failing (a one-way partition, a full disk…). */
  isDegraded(peer: Peer): boolean {
    return peer.state === 'alive' && (this.outboxes.get(peer.url)?.retrying ?? false);
  }

  /** Merges a batch from a peer: writes from their writer, or an anti-entropy round's push (`repair`). */
  receive(body: ReplicateBody): ReceiveOutcome {
    const { store, stats, logger } = this.deps;
    let applied = 0;
    let stale = 0;
    const refusals: [string, RefusalReason][] = [];
    const count = (outcome: ApplyOutcome): RefusalReason | undefined => {
      countApplied(stats, outcome);
      if (outcome === 'applied') applied++;
      else if (outcome === 'stale') stale++;
      else return outcome;
      return undefined;
    };
    const clearRefused = body.clear === null ? undefined : count(store.applyClear(body.clear, body.repair === true ? 'repaired' : 'replicated'));
    let newest = 0;
    for (const wire of body.records) {
      const record = fromWire(wire);
      const refused = count(store.apply(wire[0], record, body.repair === true && repairs(store, wire[0], record) ? 'repaired' : 'replicated'));
      if (refused !== undefined) refusals.push([wire[0], refused]);
      else if (record.hlc > newest) newest = record.hlc;
    }
    if (newest > 0) this.lag.observe(Math.max(0, store.expiryNow() - physicalMs(newest)) / 1000);
    const refused = refusals.length + (clearRefused === undefined ? 0 : 1);
    if (refused > 0) logger.warn({ refused }, 'records refused (clock too far ahead, expired tombstones, or longer than this node\'s limits)');
    return { applied, stale, refused, refusals, clearRefused: clearRefused ?? null };
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
    if (concern.w === 1) return undefined;
    const members = this.deps.membership.members();
    const required = requiredNodes(concern.w, 1 + members.length);
    if (required <= 1) return undefined;
    return new AckCounter(required, concern.timeoutMs, this.deps.scheduler, members.map((peer) => peer.url), (url) => this.describe(url));
  }

  /** A member that did not acknowledge a write, as the 504 names it. */
  private describe(url: string): string {
    const peer = this.deps.membership.get(url);
    if (peer === undefined) return `${url} (left)`;
    if (this.isDegraded(peer)) return `${url} (degraded: replication failing)`;
    if (peer.state !== 'alive') return `${url} (${peer.state})`;
    return `${url} (no answer yet)`;
  }

  private *liveOutboxes(): Generator<[string, Outbox]> {
    for (const peer of this.deps.membership.each()) {
      if (takesWrites(peer)) yield [peer.url, this.outboxFor(peer)];
    }
  }

  private outboxFor(peer: Peer): Outbox {
    let outbox = this.outboxes.get(peer.url);
    if (outbox === undefined) {
      const { config, stats, logger } = this.deps;
      const url = peer.url;
      outbox = new Outbox((batch) => this.send(url, batch), {
        batchSize: config.batchSize,
        maxBytes: config.maxBodyBytes,
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
          stats.replicationFailures++;
          if (failures === 1 || failures % 20 === 0) logger.warn({ peer: url, failures, err: String(error) }, 'replication failed; retrying');
        },
      });
      this.outboxes.set(url, outbox);
    }
    return outbox;
  }

  private async send(url: string, batch: Batch): Promise<Refusals | undefined> {
    this.deps.stats.replicationRequests++;
    const body = new JsonText(replicateBodyText(batch.writes, batch.clear ?? null));
    const answer = await this.deps.transport.post<Partial<ReceiveOutcome>>(url, '/_mesh/replicate', body, this.deps.config.requestTimeoutMs);
    this.deps.stats.recordsSent += batch.writes.length;
    return readRefusals(url, answer);
  }
}

/**
 * The refusals in a peer's answer, each reason spelled out for the client. An answer
 * without them (a node before refusals were reported) refused nothing it says.
 */
function readRefusals(url: string, answer: Partial<ReceiveOutcome>): Refusals | undefined {
  const listed = Array.isArray(answer.refusals) ? answer.refusals : [];
  const clear = answer.clearRefused;
  if (listed.length === 0 && (clear === null || clear === undefined)) return undefined;
  const why = (reason: unknown): string => `${url} refused it: ${REFUSAL_TEXT[reason === 'expired' || reason === 'limits' ? reason : 'drift']}`;
  const keys = new Map<string, string>();
  for (const entry of listed) if (Array.isArray(entry) && typeof entry[0] === 'string') keys.set(entry[0], why(entry[1]));
  return { keys, clear: clear === null || clear === undefined ? undefined : why(clear) };
}

/**
 * Whether a record an anti-entropy round pushed is taken as a repair: a value always; a
 * delete only of a value held here (one older than the TTL was kept for this node on
 * purpose). A delete of a key not held, or deleted already, is old news, refused when
 * older than the TTL as from its writer: were it taken, two nodes that purge it at
 * different times could hand it back and forth for ever.
 */
function repairs(store: Store, key: string, record: StoredRecord): boolean {
  if (record.value !== null) return true;
  const head = store.head(key);
  return head !== undefined && !head.tombstone;
}

/** A peer writes are sent to: one that answered once (its id is known) and is not down. */
function takesWrites(peer: Peer): boolean {
  return peer.nodeId !== undefined && peer.state !== 'down';
}

/** An Ack given to `count` writes: acknowledged once all of them are, refused once any is. */
function allOf(count: number, ack: Ack): Ack {
  let waiting = count;
  let refused = false;
  return {
    ack: () => {
      if (--waiting === 0 && !refused) ack.ack();
    },
    refuse: (why) => {
      if (refused) return;
      refused = true;
      ack.refuse(why);
    },
  };
}
