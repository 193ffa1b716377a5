import type { RecordHead, StoredRecord } from './record';
import type { Version } from './version';

/**
 * Every encoding of a record, on the wire and on disk, and the format version they share.
 * Adding a field to a record (an expiry, a type tag) changes this file and nothing else on
 * the wire or disk side: the encoders write it, the decoders read it (and the older form,
 * through a migration), and RECORD_FORMAT grows by one.
 *
 * Format 1:
 * - wire record (replicate bodies, pull answers): `[key, value | null, hlc, nodeId]`;
 * - replicate body: `{"format":1,"records":[wire…],"clear":{hlc,nodeId}|null}`;
 *   pull answer: `{"format":1,"records":[wire…]}` (a body without `format` is format 1);
 * - versions line (NDJSON): `[key, hlc, nodeId, tombstone 0|1]`, plus the value (or null)
 *   as a fifth element when the asker wants values;
 * - LMDB row (msgpack): `[hlc, nodeId, value as JSON text | null]`; LMDB key: the byte 0x6b
 *   then the key's UTF-16LE code units; the file is marked `meshkv-records-1`.
 *
 * Decoders check shapes and throw RecordCodecError for anything else: a peer is trusted to
 * be a MeshKV node, not to be bug-free, and nothing it sends may store a malformed record.
 */
export const RECORD_FORMAT = 1;

export class RecordCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordCodecError';
  }
}

// ---- wire ------------------------------------------------------------------------------

/** `[key, value or null for a tombstone, hlc, nodeId]` */
export type WireRecord = readonly [key: string, value: string | null, hlc: number, nodeId: string];

export function toWire(key: string, record: StoredRecord): WireRecord {
  return [key, record.value, record.hlc, record.nodeId];
}

export function fromWire(wire: WireRecord): StoredRecord {
  return { value: wire[1], hlc: wire[2], nodeId: wire[3] };
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
    value.length === 4 &&
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
  const format = body.format ?? 1;
  if (format === RECORD_FORMAT) return;
  if (typeof format === 'number' && Number.isSafeInteger(format) && format > RECORD_FORMAT) {
    throw new RecordCodecError(`records of format ${format} come from a newer MeshKV; this node reads format ${RECORD_FORMAT}: upgrade it`);
  }
  throw new RecordCodecError(`format must be a record format number (got ${JSON.stringify(format)?.slice(0, 40)})`);
}

function decodeRecords(value: unknown): WireRecord[] {
  if (!Array.isArray(value)) throw new RecordCodecError('records must be a list');
  for (const record of value as unknown[]) {
    if (!isWireRecord(record)) throw new RecordCodecError('each record must be [key, value or null, hlc, nodeId]');
  }
  return value as WireRecord[];
}

/** The body of POST /_mesh/replicate: records to merge, and a clear watermark. */
export interface ReplicateBody {
  readonly format: number;
  readonly records: readonly WireRecord[];
  readonly clear: Version | null;
}

export function replicateBody(records: readonly WireRecord[], clear: Version | null): ReplicateBody {
  return { format: RECORD_FORMAT, records, clear };
}

export function decodeReplicateBody(body: unknown): ReplicateBody {
  if (!isObject(body)) throw new RecordCodecError('expected {records: [...], clear}');
  checkFormat(body);
  return { format: RECORD_FORMAT, records: decodeRecords(body.records), clear: decodeVersion(body.clear, 'clear') };
}

/** The answer of POST /_mesh/pull: the records asked for that exist. */
export interface PullAnswer {
  readonly format: number;
  readonly records: readonly WireRecord[];
}

export function pullAnswer(records: readonly WireRecord[]): PullAnswer {
  return { format: RECORD_FORMAT, records };
}

export function decodePullAnswer(body: unknown): readonly WireRecord[] {
  if (!isObject(body)) throw new RecordCodecError('expected {records: [...]}');
  checkFormat(body);
  return decodeRecords(body.records);
}

// ---- versions lines (anti-entropy) ------------------------------------------------------

/** One line of the /_mesh/versions stream: a key's version, and its value when asked for. */
export interface VersionLine {
  readonly key: string;
  readonly head: RecordHead;
  /** Present only in lines that carry the value (null for a tombstone). */
  readonly value?: string | null;
}

