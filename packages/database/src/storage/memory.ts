import BTree from 'sorted-btree';
import { compareKeys } from '../record/key-order';
import type { RecordHead, StoredRecord } from '../record/record';
import { resized, Writers } from '../record/version-columns';
import { compareExpiring, type Expiring, type StorageAdapter } from './adapter';
import { KeySlots } from './key-slots';
import { ValueArena } from './value-arena';

const INITIAL_CAPACITY = 1024;
/** `lengths[slot]` for a tombstone. */
const TOMBSTONE = 0xffffffff;
/** `lengths[slot]` for a value whose JSON text is a JavaScript string in `heapValues`. */
const ON_HEAP = 0xfffffffe;
/** Keys taken from an index at once by an iteration, which then goes on from the last. */
const INDEX_CHUNK = 256;
/** Keys per node of the ordered index: 64 costs about 10 bytes a key (32: 14). */
const ORDER_NODE_SIZE = 64;

/**
 * Keeps everything in memory, gone when the process ends. Laid out for size, because a
 * node may hold millions of small records:
 *
 * - `slots` (KeySlots) maps each key to a slot number. A slot's value is kept as its JSON text, in
 *   UTF-8, in a `ValueArena` outside the JavaScript heap (position and byte length in
 *   typed arrays); its HLC sits in a Float64Array and its writer in a Uint32Array of
 *   indexes into an interned table of node ids. One object and one string per record
 *   would cost about 150 more bytes.
 * - JSON text because `/get` answers with exactly that (`getJson` is one read, no
 *   encoding), and because it is always well-formed UTF-16: a lone surrogate becomes
 *   `\udXXX`, so every value survives the UTF-8 round trip unchanged.
 * - JSON longer than an arena chunk stays a JavaScript string in `heapValues`.
 * - Keys that arrive from a request are often slices of the request URL, and a slice
 *   keeps the whole URL alive; long keys are copied flat before they are kept.
 *
 * - The keys are also in a B+ tree (sorted-btree) in code point order, for ranges; as a
 *   set, its leaves share one array of values. Keys that expire are in a second tree
 *   ordered by expiry, and their expiry in a map by slot.
 *
 * Freed slots are reused; the arena is compacted when more than half of it is garbage.
 * `get` and `entries` build record objects on demand: short-lived objects are cheap for
 * the garbage collector; long-lived ones are what costs memory.
 */
export class MemoryAdapter implements StorageAdapter {
  readonly name = 'memory';
  /** Memory has no disk to fill. */
  readonly fault = undefined;
  private readonly slots = new KeySlots();
  private slotCount = 0;
  private arena: ValueArena;
  private positions = new Float64Array(INITIAL_CAPACITY);
  private lengths = new Uint32Array(INITIAL_CAPACITY);
  private hlcs = new Float64Array(INITIAL_CAPACITY);
  private writers = new Uint32Array(INITIAL_CAPACITY);
  /** Slot to expiry, for the records that expire only: most do not, and 8 bytes each would be 8 MB per million. */
  private readonly expiries = new Map<number, number>();
  private order = new BTree<string, undefined>(undefined, compareKeys, ORDER_NODE_SIZE);
  private byExpiry = new BTree<Expiring, undefined>(undefined, compareExpiring);
  private readonly heapValues = new Map<number, string>();
  /** UTF-16 units of the JSON texts in `heapValues`. */
  private heapUnits = 0;
  private readonly freeSlots: number[] = [];
  private readonly writersById = new Writers();
  private readonly meta = new Map<string, string>();

  constructor(private readonly chunkBytes?: number) {
    this.arena = new ValueArena(chunkBytes);
  }

  get size(): number {
    return this.slots.size;
  }

