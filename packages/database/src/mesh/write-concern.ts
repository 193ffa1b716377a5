import { parseWriteConcern } from '../config';
import { ApiError } from '../errors';
import type { QueryParams } from '../http/query';
import type { Ack } from './outbox';

/** How many nodes must hold a write before the client gets its answer, and how long to wait. */
export interface WriteConcern {
  readonly w: number | 'all';
  readonly timeoutMs: number;
}

const MAX_WTIMEOUT_MS = 3_600_000;

/** `w` and `wtimeout` from the query, the node's defaults otherwise; 400 when unreadable. */
export function readWriteConcern(query: QueryParams, defaults: WriteConcern): WriteConcern {
  const w = query.get('w');
  const wtimeout = query.get('wtimeout');
  if (w === undefined && wtimeout === undefined) return defaults;
  let concern: number | 'all' | undefined = defaults.w;
  if (w !== undefined) {
    concern = parseWriteConcern(w.toLowerCase());
    if (concern === undefined) throw new ApiError('INVALID_WRITE_CONCERN', `w must be a whole number of nodes from 1 to 9999 or "all" (got "${w}").`);
  }
  let timeoutMs = defaults.timeoutMs;
  if (wtimeout !== undefined) {
    timeoutMs = /^\d{1,7}$/.test(wtimeout) ? Number(wtimeout) : NaN;
    if (!(timeoutMs >= 1 && timeoutMs <= MAX_WTIMEOUT_MS)) {
      throw new ApiError(
        'INVALID_WRITE_CONCERN',
        `wtimeout must be a whole number of milliseconds from 1 to ${MAX_WTIMEOUT_MS} (got "${wtimeout}").`,
      );
    }
  }
  return { w: concern, timeoutMs };
}

/**
 * Counts the nodes that hold one write: this node at once, then one per peer ack.
 * Settles when `required` is reached, or with 504 WRITE_TIMEOUT after `timeoutMs` (the
 * write stays applied and keeps replicating; only the wait ends).
 */
export class AckCounter implements Ack {
  readonly promise: Promise<void>;
  private acked = 1;
  private settled = false;
  private resolve!: () => void;
  private reject!: (error: ApiError) => void;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly required: number,
    timeoutMs: number,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => {
      if (this.settled) return;
      this.settled = true;
      this.reject(
        new ApiError(
          'WRITE_TIMEOUT',
          `The write is applied on this node, but only ${this.acked} of the ${this.required} nodes asked for acknowledged it within ${timeoutMs} ms; it will still replicate.`,
          { acked: this.acked, required: this.required },
        ),
      );
    }, timeoutMs);
    this.check();
  }

  get count(): number {
    return this.acked;
  }

  ack(): void {
    this.acked++;
    this.check();
  }

  private check(): void {
    if (this.settled || this.acked < this.required) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve();
  }
}
