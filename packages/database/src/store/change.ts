import type { RecordHead, StoredRecord } from '../record/record';
import type { Version } from '../record/version';

/**
 * Where an applied change came from:
 * - `local`: a client's write on this node;
 * - `replicated`: sent by the peer that took the write;
 * - `repaired`: found missing by anti-entropy (or a bootstrap);
 * - `expired`: a record whose time is over (tombstones past TOMBSTONE_TTL_MS);
 * - `cleared`: removed by a clear watermark;
 * - `wiped`: this node dropped its data to bootstrap again.
 */
export type ChangeOrigin = 'local' | 'replicated' | 'repaired' | 'expired' | 'cleared' | 'wiped';

/** One key's record changed. */
export interface RecordChange {
  readonly type: 'record';
  readonly key: string;
  /**
   * The version the key held before (undefined: none). A version, not the old value: the
   * write path never reads values, and a listener that wants one keeps it itself.
   */
  readonly previous: RecordHead | undefined;
  /** The key's record now; undefined when it left the store (expired, cleared). */
  readonly record: StoredRecord | undefined;
  readonly origin: ChangeOrigin;
  /** The value before the change (null: a tombstone), only for the keys asked for (Store.trackValues). */
  readonly previousValue?: string | null;
}

/**
 * A clear watermark was applied (or the data wiped). With `emptied`, every record was
 * dropped at once and no RecordChange was sent for them; otherwise each record the clear
 * removed had its own RecordChange (origin `cleared`) before this one.
 */
export interface ClearChange {
  readonly type: 'clear';
  /** Undefined for a wipe, which forgets the watermark too. */
  readonly watermark: Version | undefined;
  readonly emptied: boolean;
  readonly origin: ChangeOrigin;
}

export type StoreChange = RecordChange | ClearChange;

/**
 * Called synchronously once per applied change, in the order the store applied them, after
 * the change is visible to reads. A listener must not throw and must not write to the store.
 */
export type ChangeListener = (change: StoreChange) => void;
