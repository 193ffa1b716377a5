import type { RecordHead } from '../record/record';

/**
 * The heads (version, tombstone, expiry) of keys written or looked up lately, with null for
 * a key known to hold nothing: a write reads the head of the record it replaces (the store
 * compares versions, the digests and the expiry index change with it), and from LMDB that
 * read costs more than a write to memory does (about 2 µs of a /set, measured).
 *
 * Two generations of at most `capacity / 2` keys each: a head goes into the young one; when
 * it is full it becomes the old one and the old one is dropped whole. Every operation is a
 * map lookup or two (evicting one key at a time from a map's front costs a scan over the
 * holes its deletes leave: a load of new keys slowed by half, measured). A key in both
 * generations has its newer head in the young one, which is read first.
 */
export class HeadCache {
  private young = new Map<string, RecordHead | null>();
  private old = new Map<string, RecordHead | null>();
  private readonly generation: number;

  constructor(capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  /** The key's head; null when it holds nothing; undefined when not known here. */
  get(key: string): RecordHead | null | undefined {
    const head = this.young.get(key);
    return head === undefined ? this.old.get(key) : head;
  }

  set(key: string, head: RecordHead | null): void {
    if (this.young.size >= this.generation && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, head);
  }

  /** Keys held, at most the capacity (a key in both generations counts twice). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }
}
