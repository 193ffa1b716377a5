import * as fs from 'node:fs';
import { Buckets } from '@meshkv/common';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type * as Lmdb from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import {
  checkStorageFormat,
  EXPIRY_TABLE,
  FIRST_RECORDS_TABLE,
  fromExpiryKey,
  fromFirstStorageKey,
  fromRow,
  fromStorageKey,
  type Row,
  RECORDS_TABLE,
  rowHead,
  rowJson,
  STORAGE_FORMAT,
  toExpiryKey,
  toRow,
  toStorageKey,
} from '../record/codec';
import { compareKeys } from '../record/key-order';
import { headOf, type RecordHead, type StoredRecord } from '../record/record';
import { compareExpiring, type Expiring, FORMAT_META, type StorageAdapter, type StorageFault, StorageFaultError } from './adapter';
import type { FileCheck } from './lmdb-check';
import { HeadCache } from './head-cache';

/** Committed rows read at once by a scan (see snapshot). */
const SCAN_PAGE = 1000;
/** The first page of a range read: most ranges are a page of a listing (100 keys). */
const FIRST_RANGE_PAGE = 128;
/**
 * What one change may add to the file at most, besides its key and value: the pages it
 * copies on write (a path of the tree, the free list, the meta page). An over-estimate:
 * the changes of one commit share their pages.
 */
const CHANGE_OVERHEAD_BYTES = 16 * 1024;

/**
 * `none` hands its writes over at most this often: nobody waits for them, and the larger
 * batches share LMDB's page copies (a write of 10,000 keys: 39.7k → 42.3k a second, measured).
 */
const NONE_HAND_OVER_MS = 10;
/**
 * Keys whose heads are kept in memory (HeadCache). A load of 200,000 new keys (sync, 64
 * connections): RSS +13–16 MB and 5 % more time with 32,768; +45–50 MB with 65,536; none
 * measurable with 16,384, which however misses most keys of a /set cycling over 10,000.
 */
const HEAD_CACHE_KEYS = 32_768;

/**
 * One write waiting for its hand-over: a record (null: deleted) with the expiry of the
 * record it replaces, or a value of the meta table. Both go through one queue, so LMDB
 * commits them in the order they were made (a summary saved at a clean stop never commits
 * before the records it counts).
 */
type Change =
  | { readonly key: string; readonly record: StoredRecord | null; readonly oldExpiry: number | undefined }
  | { readonly meta: string; readonly value: string };

/** errno of "no space left on device". */
const ENOSPC = 28;

/**
 * How a write reaches the disk:
 * - `sync`: `flush()` resolves once the write is committed and fsynced; the node answers
 *   a write only then. Writes of the same moment share one commit (group commit).
 * - `batch`: committed and fsynced in the background, at most `batchIntervalMs` after
 *   the write; a crash loses at most that much.
 * - `none`: committed in the background as soon as possible, never fsynced: a process
 *   crash loses the writes not yet committed (milliseconds), a machine crash may lose
 *   everything since the operating system last wrote its cache.
 */
export type Durability = 'sync' | 'batch' | 'none';

export interface LmdbOptions {
  /** The data folder; the database is one file in it, `meshkv.mdb`. */
  readonly directory: string;
  readonly durability: Durability;
  /** ms, `batch` only: longest time between a write and its commit. */
  readonly batchIntervalMs: number;
  /**
   * Bytes kept free on the disk (MIN_FREE_DISK_MB): under this the adapter takes no more
   * changes (its fault is `full`) until twice as much is free. LMDB must never meet a full
   * disk: after a failed write it may corrupt its own memory and crash the process.
   */
  readonly minFreeBytes?: number;
  /** Free bytes on the disk of a folder (statfs); for tests of the reserve. */
  readonly freeSpace?: (directory: string) => number;
}

/** The data folder cannot be used: the message names the folder and the fix. */
export class StorageOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageOpenError';
  }
}

/** Loaded only when STORAGE=lmdb: a memory node does not carry the native module. */
function loadLmdb(): typeof Lmdb {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose, see above
  return require('lmdb') as typeof Lmdb;
}

const FILE = 'meshkv.mdb';

