import { type HybridClock, hlcFromMs, physicalMs } from '../clock/hlc';
import { exceedsCodePoints } from '../record/code-points';
import { compareKeys } from '../record/key-order';
import { compareRecords, expiredForm, headOf, isLive, type RecordHead, type StoredRecord } from '../record/record';
import { compareVersions, type Version } from '../record/version';
import { type StorageAdapter, type StorageFault, StorageFaultError } from '../storage/adapter';
import type { ChangeListener, ChangeOrigin, StoreChange } from './change';
import { BucketDigests } from './digests';
import { isReserved, RESERVED_START, reservedKey, reservedPrefix, tenantOf, tenantPrefix } from './namespace';
import { removeSummary, saveSummary, takeSummary } from './summary';

const CLEAR_META = 'clear-watermark';
const TENANT_CLEAR = reservedPrefix('clear');

/** What `apply` did with a record from elsewhere. */
export type ApplyOutcome =
  /** It was newer: it is now this node's record. */
  | 'applied'
  /** This node already had it, or something newer (or a clear covers it). */
  | 'stale'
  /** Its clock is further ahead of this node's than MAX_CLOCK_DRIFT_MS allows. */
  | 'drift'
  /** A tombstone older than TOMBSTONE_TTL_MS: already purged here, so not taken back. */
  | 'expired'
  /** Its key or value is longer than this node's MAX_KEY_LENGTH or MAX_VALUE_LENGTH: it could not keep it. */
  | 'limits';

export interface StoreOptions {
  /** Remote versions further ahead of `now()` than this are refused. */
  readonly maxClockDriftMs?: number;
  /** Tombstones older than this are purged, and not accepted from elsewhere. */
  readonly tombstoneTtlMs?: number;
  /** Records from elsewhere with a longer key or value (code points) are refused: this node keeps only what it can store. */
  readonly maxKeyLength?: number;
  readonly maxValueLength?: number;
  readonly now?: () => number;
  /** DURABILITY=sync: a write is answered only once the adapter has it on disk. */
  readonly waitForDisk?: boolean;
}

/**
 * The replicated map: what a node knows of every key, merged last-writer-wins.
 *
 * Local writes are stamped with a new version from the clock; records from elsewhere go
 * through `apply`, which keeps whichever version is higher. A delete leaves a tombstone.
 * A clear sets a watermark version: every record older than it is gone, on every node
 * that learns the watermark, while writes newer than the clear survive. Because each
 * key ends up at the highest version seen and the watermark at the highest watermark
 * seen, nodes that have seen the same writes hold the same state whatever the order.
 *
 * Every applied change is announced once to the change listeners (`onChange`), whatever
 * its origin; the bucket digests are the first listener.
 */
export class Store {
  /** XOR fingerprints of every record per bucket, kept up to date on every change. */
  readonly digests = new BucketDigests();
  private readonly listeners: ChangeListener[] = [];
  private correction: () => number = () => 0;
  private tombstones = 0;
  private expired = 0;
  private watermark: Version | undefined;
  private readonly maxDriftMs: number;
  private readonly tombstoneTtlMs: number;
  private readonly maxKeyLength: number;
  private readonly maxValueLength: number;
  private readonly now: () => number;
  private readonly waitForDisk: boolean;
  /** How the digests were had at start: from the summary of a clean stop, or by reading every record. */
  readonly digestsAtStart: 'saved' | 'rebuilt';
  /** True from saveSummary() until the next change, which removes the summary again. */
  private summarySaved = false;
  /** Records (values and tombstones) of the reserved namespace, and those of them holding a value. */
  private reserved = 0;
  private reservedLive = 0;
  /** The clear watermark of each tenant that was cleared (the version of its reserved clear record). */
  private readonly tenantMarks = new Map<string, Version>();
  /** Keys whose previous value a change must carry (see trackValues). */
  private tracked: ((key: string) => boolean) | undefined;
  /**
   * When each tombstone received from another node, deleting a value held here, arrived
   * (ms, this node's clock), until it is purged or replaced: see purgeExpiredTombstones.
   */
  private readonly arrivals = new Map<string, number>();
  /** When this store opened (ms): the arrival of the tombstones it found, for all it knows. */
  private readonly openedAt: number;

