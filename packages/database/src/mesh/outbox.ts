import { backoffDelay } from '@meshkv/common';
import { realScheduler, type Scheduler, type Timer } from '../clock/scheduler';
import { toWire, type WireRecord } from '../record/codec';
import type { StoredRecord } from '../record/record';
import { compareVersions, type Version } from '../record/version';

/** Told once when the peer holds the write (or a newer one of the same key). */
export interface Ack {
  ack(): void;
  /** The peer answered but did not take the write (`why` names the peer and the reason). */
  refuse(why: string): void;
}

/**
 * A local write on its way to the peers: put in the wire form, and into JSON text, once for
 * every peer it goes to (the outboxes share it; the text is made by the first to send it).
 */
export class Outgoing {
  readonly wire: WireRecord;
  private text: string | undefined;

  constructor(
    readonly key: string,
    readonly record: StoredRecord,
  ) {
    this.wire = toWire(key, record);
  }

  get json(): string {
    return (this.text ??= JSON.stringify(this.wire));
  }
}

/** One replication request: writes, and a clear. */
export interface Batch {
  readonly writes: readonly Outgoing[];
  readonly clear: Version | undefined;
}

/** What the peer did not take of a batch it answered: keys with the reason, and the clear. */
export interface Refusals {
  readonly keys: ReadonlyMap<string, string>;
  readonly clear: string | undefined;
}

/** Sends a batch; resolves with what the peer refused (nothing: undefined). */
export type Send = (batch: Batch) => Promise<Refusals | undefined>;

export interface OutboxOptions {
  readonly batchSize: number;
  /** Bytes a request may carry at most (MESH_MAX_BODY_BYTES): a batch of long values is cut short of it. */
  readonly maxBytes?: number;
  readonly batchDelayMs: number;
  readonly retryMaxMs: number;
  readonly max: number;
  /** Called when more than `max` records wait: they were dropped. */
  readonly onOverflow: () => void;
  readonly onError?: (error: unknown, failures: number) => void;
  readonly random?: () => number;
  /** Timers (default: the real ones). */
  readonly scheduler?: Scheduler;
}

interface Entry {
  write: Outgoing;
  acks: Ack[] | undefined;
}

interface PendingClear {
  watermark: Version;
  acks: Ack[] | undefined;
}

const RETRY_BASE_MS = 50;

/**
 * The writes one peer has not received yet. Coalesced by key (only the newest version of
 * a key is sent; the acks of the ones it replaced ride with it), flushed in batches of
 * `batchSize` records or after `batchDelayMs`, one request in flight at a time. A failed
 * request is retried after a capped, jittered exponential backoff. Past `max` waiting
 * records the outbox empties itself and reports an overflow, so a peer that is away
 * costs bounded memory and gets a full anti-entropy round instead.
 */
