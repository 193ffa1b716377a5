import type { Buckets } from '@meshkv/common';
import { compareKeys } from '../record/key-order';
import type { RecordHead, StoredRecord } from '../record/record';

/**
 * Where a node keeps its records. The store above it decides what to write (merge,
 * tombstones, the clear watermark); an adapter only keeps what it is given.
 *
 * Contract:
 * - `get`, `set`, `delete` and `clear` are synchronous and visible to the next `get` at
 *   once; a durable adapter may persist them later, and `flush()` resolves once every
 *   change made before the call is persisted. The memory adapter persists nothing and
 *   resolves at once.
 * - Any string is a valid key, including `__proto__`, `constructor`, the empty string and
 *   strings with lone surrogates.
 * - `entries()`, `heads()` and `range()` may be used while writes continue: they never
 *   throw for that, visit every key that is neither added nor removed meanwhile exactly
 *   once (with its state when visited), and may or may not visit keys added or removed
 *   during the iteration.
 * - `range()` visits keys in code point order (`compareKeys`), the same on every adapter.
 * - Records that expire are indexed by expiry: `expiring(until)` costs what it yields, not
 *   a scan of every key.
 * - `getMeta`/`setMeta` keep small named strings (node id, clear watermark, clock) with
 *   the same durability as records.
 */
export interface StorageAdapter {
  readonly name: string;
  readonly size: number;
  get(key: string): StoredRecord | undefined;
  /** The record's version, without reading its value. */
  head(key: string): RecordHead | undefined;
  /**
   * The value as JSON text (`JSON.stringify(value)`); undefined for no record, a tombstone,
   * or (given `now`, ms since the epoch) a value whose expiry is at or before `now`.
   */
  getJson(key: string, now?: number): string | undefined;
  /**
   * `previous`: the key's head as the caller has just read it with `head` (null: it has
   * none), so that the adapter need not look again; undefined: not known.
   */
  set(key: string, record: StoredRecord, previous?: RecordHead | null): void;
  /** True when a record was there. */
  delete(key: string): boolean;
  clear(): void;
  entries(): IterableIterator<[string, StoredRecord]>;
  /** Like `entries`, without values. */
  heads(): IterableIterator<[string, RecordHead]>;
  /** Records (tombstones included) from the key `from` on (after it, with `exclusive`), in code point order. */
  range(from: string, exclusive?: boolean): IterableIterator<[string, StoredRecord]>;
  /** How many records carry an expiry (about: a durable adapter may count an entry a failed commit lost). */
  readonly expiringCount: number;
  /**
   * Keys whose record expires at or before `until`, earliest first. An entry may be stale
   * (the record changed since, in the moments before a commit): the caller checks the
   * record. A durable adapter may leave out the writes of the last moments, not committed
   * yet; a later call finds them.
   */
  expiring(until: number): IterableIterator<Expiring>;
  getMeta(name: string): string | undefined;
  setMeta(name: string, value: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * Why changes cannot be made durable now (the disk is (nearly) full, or it fails);
   * undefined when they can. A change whose commit failed stays visible to reads (it is
   * kept in memory) and is handed to the disk again by `checkDisk()`.
   */
  readonly fault: StorageFault | undefined;
  /**
   * Called about every second: measures the disk's free space again (a fault while it is
   * under the reserve, cleared once it has room again) and, after a failed commit, hands
   * every change not yet committed to the disk again; that fault clears once they commit.
   */
  checkDisk(): void;
  /**
   * About how many bytes the records take where the adapter keeps them: the memory adapter
   * counts its values' bytes, a durable one the pages of its file in use. Read when metrics
   * are scraped, not on the request path.
   */
  readonly storedBytes: number;
  /** A durable adapter: the time from each change to its commit (seconds); undefined for memory. */
  readonly commitLatency?: Buckets;
}

/**
 * Metadata names that the storage layer reads itself: the storage format mark of a file,
 * and the summary the store saves at a clean stop (the check of a file counts its records
 * against it).
 */
export const FORMAT_META = 'format';
export const SUMMARY_META = 'summary';

/** An entry of the expiry index. */
export interface Expiring {
  readonly key: string;
  readonly expiresAt: number;
}

/** The order of an expiry index: when, then the key (as LMDB's index bytes sort). */
export function compareExpiring(a: Expiring, b: Expiring): number {
  return a.expiresAt !== b.expiresAt ? a.expiresAt - b.expiresAt : compareKeys(a.key, b.key);
}

/** A durable adapter that cannot commit. */
export interface StorageFault {
  /** `full`: the disk has less free space than the reserve (or none at all); `failed`: any other write error. */
  readonly kind: 'full' | 'failed';
  readonly message: string;
  /** ms since the epoch, when the first failed commit was seen. */
  readonly since: number;
}

/** Thrown (or rejected) by a change the adapter cannot make durable now. */
export class StorageFaultError extends Error {
  constructor(readonly fault: StorageFault) {
    super(`storage cannot be written (${fault.kind}): ${fault.message}`);
    this.name = 'StorageFaultError';
  }
}