/**
 * Records in LMDB (the `lmdb` package), one file in the data folder. The contract of
 * StorageAdapter asks for synchronous writes: a write goes into `pending` at once (reads
 * look there first) and is handed to LMDB, which commits the writes of one moment
 * together in order; it leaves `pending` when committed. `flush()` waits for the last
 * write handed over, so for all of them.
 */
export class LmdbAdapter implements StorageAdapter {
  readonly name = 'lmdb';
  /** Writes not committed yet: a record, or null for a key deleted. */
  private pending = new Map<string, StoredRecord | null>();
  private readonly pendingMeta = new Map<string, string>();
  /** True from a clear() until its commit: committed records are then all gone. */
  private clearing = false;
  private count: number;
  private last: Promise<unknown> = Promise.resolve();
  private failure: StorageFault | undefined;
  /** Failed commits so far: a retry clears the fault only if none failed after it started. */
  private failures = 0;
  /** The last clear() did not commit: checkDisk() clears again. */
  private clearFailed = false;
  /** Set while the disk has less free space than the reserve. */
  private lowSpace: StorageFault | undefined;
  /** Bytes the changes may still add before the free space is measured again. */
  private budget = 0;
  private closed = false;

  /** Entries of the expiry index, committed or not. */
  private expiries: number;
  /** Writes not handed to LMDB yet: every write of a turn goes in one LMDB batch (one transaction). */
  private queue: Change[] = [];
  /** Resolves once the queued writes are handed over; undefined when none wait. */
  private handed: Promise<void> | undefined;
  /** Cancels the scheduled hand-over (one made early, by a clear or a close, needs no other). */
  private cancelHandOver: (() => void) | undefined;
  private resolveHanded: (() => void) | undefined;

  readonly commitLatency = new Buckets();
  /** Heads of committed records written or looked up lately (never of a pending one: `pending` is read first). */
  private readonly recentHeads = new HeadCache(HEAD_CACHE_KEYS);

  private constructor(
    private readonly root: RootDatabase,
    private readonly records: Database<Row, Buffer>,
    private readonly expiry: Database<null, Buffer>,
    private readonly meta: Database<string, string>,
    readonly file: string,
    private readonly minFreeBytes: number,
    private readonly freeSpace: (directory: string) => number,
    /** Records rewritten from a file of storage format 1 when it was opened; undefined: none. */
    readonly migrated: number | undefined,
    /** ms between a write and its hand-over to LMDB: 0, the end of the event-loop turn. */
    private readonly handOverMs = 0,
  ) {
    this.count = records.getCount();
    this.expiries = expiry.getCount();
    this.measure();
  }

  /**
   * Opens (or creates) the database in `options.directory`. Refuses, with a
   * StorageOpenError and without writing anything, a folder that is not one, cannot be
   * written, or holds a file that is not a MeshKV database.
   */
  static open(options: LmdbOptions): LmdbAdapter {
    const directory = path.resolve(options.directory);
    const file = path.join(directory, FILE);
    checkDirectory(directory);
    const existed = fs.existsSync(file);
    if (existed) checkExisting(file);
    const { open } = loadLmdb();
    let root: RootDatabase;
    try {
      root = open({
        path: file,
        noSubdir: true,
        maxDbs: 4,
        compression: false,
        noSync: options.durability === 'none',
        // lmdb's default on Linux resolves a write once committed and fsyncs the commit
        // afterwards; `sync` answers a write only once it is on disk, so the fsync must be
        // part of the commit (writes arriving meanwhile share the next commit).
        overlappingSync: false,
      });
    } catch (error) {
      throw new StorageOpenError(`DATA_DIR=${options.directory}: cannot open ${file}: ${(error as Error).message}`, { cause: error });
    }
    const records = root.openDB<Row, Buffer>({ name: RECORDS_TABLE, keyEncoding: 'binary', encoding: 'msgpack' });
    const expiry = root.openDB<null, Buffer>({ name: EXPIRY_TABLE, keyEncoding: 'binary', encoding: 'msgpack' });
    const meta = root.openDB<string, string>({ name: 'meta', encoding: 'string' });
    if (!existed) meta.putSync(FORMAT_META, STORAGE_FORMAT);
    const format = checkStorageFormat(meta.get(FORMAT_META));
    const migrated = format.open && format.migrate ? migrateFirstFormat(root, records, expiry, meta) : undefined;
    const handOverMs = options.durability === 'batch' ? options.batchIntervalMs : options.durability === 'none' ? NONE_HAND_OVER_MS : 0;
    return new LmdbAdapter(root, records, expiry, meta, file, options.minFreeBytes ?? 0, options.freeSpace ?? freeBytes, migrated, handOverMs);
  }

