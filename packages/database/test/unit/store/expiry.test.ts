import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HybridClock, hlcFromMs } from '../../../src/clock/hlc';
import type { StorageAdapter } from '../../../src/storage/adapter';
import { LmdbAdapter } from '../../../src/storage/lmdb';
import { MemoryAdapter } from '../../../src/storage/memory';
import { Store } from '../../../src/store/store';

const T0 = 1_800_000_000_000;
const folders: string[] = [];
after(() => {
  for (const made of folders.splice(0)) fs.rmSync(made, { recursive: true, force: true });
});

const adapters: [string, () => StorageAdapter][] = [
  ['memory', () => new MemoryAdapter()],
  [
    'lmdb',
    () => {
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-expiry-'));
      folders.push(directory);
      return LmdbAdapter.open({ directory, durability: 'none', batchIntervalMs: 20 });
    },
  ],
];

for (const [name, create] of adapters) {
  describe(`Store: expiring keys (${name})`, () => {
    let now: number;
    let adapter: StorageAdapter;
    let store: Store;
    const make = (nodeId: string, into = create()): Store => new Store(into, new HybridClock(() => now), nodeId, { now: () => now, maxClockDriftMs: 60_000 });
    beforeEach(() => {
      now = T0;
      adapter = create();
      store = make('n1', adapter);
    });
    afterEach(() => adapter.close());

    it('hides a key at its expiry from every read: get, getJson, has, listings, scans, counts', () => {
      store.set('a', 'va', T0 + 1000);
      store.set('b', 'vb');
      expect(store.get('a')).to.equal('va');
      expect(store.liveCount).to.equal(2);
      now = T0 + 999;
      expect(store.getJson('a')).to.equal('"va"');
      now = T0 + 1000;
      expect(store.get('a')).to.equal(undefined);
      expect(store.getJson('a')).to.equal(undefined);
      expect(store.has('a')).to.equal(false);
      expect(store.liveRecord('a')).to.equal(undefined);
      expect([...store.liveEntries()]).to.deep.equal([['b', 'vb']]);
      expect([...store.liveEntries('a')]).to.deep.equal([]);
      expect(store.scan({ limit: 10 }).items.map(([key]) => key)).to.deep.equal(['b']);
      expect(store.liveCount).to.equal(1);
      // The record itself is still there for the mesh until swept.
      expect(store.getRecord('a')?.value).to.equal('va');
      expect(store.remove('a')).to.equal(undefined);
    });

    it('sweeps an expired value into a tombstone of the same version: digests unchanged, memory given back', () => {
      const written = store.set('a', 'va', T0 + 1000);
      store.set('b', 'vb', T0 + 5000);
      const before = store.digests.encode();
      now = T0 + 1000;
      expect(store.sweepExpired()).to.equal(1);
      expect(store.getRecord('a')).to.deep.equal({ value: null, hlc: written.hlc, nodeId: 'n1' });
      expect(store.digests.encode().equals(before)).to.equal(true);
      expect(store.tombstoneCount).to.equal(1);
      expect(store.expiredCount).to.equal(1);
      expect(store.liveCount).to.equal(1);
      expect(store.sweepExpired()).to.equal(0);
      now = T0 + 6000;
      expect(store.sweepExpired()).to.equal(1);
      expect(store.expiringCount).to.equal(0);
    });

    it('never takes an expired value back, from a copy of the same write or an older one', () => {
      const written = store.set('a', 'va', T0 + 1000);
      const older = { value: 'old', hlc: written.hlc - 1, nodeId: 'n2' };
      now = T0 + 1000;
      store.sweepExpired();
      expect(store.apply('a', written, 'repaired')).to.equal('stale');
      expect(store.apply('a', older, 'replicated')).to.equal('stale');
      expect(store.get('a')).to.equal(undefined);
      // And a node that has not swept takes the tombstone of the same version.
      const other = make('n2');
      other.apply('a', written, 'replicated');
      expect(other.apply('a', store.getRecord('a')!, 'repaired')).to.equal('applied');
      expect(other.digests.encode().equals(store.digests.encode())).to.equal(true);
    });

    it('replaces an expiry with setExpiry, removes it with setExpiry(undefined), and a plain set clears it', () => {
      store.set('a', 'va', T0 + 1000);
      const moved = store.setExpiry('a', T0 + 9000);
      expect(moved).to.include({ value: 'va', expiresAt: T0 + 9000 });
      now = T0 + 2000;
      expect(store.get('a')).to.equal('va');
      const kept = store.setExpiry('a', undefined);
      expect(kept?.expiresAt).to.equal(undefined);
      now = T0 + 10_000;
      expect(store.get('a')).to.equal('va');
      store.set('b', 'vb', T0 + 11_000);
      store.set('b', 'vb2');
      now = T0 + 20_000;
      expect(store.get('b')).to.equal('vb2');
      expect(store.setExpiry('missing', T0 + 30_000)).to.equal(undefined);
      store.set('c', 'vc', T0 + 20_001);
      now = T0 + 20_001;
      expect(store.setExpiry('c', T0 + 99_000)).to.equal(undefined);
    });

    it('judges expiry by the mesh time: a node whose clock is behind hides the key when the others do', () => {
      store.correctRemoteTime(() => 30_000); // this clock is 30 s behind the mesh
      store.set('a', 'va', T0 + 10_000);
      expect(store.get('a')).to.equal(undefined);
      expect(store.expiryNow()).to.equal(T0 + 30_000);
    });

    it('applies a replicated expiring record, and expires it by its own time', () => {
      store.apply('r', { value: 'x', hlc: hlcFromMs(T0), nodeId: 'n2', expiresAt: T0 + 500 }, 'replicated');
      expect(store.get('r')).to.equal('x');
      now = T0 + 500;
      expect(store.get('r')).to.equal(undefined);
      expect(store.sweepExpired()).to.equal(1);
    });

    it('scans live keys in code point order, a page at a time, saying whether more are left', () => {
      for (const key of ['b/2', 'a/1', 'b/1', 'b/3', 'c', 'b/0x']) store.set(key, key);
      store.remove('b/1');
      store.set('b/2', 'gone soon', T0 + 10);
      now = T0 + 10;
      const first = store.scan({ prefix: 'b/', limit: 1 });
      expect(first.items.map(([key]) => key)).to.deep.equal(['b/0x']);
      expect(first.more).to.equal(true);
      const second = store.scan({ prefix: 'b/', after: 'b/0x', limit: 1 });
      expect(second.items.map(([key]) => key)).to.deep.equal(['b/3']);
      expect(second.more).to.equal(false);
      expect(store.scan({ prefix: 'b/', after: 'a', limit: 10 }).items.map(([key]) => key)).to.deep.equal(['b/0x', 'b/3']);
      expect(store.scan({ after: 'b/3', limit: 10 }).items.map(([key]) => key)).to.deep.equal(['c']);
      expect(store.scan({ prefix: 'z', limit: 10 })).to.deep.equal({ items: [], more: false });
      expect(store.scan({ limit: 2 }).more).to.equal(true);
    });
  });
}
