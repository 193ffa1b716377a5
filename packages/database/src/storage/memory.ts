import type { StorageAdapter, StoredRecord } from './adapter';

/** Keeps everything in a Map: fast, and gone when the process ends. */
export class MemoryAdapter implements StorageAdapter {
  readonly name = 'memory';
  private readonly records = new Map<string, StoredRecord>();
  private readonly meta = new Map<string, string>();

  get size(): number {
    return this.records.size;
  }

  get(key: string): StoredRecord | undefined {
    return this.records.get(key);
  }

  set(key: string, record: StoredRecord): void {
    this.records.set(key, record);
  }

  delete(key: string): boolean {
    return this.records.delete(key);
  }

  clear(): void {
    this.records.clear();
  }

  entries(): IterableIterator<[string, StoredRecord]> {
    return this.records.entries();
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
}
