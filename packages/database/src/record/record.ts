import { compareVersions, type Version } from './version';

/**
 * One key's state: a value, or a tombstone (`value === null`) that remembers a delete so
 * an older write arriving later cannot bring the key back. Both carry the version of the
 * write that produced them. Every encoding of a record (wire, disk) is in `codec.ts`.
 */
export interface StoredRecord extends Version {
  readonly value: string | null;
}

/** A record without its value: what anti-entropy compares. */
export interface RecordHead extends Version {
  readonly tombstone: boolean;
}

export function headOf(record: StoredRecord): RecordHead {
  return { hlc: record.hlc, nodeId: record.nodeId, tombstone: record.value === null };
}

/**
 * Orders records by version, then by value. Two records with one version should be the
 * same write; if a faulty peer ever sends two that differ, every node still picks the
 * same one (a tombstone below any value, values by code unit order), so the merge stays
 * a total order and nodes converge.
 */
export function compareRecords(a: StoredRecord, b: StoredRecord): number {
  const byVersion = compareVersions(a, b);
  if (byVersion !== 0 || a.value === b.value) return byVersion;
  if (a.value === null) return -1;
  if (b.value === null) return 1;
  return a.value < b.value ? -1 : 1;
}