  get size(): number {
    return this.count;
  }

  /** The pages of the file in use (up to the last one written), free pages included. */
  get storedBytes(): number {
    if (this.closed) return 0;
    const stats = this.root.getStats() as { pageSize?: number; lastPageNumber?: number };
    return (stats.pageSize ?? 0) * ((stats.lastPageNumber ?? 0) + 1);
  }

  // Every read looks at `pending` first (a record, or null for a key deleted or cleared
  // away), then at the committed row.

  get(key: string): StoredRecord | undefined {
    if (this.pending.has(key)) return this.pending.get(key) ?? undefined;
    const row = this.committed(key);
    return row === undefined ? undefined : fromRow(row);
  }

  /** Runs before every write (Store compares versions): reads no value. */
  head(key: string): RecordHead | undefined {
    if (this.pending.has(key)) {
      const record = this.pending.get(key);
      return record === null || record === undefined ? undefined : headOf(record);
    }
    if (this.clearing) return undefined;
    const cached = this.recentHeads.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.committed(key);
    if (row === undefined) return undefined;
    const head = rowHead(row);
    this.recentHeads.set(key, head);
    return head;
  }

  getJson(key: string, now?: number): string | undefined {
    if (this.pending.has(key)) {
      const record = this.pending.get(key);
      if (record === null || record === undefined || record.value === null) return undefined;
      return now !== undefined && record.expiresAt !== undefined && record.expiresAt <= now ? undefined : JSON.stringify(record.value);
    }
    const row = this.committed(key);
    return row === undefined ? undefined : rowJson(row, now);
  }

  set(key: string, record: StoredRecord, previous?: RecordHead | null): void {
    // What the key held, as the caller read it; else looked up, its old expiry only when
    // some record expires (without TTLs a write reads no more than whether the key exists).
    const looked = previous !== undefined || record.expiresAt !== undefined || this.expiries > 0;
    const before = previous !== undefined ? (previous ?? undefined) : looked ? this.head(key) : undefined;
    if (looked ? before === undefined : !this.has(key)) this.count++;
    this.pending.set(key, record);
    this.commit(key, record, before?.expiresAt);
  }

  delete(key: string): boolean {
    const looked = this.expiries > 0;
    const before = looked ? this.head(key) : undefined;
    if (looked ? before === undefined : !this.has(key)) return false;
    this.count--;
    this.pending.set(key, null);
    this.commit(key, null, before?.expiresAt);
    return true;
  }

  clear(): void {
    this.count = 0;
    this.expiries = 0;
    // Records not handed over yet are cleared away with the rest; meta values made before
    // the clear are committed before it.
    this.queue = this.queue.filter((change) => 'meta' in change);
    this.handOver();
    this.pending = new Map();
    this.recentHeads.clear();
    this.clearing = true;
    this.commitClear();
  }

  get expiringCount(): number {
    return this.expiries;
  }

  /**
   * The committed index, read in pages (each a short transaction of its own), merged in
   * expiry order with the pending writes that expire by `until`. A committed entry of a
   * key with a pending write is skipped: the pending record is the key's state.
   */
  *expiring(until: number): IterableIterator<Expiring> {
    const pending = this.pending;
    const fresh: Expiring[] = [];
    for (const [key, record] of pending) {
      if (record?.expiresAt !== undefined && record.expiresAt <= until) fresh.push({ key, expiresAt: record.expiresAt });
    }
    fresh.sort(compareExpiring);
    let next = 0;
    if (!this.clearing) {
      let after: Buffer | undefined;
      for (;;) {
        const page = this.expiryPage(after, until);
        for (const { entry } of page) {
          for (; next < fresh.length && compareExpiring(fresh[next] as Expiring, entry) <= 0; next++) yield fresh[next] as Expiring;
          if (!pending.has(entry.key)) yield entry;
        }
        if (page.length < SCAN_PAGE) break;
        after = (page[page.length - 1] as { raw: Buffer }).raw;
      }
    }
    for (; next < fresh.length; next++) yield fresh[next] as Expiring;
  }

