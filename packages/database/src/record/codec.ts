import { decodeKeyBytes, encodeKeyBytes } from './key-order';
import { versionTag } from './version-tag';
import type { RecordHead, StoredRecord } from './record';
import type { Version } from './version';

/**
 * Every encoding of a record, on the wire and on disk, and the format version they share.
 * Adding a field to a record (a type tag) changes this file and nothing else on the wire
 * or disk side: the encoders write it, the decoders read it (and the older form, through
 * a migration), and RECORD_FORMAT grows by one.
 *
 * Format 2 (format 1 plus expiry, and keys on disk in code point order):
 * - wire record (replicate bodies, pull answers): `[key, value | null, hlc, nodeId]`, plus
 *   `expiresAt` (ms since the epoch) as a fifth element for a value that expires;
 * - replicate body: `{"format":2,"records":[wire…],"clear":{hlc,nodeId}|null}`;
 *   pull answer: `{"format":2,"records":[wire…]}`. A body none of whose records expires
 *   is sent as format 1 (it is one), so nodes of the release before keep reading what
 *   they can; a body without `format` is format 1;
 * - versions line (NDJSON): `[key, hlc, nodeId, tombstone 0|1]`, plus the value (or null)
 *   as a fifth element when the asker wants values, and the expiry as a sixth when there
 *   is one;
 * - LMDB row (msgpack): `[hlc, nodeId, value as JSON text | null]`, plus `expiresAt` as a
 *   fourth element; LMDB key: the byte 0x6b then the key's WTF-8 bytes (key-order.ts), so
 *   LMDB's byte order is the keys' code point order; rows live in the table `kv`, and the
 *   expiry index in `expiry` (8 bytes of expiresAt, big-endian, then the LMDB key). The
 *   file is marked `meshkv-records-2`.
 *
 * Format 1 files (rows in the table `records`, keys in UTF-16LE, which sorts nowhere
 * useful) are migrated when opened (lmdb.ts).
 *
 * Decoders check shapes and throw RecordCodecError for anything else: a peer is trusted to
 * be a MeshKV node, not to be bug-free, and nothing it sends may store a malformed record.
 */
export const RECORD_FORMAT = 2;
/** The first format, still read (and sent when no record expires). */
const FIRST_FORMAT = 1;

export class RecordCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordCodecError';
  }
}

// ---- wire ------------------------------------------------------------------------------

/** `[key, value or null for a tombstone, hlc, nodeId]`, and `expiresAt` for a value that expires. */
export type WireRecord =
  | readonly [key: string, value: string | null, hlc: number, nodeId: string]
  | readonly [key: string, value: string, hlc: number, nodeId: string, expiresAt: number];

export function toWire(key: string, record: StoredRecord): WireRecord {
  if (record.expiresAt === undefined || record.value === null) return [key, record.value, record.hlc, record.nodeId];
  return [key, record.value, record.hlc, record.nodeId, record.expiresAt];
}

export function fromWire(wire: WireRecord): StoredRecord {
  if (wire.length === 5) return { value: wire[1], hlc: wire[2], nodeId: wire[3], expiresAt: wire[4] };
  return { value: wire[1], hlc: wire[2], nodeId: wire[3] };
}

/** An expiry: a whole number of ms since the epoch. */
export function isExpiry(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

export function isHlc(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 64;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isWireRecord(value: unknown): value is WireRecord {
  return (
    Array.isArray(value) &&
    (value.length === 4 || (value.length === 5 && typeof value[1] === 'string' && isExpiry(value[4]))) &&
    typeof value[0] === 'string' &&
    (value[1] === null || typeof value[1] === 'string') &&
    isHlc(value[2]) &&
    isNodeId(value[3])
  );
}

/** A version (a clear watermark) as sent: `{hlc, nodeId}`, or null/absent for none. */
export function decodeVersion(value: unknown, what: string): Version | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value) || !isHlc(value.hlc) || !isNodeId(value.nodeId)) throw new RecordCodecError(`${what} must be {hlc, nodeId}`);
  return { hlc: value.hlc, nodeId: value.nodeId };
}

function checkFormat(body: Record<string, unknown>): void {
  const format = body.format ?? FIRST_FORMAT;
  if (format === RECORD_FORMAT || format === FIRST_FORMAT) return;
  if (typeof format === 'number' && Number.isSafeInteger(format) && format > RECORD_FORMAT) {
    throw new RecordCodecError(`records of format ${format} come from a newer MeshKV; this node reads format ${RECORD_FORMAT}: upgrade it`);
  }
  throw new RecordCodecError(`format must be a record format number (got ${JSON.stringify(format)?.slice(0, 40)})`);
}