  constructor(
    private readonly adapter: StorageAdapter,
    private readonly clock: HybridClock,
    readonly nodeId: string,
    options: StoreOptions = {},
  ) {
    this.maxDriftMs = options.maxClockDriftMs ?? Infinity;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? Infinity;
    this.maxKeyLength = options.maxKeyLength ?? Infinity;
    this.maxValueLength = options.maxValueLength ?? Infinity;
    this.now = options.now ?? Date.now;
    this.waitForDisk = options.waitForDisk ?? false;
    this.openedAt = this.now();
    const saved = adapter.getMeta(CLEAR_META);
    if (saved !== undefined) this.watermark = (JSON.parse(saved) as Version | null) ?? undefined;
    this.digestsAtStart = this.loadSummary() ? 'saved' : 'rebuilt';
    this.listeners.push(this.digests.track);
    if (this.digestsAtStart === 'rebuilt') {
      for (const [key, head] of adapter.heads()) {
        if (head.tombstone) this.tombstones++;
        this.digests.toggle(key, head.hlc, head.nodeId, 1);
        clock.observe(head.hlc);
      }
    }
    if (this.watermark) clock.observe(this.watermark.hlc);
    for (const [key, record] of adapter.range(RESERVED_START)) {
      if (!isReserved(key)) break;
      this.countReserved(key, undefined, record);
    }
  }

  /**
   * From now on, a change of a key for which `which` is true carries the value the key held
   * before (`previousValue`): the store reads it before the change, for those keys only
   * (tenant usage counts bytes).
   */
  trackValues(which: (key: string) => boolean): void {
    this.tracked = which;
  }

  /**
   * How far (ms) the mesh's time is from this node's clock, as measured by the mesh: added
   * to `now()` when judging versions from elsewhere (drift, expired tombstones), so a node
   * whose clock is behind does not refuse the present. Zero until set.
   */
  correctRemoteTime(correction: () => number): void {
    this.correction = correction;
  }

  /** This node's idea of the mesh's time, for judging versions from elsewhere. */
  private remoteNow(): number {
    return this.now() + this.correction();
  }

  /** Calls `listener` for every change applied from now on (see ChangeListener). */
  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /**
   * Saves the digests, the tombstone count and the clock beside the records, so the next
   * start need not read every record. Call it when no write can follow (a clean stop).
   */
  saveSummary(): void {
    saveSummary(this.adapter, { records: this.adapter.size, tombstones: this.tombstones, hlc: this.clock.peek(), digests: this.digests });
    this.summarySaved = true;
  }

  /** Before any change to the records: a saved summary no longer describes them. */
  private changing(): void {
    if (!this.summarySaved) return;
    this.summarySaved = false;
    removeSummary(this.adapter);
  }

  /** True when a summary of a clean stop matching the records was there and is now in use. */
  private loadSummary(): boolean {
    const summary = takeSummary(this.adapter);
    if (summary === undefined) return false;
    this.digests.copyFrom(summary.digests);
    this.tombstones = summary.tombstones;
    this.clock.observe(summary.hlc);
    return true;
  }

  /** Records plus tombstones. */
  get size(): number {
    return this.adapter.size;
  }

  /** Client records holding a value now (tombstones, values expired but not swept yet, and the node's own records excluded). */
  get liveCount(): number {
    return this.adapter.size - this.tombstones - this.dueCount() - this.reservedLive;
  }

  /** The watermark of a tenant's last clear (see clearTenant), if it was cleared. */
  tenantClear(tenant: string): Version | undefined {
    return this.tenantMarks.get(tenant);
  }

  /** Values that have expired since the start and were turned into tombstones by `sweepExpired`. */
  get expiredCount(): number {
    return this.expired;
  }

  /** Records that carry an expiry (about; see StorageAdapter.expiringCount). */
  get expiringCount(): number {
    return this.adapter.expiringCount;
  }

  /**
   * The time expiries are judged by: this node's clock corrected by the offset to the mesh
   * it measured (correctRemoteTime), so a node whose clock is behind hides an expired key
   * when the others do, give or take the measurement (half a ping's round trip).
   */
  expiryNow(): number {
    return this.now() + this.correction();
  }

  /**
   * Up to `max` values whose expiry is at or before `now`, by key, each once (an adapter
   * may list a key twice, or a stale entry of a record changed since: it is checked here).
   */
  private dueHeads(now: number, max: number): Map<string, RecordHead> {
    const due = new Map<string, RecordHead>();
    for (const { key, expiresAt } of this.adapter.expiring(now)) {
      const head = this.adapter.head(key);
      if (head === undefined || head.tombstone || head.expiresAt !== expiresAt) continue;
      due.set(key, head);
      if (due.size >= max) break;
    }
    return due;
  }