  /** Up to SCAN_PAGE committed entries of the expiry index after `after`, none later than `until`. */
  private expiryPage(after: Buffer | undefined, until: number): { raw: Buffer; entry: Expiring }[] {
    const page: { raw: Buffer; entry: Expiring }[] = [];
    for (const { key } of this.expiry.getRange(after === undefined ? { limit: SCAN_PAGE } : { start: after, limit: SCAN_PAGE + 1 })) {
      if (after !== undefined && page.length === 0 && key.equals(after)) continue;
      const entry = fromExpiryKey(key);
      if (entry.expiresAt > until) break;
      page.push({ raw: Buffer.from(key), entry });
      if (page.length === SCAN_PAGE) break;
    }
    return page;
  }

  /**
   * Committed rows from `from` on, in pages (FIRST_RANGE_PAGE first, then SCAN_PAGE), each
   * page a short read transaction of its own, merged in key order with the pending writes
   * at or after `from` (sorted once, when the range starts).
   */
  *range(from: string, exclusive = false): IterableIterator<[string, StoredRecord]> {
    const pending = this.pending;
    const inRange = (key: string): boolean => (exclusive ? compareKeys(key, from) > 0 : compareKeys(key, from) >= 0);
    const overlay = [...pending.keys()].filter(inRange).sort(compareKeys);
    let next = 0;
    if (!this.clearing) {
      let start = toStorageKey(from);
      let skipStart = exclusive;
      let size = FIRST_RANGE_PAGE;
      for (;;) {
        const rows = this.rangePage(start, skipStart, size);
        for (const { key, value } of rows) {
          const name = fromStorageKey(key);
          for (; next < overlay.length && compareKeys(overlay[next] as string, name) <= 0; next++) {
            const record = this.current(overlay[next] as string);
            if (record !== undefined) yield [overlay[next] as string, record];
          }
          if (overlay[next - 1] === name) continue; // visited just now, as pending
          // Written since the range started: its newest state.
          const record = pending.has(name) ? this.current(name) : fromRow(value);
          if (record !== undefined) yield [name, record];
        }
        if (rows.length < size) break;
        start = (rows[rows.length - 1] as { key: Buffer }).key;
        skipStart = true;
        size = SCAN_PAGE;
      }
    }
    for (; next < overlay.length; next++) {
      const record = this.current(overlay[next] as string);
      if (record !== undefined) yield [overlay[next] as string, record];
    }
  }

  /** A key's record as reads see it now (pending first). */
  private current(key: string): StoredRecord | undefined {
    return (this.pending.has(key) ? this.pending.get(key) : this.get(key)) ?? undefined;
  }

  /** Up to `size` committed rows from `start` (after it, with `skipStart`), read at once. */
  private rangePage(start: Buffer, skipStart: boolean, size: number): { key: Buffer; value: Row }[] {
    const rows: { key: Buffer; value: Row }[] = [];
    for (const row of this.records.getRange({ start, limit: size + 1 })) {
      if (skipStart && rows.length === 0 && row.key.equals(start)) continue;
      rows.push({ key: Buffer.from(row.key), value: row.value });
      if (rows.length === size) break;
    }
    return rows;
  }

  *entries(): IterableIterator<[string, StoredRecord]> {
    yield* this.snapshot(fromRow, (record) => record);
  }

  *heads(): IterableIterator<[string, RecordHead]> {
    // Without parsing values: a start reads the versions of every record through here.
    yield* this.snapshot(rowHead, headOf);
  }

  getMeta(name: string): string | undefined {
    return this.pendingMeta.get(name) ?? this.meta.get(name);
  }

  setMeta(name: string, value: string): void {
    this.pendingMeta.set(name, value);
    this.commitMeta(name, value);
  }

  /**
   * Resolves when every write made before the call is committed (and fsynced, per
   * durability); rejects with a StorageFaultError while some cannot be (see `fault`).
   */
  async flush(): Promise<void> {
    if (this.handed !== undefined) await this.handed;
    await this.last.catch(() => undefined);
    const failure = this.failure;
    if (failure !== undefined) throw new StorageFaultError(failure);
  }

  get fault(): StorageFault | undefined {
    return this.failure ?? this.lowSpace;
  }

