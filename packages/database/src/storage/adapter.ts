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
 * - Any string is a valid key, including `__proto__`, `constructor` and the empty string.
 * - `entries()` may be used while writes continue: it never throws for that, visits every
 *   key that is neither added nor removed meanwhile exactly once, and may or may not
 *   visit keys added or removed during the iteration.
 * - `getMeta`/`setMeta` keep small named strings (node id, clear watermark, clock) with
 *   the same durability as records.
 */
export interface StorageAdapter {
  readonly name: string;
  readonly size: number;
  get(key: string): StoredRecord | undefined;
  /** The record's version, without reading its value. */
  head(key: string): RecordHead | undefined;
  /** The value as JSON text (`JSON.stringify(value)`); undefined for no record or a tombstone. */
  getJson(key: string): string | undefined;
  set(key: string, record: StoredRecord): void;
  /** True when a record was there. */
  delete(key: string): boolean;
  clear(): void;
  entries(): IterableIterator<[string, StoredRecord]>;
  /** Like `entries`, without values. */
  heads(): IterableIterator<[string, RecordHead]>;
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
}

/**
 * Metadata names that the storage layer reads itself: the storage format mark of a file,
 * and the summary the store saves at a clean stop (the check of a file counts its records
 * against it).
 */
export const FORMAT_META = 'format';
export const SUMMARY_META = 'summary';

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