  /** Values whose expiry has passed and that the sweep has not turned into tombstones yet. */
  private dueCount(): number {
    if (this.adapter.expiringCount === 0) return 0;
    return this.dueHeads(this.expiryNow(), Infinity).size;
  }

  get tombstoneCount(): number {
    return this.tombstones;
  }

  get clearWatermark(): Version | undefined {
    return this.watermark;
  }

  /** The key's value, unless it is missing, deleted or expired. */
  get(key: string): string | undefined {
    const record = this.liveRecord(key);
    return record === undefined ? undefined : (record.value as string);
  }

  /** The value as JSON text, ready to send; undefined when there is none (or it expired). */
  getJson(key: string): string | undefined {
    // Without any expiring record the time is not even read: the hot path stays one lookup.
    return this.adapter.expiringCount === 0 ? this.adapter.getJson(key) : this.adapter.getJson(key, this.expiryNow());
  }

  /** The key's record as this node holds it: a value (expired or not) or a tombstone. For the mesh. */
  getRecord(key: string): StoredRecord | undefined {
    return this.adapter.get(key);
  }

  /** The key's record if it holds a value now (not deleted, not expired). */
  liveRecord(key: string): StoredRecord | undefined {
    const record = this.adapter.get(key);
    return record !== undefined && isLive(record, this.expiryNow()) ? record : undefined;
  }

  /** The version of the key's record (value or tombstone), if any. */
  head(key: string): RecordHead | undefined {
    return this.adapter.head(key);
  }

  /** Every record's version; see StorageAdapter.entries for concurrency. */
  heads(): IterableIterator<[string, RecordHead]> {
    return this.adapter.heads();
  }

  has(key: string): boolean {
    return this.liveHead(key) !== undefined;
  }

  /** The version of the key's record if it holds a value now (not deleted, not expired). */
  liveHead(key: string): RecordHead | undefined {
    const head = this.adapter.head(key);
    return head !== undefined && isLive(head, this.expiryNow()) ? head : undefined;
  }

  /**
   * Why changes cannot be stored now (disk full, write errors), if so. Meanwhile reads go
   * on and every change (a write, a record from elsewhere, a clear) throws a
   * StorageFaultError before it changes anything; see checkStorage.
   */
  get storageFault(): StorageFault | undefined {
    return this.adapter.fault;
  }

  /** About every second: see StorageAdapter.checkDisk. */
  checkStorage(): void {
    this.adapter.checkDisk();
  }

  /** Writes a value; with `expiresAt` (ms since the epoch) it expires then, without it never (an earlier expiry is gone). */
  set(key: string, value: string, expiresAt?: number): StoredRecord {
    this.writable();
    const record: StoredRecord = expiresAt === undefined ? { value, hlc: this.clock.tick(), nodeId: this.nodeId } : { value, hlc: this.clock.tick(), nodeId: this.nodeId, expiresAt };
    this.write(key, record, this.adapter.head(key), 'local');
    return record;
  }

  /**
   * Writes the key's value again with a new expiry (`undefined`: none), as a new version;
   * undefined when the key holds no value now. A concurrent write of the key elsewhere
   * wins or loses against it as any two writes do (last writer wins).
   */
  setExpiry(key: string, expiresAt: number | undefined): StoredRecord | undefined {
    this.writable();
    const current = this.liveRecord(key);
    if (current === undefined) return undefined;
    return this.set(key, current.value as string, expiresAt);
  }

  /** Writes a tombstone; undefined when the key held no value (nothing is written). */
  remove(key: string): StoredRecord | undefined {
    this.writable();
    const previous = this.adapter.head(key);
    if (previous === undefined || !isLive(previous, this.expiryNow())) return undefined;
    const tombstone: StoredRecord = { value: null, hlc: this.clock.tick(), nodeId: this.nodeId };
    this.write(key, tombstone, previous, 'local');
    return tombstone;
  }

  /**
   * Turns every value whose expiry has passed (by expiryNow) into a tombstone of the same
   * version (`expiredForm`), at most `max` of them: the value's memory is given back, the
   * digests do not change (a version's fingerprint is the same whether a node has swept it
   * or not), and no copy of the value, older or of the same version, can bring it back.
   * The tombstone is purged later like any other. Cost: the records that expired, found
   * through the adapter's expiry index. Returns how many it swept.
   */
  sweepExpired(max = Infinity): number {
    if (this.adapter.expiringCount === 0 || this.adapter.fault !== undefined) return 0;
    const now = this.expiryNow();
    // Collected first, written after: the adapter's index must not change under its iterator.
    const due = this.dueHeads(now, max);
    for (const [key, head] of due) this.write(key, expiredForm(head), head, 'expired');
    this.expired += due.size;
    return due.size;
  }