  /**
   * Measures the free space again; after a failed commit, once there is room, hands every
   * write not committed yet to LMDB again, in order (the clear first, if it failed); that
   * fault clears when they commit.
   */
  checkDisk(): void {
    if (this.closed) return;
    this.measure();
    if (this.failure === undefined || this.lowSpace !== undefined) return;
    const failures = this.failures;
    if (this.clearFailed) this.commitClear();
    this.handOver();
    // The index entries are put again (an entry of a failed commit is lost; one too many is
    // only checked and skipped by the sweep), and counted from the index once committed.
    this.write([
      ...[...this.pending].map(([key, record]): Change => ({ key, record, oldExpiry: undefined })),
      ...[...this.pendingMeta].map(([meta, value]): Change => ({ meta, value })),
    ]);
    this.last.then(
      () => {
        if (this.failures === failures) this.failure = undefined;
        this.expiries = this.expiry.getCount();
      },
      () => undefined,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handOver();
    await this.last.catch(() => undefined);
    await this.root.close();
  }

  private has(key: string): boolean {
    if (this.pending.has(key)) return this.pending.get(key) !== null;
    if (this.clearing) return false;
    const cached = this.recentHeads.get(key);
    return cached === undefined ? this.records.doesExist(toStorageKey(key)) : cached !== null;
  }

  /** The committed row of a key not in `pending` (none while a clear is not committed). */
  private committed(key: string): Row | undefined {
    return this.clearing ? undefined : this.records.get(toStorageKey(key));
  }

  /**
   * Measures the free space: under the reserve, a `full` fault (the changes already
   * applied still commit, into the reserve); it clears once twice the reserve is free.
   * Sets the budget of bytes before the next measure.
   */
  private measure(): void {
    const free = this.freeSpace(path.dirname(this.file));
    const resume = this.lowSpace === undefined ? this.minFreeBytes : 2 * this.minFreeBytes;
    if (free >= resume) {
      this.lowSpace = undefined;
      this.budget = free - this.minFreeBytes;
      return;
    }
    this.budget = 0;
    this.lowSpace ??= {
      kind: 'full',
      message: `${Math.floor(free / 1024)} KiB free on the disk of ${this.file}, under the ${Math.ceil(this.minFreeBytes / 1024)} KiB kept free (MIN_FREE_DISK_MB); writes are taken again once ${Math.ceil((2 * this.minFreeBytes) / 1024)} KiB are free`,
      since: Date.now(),
    };
  }

  /** Counts what a change may add to the file; measures the disk when the budget is spent. */
  private spend(bytes: number): void {
    this.budget -= bytes + CHANGE_OVERHEAD_BYTES;
    if (this.budget < 0) this.measure();
  }

  /**
   * Queues one pending write (`oldExpiry`: the expiry of the record it replaces) for the
   * next hand-over, at the end of the event-loop turn (or after DURABILITY_INTERVAL_MS for
   * `batch`): every write of a turn goes to LMDB in one batch, one transaction with its
   * changes to the expiry index, and one promise for all of them (a promise, a callback
   * and a start of LMDB's writer per write cost a third of a lone write, measured).
   */
  private commit(key: string, record: StoredRecord | null, oldExpiry: number | undefined): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.spend(3 * (key.length + (record?.value?.length ?? 0)));
    const newExpiry = record?.expiresAt;
    if (oldExpiry !== newExpiry && oldExpiry !== undefined) this.expiries--;
    if (oldExpiry !== newExpiry && newExpiry !== undefined) this.expiries++;
    this.enqueue({ key, record, oldExpiry });
  }

  private commitMeta(name: string, value: string): void {
    this.spend(3 * (name.length + value.length));
    this.enqueue({ meta: name, value });
  }

  private enqueue(change: Change): void {
    this.queue.push(change);
    if (this.handed !== undefined) return;
    this.handed = new Promise((resolve) => (this.resolveHanded = resolve));
    if (this.handOverMs > 0) {
      const timer = setTimeout(() => this.handOver(), this.handOverMs);
      this.cancelHandOver = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(() => this.handOver());
      this.cancelHandOver = () => clearImmediate(immediate);
    }
  }