/** The format a body of these records is sent as: the first one while none expires. */
function formatOf(records: readonly WireRecord[]): number {
  for (const record of records) if (record.length === 5) return RECORD_FORMAT;
  return FIRST_FORMAT;
}

function decodeRecords(value: unknown): WireRecord[] {
  if (!Array.isArray(value)) throw new RecordCodecError('records must be a list');
  for (const record of value as unknown[]) {
    if (!isWireRecord(record)) throw new RecordCodecError('each record must be [key, value or null, hlc, nodeId], or [key, value, hlc, nodeId, expiresAt]');
  }
  return value as WireRecord[];
}

/** The body of POST /_mesh/replicate: records to merge, and a clear watermark. */
export interface ReplicateBody {
  readonly format: number;
  readonly records: readonly WireRecord[];
  readonly clear: Version | null;
  /**
   * True when an anti-entropy round hands the records over (its push), not their writer:
   * they are repairs, and a delete older than the TTL among them is kept on purpose (a
   * node kept it for the receiver), not a fresh write from a clock that is off.
   */
  readonly repair?: boolean;
}

export function replicateBody(records: readonly WireRecord[], clear: Version | null, repair = false): ReplicateBody {
  return { format: formatOf(records), records, clear, ...(repair ? { repair } : {}) };
}

/**
 * A replicate body as JSON text, from records whose JSON text is made already (once for
 * every peer they go to): the same text as JSON.stringify(replicateBody(...)).
 */
export function replicateBodyText(records: readonly { readonly wire: WireRecord; readonly json: string }[], clear: Version | null): string {
  let format = FIRST_FORMAT;
  let text = '';
  for (const record of records) {
    if (record.wire.length === 5) format = RECORD_FORMAT;
    text += text === '' ? record.json : `,${record.json}`;
  }
  return `{"format":${format},"records":[${text}],"clear":${JSON.stringify(clear)}}`;
}

export function decodeReplicateBody(body: unknown): ReplicateBody {
  if (!isObject(body)) throw new RecordCodecError('expected {records: [...], clear}');
  checkFormat(body);
  const records = decodeRecords(body.records);
  if (body.repair !== undefined && typeof body.repair !== 'boolean') throw new RecordCodecError('repair must be true or false');
  return { format: formatOf(records), records, clear: decodeVersion(body.clear, 'clear'), ...(body.repair === true ? { repair: true } : {}) };
}

/** The answer of POST /_mesh/pull: the records asked for that exist. */
export interface PullAnswer {
  readonly format: number;
  readonly records: readonly WireRecord[];
}

export function pullAnswer(records: readonly WireRecord[]): PullAnswer {
  return { format: formatOf(records), records };
}

/**
 * A pull answer streamed record by record: `{"records":[` + the wire records joined by
 * commas + `pullAnswerEnd(...)`. The format comes last, once it is known whether any
 * record expires (JSON members have no order).
 */
export const PULL_ANSWER_OPENING = '{"records":[';

export function pullAnswerEnd(anyExpires: boolean): string {
  return `],"format":${anyExpires ? RECORD_FORMAT : FIRST_FORMAT}}`;
}

export function decodePullAnswer(body: unknown): readonly WireRecord[] {
  if (!isObject(body)) throw new RecordCodecError('expected {records: [...]}');
  checkFormat(body);
  return decodeRecords(body.records);
}

// ---- versions lines (anti-entropy) ------------------------------------------------------

/** One line of the /_mesh/versions stream: a key's version, and its record when asked for. */
export interface VersionLine {
  readonly key: string;
  readonly head: RecordHead;
  /** Present only in lines that carry the value: the whole record. */
  readonly record?: StoredRecord;
}

/** One NDJSON line, newline included, without the value. */
export function encodeVersionLine(key: string, head: RecordHead): string {
  return `${JSON.stringify([key, head.hlc, head.nodeId, head.tombstone ? 1 : 0])}\n`;
}

