import { randomBytes } from 'node:crypto';
import { type ChangeEventType, encodeChangeEvent } from '../record/codec';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
import { resized, Writers } from '../record/version-columns';
import type { StoreChange } from '../store/change';
import { isReserved } from '../store/namespace';
import type { Store } from '../store/store';

/** What an event of the log did, by its code. */
const SET = 0;
const RM = 1;
const EXPIRE = 2;
/** One key was removed by a clear (a tenant's, or a clear that newer records survived). */
const CLEAR_KEY = 3;
/** Every key was removed by a clear. */
const CLEAR_ALL = 4;
const TYPES: readonly ChangeEventType[] = ['set', 'rm', 'expire', 'clear', 'clear'];
const CURSOR = /^([0-9a-z]{1,16}\.\d{1,9})-(\d{1,16})$/;

export interface ChangeLogOptions {
  /** WATCH_BUFFER_EVENTS: events kept for watchers that resume. */
  readonly maxEvents: number;
  /** WATCH_BUFFER_BYTES: about the bytes of keys and values they may hold together. */
  readonly maxBytes: number;
}

/** Where a watch continues: after this sequence number, or why it cannot. */
export type CursorOutcome = number | 'expired' | 'invalid';

/**
 * The node's recent changes as events for watchers (docs/watch.md): one event per change
 * the store applies, whatever its origin, in the order it applied them, numbered by a
 * sequence that never goes back, and kept in a ring of WATCH_BUFFER_EVENTS (and about
 * WATCH_BUFFER_BYTES) so a watcher that reconnects continues exactly where it was.
 *
 * An event's id is `<epoch>-<sequence>`. The epoch is drawn at start and renewed whenever
 * the node's history breaks (it wipes its data to bootstrap again): an id of another
 * epoch — another node, a previous run, before a wipe — or one older than the ring is
 * refused, so a watcher is told to read again rather than miss changes silently.
 *
 * Which change is which event:
 * - a value written → `set`; a tombstone → `rm`, or `expire` when it is the expired form
 *   of the value this node held (same version), swept here or received from a peer that
 *   swept it first;
 * - a key removed by a clear → `clear` with its key; a clear that removed every record at
 *   once → one `clear` without a key;
 * - tombstones purged after TOMBSTONE_TTL_MS, and the node's own records (API keys,
 *   tenant marks), are not events: no reader sees them.
 *
 * Cost: on the write path, a few numbers and the key's and value's UTF-8 bytes written per
 * change — no object per event, so 100,000 events of 16-character keys and 100-character
 * values hold about 15 MB, in 1 MiB chunks freed as events leave. Events are encoded when
 * sent (`text`), and the text of the newest ones is kept for the next watcher.
 */
/** What a watch sees, as the log compares it: the UTF-8 bytes of its key (`exact`) or of its prefix. */
export interface LogFilter {
  readonly exact: boolean;
  readonly bytes: Buffer;
}

/**
 * A key or prefix as the log compares it. NB: compared as UTF-8 bytes, as keys are kept:
 * a prefix starts a key exactly when its bytes start the key's, for well-formed text (a
 * lone surrogate, which only a JSON body can carry, reads as U+FFFD here).
 */
export function logFilter(scope: { readonly key?: string; readonly prefix: string }): LogFilter {
  return scope.key === undefined ? { exact: false, bytes: Buffer.from(scope.prefix) } : { exact: true, bytes: Buffer.from(scope.key) };
}

/** Bytes of a chunk of keys and values; an event larger than that gets a chunk of its own. */
const CHUNK_BYTES = 1024 * 1024;
/** Texts of the newest events kept, for the next watcher that sends them. */
const TEXT_CACHE = 4096;
const NO_VALUE = -1;
const SPARE_CHUNKS = 2;

export class ChangeLog {
  // One slot per event, in typed arrays (no object per event, 37 bytes a slot): its kind,
  // version, expiry, and where its key and value are in the chunks of bytes. They grow by
  // doubling up to WATCH_BUFFER_EVENTS slots.
  private capacity = 0;
  private kinds = new Uint8Array(0);
  private hlcs = new Float64Array(0);
  private writers = new Uint32Array(0);
  private expiries = new Float64Array(0);
  private chunkOf = new Uint32Array(0);
  private offsets = new Uint32Array(0);
  private keyLengths = new Int32Array(0);
  private valueLengths = new Int32Array(0);
  /** Node ids of the versions, each kept once (there are few). */
  private readonly writersById = new Writers();
  /** Keys and values as UTF-8, in chunks; each chunk with the events still in it. */
  private readonly chunks = new Map<number, { readonly bytes: Buffer; events: number }>();
  private chunkNumber = -1;
  /**
   * Chunks whose events all left, kept for the next ones (at most SPARE_CHUNKS): a buffer
   * going round reuses its memory rather than leaving garbage that the garbage collector,
   * seeing little on the heap, frees late.
   */
  private readonly spare: Buffer[] = [];
  private chunkUsed = CHUNK_BYTES;
  private readonly texts: (string | undefined)[] = new Array<string | undefined>(TEXT_CACHE);
  private readonly textSeqs = new Float64Array(TEXT_CACHE);
  /** Sequence of the oldest event kept, and of the next one. */
  private start = 1;
  private next = 1;
  /** Bytes of the chunks held. */
  private bytes = 0;
  private readonly base = randomBytes(6).readUIntBE(0, 6).toString(36);
  private resets = 0;
  private epochText: string;
  private readonly appended = new Set<() => void>();
  private readonly broken = new Set<() => void>();
  /** False until the first watch: before it nobody holds an id to continue after, and the log keeps nothing. */
  private active = false;

