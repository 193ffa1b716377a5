import { compareVersions, type Version } from './version';

/**
 * One key's state: a value, or a tombstone (`value === null`) that remembers a delete so
 * an older write arriving later cannot bring the key back. Both carry the version of the
 * write that produced them. A value may carry an expiry: the absolute time (ms since the
 * epoch) from which it counts as missing; it is part of the write, so every node holds
 * the same expiry for the same version. Every encoding of a record (wire, disk) is in
 * `codec.ts`.
 */
export interface StoredRecord extends Version {
  readonly value: string | null;
  /** ms since the epoch; absent: never expires. Only on values (a tombstone has none). */
  readonly expiresAt?: number;
}

/** A record without its value: what anti-entropy compares, and what reads check first. */
export interface RecordHead extends Version {
  readonly tombstone: boolean;
  readonly expiresAt?: number;
}

export function headOf(record: StoredRecord): RecordHead {
  const head = { hlc: record.hlc, nodeId: record.nodeId, tombstone: record.value === null };
  return record.expiresAt === undefined ? head : { ...head, expiresAt: record.expiresAt };
}

/** True when the record holds a value at `now` (not a tombstone, not expired). */
export function isLive(record: RecordHead | StoredRecord, now: number): boolean {
  if ('tombstone' in record ? record.tombstone : record.value === null) return false;
  return record.expiresAt === undefined || record.expiresAt > now;
}

/** The tombstone an expired value becomes: the same version, so digests do not change. */
export function expiredForm(record: Version): StoredRecord {
  return { value: null, hlc: record.hlc, nodeId: record.nodeId };
}

/**
 * Orders records by version, then by content. Two records with one version are the same
 * write, or one write and the tombstone it became when it expired (`expiredForm`): the
 * tombstone ranks above the expiring value, so a node that has swept an expired key never
 * takes the value back from a node that has not. Beyond that, only a faulty peer can send
 * two different records of one version; every node still picks the same one (values
 * without expiry above the tombstone, then by expiry, then by code unit order), so the
 * merge stays a total order and nodes converge.
 */
export function compareRecords(a: StoredRecord, b: StoredRecord): number {
  const byVersion = compareVersions(a, b);
  if (byVersion !== 0) return byVersion;
  const rankA = rank(a);
  const rankB = rank(b);
  if (rankA !== rankB) return rankA - rankB;
  if (a.value === null || b.value === null) return 0;
  const expiryA = a.expiresAt ?? 0;
  const expiryB = b.expiresAt ?? 0;
  if (expiryA !== expiryB) return expiryA < expiryB ? -1 : 1;
  if (a.value === b.value) return 0;
  return a.value < b.value ? -1 : 1;
}

/** An expiring value, below its own expired form (a tombstone), below a value that never expires. */
function rank(record: StoredRecord): number {
  if (record.value === null) return 1;
  return record.expiresAt === undefined ? 2 : 0;
}