  /**
   * Removes every record of `tenant` (its keys start with `<tenant>/`) written so far, on
   * every node: the clear is a record of the reserved namespace whose version is the
   * tenant's watermark, replicated and repaired like any record; a record of the tenant
   * at or below it is dropped wherever it is, or refused when it arrives later. Returns
   * that record, for the caller to replicate.
   */
  clearTenant(tenant: string): StoredRecord {
    return this.set(reservedKey('clear', tenant), '');
  }

  /** True when a tenant clear covers this record of a tenant's key. */
  private clearedByTenant(key: string, record: Version): boolean {
    const tenant = tenantOf(key);
    const mark = tenant === undefined ? undefined : this.tenantMarks.get(tenant);
    return mark !== undefined && compareVersions(record, mark) <= 0;
  }

  /** Removes every client record older than a new watermark, i.e. every one written so far. */
  clear(): Version {
    this.writable();
    const watermark: Version = { hlc: this.clock.tick(), nodeId: this.nodeId };
    this.applyClear(watermark, 'local');
    return watermark;
  }

  /** Merges a record from elsewhere: sent by its writer (`replicated`) or by anti-entropy (`repaired`). */
  apply(key: string, record: StoredRecord, origin: ChangeOrigin): ApplyOutcome {
    this.writable();
    const physical = physicalMs(record.hlc);
    const now = this.remoteNow();
    if (physical > now + this.maxDriftMs) return 'drift';
    // A fresh delete that looks older than the TTL means a clock is off. Anti-entropy may
    // hand over an old delete on purpose: a node kept it for a member that had not seen it.
    if (record.value === null && origin === 'replicated' && physical < now - this.tombstoneTtlMs) return 'expired';
    // The node's own records are not client data: neither the limits nor a clear apply to them.
    const own = isReserved(key);
    if (!own && (exceedsCodePoints(key, this.maxKeyLength) || (record.value !== null && exceedsCodePoints(record.value, this.maxValueLength)))) return 'limits';
    this.clock.observe(record.hlc);
    if (!own && this.watermark !== undefined && compareVersions(record, this.watermark) <= 0) return 'stale';
    if (!own && this.tenantMarks.size > 0 && this.clearedByTenant(key, record)) return 'stale';
    const previous = this.adapter.head(key);
    if (previous !== undefined) {
      const order = compareVersions(previous, record);
      if (order > 0) return 'stale';
      if (order === 0 && compareRecords(this.adapter.get(key) as StoredRecord, record) >= 0) return 'stale';
    }
    this.write(key, record, previous, origin);
    // Only a delete of a value held here: one this node had purged and gets back from a
    // peer that still holds it is old news, purged again by its version as before (were it
    // counted from its new arrival, two nodes could hand it back and forth for ever).
    if (record.value === null && previous !== undefined && !previous.tombstone) this.arrivals.set(key, this.now());
    return 'applied';
  }

  /** Merges a clear watermark from elsewhere (or a local clear). */
  applyClear(watermark: Version, origin: ChangeOrigin): ApplyOutcome {
    this.writable();
    if (physicalMs(watermark.hlc) > this.remoteNow() + this.maxDriftMs) return 'drift';
    this.clock.observe(watermark.hlc);
    if (this.watermark !== undefined && compareVersions(watermark, this.watermark) <= 0) return 'stale';
    this.watermark = { hlc: watermark.hlc, nodeId: watermark.nodeId };
    this.adapter.setMeta(CLEAR_META, JSON.stringify(this.watermark));
    // Every local record is older than a watermark this node just stamped, so the common
    // case empties the adapter in one call; a remote watermark may leave newer records, and
    // the node's own records (API keys, tenant clears) are never cleared.
    let newer = this.reserved > 0;
    for (const [, head] of newer ? [] : this.adapter.heads()) {
      if (compareVersions(head, watermark) > 0) {
        newer = true;
        break;
      }
    }
    if (!newer) {
      this.empty();
    } else {
      for (const [key, head] of this.adapter.heads()) {
        // Only records strictly newer than the clear survive it, as in apply().
        if (!isReserved(key) && compareVersions(head, watermark) <= 0) this.drop(key, head, 'cleared');
      }
    }
    this.emit({ type: 'clear', watermark: this.watermark, emptied: !newer, origin });
    return 'applied';
  }

