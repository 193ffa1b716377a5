import { realScheduler, type Scheduler, type Timer } from '../clock/scheduler';
import { ApiError } from '../errors';
import type { Ack } from './outbox';

/** How many nodes must hold a write before the client gets its answer, and how long to wait. */
export interface WriteConcern {
  readonly w: number | 'all';
  readonly timeoutMs: number;
}

/**
 * Counts the nodes that hold one write: this node at once, then one per peer ack.
 * Settles when `required` is reached, or with 504 WRITE_TIMEOUT after `timeoutMs` (the
 * write stays applied and keeps replicating; only the wait ends).
 */
export class AckCounter implements Ack {
  readonly promise: Promise<void>;
  private acked = 1;
  /** Peers the write was sent to; undefined until known (then any number may answer). */
  private sentTo: number | undefined;
  private readonly refusals: string[] = [];
  private settled = false;
  private resolve!: () => void;
  private reject!: (error: ApiError) => void;
  private readonly timer: Timer;

  constructor(
    readonly required: number,
    timeoutMs: number,
    scheduler: Scheduler = realScheduler,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = scheduler.after(timeoutMs, () => {
      if (this.settled) return;
      this.settled = true;
      this.reject(
        new ApiError(
          'WRITE_TIMEOUT',
          `The write is applied on this node, but only ${this.acked} of the ${this.required} nodes asked for acknowledged it within ${timeoutMs} ms; it will still replicate.`,
          { acked: this.acked, required: this.required },
        ),
      );
    });
    this.check();
  }

  get count(): number {
    return this.acked;
  }

  ack(): void {
    this.acked++;
    this.check();
  }

  /** How many peers the write was sent to: with refusals, `w` may become out of reach. */
  asked(peers: number): void {
    this.sentTo = peers;
    this.check();
  }

  /**
   * A peer answered without taking the write: never an acknowledgement. Once too few
   * peers are left to reach `w`, the write fails at once with 503 WRITE_REFUSED and the
   * reasons (it stays applied here; anti-entropy offers it again once the cause is gone).
   */
  refuse(why: string): void {
    this.refusals.push(why);
    this.check();
  }

  private check(): void {
    if (this.settled) return;
    if (this.acked >= this.required) {
      this.settled = true;
      this.timer.cancel();
      this.resolve();
      return;
    }
    if (this.refusals.length === 0 || this.sentTo === undefined) return;
    const waiting = this.sentTo - (this.acked - 1) - this.refusals.length;
    if (this.acked + waiting >= this.required) return;
    this.settled = true;
    this.timer.cancel();
    this.reject(
      new ApiError(
        'WRITE_REFUSED',
        `The write is applied on this node, but ${this.refusals.length} node(s) refused it, so ${this.required} cannot hold it: ${[...new Set(this.refusals)].join('; ')}.`,
        { acked: this.acked, required: this.required, refused: this.refusals.length },
      ),
    );
  }
}