  get(key: string): StoredRecord | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.recordAt(slot);
  }

  head(key: string): RecordHead | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.headAt(slot);
  }

  getJson(key: string, now?: number): string | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    if (now !== undefined && this.expiries.size > 0) {
      const expiresAt = this.expiries.get(slot);
      if (expiresAt !== undefined && expiresAt <= now) return undefined;
    }
    return this.jsonAt(slot) ?? undefined;
  }

  set(key: string, record: StoredRecord): void {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      const kept = flatten(key);
      this.slots.add(kept, slot);
      this.order.set(kept, undefined);
    } else {
      this.releaseValue(slot);
    }
    this.storeValue(slot, record.value);
    this.hlcs[slot] = record.hlc;
    this.writers[slot] = this.writersById.numberOf(record.nodeId);
    const before = this.expiries.size === 0 ? undefined : this.expiries.get(slot);
    const after = record.value === null ? undefined : record.expiresAt;
    if (before !== after) {
      if (before !== undefined) this.byExpiry.delete({ expiresAt: before, key });
      if (after === undefined) {
        this.expiries.delete(slot);
      } else {
        this.byExpiry.set({ expiresAt: after, key: flatten(key) }, undefined);
        this.expiries.set(slot, after);
      }
    }
    if (this.arena.shouldCompact()) this.compact();
  }

  delete(key: string): boolean {
    const slot = this.slots.delete(key);
    if (slot === undefined) return false;
    this.order.delete(key);
    const expiresAt = this.expiries.get(slot);
    if (expiresAt !== undefined) {
      this.byExpiry.delete({ expiresAt, key });
      this.expiries.delete(slot);
    }
    this.releaseValue(slot);
    this.lengths[slot] = TOMBSTONE;
    this.freeSlots.push(slot);
    return true;
  }

  clear(): void {
    this.slots.clear();
    this.heapValues.clear();
    this.heapUnits = 0;
    this.freeSlots.length = 0;
    this.slotCount = 0;
    this.arena = new ValueArena(this.chunkBytes);
    this.positions = new Float64Array(INITIAL_CAPACITY);
    this.lengths = new Uint32Array(INITIAL_CAPACITY);
    this.hlcs = new Float64Array(INITIAL_CAPACITY);
    this.writers = new Uint32Array(INITIAL_CAPACITY);
    this.expiries.clear();
    this.order = new BTree<string, undefined>(undefined, compareKeys, ORDER_NODE_SIZE);
    this.byExpiry = new BTree<Expiring, undefined>(undefined, compareExpiring);
  }

  /**
   * Takes INDEX_CHUNK keys of the tree at a time and goes on from the last one with a
   * fresh iterator: a tree's iterator must not outlive a change to the tree, and writes
   * may come between two steps of the caller.
   */
  *range(from: string, exclusive = false): IterableIterator<[string, StoredRecord]> {
    let start = from;
    let skip = exclusive;
    for (;;) {
      const chunk: string[] = [];
      for (const key of this.order.keys(start)) {
        if (skip && chunk.length === 0 && key === start) continue;
        chunk.push(key);
        if (chunk.length === INDEX_CHUNK) break;
      }
      for (const key of chunk) {
        const record = this.get(key);
        if (record !== undefined) yield [key, record];
      }
      if (chunk.length < INDEX_CHUNK) return;
      start = chunk[chunk.length - 1] as string;
      skip = true;
    }
  }

  get expiringCount(): number {
    return this.byExpiry.size;
  }

  *expiring(until: number): IterableIterator<Expiring> {
    let start: Expiring | undefined;
    for (;;) {
      const chunk: Expiring[] = [];
      for (const entry of this.byExpiry.keys(start)) {
        if (entry.expiresAt > until) break;
        if (start !== undefined && chunk.length === 0 && compareExpiring(entry, start) === 0) continue;
        chunk.push(entry);
        if (chunk.length === INDEX_CHUNK) break;
      }
      yield* chunk;
      if (chunk.length < INDEX_CHUNK) return;
      start = chunk[chunk.length - 1];
    }
  }


  *entries(): IterableIterator<[string, StoredRecord]> {
    for (const [key, slot] of this.slots.entries()) yield [key, this.recordAt(slot)];
  }

  *heads(): IterableIterator<[string, RecordHead]> {
    for (const [key, slot] of this.slots.entries()) yield [key, this.headAt(slot)];
  }

  getMeta(name: string): string | undefined {
    return this.meta.get(name);
  }

  setMeta(name: string, value: string): void {
    this.meta.set(name, value);
  }

  checkDisk(): void {
    // No disk.
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The values' bytes: UTF-8 in the arena, and about 2 a unit for the rare JSON too long for it (keys and versions not counted). */
  get storedBytes(): number {
    return this.arena.liveBytes + 2 * this.heapUnits;
  }

  /** Bytes of values outside the JavaScript heap: live, and allocated in chunks. */
  arenaBytes(): { live: number; allocated: number } {
    return { live: this.arena.liveBytes, allocated: this.arena.allocatedBytes };
  }

  private recordAt(slot: number): StoredRecord {
    const value = this.valueAt(slot);
    const hlc = this.hlcs[slot] as number;
    const nodeId = this.writersById.idOf(this.writers[slot] as number);
    const expiresAt = this.expiries.size === 0 ? undefined : this.expiries.get(slot);
    return expiresAt === undefined ? { value, hlc, nodeId } : { value, hlc, nodeId, expiresAt };
  }

  private headAt(slot: number): RecordHead {
    const hlc = this.hlcs[slot] as number;
    const nodeId = this.writersById.idOf(this.writers[slot] as number);
    const tombstone = this.lengths[slot] === TOMBSTONE;
    const expiresAt = this.expiries.size === 0 ? undefined : this.expiries.get(slot);
    return expiresAt === undefined ? { hlc, nodeId, tombstone } : { hlc, nodeId, tombstone, expiresAt };
  }

  private valueAt(slot: number): string | null {
    const json = this.jsonAt(slot);
    return json === null ? null : (JSON.parse(json) as string);
  }

  private jsonAt(slot: number): string | null {
    const length = this.lengths[slot] as number;
    if (length === TOMBSTONE) return null;
    if (length === ON_HEAP) return this.heapValues.get(slot) as string;
    return this.arena.read(this.positions[slot] as number, length);
  }

  private storeValue(slot: number, value: string | null): void {
    if (value === null) {
      this.lengths[slot] = TOMBSTONE;
      return;
    }
    const json = JSON.stringify(value);
    if (json.length > this.arena.maxChars) {
      this.heapValues.set(slot, json);
      this.heapUnits += json.length;
      this.lengths[slot] = ON_HEAP;
    } else {
      this.positions[slot] = this.arena.write(json);
      this.lengths[slot] = this.arena.lastLength;
    }
  }

  private releaseValue(slot: number): void {
    const length = this.lengths[slot] as number;
    if (length === ON_HEAP) {
      this.heapUnits -= (this.heapValues.get(slot) as string).length;
      this.heapValues.delete(slot);
    } else if (length !== TOMBSTONE) this.arena.release(length);
  }

  /** Copies every live value into a fresh arena; the old one's chunks are then garbage. */
  private compact(): void {
    const fresh = new ValueArena(this.chunkBytes);
    for (const slot of this.slots.slots()) {
      const length = this.lengths[slot] as number;
      if (length === TOMBSTONE || length === ON_HEAP) continue;
      this.positions[slot] = fresh.copyFrom(this.arena, this.positions[slot] as number, length);
    }
    this.arena = fresh;
  }

  private allocate(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.slotCount++;
    if (slot >= this.hlcs.length) this.grow(this.hlcs.length * 2);
    return slot;
  }

  private grow(capacity: number): void {
    this.positions = resized(this.positions, new Float64Array(capacity));
    this.lengths = resized(this.lengths, new Uint32Array(capacity));
    this.hlcs = resized(this.hlcs, new Float64Array(capacity));
    this.writers = resized(this.writers, new Uint32Array(capacity));
  }
}

/**
 * A copy of `text` that holds no reference to a larger string. V8 shares the characters
 * of a substring of 13 or more characters with its parent; the UTF-8 round trip makes a
 * fresh string. Strings with lone surrogates would not survive UTF-8, so they are kept
 * as they are (they cannot come from a valid query string).
 */
function flatten(text: string): string {
  if (text.length < 13 || !text.isWellFormed()) return text;
  return Buffer.from(text, 'utf8').toString('utf8');
}
