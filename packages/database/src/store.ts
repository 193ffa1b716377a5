import { type HybridClock, hlcFromMs, physicalMs } from './clock/hlc';
import { compareVersions, type Version } from './clock/version';
import { BucketDigests } from './mesh/digests';
import type { RecordHead, StorageAdapter, StoredRecord } from './storage/adapter';

const CLEAR_META = 'clear-watermark';
const SUMMARY_META = 'summary';

/** What a start would otherwise learn by reading every record (saved at a clean stop). */
interface Summary {
  readonly records: number;
  readonly tombstones: number;
  /** The clock's value at the stop: at least every record's version. */
  readonly hlc: number;
  /** BucketDigests.encode(), base64. */
  readonly digests: string;
}

/** What `apply` did with a record from elsewhere. */
export type ApplyOutcome =
  /** It was newer: it is now this node's record. */
  | 'applied'
  /** This node already had it, or something newer (or a clear covers it). */
  | 'stale'
  /** Its clock is further ahead of this node's than MAX_CLOCK_DRIFT_MS allows. */
  | 'drift'
  /** A tombstone older than TOMBSTONE_TTL_MS: already purged here, so not taken back. */
  | 'expired';

export interface StoreOptions {
  /** Remote versions further ahead of `now()` than this are refused. */
  readonly maxClockDriftMs?: number;
  /** Tombstones older than this are purged, and not accepted from elsewhere. */
  readonly tombstoneTtlMs?: number;
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
 */
export class Store {
  /** XOR fingerprints of every record per bucket, kept up to date on every write. */
  readonly digests = new BucketDigests();
  private tombstones = 0;
  private watermark: Version | undefined;
  private readonly maxDriftMs: number;
  private readonly tombstoneTtlMs: number;
  private readonly now: () => number;
  private readonly waitForDisk: boolean;
  /** How the digests were had at start: from the summary of a clean stop, or by reading every record. */
  readonly digestsAtStart: 'saved' | 'rebuilt';
  /** True from saveSummary() until the next change, which removes the summary again. */
  private summarySaved = false;

  constructor(
    private readonly adapter: StorageAdapter,
    private readonly clock: HybridClock,
    readonly nodeId: string,
    options: StoreOptions = {},
  ) {
    this.maxDriftMs = options.maxClockDriftMs ?? Infinity;
    this.tombstoneTtlMs = options.tombstoneTtlMs ?? Infinity;
    this.now = options.now ?? Date.now;
    this.waitForDisk = options.waitForDisk ?? false;
    const saved = adapter.getMeta(CLEAR_META);
    if (saved !== undefined) this.watermark = (JSON.parse(saved) as Version | null) ?? undefined;
    this.digestsAtStart = this.loadSummary() ? 'saved' : 'rebuilt';
    if (this.digestsAtStart === 'rebuilt') {
      for (const [key, head] of adapter.heads()) {
        if (head.tombstone) this.tombstones++;
        this.digests.toggle(key, head.hlc, head.nodeId, 1);
        clock.observe(head.hlc);
      }
    }
    if (this.watermark) clock.observe(this.watermark.hlc);
  }

  /**
   * Saves the digests, the tombstone count and the clock beside the records, so the next
   * start need not read every record. Call it when no write can follow (a clean stop): a
   * start uses the summary once and removes it, so after a crash the next start rebuilds.
   */
  saveSummary(): void {
    const summary: Summary = {
      records: this.adapter.size,
      tombstones: this.tombstones,
      hlc: this.clock.peek(),
      digests: this.digests.encode().toString('base64'),
    };
    this.adapter.setMeta(SUMMARY_META, JSON.stringify(summary));
    this.summarySaved = true;
  }

  /** Before any change to the records: a saved summary no longer describes them. */
  private changing(): void {
    if (!this.summarySaved) return;
    this.summarySaved = false;
    this.adapter.setMeta(SUMMARY_META, 'null');
  }

  /** True when a summary of a clean stop matching the records was there and is now in use. */
  private loadSummary(): boolean {
    const text = this.adapter.getMeta(SUMMARY_META);
    if (text === undefined || text === 'null') return false;
    // Good for this start only: the writes that follow make it stale. The removal is
    // committed before any of them (the adapter commits in order).
    this.adapter.setMeta(SUMMARY_META, 'null');
    let digests: BucketDigests;
    let summary: Summary;
    try {
      summary = JSON.parse(text) as Summary;
      digests = BucketDigests.decode(Buffer.from(String(summary.digests), 'base64'));
    } catch {
      return false;
    }
    const records = this.adapter.size;
    const counted = digests.counts.reduce((sum, count) => sum + count, 0);
    if (
      summary.records !== records ||
      counted !== records ||
      !Number.isSafeInteger(summary.tombstones) ||
      summary.tombstones < 0 ||
      summary.tombstones > records ||
      !Number.isSafeInteger(summary.hlc) ||
      summary.hlc < 0
    ) {
      return false;
    }
    this.digests.low.set(digests.low);
    this.digests.high.set(digests.high);
    this.digests.counts.set(digests.counts);
    this.tombstones = summary.tombstones;
    this.clock.observe(summary.hlc);
    return true;
  }

