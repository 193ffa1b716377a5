/**
 * The check of an LMDB data file before a node opens it for service, run in a child
 * process by `checkDataFile` (in lmdb.ts): LMDB has no checksums and trusts its pages, so
 * a damaged page can crash the process that reads it (SIGSEGV, SIGBUS, an abort) or end a
 * scan early without an error. Here a crash costs only the child. It reads the file
 * read-only, every row, and prints one JSON line (a FileCheck).
 *
 * What it finds: pages that cannot be read, a tree whose scan does not give back every
 * entry it counts, keys out of order, rows MeshKV did not write, a count that differs from
 * the one saved at the last clean stop. What it cannot find: a damaged byte inside a value
 * that still reads as a value (nothing records what the value was).
 */
import type { Database, RootDatabase } from 'lmdb';
import { checkStorageFormat, FIRST_RECORDS_TABLE, fromFirstStorageKey, isRow, readStorageKey, RECORDS_TABLE } from '../record/codec';
import { FORMAT_META, SUMMARY_META } from './adapter';

/** What the child found. */
export type FileCheck =
  | { readonly ok: true; readonly records: number }
  | { readonly ok: false; readonly problem: string; readonly records?: number };

/** LMDB's longest key. */
const MAX_KEY_BYTES = 1982;

export function checkFile(file: string): FileCheck {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lmdb is loaded only by nodes that use it
  const { open } = require('lmdb') as typeof import('lmdb');
  let root: RootDatabase | undefined;
  try {
    root = open({ path: file, noSubdir: true, readOnly: true, maxDbs: 4 });
    let meta: Database<string, string> | undefined;
    try {
      meta = root.openDB<string, string>({ name: 'meta', encoding: 'string' });
    } catch {
      meta = undefined; // no "meta" database: made by something else
    }
    const format = checkStorageFormat(meta?.get(FORMAT_META));
    if (!format.open) {
      // No format mark: another program's LMDB file, or a MeshKV one whose metadata page is damaged.
      if (format.reason.startsWith('is not') && hasMeshKvTables(root)) return { ok: false, problem: 'its format mark cannot be read (the page that holds it is damaged)' };
      return { ok: false, problem: format.reason };
    }
    if (meta === undefined) return { ok: false, problem: 'is not a MeshKV database' }; // (format.open needs the meta database)
    // A file of format 1 is checked as it is, before its migration.
    const records = root.openDB<unknown, Buffer>({ name: format.migrate ? FIRST_RECORDS_TABLE : RECORDS_TABLE, keyEncoding: 'binary', encoding: 'msgpack' });
    const isKey = format.migrate ? (key: Buffer) => fromFirstStorageKey(key) !== undefined : (key: Buffer) => readStorageKey(key) !== undefined;
    const counted = records.getStats() as { entryCount?: number };
    let scanned = 0;
    // The previous key, copied (lmdb reuses the buffer it hands out).
    const previous = Buffer.alloc(MAX_KEY_BYTES);
    let previousLength = -1;
    for (const { key, value } of records.getRange({})) {
      if (!isKey(key)) return { ok: false, problem: `a key that MeshKV did not write, after ${scanned} good records`, records: scanned };
      if (previousLength >= 0 && previous.compare(key, 0, key.length, 0, previousLength) >= 0) return { ok: false, problem: `keys out of order after ${scanned} records`, records: scanned };
      if (!isRow(value)) return { ok: false, problem: `a record that MeshKV did not write, after ${scanned} good records`, records: scanned };
      previousLength = key.copy(previous);
      scanned++;
    }
    if (counted.entryCount !== scanned) {
      return { ok: false, problem: `its index counts ${String(counted.entryCount)} records but ${scanned} can be read`, records: scanned };
    }
    const saved = savedCount(meta.get(SUMMARY_META));
    if (saved !== undefined && saved !== scanned) {
      return { ok: false, problem: `it held ${saved} records at its last clean stop but ${scanned} can be read`, records: scanned };
    }
    return { ok: true, records: scanned };
  } catch (error) {
    return { ok: false, problem: `LMDB cannot read it: ${(error as Error).message}` };
  } finally {
    void root?.close();
  }
}

/** The file holds MeshKV's two named databases (or its list of them cannot even be read). */
function hasMeshKvTables(root: RootDatabase): boolean {
  try {
    let found = 0;
    for (const name of root.getKeys({})) if (name === RECORDS_TABLE || name === FIRST_RECORDS_TABLE || name === 'meta') found++;
    return found > 0;
  } catch {
    return true;
  }
}

function savedCount(text: string | undefined): number | undefined {
  if (text === undefined || text === 'null') return undefined;
  try {
    const records = (JSON.parse(text) as { records?: unknown }).records;
    return Number.isSafeInteger(records) ? (records as number) : undefined;
  } catch {
    return undefined;
  }
}

if (require.main === module) {
  const file = process.argv[2];
  const report: FileCheck = file === undefined ? { ok: false, problem: 'no file given' } : checkFile(file);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
