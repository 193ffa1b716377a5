import { resized } from '../record/version-columns';

/** The table doubles once more than this share of it is used. */
const MAX_LOAD = 0.5;
const INITIAL_TABLE = 1024;
/** `table[i]` for a free place; otherwise it holds slot + 1. */
const FREE = 0;

/**
 * Which slot each key is in, for the memory adapter: the keys in a plain array by slot
 * (one reference each, shared with the ordered index), and an open-addressing table of
 * slot numbers (linear probing, at most half full) in an Int32Array.
 *
 * A `Map` would do the same in about 29 bytes a key, as one hash table that doubles as it
 * fills: at 1,000,000 keys 29.4 MB, and when it last doubled it left the 14.7 MB of the
 * table before as garbage, which full collections may not take for a long time (V8's
 * large-object space, measured). Here a key costs 8 to 12 bytes of the array, and 4 to 8
 * of hashes and 8 to 16 of the table, outside the JavaScript heap.
 */
export class KeySlots {
  private table: Int32Array;
  private keys: (string | undefined)[] = [];
  /** Each slot's key's hash: a probe compares it before the key, and a resize needs no key. */
  private hashes = new Int32Array(INITIAL_TABLE / 2);
  private count = 0;

  /** `initialSize`: places in the table at first, a power of two (tests take few, to wrap around). */
  constructor(private readonly initialSize = INITIAL_TABLE) {
    this.table = new Int32Array(initialSize);
  }

  get size(): number {
    return this.count;
  }

  get(key: string): number | undefined {
    const found = this.place(key);
    return found < 0 ? undefined : (this.table[found] as number) - 1;
  }

  /** Puts `key` (not held) in `slot` (not used). */
  add(key: string, slot: number): void {
    if (this.count + 1 > this.table.length * MAX_LOAD) this.resize(this.table.length * 2);
    while (this.keys.length < slot) this.keys.push(undefined);
    this.keys[slot] = key;
    if (slot >= this.hashes.length) this.hashes = resized(this.hashes, new Int32Array(Math.max(slot + 1, this.hashes.length * 2)));
    const hash = hashKey(key);
    this.hashes[slot] = hash;
    this.insert(hash, slot + 1);
    this.count++;
  }

  /** Takes `key` out; returns the slot it was in. */
  delete(key: string): number | undefined {
    let hole = this.place(key);
    if (hole < 0) return undefined;
    const { table, keys, hashes } = this;
    const slot = (table[hole] as number) - 1;
    keys[slot] = undefined;
    this.count--;
    // Backward shift: an entry after the hole moves into it unless its own place is
    // between the hole and where it is now (probing from there would not pass the hole).
    const mask = table.length - 1;
    table[hole] = FREE;
    for (let i = (hole + 1) & mask; table[i] !== FREE; i = (i + 1) & mask) {
      const entry = table[i] as number;
      const home = (hashes[entry - 1] as number) & mask;
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        table[hole] = entry;
        table[i] = FREE;
        hole = i;
      }
    }
    return slot;
  }

  clear(): void {
    this.table = new Int32Array(this.initialSize);
    this.hashes = new Int32Array(INITIAL_TABLE / 2);
    this.keys = [];
    this.count = 0;
  }

  /**
   * The keys with their slots, in slot order. Writes may come between two steps (see
   * StorageAdapter.entries); `this.keys` is read at each step, so a clear ends it.
   */
  *entries(): IterableIterator<[string, number]> {
    for (let slot = 0; slot < this.keys.length; slot++) {
      const key = this.keys[slot];
      if (key !== undefined) yield [key, slot];
    }
  }

  *slots(): IterableIterator<number> {
    for (const [, slot] of this.entries()) yield slot;
  }

  /** Where in the table `key` is, or -1. */
  private place(key: string): number {
    const { table, keys, hashes } = this;
    const mask = table.length - 1;
    const hash = hashKey(key);
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = table[i] as number;
      if (entry === FREE) return -1;
      if (hashes[entry - 1] === hash && keys[entry - 1] === key) return i;
    }
  }

  private insert(hash: number, entry: number): void {
    const table = this.table;
    const mask = table.length - 1;
    let i = hash & mask;
    while (table[i] !== FREE) i = (i + 1) & mask;
    table[i] = entry;
  }

  private resize(size: number): void {
    this.table = new Int32Array(size);
    const { keys, hashes } = this;
    for (let slot = 0; slot < keys.length; slot++) {
      if (keys[slot] !== undefined) this.insert(hashes[slot] as number, slot + 1);
    }
  }
}

/** FNV-1a over the UTF-16 code units, then mixed so that the low bits take from every unit. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h;
}