  constructor(
    store: Store,
    private readonly options: ChangeLogOptions,
  ) {
    this.epochText = `${this.base}.0`;
    store.onChange((change) => this.onChange(change));
  }

  /**
   * Keeps events from now on (a watch opened). Until the first watch a node keeps none: no
   * client can hold an id of this run to continue after, so a node nobody watches pays
   * nothing for the buffer. Idempotent.
   */
  activate(): void {
    this.active = true;
  }

  /** Events kept now. */
  get size(): number {
    return this.next - this.start;
  }

  /** Bytes of the chunks that hold the events' keys and values, and of those kept for reuse. */
  get heldBytes(): number {
    return this.bytes + this.spare.length * CHUNK_BYTES;
  }

  /** Sequence of the newest event (start - 1 when none is kept). */
  get last(): number {
    return this.next - 1;
  }

  /** Sequence of the oldest event kept. */
  get first(): number {
    return this.start;
  }

  get epoch(): string {
    return this.epochText;
  }

  idOf(seq: number): string {
    return `${this.epochText}-${seq}`;
  }

  /**
   * Where an id lets a watch continue: the sequence of the event it names, when every
   * event after it is still kept; `expired` when not (another epoch, or too old);
   * `invalid` when it is not an id of this form at all.
   */
  after(id: string): CursorOutcome {
    const match = CURSOR.exec(id);
    if (match === null) return 'invalid';
    const seq = Number(match[2]);
    if (match[1] !== this.epochText || seq < this.start - 1 || seq > this.last) return 'expired';
    return seq;
  }

  /** The key the event of `seq` is about (with its tenant's prefix); undefined for a clear of every key. */
  keyAt(seq: number): string | undefined {
    const slot = this.slot(seq);
    const length = this.keyLengths[slot] as number;
    if (length === NO_VALUE) return undefined;
    const offset = this.offsets[slot] as number;
    return this.chunkBytes(slot).toString('utf8', offset, offset + length);
  }

  /** True when a watch of `filter` sees the event of `seq` (a clear of every key: every watch). */
  sees(seq: number, filter: LogFilter): boolean {
    const slot = this.slot(seq);
    const length = this.keyLengths[slot] as number;
    if (length === NO_VALUE) return true;
    const wanted = filter.bytes;
    if (filter.exact ? length !== wanted.length : length < wanted.length) return false;
    const offset = this.offsets[slot] as number;
    return this.chunkBytes(slot).compare(wanted, 0, wanted.length, offset, offset + wanted.length) === 0;
  }

  /** The event of `seq` as JSON text, its key without the first `strip` characters (a tenant's prefix). */
  text(seq: number, strip: number): string {
    const cached = seq % TEXT_CACHE;
    if (strip === 0 && this.textSeqs[cached] === seq) return this.texts[cached] as string;
    const slot = this.slot(seq);
    const kind = this.kinds[slot] as number;
    const key = this.keyAt(seq);
    const version = { hlc: this.hlcs[slot] as number, nodeId: this.writersById.idOf(this.writers[slot] as number) };
    let record: StoredRecord | Version | undefined = kind === CLEAR_KEY ? undefined : version;
    const valueLength = this.valueLengths[slot] as number;
    if (valueLength !== NO_VALUE) {
      const offset = (this.offsets[slot] as number) + (this.keyLengths[slot] as number);
      const value = this.chunkBytes(slot).toString('utf8', offset, offset + valueLength);
      const expiresAt = this.expiries[slot] as number;
      record = expiresAt === 0 ? { ...version, value } : { ...version, value, expiresAt };
    }
    const text = encodeChangeEvent(TYPES[kind] as ChangeEventType, key === undefined ? undefined : key.slice(strip), record, this.idOf(seq));
    if (strip === 0) {
      this.texts[cached] = text;
      this.textSeqs[cached] = seq;
    }
    return text;
  }

  /** Calls `listener` after each event is added; returns the function that stops it. */
  onAppend(listener: () => void): () => void {
    this.appended.add(listener);
    return () => this.appended.delete(listener);
  }

  /** Calls `listener` when the history breaks (a wipe): every id so far is expired. */
  onBreak(listener: () => void): () => void {
    this.broken.add(listener);
    return () => this.broken.delete(listener);
  }

  private slot(seq: number): number {
    return (seq - 1) % this.options.maxEvents;
  }

  private chunkBytes(slot: number): Buffer {
    return (this.chunks.get(this.chunkOf[slot] as number) as { bytes: Buffer }).bytes;
  }