  /** Hands the queued writes to LMDB as one batch; each leaves `pending` (or `pendingMeta`) once committed. */
  private handOver(): void {
    this.cancelHandOver?.();
    this.cancelHandOver = undefined;
    const changes = this.queue;
    const handed = this.resolveHanded;
    this.queue = [];
    this.handed = undefined;
    this.resolveHanded = undefined;
    if (changes.length > 0) this.write(changes);
    handed?.();
  }

  private write(changes: readonly Change[]): void {
    const pending = this.pending;
    const started = performance.now();
    const written = this.root.batch(() => {
      for (const change of changes) {
        if ('meta' in change) {
          void this.meta.put(change.meta, change.value);
          continue;
        }
        const { key, record, oldExpiry } = change;
        const newExpiry = record?.expiresAt;
        if (oldExpiry !== newExpiry && oldExpiry !== undefined) void this.expiry.remove(toExpiryKey(oldExpiry, key));
        if (oldExpiry !== newExpiry && newExpiry !== undefined) void this.expiry.put(toExpiryKey(newExpiry, key), null);
        void (record === null ? this.records.remove(toStorageKey(key)) : this.records.put(toStorageKey(key), toRow(record)));
      }
    });
    this.last = written;
    written.then(
      () => {
        this.commitLatency.observe((performance.now() - started) / 1000);
        // Committed: LMDB now answers for these keys, unless a newer write took a key's place
        // (or a clear came after: its heads are not kept, and its pending map is gone).
        const current = pending === this.pending;
        for (const change of changes) {
          if ('meta' in change) {
            if (this.pendingMeta.get(change.meta) === change.value) this.pendingMeta.delete(change.meta);
          } else if (pending.get(change.key) === change.record) {
            pending.delete(change.key);
            if (current) this.recentHeads.set(change.key, change.record === null ? null : headOf(change.record));
          }
        }
      },
      (error: unknown) => this.fail(error),
    );
  }

  private commitClear(): void {
    this.spend(0);
    this.clearFailed = false;
    void this.expiry.clearAsync().catch(() => undefined);
    const cleared = this.records.clearAsync();
    this.last = cleared;
    const pending = this.pending;
    cleared.then(
      () => {
        if (this.pending === pending) this.clearing = false;
      },
      (error: unknown) => {
        if (this.pending === pending) this.clearFailed = true;
        this.fail(error);
      },
    );
  }

  /**
   * A commit failed: the writes stay in `pending` (reads still see them) until `checkDisk()`
   * commits them. lmdb rejects each write with a generic error and gives the cause (an
   * errno) in `commitError`, a promise that rejects with it.
   */
  private fail(error: unknown): void {
    this.failures++;
    this.failure ??= { kind: 'failed', message: messageOf(error), since: Date.now() };
    const cause = (error as { commitError?: unknown }).commitError;
    if (cause instanceof Promise) {
      cause.catch((real: unknown) => {
        if (this.failure !== undefined) this.failure = { kind: isNoSpace(real) ? 'full' : 'failed', message: messageOf(real), since: this.failure.since };
      });
    } else if (isNoSpace(error)) {
      this.failure = { ...this.failure, kind: 'full' };
    }
  }

  /**
   * Every key once: the committed ones overlaid with the pending ones, as they are when
   * visited. The committed ones are read in pages of SCAN_PAGE keys, each page a short read
   * transaction of its own: a scan that waits (a listing whose client reads slowly) pins
   * no snapshot, so LMDB can reuse the pages that writes free meanwhile, and the file does
   * not grow with the writes made during a long scan. Keys are visited in key order, each
   * once; one written or removed during the scan may or may not be met (the contract).
   */
  private *snapshot<T>(fromRow: (row: Row) => T, fromRecord: (record: StoredRecord) => T): IterableIterator<[string, T]> {
    const pending = this.pending;
    const overlay = new Set(pending.keys());
    // Overlay keys committed meanwhile and so met in the scan (rare: only those).
    const seen = new Set<string>();
    if (!this.clearing) {
      let after: Buffer | undefined;
      for (;;) {
        const page = this.page(after);
        for (const { key, value } of page) {
          const name = fromStorageKey(key);
          if (pending.has(name)) continue; // visited below, as pending
          if (overlay.has(name)) seen.add(name);
          yield [name, fromRow(value)];
        }
        if (page.length < SCAN_PAGE) break;
        after = (page[page.length - 1] as { key: Buffer }).key;
      }
    }
    for (const name of overlay) {
      if (seen.has(name)) continue;
      const record = pending.has(name) ? pending.get(name) : this.get(name);
      if (record !== null && record !== undefined) yield [name, fromRecord(record)];
    }
  }

