import type { StoreChange } from '../store/change';
import { isReserved, type ReservedKind, reservedPrefix } from '../store/namespace';
import type { Store } from '../store/store';

/**
 * The node's own records of one kind (API keys, tenant quotas), read from the store's
 * reserved namespace into memory and kept up to date by its change events, whatever
 * their origin (written here, replicated, repaired, dropped): a key created or revoked on
 * another node counts here as soon as its record arrives. Each record is parsed once per
 * version; a record that does not parse is left out (never trusted blindly).
 */
export class ReservedIndex<T> {
  private readonly items = new Map<string, T>();
  private readonly prefix: string;

  constructor(
    private readonly store: Store,
    kind: ReservedKind,
    private readonly parse: (text: string) => T | undefined,
  ) {
    this.prefix = reservedPrefix(kind);
    this.reload();
    store.onChange((change) => this.track(change));
  }

  get(name: string): T | undefined {
    return this.items.get(name);
  }

  /** Every item, by name in code point order. */
  entries(): [string, T][] {
    return [...this.items].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  get size(): number {
    return this.items.size;
  }

  /** The store key of `name`. */
  keyOf(name: string): string {
    return this.prefix + name;
  }

  private track(change: StoreChange): void {
    if (change.type === 'clear') {
      if (change.emptied) this.reload();
      return;
    }
    if (!isReserved(change.key) || !change.key.startsWith(this.prefix)) return;
    const name = change.key.slice(this.prefix.length);
    const value = change.record?.value;
    const item = value === undefined || value === null ? undefined : this.parse(value);
    if (item === undefined) this.items.delete(name);
    else this.items.set(name, item);
  }

  private reload(): void {
    this.items.clear();
    for (const [key, record] of this.store.scanReserved(this.prefix)) {
      const item = record.value === null ? undefined : this.parse(record.value);
      if (item !== undefined) this.items.set(key.slice(this.prefix.length), item);
    }
  }
}