/** One NDJSON line, newline included, that carries the record (value and expiry). */
export function encodeVersionRecordLine(key: string, record: StoredRecord): string {
  if (record.value === null) return `${JSON.stringify([key, record.hlc, record.nodeId, 1, null])}\n`;
  if (record.expiresAt === undefined) return `${JSON.stringify([key, record.hlc, record.nodeId, 0, record.value])}\n`;
  return `${JSON.stringify([key, record.hlc, record.nodeId, 0, record.value, record.expiresAt])}\n`;
}

export function decodeVersionLine(line: string): VersionLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length < 4 ||
    parsed.length > 6 ||
    typeof parsed[0] !== 'string' ||
    !isHlc(parsed[1]) ||
    !isNodeId(parsed[2]) ||
    (parsed[3] !== 0 && parsed[3] !== 1) ||
    (parsed.length >= 5 && (parsed[3] === 1 ? parsed[4] !== null : typeof parsed[4] !== 'string')) ||
    (parsed.length === 6 && (parsed[3] === 1 || !isExpiry(parsed[5])))
  ) {
    throw new RecordCodecError(`malformed versions line: ${line.slice(0, 100)}`);
  }
  const key = parsed[0];
  const tombstone = parsed[3] === 1;
  const expiresAt = parsed.length === 6 ? (parsed[5] as number) : undefined;
  const version = { hlc: parsed[1], nodeId: parsed[2] };
  const head: RecordHead = expiresAt === undefined ? { ...version, tombstone } : { ...version, tombstone, expiresAt };
  if (parsed.length === 4) return { key, head };
  const value = parsed[4] as string | null;
  return { key, head, record: expiresAt === undefined ? { ...version, value } : { ...version, value, expiresAt } };
}

// ---- disk (LMDB) ----------------------------------------------------------------------

/** The mark of a MeshKV database file of this format, kept in its meta table. */
export const STORAGE_FORMAT = `meshkv-records-${RECORD_FORMAT}`;
/** The mark of a file of the first format, which is migrated when opened. */
export const FIRST_STORAGE_FORMAT = `meshkv-records-${FIRST_FORMAT}`;
/** LMDB tables: the records and the expiry index of this format, the records of format 1. */
export const RECORDS_TABLE = 'kv';
export const EXPIRY_TABLE = 'expiry';
export const FIRST_RECORDS_TABLE = 'records';

/**
 * What to do with a database file whose mark is `found`: open it as it is, migrate it
 * from format 1 first, or refuse with a message naming the fix.
 */
export function checkStorageFormat(found: string | undefined): { readonly open: true; readonly migrate: boolean } | { readonly open: false; readonly reason: string } {
  if (found === STORAGE_FORMAT) return { open: true, migrate: false };
  if (found === FIRST_STORAGE_FORMAT) return { open: true, migrate: true };
  const version = /^meshkv-records-(\d{1,9})$/.exec(found ?? '');
  if (version !== null && Number(version[1]) > RECORD_FORMAT) {
    return {
      open: false,
      reason: `was written by a newer MeshKV (format "${found}"; this release reads "${STORAGE_FORMAT}"): run that release, or move the file away to start empty and bootstrap from peers; nothing was changed`,
    };
  }
  return {
    open: false,
    reason: `is not a MeshKV database (format ${found === undefined ? 'unknown' : `"${found}"`}): move it away or point DATA_DIR at another folder; nothing was changed`,
  };
}

/** A record as LMDB keeps it: `[hlc, nodeId, value as JSON text or null for a tombstone, expiresAt?]`. */
export type Row = [number, string, string | null] | [number, string, string, number];

/**
 * JSON text for the value because msgpack writes strings as UTF-8: JSON escapes a lone
 * surrogate (`\udXXX`), so every JavaScript string survives the round trip.
 */
export function toRow(record: StoredRecord): Row {
  if (record.value === null) return [record.hlc, record.nodeId, null];
  const json = JSON.stringify(record.value);
  return record.expiresAt === undefined ? [record.hlc, record.nodeId, json] : [record.hlc, record.nodeId, json, record.expiresAt];
}

export function fromRow(row: Row): StoredRecord {
  if (row[2] === null) return { hlc: row[0], nodeId: row[1], value: null };
  const value = JSON.parse(row[2]) as string;
  return row.length === 4 ? { hlc: row[0], nodeId: row[1], value, expiresAt: row[3] } : { hlc: row[0], nodeId: row[1], value };
}