/** One NDJSON line, newline included; `value` undefined: the line carries no value. */
export function encodeVersionLine(key: string, head: RecordHead, value?: string | null): string {
  const tombstone = head.tombstone ? 1 : 0;
  if (value === undefined) return `${JSON.stringify([key, head.hlc, head.nodeId, tombstone])}\n`;
  return `${JSON.stringify([key, head.hlc, head.nodeId, tombstone, head.tombstone ? null : value])}\n`;
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
    (parsed.length !== 4 && parsed.length !== 5) ||
    typeof parsed[0] !== 'string' ||
    !isHlc(parsed[1]) ||
    !isNodeId(parsed[2]) ||
    (parsed[3] !== 0 && parsed[3] !== 1) ||
    (parsed.length === 5 && parsed[4] !== null && typeof parsed[4] !== 'string')
  ) {
    throw new RecordCodecError(`malformed versions line: ${line.slice(0, 100)}`);
  }
  const tombstone = parsed[3] === 1;
  const head: RecordHead = { hlc: parsed[1], nodeId: parsed[2], tombstone };
  if (parsed.length === 4) return { key: parsed[0], head };
  return { key: parsed[0], head, value: tombstone ? null : (parsed[4] as string | null) };
}

// ---- disk (LMDB) ----------------------------------------------------------------------

/** The mark of a MeshKV database file of this format, kept in its meta table. */
export const STORAGE_FORMAT = `meshkv-records-${RECORD_FORMAT}`;

/**
 * What to do with a database file whose mark is `found`: open it as it is, or refuse with
 * a message naming the fix. Format 1 is the first; when a later format changes rows or
 * keys, older marks name the migration to run here.
 */
export function checkStorageFormat(found: string | undefined): { readonly open: true } | { readonly open: false; readonly reason: string } {
  if (found === STORAGE_FORMAT) return { open: true };
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

/** A record as LMDB keeps it: `[hlc, nodeId, value as JSON text, or null for a tombstone]`. */
export type Row = [number, string, string | null];

/**
 * JSON text for the value because msgpack writes strings as UTF-8: JSON escapes a lone
 * surrogate (`\udXXX`), so every JavaScript string survives the round trip.
 */
export function toRow(record: StoredRecord): Row {
  return [record.hlc, record.nodeId, record.value === null ? null : JSON.stringify(record.value)];
}

export function fromRow(row: Row): StoredRecord {
  return { hlc: row[0], nodeId: row[1], value: row[2] === null ? null : (JSON.parse(row[2]) as string) };
}

/** A row's version, without parsing its value. */
export function rowHead(row: Row): RecordHead {
  return { hlc: row[0], nodeId: row[1], tombstone: row[2] === null };
}

/** The value of a row as JSON text, ready to send; undefined for a tombstone. */
export function rowJson(row: Row): string | undefined {
  return row[2] ?? undefined;
}

/**
 * Keys are stored as a 1-byte tag followed by their UTF-16 code units: LMDB refuses empty
 * keys, and UTF-16 keeps every JavaScript string exactly (UTF-8 would merge strings that
 * differ only in a lone surrogate).
 */
const KEY_TAG = 0x6b;

export function toStorageKey(key: string): Buffer {
  const buffer = Buffer.allocUnsafe(1 + key.length * 2);
  buffer[0] = KEY_TAG;
  buffer.write(key, 1, 'utf16le');
  return buffer;
}

export function fromStorageKey(buffer: Buffer | Uint8Array): string {
  return Buffer.from(buffer.buffer, buffer.byteOffset + 1, buffer.byteLength - 1).toString('utf16le');
}

/** A key as toStorageKey writes it: the tag, then whole UTF-16 code units. */
export function isStorageKey(buffer: Buffer | Uint8Array): boolean {
  return buffer.byteLength % 2 === 1 && buffer[0] === KEY_TAG;
}

/**
 * A row as toRow writes it (a damaged file can hold anything). The value's JSON text is
 * checked by its quotes, not parsed: the check of a whole file reads a million of them.
 */
export function isRow(row: unknown): row is Row {
  if (!Array.isArray(row) || row.length !== 3) return false;
  const [hlc, nodeId, json] = row as unknown[];
  if (!Number.isSafeInteger(hlc) || (hlc as number) < 0 || typeof nodeId !== 'string' || nodeId === '') return false;
  return json === null || (typeof json === 'string' && json.length >= 2 && json.charCodeAt(0) === 0x22 && json.charCodeAt(json.length - 1) === 0x22);
}
