import { expect } from 'chai';
import { HybridClock, hlcFromMs } from '../../../src/clock/hlc';
import { MemoryAdapter } from '../../../src/storage/memory';
import { reservedKey, tenantPrefix } from '../../../src/store/namespace';
import { Store } from '../../../src/store/store';
import { ChangeLog, logFilter } from '../../../src/watch/change-log';

function setup(options: { maxEvents?: number; maxBytes?: number } = {}): { store: Store; log: ChangeLog; events: () => Record<string, unknown>[]; tick: (ms: number) => void } {
  let now = 1_000_000;
  const store = new Store(new MemoryAdapter(), new HybridClock(() => now), 'n1', { now: () => now, tombstoneTtlMs: 10_000 });
  const log = new ChangeLog(store, { maxEvents: options.maxEvents ?? 1000, maxBytes: options.maxBytes ?? 1024 * 1024 });
  log.activate();
  const events = (): Record<string, unknown>[] => {
    const all: Record<string, unknown>[] = [];
    for (let seq = log.first; seq <= log.last; seq++) all.push(JSON.parse(log.text(seq, 0)) as Record<string, unknown>);
    return all;
  };
  return { store, log, events, tick: (ms) => (now += ms) };
}

describe('ChangeLog', () => {
  it('keeps nothing until the first watch: nobody can hold an id to continue after', () => {
    const store = new Store(new MemoryAdapter(), new HybridClock(() => 1000), 'n1');
    const log = new ChangeLog(store, { maxEvents: 10, maxBytes: 1024 * 1024 });
    store.set('a', '1');
    expect([log.size, log.last, log.heldBytes]).to.deep.equal([0, 0, 0]);
    log.activate();
    store.set('b', '1');
    expect([log.size, log.last, log.keyAt(1)]).to.deep.equal([1, 1, 'b']);
  });

  it('makes one event per applied change: set, rm, and expire for a swept value, with the version of the value', () => {
    const { store, events, tick } = setup();
    const written = store.set('a', '1', 1_000_500);
    store.set('b', '2');
    store.remove('b');
    tick(1000);
    expect(store.sweepExpired()).to.equal(1);
    const got = events();
    expect(got.map((e) => [e.type, e.k])).to.deep.equal([['set', 'a'], ['set', 'b'], ['rm', 'b'], ['expire', 'a']]);
    expect(got[0]).to.include({ v: '1', expiresAt: 1_000_500 });
    expect(got[3]?.version, 'an expiry carries the version of the value that expired').to.equal(got[0]?.version);
    expect(got[3]).to.not.have.property('v');
    expect(written.expiresAt).to.equal(1_000_500);
  });

  it('takes the expired form of a value from a peer as its expiry, and a tombstone of another version as a delete', () => {
    const { store, events } = setup();
    const value = { value: 'x', hlc: hlcFromMs(999_000), nodeId: 'n2', expiresAt: 999_500 };
    store.apply('k', value, 'replicated');
    store.apply('k', { value: null, hlc: value.hlc, nodeId: 'n2' }, 'repaired');
    store.apply('k', { value: null, hlc: hlcFromMs(999_900), nodeId: 'n3' }, 'repaired');
    expect(events().map((e) => e.type)).to.deep.equal(['set', 'expire', 'rm']);
  });

  it('never makes two events for one version: a record applied again is stale and says nothing', () => {
    const { store, log } = setup();
    const record = { value: 'x', hlc: hlcFromMs(999_000), nodeId: 'n2' };
    store.apply('k', record, 'replicated');
    store.apply('k', record, 'repaired');
    store.apply('k', { ...record, hlc: hlcFromMs(998_000) }, 'repaired');
    expect(log.size).to.equal(1);
  });

  it('makes one clear without a key for a clear that empties the store, and a clear per key when newer records survive', () => {
    const { store, events } = setup();
    store.set('a', '1');
    store.clear();
    expect(events().map((e) => [e.type, e.k ?? null])).to.deep.equal([['set', 'a'], ['clear', null]]);

    const other = setup();
    other.store.set('old', '1');
    other.store.apply('new', { value: '2', hlc: hlcFromMs(1_000_900), nodeId: 'n2' }, 'replicated');
    other.store.applyClear({ hlc: hlcFromMs(1_000_500), nodeId: 'n2' }, 'replicated');
    expect(other.events().map((e) => [e.type, e.k ?? null])).to.deep.equal([['set', 'old'], ['set', 'new'], ['clear', 'old']]);
  });

  it("tells a tenant's clear as a clear of each of its keys, and never tells the node's own records", () => {
    const { store, events } = setup();
    const prefix = tenantPrefix('t1');
    store.set(`${prefix}a`, '1');
    store.set('plain', '2');
    store.clearTenant('t1');
    store.set(reservedKey('key', 'abc'), '{}');
    expect(events().map((e) => [e.type, e.k])).to.deep.equal([['set', `${prefix}a`], ['set', 'plain'], ['clear', `${prefix}a`]]);
  });

  it('says nothing when a tombstone is purged: no reader saw it', () => {
    const { store, log, tick } = setup();
    store.set('a', '1');
    store.remove('a');
    tick(60_000);
    expect(store.purgeExpiredTombstones()).to.equal(1);
    expect(log.size).to.equal(2);
  });

  it('continues after an id it holds, and refuses ids of another epoch, older than the ring, or not ids at all', () => {
    const { store, log } = setup({ maxEvents: 3 });
    const start = log.idOf(log.last);
    expect(log.after(start)).to.equal(0);
    for (const k of ['a', 'b', 'c', 'd']) store.set(k, '1');
    expect(log.size).to.equal(3);
    expect(log.after(log.idOf(1)), 'the event after 1 is kept').to.equal(1);
    expect(log.after(start), 'event 1 left the ring').to.equal('expired');
    expect(log.after(log.idOf(4))).to.equal(4);
    expect(log.after(log.idOf(5)), 'an id from the future').to.equal('expired');
    expect(log.after(`zzzz.0-2`)).to.equal('expired');
    expect(log.after('2')).to.equal('invalid');
    expect(log.after('')).to.equal('invalid');
    expect(log.after(`${log.epoch}-x`)).to.equal('invalid');
  });

  it('drops the oldest events past WATCH_BUFFER_MB, whatever their count', () => {
    const { store, log } = setup({ maxEvents: 1000, maxBytes: 1000 });
    for (let i = 0; i < 10; i++) store.set(`k${i}`, 'v'.repeat(100));
    expect(log.size).to.be.within(1, 4);
    expect(log.last).to.equal(10);
    expect(log.keyAt(log.last)).to.equal('k9');
  });

  it('starts a new epoch when the node wipes its data: every id so far expires and listeners hear of it', () => {
    const { store, log } = setup();
    store.set('a', '1');
    const id = log.idOf(log.last);
    let broken = 0;
    log.onBreak(() => broken++);
    store.wipe();
    expect(broken).to.equal(1);
    expect(log.after(id)).to.equal('expired');
    expect(log.size).to.equal(0);
    store.set('b', '1');
    expect(log.after(log.idOf(log.last - 1))).to.equal(log.last - 1);
  });

  it('keeps keys and values as UTF-8 and matches prefixes by their bytes, whatever the characters', () => {
    const { store, log } = setup();
    store.set('𤭢/städte', 'Zürich 🌍');
    store.set('𤭢x', '1');
    store.set('plain', '2');
    expect(JSON.parse(log.text(1, 0))).to.include({ k: '𤭢/städte', v: 'Zürich 🌍' });
    expect(JSON.parse(log.text(1, 2))).to.include({ k: '/städte' });
    const sees = (scope: { key?: string; prefix: string }): number[] => Array.from({ length: log.last }, (_, i) => i + 1).filter((seq) => log.sees(seq, logFilter(scope)));
    expect(sees({ prefix: '𤭢' })).to.deep.equal([1, 2]);
    expect(sees({ prefix: '𤭢/' })).to.deep.equal([1]);
    expect(sees({ prefix: '' })).to.deep.equal([1, 2, 3]);
    expect(sees({ key: '𤭢x', prefix: '' })).to.deep.equal([2]);
    expect(sees({ key: '𤭢', prefix: '' }), 'a key is not a prefix').to.deep.equal([]);
    store.clear();
    expect(sees({ key: 'nothing', prefix: '' }), 'a clear of every key: every watch').to.deep.equal([4]);
    expect(sees({ prefix: 'plain' })).to.deep.equal([3, 4]);
  });

  it('holds an event larger than a chunk, and gives back the chunks of events that left', () => {
    const { store, log } = setup({ maxEvents: 3, maxBytes: 64 * 1024 * 1024 });
    const big = 'x'.repeat(3 * 1024 * 1024);
    store.set('big', big);
    expect((JSON.parse(log.text(1, 0)) as { v: string }).v).to.have.length(big.length);
    expect(log.heldBytes, "a chunk of its own").to.equal(Buffer.byteLength("big") + big.length);
    for (let i = 0; i < 6; i++) store.set(`k${i}`, '1');
    expect(log.size).to.equal(3);
    expect(log.heldBytes, 'the 3 MiB chunk given back once its event left').to.equal(1024 * 1024);
    for (let i = 0; i < 3; i++) store.set(`b${i}`, 'y'.repeat(600 * 1024));
    expect(log.heldBytes, 'chunks reused as events leave: the 3 events in 2 chunks and 1 kept for reuse at most').to.be.at.most(4 * 1024 * 1024);
  });

  it("shows a tenant's keys without its prefix, and keeps one text for watchers without one", () => {
    const { store, log } = setup();
    store.set('t1/key', 'v');
    expect(JSON.parse(log.text(1, 3))).to.include({ k: 'key' });
    expect(log.text(1, 0)).to.equal(log.text(1, 0));
    expect(JSON.parse(log.text(1, 0))).to.include({ k: 't1/key', id: log.idOf(1) });
  });
});
