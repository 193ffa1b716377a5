import { type StorageAdapter, SUMMARY_META } from '../storage/adapter';
import { BucketDigests } from './digests';

/** What a start would otherwise learn by reading every record (saved at a clean stop). */
export interface Summary {
  readonly records: number;
  readonly tombstones: number;
  /** The clock's value at the stop: at least every record's version. */
  readonly hlc: number;
  readonly digests: BucketDigests;
}

/**
 * Keeps the summary beside the records. Call it when no write can follow (a clean stop):
 * a start uses the summary once and removes it, so after a crash the next start rebuilds.
 */
export function saveSummary(adapter: StorageAdapter, summary: Summary): void {
  const text = JSON.stringify({
    records: summary.records,
    tombstones: summary.tombstones,
    hlc: summary.hlc,
    digests: summary.digests.encode().toString('base64'),
  });
  adapter.setMeta(SUMMARY_META, text);
}

/** Removes the summary: the records are about to change. */
export function removeSummary(adapter: StorageAdapter): void {
  adapter.setMeta(SUMMARY_META, 'null');
}

/**
 * The summary of a clean stop if there is one and it matches the records, removed at once
 * (good for this start only: the writes that follow make it stale; the removal is
 * committed before any of them, as the adapter commits in order). Undefined otherwise.
 */
export function takeSummary(adapter: StorageAdapter): Summary | undefined {
  const text = adapter.getMeta(SUMMARY_META);
  if (text === undefined || text === 'null') return undefined;
  removeSummary(adapter);
  let saved: { records?: unknown; tombstones?: unknown; hlc?: unknown; digests?: unknown };
  let digests: BucketDigests;
  try {
    saved = JSON.parse(text) as typeof saved;
    digests = BucketDigests.decode(Buffer.from(String(saved.digests), 'base64'));
  } catch {
    return undefined;
  }
  const records = adapter.size;
  const counted = digests.counts.reduce((sum, count) => sum + count, 0);
  const { tombstones, hlc } = saved;
  if (
    saved.records !== records ||
    counted !== records ||
    !Number.isSafeInteger(tombstones) ||
    (tombstones as number) < 0 ||
    (tombstones as number) > records ||
    !Number.isSafeInteger(hlc) ||
    (hlc as number) < 0
  ) {
    return undefined;
  }
  return { records, tombstones: tombstones as number, hlc: hlc as number, digests };
}
