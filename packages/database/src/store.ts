import { HybridClock } from './clock/hlc';
import { compareVersions, type Version } from './clock/version';
import type { StorageAdapter, StoredRecord } from './storage/adapter';

const CLEAR_META = 'clear-watermark';

/**
 * The replicated map: what a node knows of every key, merged last-writer-wins.
 *
 * Local writes are stamped with a new version from the clock; records from elsewhere go
 * through `apply`, which keeps whichever version is higher. A delete leaves a tombstone.
 * A clear sets a watermark version: every record older than it is gone, on every node
 * that learns the watermark, while writes newer than the clear survive. Because each
 * key ends up at the highest version seen and the watermark at the highest watermark
 * seen, nodes that have seen the same writes hold the same state whatever the order.
 */
export class Store {
  private tombstones = 0;
  private watermark: Version | undefined;

  constructor(
    private readonly adapter: StorageAdapter,
    private readonly clock: HybridClock,
    readonly nodeId: string,
  ) {
    const saved = adapter.getMeta(CLEAR_META);
    if (saved !== undefined) this.watermark = JSON.parse(saved) as Version;
    for (const [, record] of adapter.entries()) {
      if (record.value === null) this.tombstones++;
      clock.observe(record.hlc);
    }
    if (this.watermark) clock.observe(this.watermark.hlc);
  }

  /** Records holding a value (tombstones excluded). */
  get liveCount(): number {
    return this.adapter.size - this.tombstones;
  }

  get tombstoneCount(): number {
    return this.tombstones;
  }

  get clearWatermark(): Version | undefined {
    return this.watermark;
  }

  get(key: string): string | undefined {
    const record = this.adapter.get(key);
    return record === undefined || record.value === null ? undefined : record.value;
  }

  /** The value as JSON text, ready to send; undefined when there is none. */
  getJson(key: string): string | undefined {
    return this.adapter.getJson(key);
  }

  getRecord(key: string): StoredRecord | undefined {
    return this.adapter.get(key);
  }

  has(key: string): boolean {
    const record = this.adapter.get(key);
    return record !== undefined && record.value !== null;
  }

  set(key: string, value: string): StoredRecord {
    const record: StoredRecord = { value, hlc: this.clock.tick(), nodeId: this.nodeId };
    this.write(key, record, this.adapter.get(key));
    return record;
  }

  /** Writes a tombstone; undefined when the key held no value (nothing is written). */
  remove(key: string): StoredRecord | undefined {
    const previous = this.adapter.get(key);
    if (previous === undefined || previous.value === null) return undefined;
    const tombstone: StoredRecord = { value: null, hlc: this.clock.tick(), nodeId: this.nodeId };
    this.write(key, tombstone, previous);
    return tombstone;
  }

  /** Removes every record older than a new watermark, i.e. every record written so far. */
  clear(): Version {
    const watermark: Version = { hlc: this.clock.tick(), nodeId: this.nodeId };
    this.applyClear(watermark);
    return watermark;
  }

  /** Merges a record from elsewhere. True when it changed this node's state. */
  apply(key: string, record: StoredRecord): boolean {
    this.clock.observe(record.hlc);
    if (this.watermark !== undefined && compareVersions(record, this.watermark) <= 0) return false;
    const previous = this.adapter.get(key);
    if (previous !== undefined && compareRecords(previous, record) >= 0) return false;
    this.write(key, record, previous);
    return true;
  }

  /** Merges a clear watermark from elsewhere (or a local clear). True when it moved. */
  applyClear(watermark: Version): boolean {
    this.clock.observe(watermark.hlc);
    if (this.watermark !== undefined && compareVersions(watermark, this.watermark) <= 0) return false;
    this.watermark = { hlc: watermark.hlc, nodeId: watermark.nodeId };
    this.adapter.setMeta(CLEAR_META, JSON.stringify(this.watermark));
    // Every local record is older than a watermark this node just stamped, so the common
    // case empties the adapter in one call; a remote watermark may leave newer records.
    let newer = false;
    for (const [, record] of this.adapter.entries()) {
      if (compareVersions(record, watermark) > 0) {
        newer = true;
        break;
      }
    }
    if (!newer) {
      this.adapter.clear();
      this.tombstones = 0;
      return true;
    }
    for (const [key, record] of this.adapter.entries()) {
      // Only records strictly newer than the clear survive it, as in apply().
      if (compareVersions(record, watermark) <= 0) {
        this.adapter.delete(key);
        if (record.value === null) this.tombstones--;
      }
    }
    return true;
  }

  /** Drops tombstones written before `beforeHlc`; returns how many. */
  purgeTombstones(beforeHlc: number): number {
    let purged = 0;
    for (const [key, record] of this.adapter.entries()) {
      if (record.value === null && record.hlc < beforeHlc) {
        this.adapter.delete(key);
        purged++;
      }
    }
    this.tombstones -= purged;
    return purged;
  }

  /** Live key/value pairs, in storage order; see StorageAdapter.entries for concurrency. */
  *liveEntries(): IterableIterator<[string, string]> {
    for (const [key, record] of this.adapter.entries()) {
      if (record.value !== null) yield [key, record.value];
    }
  }

  /** Resolves once every change so far is as durable as the adapter makes it. */
  flush(): Promise<void> {
    return this.adapter.flush();
  }

  private write(key: string, record: StoredRecord, previous: StoredRecord | undefined): void {
    if (previous !== undefined && previous.value === null) this.tombstones--;
    if (record.value === null) this.tombstones++;
    this.adapter.set(key, record);
  }
}

/**
 * Orders records by version, then by value. Two records with one version should be the
 * same write; if a faulty peer ever sends two that differ, every node still picks the
 * same one (a tombstone below any value, values by code unit order), so the merge stays
 * a total order and nodes converge.
 */
function compareRecords(a: StoredRecord, b: StoredRecord): number {
  const byVersion = compareVersions(a, b);
  if (byVersion !== 0 || a.value === b.value) return byVersion;
  if (a.value === null) return -1;
  if (b.value === null) return 1;
  return a.value < b.value ? -1 : 1;
}
