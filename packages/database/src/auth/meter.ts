import type { Identity } from './key-ring';

/** What a request is counted and limited as. */
export type Category = 'read' | 'write' | 'admin';
export const CATEGORIES: readonly Category[] = ['read', 'write', 'admin'];

export interface MeterOptions {
  /** RATE_LIMIT: requests a second per key and category when a key has no rate of its own; 0: none. */
  readonly defaultRate: number;
  /** What each node's rate is divided by (RATE_LIMIT_SPLIT: the nodes alive; else 1). */
  readonly divisor: () => number;
  readonly now: () => number;
}

/** One key's requests on this node: a token bucket and a count per category. */
interface KeyState {
  readonly tokens: Float64Array;
  readonly refilled: Float64Array;
  readonly counts: Float64Array;
}

/** The burst a bucket of `rate` requests a second holds: the rate, and at least one request. */
export function burstOf(rate: number): number {
  return Math.max(1, rate);
}

/** Keys whose state is kept at once; past it the first seen start afresh. */
const KEYS_KEPT = 100_000;

/**
 * Counts each key's requests per category and limits them with token buckets: a key may
 * make `rate` requests a second of each category, in bursts of up to `rate` (its own rate,
 * else RATE_LIMIT; none when both are 0). The buckets are this node's: N nodes behind a
 * balancer allow up to N times the rate, unless the rate is divided by the nodes alive
 * (RATE_LIMIT_SPLIT). ADMIN_KEY is counted, never limited.
 */
export class RequestMeter {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly options: MeterOptions) {}

  /** The requests a second `identity` may make per category on this node now; 0: no limit. */
  rateOf(identity: Identity): number {
    if (identity.id === 'admin') return 0;
    const rate = identity.rate ?? this.options.defaultRate;
    return rate === 0 ? 0 : rate / Math.max(1, this.options.divisor());
  }

  /**
   * Counts a request of `category` by `identity` and answers 0 when it may pass now; else
   * the ms until a token is back (the request is then not counted).
   */
  take(identity: Identity, category: Category): number {
    const state = this.stateOf(identity.id);
    const index = CATEGORIES.indexOf(category);
    const rate = this.rateOf(identity);
    if (rate > 0) {
      const now = this.options.now();
      const burst = burstOf(rate);
      const tokens = Math.min(burst, (state.tokens[index] as number) + ((now - (state.refilled[index] as number)) * rate) / 1000);
      state.refilled[index] = now;
      if (tokens < 1) {
        state.tokens[index] = tokens;
        return Math.ceil(((1 - tokens) * 1000) / rate);
      }
      state.tokens[index] = tokens - 1;
    }
    (state.counts)[index] = (state.counts[index] as number) + 1;
    return 0;
  }

  /** The requests counted for a key on this node, per category. */
  counts(id: string): Record<Category, number> {
    const state = this.keys.get(id);
    return { read: state?.counts[0] ?? 0, write: state?.counts[1] ?? 0, admin: state?.counts[2] ?? 0 };
  }

  private stateOf(id: string): KeyState {
    let state = this.keys.get(id);
    if (state === undefined) {
      // A new key starts with full buckets: its first burst passes.
      state = { tokens: new Float64Array(3).fill(Number.MAX_VALUE), refilled: new Float64Array(3).fill(this.options.now()), counts: new Float64Array(3) };
      this.keys.set(id, state);
      if (this.keys.size > KEYS_KEPT) this.keys.delete(this.keys.keys().next().value as string);
    }
    return state;
  }
}
