import { expect } from 'chai';
import { HybridClock, hlcFromMs } from '../../../src/clock/hlc';
import type { StoredRecord } from '../../../src/record/record';
import { LmdbAdapter } from '../../../src/storage/lmdb';
import { MemoryAdapter } from '../../../src/storage/memory';
import type { StorageAdapter } from '../../../src/storage/adapter';
import type { RecordChange } from '../../../src/store/change';
import { isReserved, reservedKey, tenantOf } from '../../../src/store/namespace';
import { Store } from '../../../src/store/store';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const KEY = reservedKey('key', 'abcdef012345');

function storeOn(adapter: StorageAdapter, nodeId = 'n1', clock = () => 1000): Store {
  return new Store(adapter, new HybridClock(clock), nodeId, { maxKeyLength: 8, maxValueLength: 4 });
}

const remote = (value: string | null, ms: number, nodeId = 'n2'): StoredRecord => ({ value, hlc: hlcFromMs(ms), nodeId });

describe('Store: the reserved namespace and tenants', () => {
  it('names reserved keys with a lone surrogate no URL can carry, and tenants by what precedes the first "/"', () => {
    expect(isReserved(KEY)).to.equal(true);
    expect(isReserved('key/abc')).to.equal(false);
    expect(isReserved(new URLSearchParams('k=%ED%A0%80key').get('k') as string)).to.equal(false);
    expect(tenantOf('t1/a/b')).to.equal('t1');
    expect(tenantOf('/a')).to.equal(undefined);
    expect(tenantOf('a')).to.equal(undefined);
  });

  it('keeps its own records out of counts, listings and scans of client data', () => {
    const store = storeOn(new MemoryAdapter());
    store.set('a', '1');
    store.set(KEY, '{"a long record, past MAX_VALUE_LENGTH"}');
    expect(store.liveCount).to.equal(1);
    expect([...store.liveEntries()]).to.deep.equal([['a', '1']]);
    expect(store.scan({ limit: 10 }).items.map(([k]) => k)).to.deep.equal(['a']);
    expect(store.get(KEY)).to.equal('{"a long record, past MAX_VALUE_LENGTH"}');
    store.remove(KEY);
    expect(store.liveCount).to.equal(1);
  });

  it('takes its own records from elsewhere past the client limits, and a clear leaves them', () => {
    const store = storeOn(new MemoryAdapter());
    expect(store.apply(KEY, remote('{"name":"longer than four"}', 900), 'replicated')).to.equal('applied');
    store.set('a', '1');
    store.clear();
    expect(store.get('a')).to.equal(undefined);
    expect(store.get(KEY)).to.equal('{"name":"longer than four"}');
    expect(store.liveCount).to.equal(0);
    // A record of the namespace older than the clear is still taken (the clear is for client data).
    expect(store.apply(reservedKey('key', 'b'), remote('{}', 950), 'repaired')).to.equal('applied');
    expect(store.apply('b', remote('2', 950), 'repaired')).to.equal('stale');
  });

  it('clears one tenant: its records at or below the mark go, later ones and other tenants stay, older arrivals are refused', () => {
    let now = 1000;
    const store = storeOn(new MemoryAdapter(), 'n1', () => now);
    store.set('t1/a', '1');
    store.set('t2/a', '2');
    store.set('t1x', '3');
    now = 2000;
    const mark = store.clearTenant('t1');
    expect(isReserved(reservedKey('clear', 't1'))).to.equal(true);
    expect(store.tenantClear('t1')).to.deep.equal({ hlc: mark.hlc, nodeId: 'n1' });
    expect([...store.liveEntries()].map(([k]) => k).sort()).to.deep.equal(['t1x', 't2/a']);
    expect(store.apply('t1/b', remote('x', 1500), 'replicated')).to.equal('stale');
    expect(store.apply('t1/b', remote('y', 2500), 'replicated')).to.equal('applied');
    store.set('t1/c', '4');
    expect(store.get('t1/c')).to.equal('4');
  });

  it('applies a tenant clear from elsewhere: the records it covers are dropped there too, whatever the order', () => {
    const a = storeOn(new MemoryAdapter(), 'n1', () => 3000);
    a.apply('t1/a', remote('1', 1000), 'replicated');
    a.apply('t1/late', remote('2', 2500), 'replicated');
    const mark = remote('', 2000);
    expect(a.apply(reservedKey('clear', 't1'), mark, 'replicated')).to.equal('applied');
    expect([...a.liveEntries()].map(([k]) => k)).to.deep.equal(['t1/late']);
    // The other order: the mark first, then the old record.
    const b = storeOn(new MemoryAdapter(), 'n3', () => 3000);
    b.apply(reservedKey('clear', 't1'), mark, 'repaired');
    expect(b.apply('t1/a', remote('1', 1000), 'repaired')).to.equal('stale');
    b.apply('t1/late', remote('2', 2500), 'replicated');
    expect(b.digests.differing(a.digests)).to.deep.equal([]);
  });

  it('gives the previous value of the keys asked for with their changes, and nothing for the others', () => {
    const store = storeOn(new MemoryAdapter());
    const changes: RecordChange[] = [];
    store.onChange((change) => {
      if (change.type === 'record') changes.push(change);
    });
    store.trackValues((key) => key.startsWith('t1/'));
    store.set('t1/a', 'x');
    store.set('t1/a', 'yy');
    store.remove('t1/a');
    store.set('b', '1');
    store.set('b', '2');
    expect(changes.map((change) => change.previousValue)).to.deep.equal([undefined, 'x', 'yy', undefined, undefined]);
  });

  it('finds its reserved records and tenant marks again when reopened (LMDB)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'meshkv-namespace-'));
    try {
      const first = LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 10, minFreeBytes: 0 });
      const store = storeOn(first);
      store.set(KEY, '{}');
      store.set('t1/a', '1');
      store.clearTenant('t1');
      store.set('x', '1');
      await first.close();
      const again = storeOn(LmdbAdapter.open({ directory, durability: 'sync', batchIntervalMs: 10, minFreeBytes: 0 }));
      expect(again.liveCount).to.equal(1);
      expect(again.tenantClear('t1')).to.not.equal(undefined);
      expect(again.apply('t1/old', remote('1', 500), 'replicated')).to.equal('stale');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
