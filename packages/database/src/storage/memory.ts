import type { StorageAdapter, StoredRecord } from './adapter';

const INITIAL_CAPACITY = 1024;

/**
 * Keeps everything in memory, gone when the process ends. Laid out for size, because a
 * node may hold millions of small records:
 *
 * - `slots` maps each key to a slot number; a slot's value sits in `values` (null for a
 *   tombstone), its HLC in a Float64Array and its writer in a Uint32Array of indexes into
 *   an interned table of node ids. One object per record would cost about 64 more bytes
 *   (object header, fields and a boxed double for the HLC).
 * - Strings that arrive from a request are often slices of the request URL, and a slice
 *   keeps the whole URL alive; long keys and values are copied flat before they are kept.
 *
 * Freed slots are reused. `get` and `entries` build record objects on demand: short-lived
 * objects are cheap for the garbage collector; long-lived ones are what costs memory.
 */
export class MemoryAdapter implements StorageAdapter {
  readonly name = 'memory';
  private readonly slots = new Map<string, number>();
  private values: (string | null)[] = [];
  private hlcs = new Float64Array(INITIAL_CAPACITY);
  private writers = new Uint32Array(INITIAL_CAPACITY);
  private readonly freeSlots: number[] = [];
  private readonly nodeIds: string[] = [];
  private readonly nodeIndex = new Map<string, number>();
  private readonly meta = new Map<string, string>();

  get size(): number {
    return this.slots.size;
  }

  get(key: string): StoredRecord | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.recordAt(slot);
  }

  set(key: string, record: StoredRecord): void {
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.allocate();
      this.slots.set(flatten(key), slot);
    }
    this.values[slot] = record.value === null ? null : flatten(record.value);
    this.hlcs[slot] = record.hlc;
    this.writers[slot] = this.intern(record.nodeId);
  }

  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    this.slots.delete(key);
    this.values[slot] = null;
    this.freeSlots.push(slot);
    return true;
  }

  clear(): void {
    this.slots.clear();
    this.values = [];
    this.freeSlots.length = 0;
    this.hlcs = new Float64Array(INITIAL_CAPACITY);
    this.writers = new Uint32Array(INITIAL_CAPACITY);
  }

  *entries(): IterableIterator<[string, StoredRecord]> {
    for (const [key, slot] of this.slots) yield [key, this.recordAt(slot)];
  }

  getMeta(name: string): string | undefined {
    return this.meta.get(name);
  }

  setMeta(name: string, value: string): void {
    this.meta.set(name, value);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private recordAt(slot: number): StoredRecord {
    return {
      value: this.values[slot] ?? null,
      hlc: this.hlcs[slot] as number,
      nodeId: this.nodeIds[this.writers[slot] as number] as string,
    };
  }

  private allocate(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.values.length;
    this.values.push(null);
    if (slot >= this.hlcs.length) {
      const hlcs = new Float64Array(this.hlcs.length * 2);
      hlcs.set(this.hlcs);
      this.hlcs = hlcs;
      const writers = new Uint32Array(this.writers.length * 2);
      writers.set(this.writers);
      this.writers = writers;
    }
    return slot;
  }

  private intern(nodeId: string): number {
    let index = this.nodeIndex.get(nodeId);
    if (index === undefined) {
      index = this.nodeIds.length;
      this.nodeIds.push(nodeId);
      this.nodeIndex.set(nodeId, index);
    }
    return index;
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