  private onChange(change: StoreChange): void {
    if (!this.active) return;
    if (change.origin === 'wiped') {
      this.break();
      return;
    }
    if (change.type === 'clear') {
      // A clear that newer records survived sent a `clear` per key it removed, before this.
      if (change.emptied) this.append(CLEAR_ALL, undefined, change.watermark);
      return;
    }
    const { key, record, previous } = change;
    if (isReserved(key)) return;
    if (record === undefined) {
      // Removed by a clear, if it held a value; else a purged tombstone, which no reader saw.
      if (change.origin === 'cleared' && previous !== undefined && !previous.tombstone) this.append(CLEAR_KEY, key, undefined);
      return;
    }
    if (record.value !== null) {
      this.append(SET, key, record);
      return;
    }
    const expired = previous !== undefined && !previous.tombstone && previous.expiresAt !== undefined && previous.hlc === record.hlc && previous.nodeId === record.nodeId;
    this.append(expired ? EXPIRE : RM, key, record);
  }

  private append(kind: number, key: string | undefined, record: StoredRecord | Version | undefined): void {
    if (this.next - this.start >= this.options.maxEvents) this.dropOldest();
    const value = record !== undefined && 'value' in record ? record.value : null;
    const keyLength = key === undefined ? 0 : Buffer.byteLength(key);
    const valueLength = value === null ? 0 : Buffer.byteLength(value);
    const size = keyLength + valueLength;
    if (this.chunkUsed + size > CHUNK_BYTES) this.newChunk(size);
    while (this.bytes > this.options.maxBytes && this.next > this.start) this.dropOldest();
    const chunk = this.chunks.get(this.chunkNumber) as { bytes: Buffer; events: number };
    const slot = this.slot(this.next);
    if (slot >= this.capacity) this.grow();
    const offset = this.chunkUsed;
    if (key !== undefined) chunk.bytes.write(key, offset, 'utf8');
    if (value !== null) chunk.bytes.write(value, offset + keyLength, 'utf8');
    chunk.events++;
    this.chunkUsed += size;
    this.kinds[slot] = kind;
    this.hlcs[slot] = record?.hlc ?? 0;
    this.writers[slot] = record === undefined ? 0 : this.writersById.numberOf(record.nodeId);
    this.expiries[slot] = record !== undefined && 'expiresAt' in record && record.expiresAt !== undefined ? record.expiresAt : 0;
    this.chunkOf[slot] = this.chunkNumber;
    this.offsets[slot] = offset;
    this.keyLengths[slot] = key === undefined ? NO_VALUE : keyLength;
    this.valueLengths[slot] = value === null ? NO_VALUE : valueLength;
    this.next++;
    for (const listener of this.appended) listener();
  }

  /** Doubles the slots (up to WATCH_BUFFER_EVENTS): they fill in order, so only the first lap grows them. */
  private grow(): void {
    const capacity = Math.min(this.options.maxEvents, Math.max(1024, this.capacity * 2));
    this.kinds = resized(this.kinds, new Uint8Array(capacity));
    this.hlcs = resized(this.hlcs, new Float64Array(capacity));
    this.writers = resized(this.writers, new Uint32Array(capacity));
    this.expiries = resized(this.expiries, new Float64Array(capacity));
    this.chunkOf = resized(this.chunkOf, new Uint32Array(capacity));
    this.offsets = resized(this.offsets, new Uint32Array(capacity));
    this.keyLengths = resized(this.keyLengths, new Int32Array(capacity));
    this.valueLengths = resized(this.valueLengths, new Int32Array(capacity));
    this.capacity = capacity;
  }

  /** Starts a chunk for the next keys and values (one of its own for an event larger than a chunk). */
  private newChunk(size: number): void {
    const previous = this.chunks.get(this.chunkNumber);
    if (previous !== undefined && previous.events === 0) this.freeChunk(this.chunkNumber);
    const bytes = size <= CHUNK_BYTES && this.spare.length > 0 ? (this.spare.pop() as Buffer) : Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, size));
    this.chunkNumber++;
    this.chunks.set(this.chunkNumber, { bytes, events: 0 });
    this.chunkUsed = 0;
    this.bytes += bytes.length;
  }

  private freeChunk(number: number): void {
    const chunk = this.chunks.get(number);
    if (chunk === undefined) return;
    this.chunks.delete(number);
    this.bytes -= chunk.bytes.length;
    if (chunk.bytes.length === CHUNK_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(chunk.bytes);
  }

  private dropOldest(): void {
    const slot = this.slot(this.start);
    const number = this.chunkOf[slot] as number;
    const chunk = this.chunks.get(number);
    if (chunk !== undefined && --chunk.events === 0 && number !== this.chunkNumber) this.freeChunk(number);
    this.start++;
  }

  /** Forgets every event and starts a new epoch: ids given so far are expired. */
  private break(): void {
    while (this.next > this.start) this.dropOldest();
    this.resets++;
    this.epochText = `${this.base}.${this.resets}`;
    for (const listener of this.broken) listener();
  }
}