  /**
   * Drops tombstones written before `beforeHlc` that arrived here before `arrivedBeforeMs`
   * (see arrivedBefore); returns how many.
   */
  purgeTombstones(beforeHlc: number, arrivedBeforeMs = Infinity): number {
    let purged = 0;
    for (const [key, head] of this.adapter.heads()) {
      if (head.tombstone && head.hlc < beforeHlc && this.arrivedBefore(key, head, arrivedBeforeMs)) {
        this.drop(key, head, 'expired');
        purged++;
      }
    }
    return purged;
  }

  /**
   * Drops tombstones older than TOMBSTONE_TTL_MS, and older than `heldUntilMs` (the deletes
   * every node that may hold the deleted records has seen, see PurgeGuard), that arrived here
   * before `arrivedBeforeMs` (this node's clock); returns how many.
   * A tombstone from another node that deleted a value held here counts from its arrival,
   * not from its version: a round with a peer that started before it arrived did not carry
   * it, and that peer may still hold the value it deletes (forgetting the delete then would
   * let the value back).
   */
  purgeExpiredTombstones(heldUntilMs = Infinity, arrivedBeforeMs = heldUntilMs): number {
    if (this.tombstoneTtlMs === Infinity) return 0;
    const before = Math.min(this.now() - this.tombstoneTtlMs, heldUntilMs);
    return before <= 0 ? 0 : this.purgeTombstones(hlcFromMs(before), arrivedBeforeMs);
  }

  /**
   * True when a tombstone arrived here before `ms`: when it came, for one from another node
   * that deleted a value held here; the start, for one found at start; else its own time.
   */
  private arrivedBefore(key: string, head: RecordHead, ms: number): boolean {
    if (ms === Infinity) return true;
    const written = physicalMs(head.hlc);
    const arrived = this.arrivals.get(key) ?? (written < this.openedAt ? this.openedAt : written);
    return arrived < ms;
  }

  /**
   * Drops every value written before `beforeHlc` (a node back from longer than the TTL
   * away: the others may have forgotten deletes of those); keeps the newer ones, which it
   * wrote or received since, the clear watermark, and every tombstone: a delete kept can
   * only delete an older copy elsewhere, while one dropped before it reached the others
   * (a delete answered just before a partition) lets their copy come back. Returns how
   * many were dropped.
   */
  dropBefore(beforeHlc: number): number {
    let dropped = 0;
    for (const [key, head] of this.adapter.heads()) {
      if (head.hlc < beforeHlc && !head.tombstone) {
        this.drop(key, head, 'wiped');
        dropped++;
      }
    }
    return dropped;
  }

  /** Forgets everything, watermark included (a node rejoining after too long away). */
  wipe(): void {
    this.empty();
    this.watermark = undefined;
    this.adapter.setMeta(CLEAR_META, 'null');
    this.emit({ type: 'clear', watermark: undefined, emptied: true, origin: 'wiped' });
  }

  /**
   * Live key/value pairs (not expired), in storage order, or with `prefix` the keys that
   * start with it in code point order; see StorageAdapter.entries for concurrency.
   */
  *liveEntries(prefix?: string): IterableIterator<[string, string]> {
    const whole = prefix === undefined || prefix === '';
    const records = whole ? this.adapter.entries() : this.adapter.range(prefix);
    const now = this.expiryNow();
    for (const [key, record] of records) {
      if (!whole && !key.startsWith(prefix)) return;
      if (record.value !== null && (record.expiresAt === undefined || record.expiresAt > now) && !(whole && isReserved(key))) yield [key, record.value];
    }
  }

  /**
   * One page of live records in code point order: those after `after` (or from the start)
   * that start with `prefix`, at most `limit`, and whether any is left after them. The
   * prefix's keys are one run of the order (a well-formed prefix: it cannot end inside a
   * character), so the scan stops at the first key past them.
   */
  scan(options: { readonly prefix?: string; readonly after?: string; readonly limit: number }): { items: [string, StoredRecord][]; more: boolean } {
    const prefix = options.prefix ?? '';
    const fromAfter = options.after !== undefined && compareKeys(options.after, prefix) >= 0;
    const now = this.expiryNow();
    const items: [string, StoredRecord][] = [];
    for (const [key, record] of this.adapter.range(fromAfter ? (options.after) : prefix, fromAfter)) {
      if (!key.startsWith(prefix)) break;
      if (!isLive(record, now) || isReserved(key)) continue;
      if (items.length === options.limit) return { items, more: true };
      items.push([key, record]);
    }
    return { items, more: false };
  }

