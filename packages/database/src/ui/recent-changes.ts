import type { ShownChange } from '@meshkv/client';
import type { StoreChange } from '../store/change';
import { isReserved } from '../store/namespace';
import type { Store } from '../store/store';

/** Changes kept for a page that opens, and longest key shown. */
const KEPT = 50;
const KEY_SHOWN = 80;

/**
 * The last changes the store applied, for the cluster page's feed. It listens to the store
 * always, but keeps anything only while a page watches (`watch`), so a node without an open
 * page pays one function call per change.
 */
export class RecentChanges {
  private readonly kept: ShownChange[] = [];
  private fresh: ShownChange[] = [];
  private watchers = 0;

  constructor(
    store: Store,
    private readonly now: () => number,
  ) {
    store.onChange((change) => {
      if (this.watchers > 0) this.note(change);
    });
  }

  /** A page opened; the returned function says it closed. */
  watch(): () => void {
    this.watchers++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      if (--this.watchers === 0) {
        this.kept.length = 0;
        this.fresh = [];
      }
    };
  }

  /** The changes kept, oldest first. */
  recent(): readonly ShownChange[] {
    return [...this.kept];
  }

  /** The changes since the last call, oldest first (at most KEPT). */
  takeFresh(): ShownChange[] {
    const fresh = this.fresh;
    this.fresh = [];
    return fresh;
  }

  private note(change: StoreChange): void {
    let shown: ShownChange;
    if (change.type === 'clear') {
      shown = { at: this.now(), op: 'clear', origin: change.origin };
    } else {
      if (isReserved(change.key)) return;
      const op = change.record === undefined ? 'gone' : change.record.value === null ? 'rm' : 'set';
      const key = change.key.length > KEY_SHOWN ? [...change.key].slice(0, KEY_SHOWN).join('') : change.key;
      shown = { at: this.now(), op, key, origin: change.origin };
    }
    this.kept.push(shown);
    if (this.kept.length > KEPT) this.kept.shift();
    this.fresh.push(shown);
    if (this.fresh.length > KEPT) this.fresh.shift();
  }
}