  /** Up to SCAN_PAGE committed rows after `after` (from the first without), read at once. */
  private page(after: Buffer | undefined): { key: Buffer; value: Row }[] {
    const rows: { key: Buffer; value: Row }[] = [];
    for (const row of this.records.getRange(after === undefined ? { limit: SCAN_PAGE } : { start: after, limit: SCAN_PAGE + 1 })) {
      if (after !== undefined && rows.length === 0 && row.key.equals(after)) continue;
      rows.push({ key: row.key, value: row.value });
      if (rows.length === SCAN_PAGE) break;
    }
    return rows;
  }
}

/**
 * Rewrites a file of storage format 1 as format 2, in one transaction: every row moves from
 * the table `records` (keys in UTF-16LE) to `kv` (keys in WTF-8, code point order) as it is
 * (a format 1 row is a format 2 row without expiry), the old table is dropped and the mark
 * set. A crash before the commit leaves the file as it was. Returns how many rows moved.
 */
function migrateFirstFormat(root: RootDatabase, records: Database<Row, Buffer>, expiry: Database<null, Buffer>, meta: Database<string, string>): number {
  const first = root.openDB<Row, Buffer>({ name: FIRST_RECORDS_TABLE, keyEncoding: 'binary', encoding: 'msgpack' });
  let moved = 0;
  root.transactionSync(() => {
    records.clearSync();
    expiry.clearSync();
    for (const { key, value } of first.getRange({})) {
      const name = fromFirstStorageKey(key);
      if (name === undefined) throw new StorageOpenError(`a key of the format 1 table cannot be read (after ${moved} records); nothing was changed`);
      records.putSync(toStorageKey(name), value);
      moved++;
    }
    first.dropSync();
    meta.putSync(FORMAT_META, STORAGE_FORMAT);
  });
  return moved;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** No space on the device, or LMDB's map is full (its size cannot grow). */
function isNoSpace(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === ENOSPC || code === 'ENOSPC' || /No space left|MDB_MAP_FULL/i.test(String(message));
}

/** Bytes an unprivileged process may still write in `directory`'s file system (Infinity if unknown). */
function freeBytes(directory: string): number {
  try {
    const stats = fs.statfsSync(directory);
    return stats.bavail * stats.bsize;
  } catch {
    return Infinity;
  }
}

function checkDirectory(directory: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StorageOpenError(`DATA_DIR=${directory} cannot be read: ${(error as Error).message}`, { cause: error });
    }
    try {
      fs.mkdirSync(directory, { recursive: true });
      return;
    } catch (mkdirError) {
      throw new StorageOpenError(`DATA_DIR=${directory} does not exist and cannot be made: ${(mkdirError as Error).message}`, { cause: mkdirError });
    }
  }
  if (!stat.isDirectory()) throw new StorageOpenError(`DATA_DIR=${directory} is not a folder: point DATA_DIR at a folder (it is made if missing)`);
  try {
    fs.accessSync(directory, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (error) {
    throw new StorageOpenError(`DATA_DIR=${directory} is not readable and writable by this user (uid ${process.getuid?.() ?? '?'}): fix its permissions or owner`, { cause: error });
  }
}

/** LMDB's meta page starts with this number (offset 24 in the files the lmdb package writes). */
const LMDB_MAGIC = 0xbeefc0de;
const LMDB_MAGIC_OFFSET = 24;

/** A check longer than this means the child is stuck in a damaged tree. */
const CHECK_TIMEOUT_MS = 30 * 60_000;

/** What a node says when its file is damaged: the recovery of docs/operations.md. */
const RECOVERY =
  'nothing was changed. To recover: move the file aside (mv meshkv.mdb meshkv.mdb.damaged) and start the node again with its MESH_NETWORK_URL: it starts empty and takes the records from its peers (docs/operations.md, "A damaged data file")';

/**
 * Checks an existing file is a MeshKV database in good order, writing nothing: first its
 * header (in this process: LMDB itself may crash on a file that is not LMDB at all), then
 * every page, in a child process (lmdb-check.ts), so that LMDB crashing on a damaged page
 * kills only the child.
 */
function checkExisting(file: string): void {
  const header = Buffer.alloc(LMDB_MAGIC_OFFSET + 4);
  let read: number;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      read = fs.readSync(fd, header, 0, header.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    throw new StorageOpenError(`${file} cannot be read (${(error as Error).message}): fix its permissions or owner`, { cause: error });
  }
  if (read < header.length || header.readUInt32LE(LMDB_MAGIC_OFFSET) !== LMDB_MAGIC) {
    throw new StorageOpenError(`${file} cannot be read as a MeshKV database: it is not an LMDB file, or its first page is damaged; ${RECOVERY} (or point DATA_DIR at another folder)`);
  }
  const verdict = checkInChild(file);
  if (!verdict.ok) throw new StorageOpenError(`${file} ${verdict.problem}`);
}

/** Runs lmdb-check.js on the file; a crash, a hang or no answer is a damaged file. */
function checkInChild(file: string): FileCheck {
  const child = spawnSync(process.execPath, [path.join(__dirname, 'lmdb-check.js'), file], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS, maxBuffer: 1024 * 1024 });
  const timedOut = child.error !== undefined && (child.error as { code?: unknown }).code === 'ETIMEDOUT';
  if (child.error !== undefined && !timedOut) {
    throw new StorageOpenError(`${file} cannot be checked (${child.error.message}); nothing was changed`, { cause: child.error });
  }
  if (child.signal !== null) {
    const how = timedOut ? `did not finish in ${CHECK_TIMEOUT_MS / 60_000} minutes` : `crashed LMDB (${child.signal})`;
    return { ok: false, problem: `is damaged: reading it ${how}; ${RECOVERY}` };
  }
  let report: FileCheck;
  try {
    report = JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as FileCheck;
  } catch {
    return { ok: false, problem: `is damaged: its check ended (exit ${String(child.status)}) without an answer: ${child.stderr.trim().slice(-300)}; ${RECOVERY}` };
  }
  if (report.ok) return report;
  // A format the release cannot read is not damage: its own message says what to do.
  if (/^(was written by a newer MeshKV|is not a MeshKV database)/.test(report.problem)) return report;
  return { ok: false, problem: `is damaged: ${report.problem}; ${RECOVERY}` };
}