export class Outbox {
  private pending = new Map<string, Entry>();
  private clear: PendingClear | undefined;
  private timer: Timer | undefined;
  private sending = false;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly send: Send,
    private readonly options: OutboxOptions,
  ) {}

  get depth(): number {
    return this.pending.size + (this.clear === undefined ? 0 : 1);
  }

  get retrying(): boolean {
    return this.failures > 0;
  }

  enqueue(write: Outgoing, ack?: Ack): void {
    if (this.closed) return;
    const entry = this.pending.get(write.key);
    if (entry === undefined) {
      this.pending.set(write.key, { write, acks: ack === undefined ? undefined : [ack] });
      if (this.pending.size > this.options.max) {
        this.drop();
        this.options.onOverflow();
        return;
      }
    } else {
      if (compareVersions(write.record, entry.write.record) > 0) entry.write = write;
      if (ack !== undefined) (entry.acks ??= []).push(ack);
    }
    this.schedule();
  }

  enqueueClear(watermark: Version, ack?: Ack): void {
    if (this.closed) return;
    this.mergeClear(watermark, ack === undefined ? undefined : [ack]);
    this.schedule();
  }

  /** Forgets every waiting record (their acks never come). */
  drop(): void {
    this.pending = new Map();
    this.clear = undefined;
  }

  /** Stops sending; what waits is dropped. */
  close(): void {
    this.closed = true;
    this.drop();
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.sending || this.timer !== undefined) return;
    const delay = this.pending.size >= this.options.batchSize ? 0 : this.options.batchDelayMs;
    this.flushAfter(delay);
  }

  private async flush(): Promise<void> {
    if (this.closed || this.depth === 0) return;
    this.sending = true;
    const taken = this.take();
    const clear = this.clear;
    this.clear = undefined;
    const batch: Batch = { writes: taken.map((entry) => entry.write), clear: clear?.watermark };
    let delay = 0;
    try {
      const refusals = await this.send(batch);
      this.failures = 0;
      // A refused record is never an acknowledgement; it is not sent again either (the
      // peer would refuse it again): anti-entropy offers it once the cause is gone.
      for (const entry of taken) settle(entry.acks, refusals?.keys.get(entry.write.key));
      settle(clear?.acks, refusals?.clear);
    } catch (error) {
      this.failures++;
      this.options.onError?.(error, this.failures);
      this.putBack(taken, clear);
      delay = backoffDelay(this.failures, RETRY_BASE_MS, this.options.retryMaxMs, this.options.random);
    }
    this.sending = false;
    if (this.closed || this.depth === 0) return;
    if (delay > 0) this.flushAfter(delay);
    else this.schedule();
  }

  /**
   * The next batch, out of `pending`: up to `batchSize` records and short of `maxBytes`
   * (a record alone goes whatever its size). When everything waiting fits (always, unless
   * a backlog built up), the map is handed over whole rather than emptied key by key.
   */
  private take(): Entry[] {
    const maxBytes = this.options.maxBytes ?? Infinity;
    const taken: Entry[] = [];
    let bytes = 0;
    for (const entry of this.pending.values()) {
      bytes += wireBytesAtMost(entry.write.key, entry.write.record);
      if (bytes > maxBytes && taken.length > 0) break;
      taken.push(entry);
      if (taken.length >= this.options.batchSize) break;
    }
    if (taken.length === this.pending.size) this.pending = new Map();
    else for (const entry of taken) this.pending.delete(entry.write.key);
    return taken;
  }

  private flushAfter(delay: number): void {
    this.timer = (this.options.scheduler ?? realScheduler).after(delay, () => {
      this.timer = undefined;
      void this.flush();
    });
  }

  /** Only the newest clear is sent; the acks of every clear it covers ride with it. */
  private mergeClear(watermark: Version, acks: Ack[] | undefined): void {
    const current = this.clear;
    if (current === undefined) {
      this.clear = { watermark, acks };
      return;
    }
    if (compareVersions(watermark, current.watermark) > 0) current.watermark = watermark;
    if (acks !== undefined) (current.acks ??= []).push(...acks);
  }

  /** After a failure: the batch goes back, unless newer versions arrived meanwhile. */
  private putBack(taken: Entry[], clear: PendingClear | undefined): void {
    if (this.closed) return;
    for (const entry of taken) {
      const key = entry.write.key;
      const newer = this.pending.get(key);
      if (newer === undefined) {
        this.pending.set(key, entry);
      } else if (entry.acks !== undefined) {
        (newer.acks ??= []).push(...entry.acks);
      }
    }
    if (clear !== undefined) this.mergeClear(clear.watermark, clear.acks);
    if (this.pending.size > this.options.max) {
      this.drop();
      this.options.onOverflow();
    }
  }
}

/**
 * The most bytes a record can take in a replicate body: a UTF-16 code unit is at most 6
 * bytes of JSON (`\u0001`), plus the version, node id and punctuation. Config makes sure
 * one record of the longest key and value fits in MESH_MAX_BODY_BYTES.
 */
export function wireBytesAtMost(key: string, record: StoredRecord): number {
  return 6 * (key.length + (record.value?.length ?? 0) + record.nodeId.length) + 64;
}

function settle(acks: Ack[] | undefined, refused: string | undefined): void {
  if (acks === undefined) return;
  for (const ack of acks) {
    if (refused === undefined) ack.ack();
    else ack.refuse(refused);
  }
}