/** A row's version (and expiry), without parsing its value. */
export function rowHead(row: Row): RecordHead {
  const head = { hlc: row[0], nodeId: row[1], tombstone: row[2] === null };
  return row.length === 4 ? { ...head, expiresAt: row[3] } : head;
}

/** The value of a row as JSON text, ready to send; undefined for a tombstone, or for a value expired at `now`. */
export function rowJson(row: Row, now?: number): string | undefined {
  if (row.length === 4 && now !== undefined && row[3] <= now) return undefined;
  return row[2] ?? undefined;
}

/** Keys are stored as a 1-byte tag (LMDB refuses empty keys) followed by their WTF-8 bytes. */
const KEY_TAG = 0x6b;

export function toStorageKey(key: string): Buffer {
  return encodeKeyBytes(key, KEY_TAG);
}

/** The key of a storage key; undefined for bytes MeshKV did not write (a damaged file). */
export function readStorageKey(buffer: Buffer | Uint8Array): string | undefined {
  return buffer.byteLength >= 1 && buffer[0] === KEY_TAG ? decodeKeyBytes(buffer) : undefined;
}

export function fromStorageKey(buffer: Buffer | Uint8Array): string {
  const key = readStorageKey(buffer);
  if (key === undefined) throw new RecordCodecError('a storage key that MeshKV did not write');
  return key;
}

/** A key of the expiry index: when, then the storage key, so the index is in expiry order. */
export function toExpiryKey(expiresAt: number, key: string): Buffer {
  const storageKey = toStorageKey(key);
  const buffer = Buffer.allocUnsafe(8 + storageKey.length);
  buffer.writeBigUInt64BE(BigInt(expiresAt), 0);
  storageKey.copy(buffer, 8);
  return buffer;
}

export function fromExpiryKey(buffer: Buffer | Uint8Array): { readonly expiresAt: number; readonly key: string } {
  const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return { expiresAt: Number(view.readBigUInt64BE(0)), key: fromStorageKey(view.subarray(8)) };
}

/** Format 1 keys: the tag, then the key's UTF-16LE code units (read only, to migrate). */
export function fromFirstStorageKey(buffer: Buffer | Uint8Array): string | undefined {
  if (buffer.byteLength % 2 !== 1 || buffer[0] !== KEY_TAG) return undefined;
  return Buffer.from(buffer.buffer, buffer.byteOffset + 1, buffer.byteLength - 1).toString('utf16le');
}

/**
 * A row as toRow writes it (a damaged file can hold anything). The value's JSON text is
 * checked by its quotes, not parsed: the check of a whole file reads a million of them.
 */
export function isRow(row: unknown): row is Row {
  if (!Array.isArray(row) || (row.length !== 3 && row.length !== 4)) return false;
  const [hlc, nodeId, json, expiresAt] = row as unknown[];
  if (!Number.isSafeInteger(hlc) || (hlc as number) < 0 || typeof nodeId !== 'string' || nodeId === '') return false;
  if (row.length === 4 && (json === null || !isExpiry(expiresAt))) return false;
  return json === null || (typeof json === 'string' && json.length >= 2 && json.charCodeAt(0) === 0x22 && json.charCodeAt(json.length - 1) === 0x22);
}

// ---- change events (watch) ---------------------------------------------------------------

/** What a change did, as a watcher is told (docs/watch.md). */
export type ChangeEventType = 'set' | 'rm' | 'expire' | 'clear';

/**
 * One change event as JSON text: `{"type","k","v","version","expiresAt","id"}`. `k` is
 * absent from a clear of every key, `v` is on a set only, `expiresAt` (ms since the epoch)
 * on a set of a value that expires, `version` (the key's ETag without quotes, see
 * version-tag.ts) on every event but a clear of one key. Built as text: one event may go
 * to a thousand watchers, and is encoded once for all of them.
 */
export function encodeChangeEvent(type: ChangeEventType, key: string | undefined, record: StoredRecord | Version | undefined, id: string): string {
  let text = `{"type":"${type}"`;
  if (key !== undefined) text += `,"k":${JSON.stringify(key)}`;
  if (record !== undefined) {
    if (type === 'set') {
      const stored = record as StoredRecord;
      text += `,"v":${JSON.stringify(stored.value)}`;
      if (stored.expiresAt !== undefined) text += `,"expiresAt":${stored.expiresAt}`;
    }
    text += `,"version":"${versionTag(record)}"`;
  }
  return `${text},"id":"${id}"}`;
}