  /** Records plus tombstones. */
  get size(): number {
    return this.adapter.size;
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

  /** The version of the key's record (value or tombstone), if any. */
  head(key: string): RecordHead | undefined {
    return this.adapter.head(key);
  }

  /** Every record's version; see StorageAdapter.entries for concurrency. */
  heads(): IterableIterator<[string, RecordHead]> {
    return this.adapter.heads();
  }

  has(key: string): boolean {
    const record = this.adapter.get(key);
    return record !== undefined && record.value !== null;
  }

  set(key: string, value: string): StoredRecord {
    const record: StoredRecord = { value, hlc: this.clock.tick(), nodeId: this.nodeId };
    this.write(key, record, this.adapter.head(key));
    return record;
  }

  /** Writes a tombstone; undefined when the key held no value (nothing is written). */
  remove(key: string): StoredRecord | undefined {
    const previous = this.adapter.head(key);
    if (previous === undefined || previous.tombstone) return undefined;
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

  /** Merges a record from elsewhere. */
  apply(key: string, record: StoredRecord): ApplyOutcome {
    const physical = physicalMs(record.hlc);
    const now = this.now();
    if (physical > now + this.maxDriftMs) return 'drift';
    if (record.value === null && physical < now - this.tombstoneTtlMs) return 'expired';
    this.clock.observe(record.hlc);
    if (this.watermark !== undefined && compareVersions(record, this.watermark) <= 0) return 'stale';
    const previous = this.adapter.head(key);
    if (previous !== undefined) {
      const order = compareVersions(previous, record);
      if (order > 0) return 'stale';
      if (order === 0 && compareRecords(this.adapter.get(key) as StoredRecord, record) >= 0) return 'stale';
    }
    this.write(key, record, previous);
    return 'applied';
  }

  /** Merges a clear watermark from elsewhere (or a local clear). */
  applyClear(watermark: Version): ApplyOutcome {
    if (physicalMs(watermark.hlc) > this.now() + this.maxDriftMs) return 'drift';
    this.clock.observe(watermark.hlc);
    if (this.watermark !== undefined && compareVersions(watermark, this.watermark) <= 0) return 'stale';
    this.watermark = { hlc: watermark.hlc, nodeId: watermark.nodeId };
    this.adapter.setMeta(CLEAR_META, JSON.stringify(this.watermark));
    // Every local record is older than a watermark this node just stamped, so the common
    // case empties the adapter in one call; a remote watermark may leave newer records.
    let newer = false;
    for (const [, head] of this.adapter.heads()) {
      if (compareVersions(head, watermark) > 0) {
        newer = true;
        break;
      }
    }
    if (!newer) {
      this.changing();
      this.adapter.clear();
      this.digests.reset();
      this.tombstones = 0;
      return 'applied';
    }
    for (const [key, head] of this.adapter.heads()) {
      // Only records strictly newer than the clear survive it, as in apply().
      if (compareVersions(head, watermark) <= 0) this.drop(key, head);
    }
    return 'applied';
  }

  /** Drops tombstones written before `beforeHlc`; returns how many. */
  purgeTombstones(beforeHlc: number): number {
    let purged = 0;
    for (const [key, head] of this.adapter.heads()) {
      if (head.tombstone && head.hlc < beforeHlc) {
        this.drop(key, head);
        purged++;
      }
    }
    return purged;
  }

  /** Drops tombstones older than TOMBSTONE_TTL_MS; returns how many. */
  purgeExpiredTombstones(): number {
    if (this.tombstoneTtlMs === Infinity) return 0;
    return this.purgeTombstones(hlcFromMs(this.now() - this.tombstoneTtlMs));
  }

  /** Forgets everything, watermark included (a node rejoining after too long away). */
  wipe(): void {
    this.changing();
    this.adapter.clear();
    this.digests.reset();
    this.tombstones = 0;
    this.watermark = undefined;
    this.adapter.setMeta(CLEAR_META, 'null');
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

  /**
   * What an answer to a write must wait for before it is sent: the flush of every change
   * so far when writes wait for the disk (DURABILITY=sync), else nothing. The writes of
   * one moment wait for the same commit (group commit).
   */
  durable(): Promise<void> | undefined {
    return this.waitForDisk ? this.adapter.flush() : undefined;
  }

  private write(key: string, record: StoredRecord, previous: RecordHead | undefined): void {
    if (previous !== undefined) {
      if (previous.tombstone) this.tombstones--;
      this.digests.toggle(key, previous.hlc, previous.nodeId, -1);
    }
    if (record.value === null) this.tombstones++;
    this.digests.toggle(key, record.hlc, record.nodeId, 1);
    this.changing();
    this.adapter.set(key, record);
  }

  private drop(key: string, head: RecordHead): void {
    this.changing();
    this.adapter.delete(key);
    this.digests.toggle(key, head.hlc, head.nodeId, -1);
    if (head.tombstone) this.tombstones--;
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
