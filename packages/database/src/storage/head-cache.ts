import type { RecordHead } from '../record/record';

/**
 * The heads (version, tombstone, expiry) of keys written or looked up lately, with null for
 * a key known to hold nothing: a write reads the head of the record it replaces (the store
 * compares versions, the digests and the expiry index change with it), and from LMDB that
 * read costs more than a write to memory does (about 2 µs of a /set, measured). At most
 * `capacity` keys; past it the key kept longest is forgotten, and is read from LMDB again.
 */
export class HeadCache {
  private readonly heads = new Map<string, RecordHead | null>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.heads.size;
  }

  /** The key's head; null when it holds nothing; undefined when not known here. */
  get(key: string): RecordHead | null | undefined {
    return this.heads.get(key);
  }

  set(key: string, head: RecordHead | null): void {
    if (this.heads.size >= this.capacity && !this.heads.has(key)) {
      const oldest = this.heads.keys().next();
      if (oldest.done !== true) this.heads.delete(oldest.value);
    }
    this.heads.set(key, head);
  }

  clear(): void {
    this.heads.clear();
  }
}
