import { randomBytes } from 'node:crypto';
import { type ChangeEventType, encodeChangeEvent } from '../record/codec';
import type { StoredRecord } from '../record/record';
import type { Version } from '../record/version';
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
/** Bytes counted per event beside its key and value (the slots of the log, the record). */
const EVENT_OVERHEAD = 64;
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
 * Cost on the write path: a few slots written per change; events are encoded only when
 * sent (`text`), and the text of the newest ones is kept for the next watcher.
 */
export class ChangeLog {
  private readonly kinds: number[] = [];
  private readonly keys: (string | undefined)[] = [];
  private readonly records: (StoredRecord | Version | undefined)[] = [];
  private readonly sizes: number[] = [];
  /** The text of recent events without a tenant's prefix, by slot, with the sequence it is of. */
  private readonly texts: (string | undefined)[] = [];
  private readonly textSeqs: number[] = [];
  /** Sequence of the oldest event kept, and of the next one. */
  private start = 1;
  private next = 1;
  private bytes = 0;
  private readonly base = randomBytes(6).readUIntBE(0, 6).toString(36);
  private resets = 0;
  private epochText: string;
  private readonly appended = new Set<() => void>();
  private readonly broken = new Set<() => void>();

  constructor(
    store: Store,
    private readonly options: ChangeLogOptions,
  ) {
    this.epochText = `${this.base}.0`;
    store.onChange((change) => this.onChange(change));
  }

  /** Events kept now. */
  get size(): number {
    return this.next - this.start;
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
    return this.keys[this.slot(seq)];
  }

  /** True when the event of `seq` is a clear of every key (every watcher gets it). */
  clearsAll(seq: number): boolean {
    return this.kinds[this.slot(seq)] === CLEAR_ALL;
  }

  /** The event of `seq` as JSON text, its key without the first `strip` characters (a tenant's prefix). */
  text(seq: number, strip: number): string {
    const slot = this.slot(seq);
    if (strip === 0 && this.textSeqs[slot] === seq) return this.texts[slot] as string;
    const key = this.keys[slot];
    const text = encodeChangeEvent(TYPES[this.kinds[slot] as number] as ChangeEventType, key === undefined ? undefined : key.slice(strip), this.records[slot], this.idOf(seq));
    if (strip === 0) {
      this.texts[slot] = text;
      this.textSeqs[slot] = seq;
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

  private onChange(change: StoreChange): void {
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
    const max = this.options.maxEvents;
    if (this.next - this.start >= max) this.dropOldest();
    const value = record !== undefined && 'value' in record ? record.value : null;
    const size = EVENT_OVERHEAD + 2 * ((key?.length ?? 0) + (value?.length ?? 0));
    while (this.bytes + size > this.options.maxBytes && this.next > this.start) this.dropOldest();
    const slot = this.slot(this.next);
    this.kinds[slot] = kind;
    this.keys[slot] = key;
    this.records[slot] = record;
    this.sizes[slot] = size;
    this.textSeqs[slot] = 0;
    this.texts[slot] = undefined;
    this.bytes += size;
    this.next++;
    for (const listener of this.appended) listener();
  }

  private dropOldest(): void {
    const slot = this.slot(this.start);
    this.bytes -= this.sizes[slot] as number;
    this.keys[slot] = undefined;
    this.records[slot] = undefined;
    this.texts[slot] = undefined;
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