export interface BackupResult {
  /** The database file copied. */
  readonly file: string;
  readonly target: string;
  readonly bytes: number;
  readonly records: number;
  readonly ms: number;
}

/**
 * Copies the database file of the data folder `directory` to the file `target`,
 * consistent at one moment (one LMDB read transaction, compacted: free pages left out),
 * whether a node uses the file or not: LMDB lets another process read a file a node
 * writes, and the node goes on serving. The copy is written to `target.partial`, checked
 * the way a node checks a file before opening it, then renamed: `target` is a whole,
 * readable database, or is not there. A target that exists is refused, never replaced.
 */
export async function backupDataFile(directory: string, target: string, now: () => number = Date.now): Promise<BackupResult> {
  const started = now();
  const file = path.join(path.resolve(directory), FILE);
  if (!fs.existsSync(file)) throw new StorageOpenError(`${file} does not exist: DATA_DIR names no node's data folder (with DATA_SLOT, name the slot: /status storageOpen.dataDir)`);
  if (fs.existsSync(target)) throw new StorageOpenError(`${target} exists: a backup never replaces a file; name another`);
  const partial = `${target}.partial`;
  fs.rmSync(partial, { force: true });
  const { open } = loadLmdb();
  const root = open({ path: file, noSubdir: true, readOnly: true, maxDbs: 4 });
  try {
    await root.backup(partial, true);
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw new StorageOpenError(`cannot copy ${file} to ${partial}: ${(error as Error).message}`, { cause: error });
  } finally {
    await root.close();
  }
  const verdict = checkInChild(partial);
  if (!verdict.ok) {
    fs.rmSync(partial, { force: true });
    throw new StorageOpenError(`the copy of ${file} ${verdict.problem}`);
  }
  fs.renameSync(partial, target);
  return { file, target, bytes: fs.statSync(target).size, records: verdict.records, ms: now() - started };
}
