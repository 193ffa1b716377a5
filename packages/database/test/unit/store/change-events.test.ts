import { expect } from 'chai';
import { HybridClock, hlcFromMs } from '../../../src/clock/hlc';
import { MemoryAdapter } from '../../../src/storage/memory';
import type { StoreChange } from '../../../src/store/change';
import { Store } from '../../../src/store/store';

function watched(): { store: Store; changes: StoreChange[] } {
  const store = new Store(new MemoryAdapter(), new HybridClock(() => 1000), 'n1', { now: () => 1000, tombstoneTtlMs: 100, maxClockDriftMs: 60_000 });
  const changes: StoreChange[] = [];
  store.onChange((change) => changes.push(change));
  return { store, changes };
}

describe('Store change events', () => {
  it('announces a local set, naming the version it replaced', () => {
    const { store, changes } = watched();
    const first = store.set('a', '1');
    const second = store.set('a', '2');
    expect(changes).to.deep.equal([
      { type: 'record', key: 'a', previous: undefined, record: first, origin: 'local' },
      { type: 'record', key: 'a', previous: { hlc: first.hlc, nodeId: 'n1', tombstone: false }, record: second, origin: 'local' },
    ]);
  });

  it('announces a remove as a tombstone, and nothing for a remove that changes nothing', () => {
    const { store, changes } = watched();
    const written = store.set('a', '1');
    const tombstone = store.remove('a');
    store.remove('a');
    store.remove('never');
    expect(changes.slice(1)).to.deep.equal([{ type: 'record', key: 'a', previous: { hlc: written.hlc, nodeId: 'n1', tombstone: false }, record: tombstone, origin: 'local' }]);
  });

  it('announces applied records with their origin, and nothing for stale or refused ones', () => {
    const { store, changes } = watched();
    const replicated = { value: 'r', hlc: hlcFromMs(900), nodeId: 'n2' };
    const repaired = { value: 's', hlc: hlcFromMs(901), nodeId: 'n3' };
    expect(store.apply('x', replicated, 'replicated')).to.equal('applied');
    expect(store.apply('y', repaired, 'repaired')).to.equal('applied');
    expect(store.apply('x', replicated, 'repaired')).to.equal('stale');
    expect(store.apply('z', { value: 'future', hlc: hlcFromMs(10_000_000), nodeId: 'n2' }, 'replicated')).to.equal('drift');
    expect(changes.map((c) => c.type === 'record' && [c.key, c.origin])).to.deep.equal([
      ['x', 'replicated'],
      ['y', 'repaired'],
    ]);
  });

  it('announces a clear that empties the store as one event, with no event per record', () => {
    const { store, changes } = watched();
    store.set('a', '1');
    store.set('b', '2');
    changes.length = 0;
    const watermark = store.clear();
    expect(changes).to.deep.equal([{ type: 'clear', watermark, emptied: true, origin: 'local' }]);
  });

  it('announces each record a partial clear removes, then the clear', () => {
    const { store, changes } = watched();
    store.apply('old', { value: '1', hlc: 10, nodeId: 'n2' }, 'replicated');
    store.apply('new', { value: '2', hlc: 30, nodeId: 'n2' }, 'replicated');
    changes.length = 0;
    store.applyClear({ hlc: 20, nodeId: 'n3' }, 'replicated');
    expect(changes).to.deep.equal([
      { type: 'record', key: 'old', previous: { hlc: 10, nodeId: 'n2', tombstone: false }, record: undefined, origin: 'cleared' },
      { type: 'clear', watermark: { hlc: 20, nodeId: 'n3' }, emptied: false, origin: 'replicated' },
    ]);
  });

  it('announces purged tombstones as expired, and a wipe as a clear without a watermark', () => {
    const { store, changes } = watched();
    store.apply('dead', { value: null, hlc: hlcFromMs(950), nodeId: 'n2' }, 'replicated');
    changes.length = 0;
    expect(store.purgeTombstones(hlcFromMs(960))).to.equal(1);
    expect(changes).to.deep.equal([{ type: 'record', key: 'dead', previous: { hlc: hlcFromMs(950), nodeId: 'n2', tombstone: true }, record: undefined, origin: 'expired' }]);
    changes.length = 0;
    store.set('a', '1');
    store.wipe();
    expect(changes.at(-1)).to.deep.equal({ type: 'clear', watermark: undefined, emptied: true, origin: 'wiped' });
  });

  it('keeps the digests equal to a rebuild from the records after any mix of changes', () => {
    const { store } = watched();
    store.set('a', '1');
    store.apply('b', { value: '2', hlc: 5, nodeId: 'n2' }, 'replicated');
    store.remove('a');
    store.applyClear({ hlc: 6, nodeId: 'n2' }, 'replicated');
    store.set('c', '3');
    const adapter = new MemoryAdapter();
    for (const [key, head] of store.heads()) adapter.set(key, { ...head, value: head.tombstone ? null : 'x' });
    const rebuilt = new Store(adapter, new HybridClock(() => 1000), 'n1');
    expect(rebuilt.digests.encode().equals(store.digests.encode())).to.equal(true);
  });
});