  /** The node's own records under a reserved prefix (`reservedPrefix(kind)`), tombstones included, in key order. */
  *scanReserved(prefix: string): IterableIterator<[string, StoredRecord]> {
    for (const entry of this.adapter.range(prefix)) {
      if (!entry[0].startsWith(prefix)) return;
      yield entry;
    }
  }

  /** Resolves once every change so far is as durable as the adapter makes it. */
  flush(): Promise<void> {
    return this.adapter.flush();
  }

  /**
   * What an answer to a write must wait for before it is sent: the flush of every change
   * so far when writes wait for the disk (DURABILITY=sync), else nothing. The writes of
   * one moment wait for the same commit (group commit).
   */
  durable(): Promise<void> | undefined {
    return this.waitForDisk ? this.adapter.flush() : undefined;
  }

  private writable(): void {
    const fault = this.adapter.fault;
    if (fault !== undefined) throw new StorageFaultError(fault);
  }

  private write(key: string, record: StoredRecord, previous: RecordHead | undefined, origin: ChangeOrigin): void {
    if (previous?.tombstone === true) {
      this.tombstones--;
      this.arrivals.delete(key);
    }
    if (record.value === null) this.tombstones++;
    this.changing();
    const previousValue = this.previousValue(key, previous);
    this.adapter.set(key, record, previous ?? null);
    if (isReserved(key)) this.countReserved(key, previous, record);
    this.emit(previousValue === undefined ? { type: 'record', key, previous, record, origin } : { type: 'record', key, previous, record, origin, previousValue });
    if (isReserved(key) && key.startsWith(TENANT_CLEAR) && record.value !== null) this.dropClearedTenant(key.slice(TENANT_CLEAR.length), record);
  }

  private drop(key: string, head: RecordHead, origin: ChangeOrigin): void {
    this.changing();
    const previousValue = this.previousValue(key, head);
    this.adapter.delete(key);
    if (head.tombstone) {
      this.tombstones--;
      this.arrivals.delete(key);
    }
    if (isReserved(key)) this.countReserved(key, head, undefined);
    this.emit(previousValue === undefined ? { type: 'record', key, previous: head, record: undefined, origin } : { type: 'record', key, previous: head, record: undefined, origin, previousValue });
  }

  /** The value a tracked key holds before a change (null: a tombstone); undefined when not tracked or absent. */
  private previousValue(key: string, previous: RecordHead | undefined): string | null | undefined {
    if (this.tracked === undefined || previous === undefined || !this.tracked(key)) return undefined;
    return previous.tombstone ? null : (this.adapter.get(key)?.value ?? null);
  }

  /** Keeps the counts of the reserved namespace, and the tenant watermarks, up to date with one change. */
  private countReserved(key: string, previous: RecordHead | undefined, record: StoredRecord | undefined): void {
    if (previous === undefined) this.reserved++;
    if (record === undefined) this.reserved--;
    if (previous !== undefined && !previous.tombstone) this.reservedLive--;
    if (record !== undefined && record.value !== null) this.reservedLive++;
    if (!key.startsWith(TENANT_CLEAR)) return;
    const tenant = key.slice(TENANT_CLEAR.length);
    if (record === undefined || record.value === null) this.tenantMarks.delete(tenant);
    else this.tenantMarks.set(tenant, { hlc: record.hlc, nodeId: record.nodeId });
  }

  /** Drops the records of `tenant` at or below its new watermark. */
  private dropClearedTenant(tenant: string, mark: Version): void {
    const prefix = tenantPrefix(tenant);
    const covered: [string, RecordHead][] = [];
    for (const [key, record] of this.adapter.range(prefix)) {
      if (!key.startsWith(prefix)) break;
      if (compareVersions(record, mark) <= 0) covered.push([key, headOf(record)]);
    }
    for (const [key, head] of covered) this.drop(key, head, 'cleared');
  }

  /** Drops every record at once; the caller announces it. */
  private empty(): void {
    this.changing();
    this.adapter.clear();
    this.tombstones = 0;
    this.reserved = 0;
    this.reservedLive = 0;
    this.tenantMarks.clear();
  }

  private emit(change: StoreChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
