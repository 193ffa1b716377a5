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
}
