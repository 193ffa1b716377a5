import type { WriteCount } from '../config';
import { realScheduler, type Scheduler, type Timer } from '../clock/scheduler';
import { ApiError } from '../errors';
import type { Ack } from './outbox';

/** How many nodes must hold a write before the client gets its answer, and how long to wait. */
export interface WriteConcern {
  readonly w: WriteCount;
  readonly timeoutMs: number;
}

/**
 * The nodes a write concern asks for, in a mesh of `members` nodes (this one included):
 * `all` is every member, `majority` more than half of them, a number is that number.
 */
export function requiredNodes(w: WriteCount, members: number): number {
  if (w === 'all') return members;
  if (w === 'majority') return Math.floor(members / 2) + 1;
  return w;
}

/**
 * Counts the nodes that hold one write: this node at once, then one per peer ack.
 * Settles when `required` is reached, or with 504 WRITE_TIMEOUT after `timeoutMs` (the
 * write stays applied and keeps replicating; only the wait ends). The members that did
 * not acknowledge are named in the 504, each as `describe` puts it (down, degraded…).
 */
export class AckCounter {
  readonly promise: Promise<void>;
  private acked = 1;
  /** Peers the write was sent to; undefined until all sends are known (`sent`). */
  private sentTo: number | undefined;
  private sending = 0;
  /** Members that have not acknowledged yet, for the 504's message. */
  private readonly missing: Set<string>;
  private readonly refusals: string[] = [];
  private settled = false;
  private resolve!: () => void;
  private reject!: (error: ApiError) => void;
  private readonly timer: Timer;

  constructor(
    readonly required: number,
    timeoutMs: number,
    scheduler: Scheduler = realScheduler,
    members: Iterable<string> = [],
    private readonly describe: (url: string) => string = (url) => url,
  ) {
    this.missing = new Set(members);
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = scheduler.after(timeoutMs, () => this.timeout(timeoutMs));
    this.check();
  }

  get count(): number {
    return this.acked;
  }

  /** The write is sent to the peer at `url`: the Ack its outbox settles. */
  sendTo(url: string): Ack {
    this.sending++;
    return {
      ack: () => {
        this.missing.delete(url);
        this.ack();
      },
      refuse: (why) => this.refuse(why),
    };
  }

  /** Every peer the write goes to has been given its Ack: with refusals, `w` may become out of reach. */
  sent(): void {
    this.sentTo = this.sending;
    this.check();
  }

  /** One more node holds the write. */
  ack(): void {
    this.acked++;
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

  private timeout(timeoutMs: number): void {
    if (this.settled) return;
    this.settled = true;
    const missing = [...this.missing].map(this.describe);
    const who = missing.length === 0 ? '' : ` Not acknowledged by: ${missing.join(', ')}.`;
    this.reject(
      new ApiError(
        'WRITE_TIMEOUT',
        `The write is applied on this node, but only ${this.acked} of the ${this.required} nodes asked for acknowledged it within ${timeoutMs} ms; it will still replicate.${who}`,
        { acked: this.acked, required: this.required },
      ),
    );
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
