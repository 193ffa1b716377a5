import { expect } from 'chai';
import fc from 'fast-check';
import { HybridClock, hlcFromMs } from '../../../src/clock/hlc';
import type { StoredRecord } from '../../../src/record/record';
import { MemoryAdapter } from '../../../src/storage/memory';
import { Store } from '../../../src/store/store';

function makeStore(nodeId = 'n1', start = 1000): { store: Store; adapter: MemoryAdapter; tick: (ms: number) => void } {
  let now = start;
  const adapter = new MemoryAdapter();
  const store = new Store(adapter, new HybridClock(() => now), nodeId);
  return { store, adapter, tick: (ms) => (now += ms) };
}

describe('Store', () => {
  it('refuses records from elsewhere longer than its limits, counted in code points, and takes those at the limit', () => {
    const store = new Store(new MemoryAdapter(), new HybridClock(() => 1000), 'n1', { maxKeyLength: 3, maxValueLength: 2 });
    const at = (value: string | null): StoredRecord => ({ value, hlc: hlcFromMs(1000), nodeId: 'n2' });
    expect(store.apply('𤭢𤭢𤭢', at('𤭢𤭢'), 'replicated')).to.equal('applied');
    expect(store.apply('abcd', at('x'), 'replicated')).to.equal('limits');
    expect(store.apply('abc', at('xyz'), 'repaired')).to.equal('limits');
    expect(store.apply('abcd', at(null), 'repaired')).to.equal('limits');
    expect(store.size).to.equal(1);
  });

  it('sets, gets and counts live records', () => {
    const { store } = makeStore();
    const record = store.set('a', '1');
    expect(record).to.deep.equal({ value: '1', hlc: hlcFromMs(1000), nodeId: 'n1' });
    expect(store.get('a')).to.equal('1');
    expect(store.has('a')).to.equal(true);
    expect(store.liveCount).to.equal(1);
    expect(store.get('b')).to.equal(undefined);
    expect(store.has('b')).to.equal(false);
  });

  it('stamps each write with a newer version', () => {
    const { store } = makeStore();
    const first = store.set('a', '1');
    const second = store.set('a', '2');
    expect(second.hlc).to.be.greaterThan(first.hlc);
    expect(store.get('a')).to.equal('2');
  });

  it('removes with a tombstone that hides the key', () => {
    const { store } = makeStore();
    store.set('a', '1');
    const tombstone = store.remove('a');
    expect(tombstone?.value).to.equal(null);
    expect(store.get('a')).to.equal(undefined);
    expect(store.has('a')).to.equal(false);
    expect(store.getRecord('a')?.value).to.equal(null);
    expect(store.liveCount).to.equal(0);
    expect(store.tombstoneCount).to.equal(1);
  });

  it('writes nothing when removing a missing or already removed key', () => {
    const { store } = makeStore();
    expect(store.remove('nope')).to.equal(undefined);
    store.set('a', '1');
    store.remove('a');
    const tombstone = store.getRecord('a');
    expect(store.remove('a')).to.equal(undefined);
    expect(store.getRecord('a')).to.deep.equal(tombstone);
    expect(store.tombstoneCount).to.equal(1);
  });

  it('brings a removed key back with a new set', () => {
    const { store } = makeStore();
    store.set('a', '1');
    store.remove('a');
    store.set('a', '2');
    expect(store.get('a')).to.equal('2');
    expect(store.tombstoneCount).to.equal(0);
    expect(store.liveCount).to.equal(1);
  });

  it('clears everything written before the clear', () => {
    const { store, adapter } = makeStore();
    store.set('a', '1');
    store.set('b', '2');
    store.remove('b');
    const watermark = store.clear();
    expect(adapter.size).to.equal(0);
    expect(store.liveCount).to.equal(0);
    expect(store.tombstoneCount).to.equal(0);
    expect(store.clearWatermark).to.deep.equal(watermark);
    store.set('c', '3');
    expect(store.get('c')).to.equal('3');
  });

  it('lists live entries only', () => {
    const { store } = makeStore();
    store.set('a', '1');
    store.set('b', '2');
    store.remove('a');
    expect([...store.liveEntries()]).to.deep.equal([['b', '2']]);
  });

  describe('apply (merge of a record from elsewhere)', () => {
    it('takes a newer record and ignores an older or equal one', () => {
      const { store } = makeStore('n1');
      store.set('a', 'local');
      const local = store.getRecord('a') as StoredRecord;
      expect(store.apply('a', { value: 'old', hlc: local.hlc - 1, nodeId: 'n2' }, 'replicated')).to.equal('stale');
      expect(store.apply('a', local, 'replicated')).to.equal('stale');
      expect(store.apply('a', { value: 'new', hlc: local.hlc + 1, nodeId: 'n0' }, 'replicated')).to.equal('applied');
      expect(store.get('a')).to.equal('new');
    });

    it('breaks an hlc tie by node id', () => {
      const { store } = makeStore('n1');
      const local = store.set('a', 'from-n1');
      expect(store.apply('a', { value: 'from-n0', hlc: local.hlc, nodeId: 'n0' }, 'replicated')).to.equal('stale');
      expect(store.apply('a', { value: 'from-n2', hlc: local.hlc, nodeId: 'n2' }, 'replicated')).to.equal('applied');
      expect(store.get('a')).to.equal('from-n2');
    });

    it('moves the clock past what it applied', () => {
      const { store } = makeStore('n1', 1000);
      const far = hlcFromMs(5000);
      store.apply('x', { value: 'v', hlc: far, nodeId: 'n2' }, 'replicated');
      expect(store.set('y', 'w').hlc).to.be.greaterThan(far);
    });

    it('keeps tombstone counts right across merges', () => {
      const { store } = makeStore('n1');
      store.apply('a', { value: null, hlc: 10, nodeId: 'n2' }, 'replicated');
      expect(store.tombstoneCount).to.equal(1);
      store.apply('a', { value: 'back', hlc: 11, nodeId: 'n2' }, 'replicated');
      expect(store.tombstoneCount).to.equal(0);
      expect(store.liveCount).to.equal(1);
    });

    it('refuses records older than the clear watermark and keeps newer ones', () => {
      const { store } = makeStore('n1');
      store.apply('old', { value: '1', hlc: 10, nodeId: 'n2' }, 'replicated');
      store.apply('new', { value: '2', hlc: 30, nodeId: 'n2' }, 'replicated');
      store.apply('dead', { value: null, hlc: 5, nodeId: 'n2' }, 'replicated');
      expect(store.applyClear({ hlc: 20, nodeId: 'n3' }, 'replicated')).to.equal('applied');
      expect(store.get('old')).to.equal(undefined);
      expect(store.get('new')).to.equal('2');
      expect(store.tombstoneCount).to.equal(0);
      expect(store.apply('late', { value: '3', hlc: 15, nodeId: 'n2' }, 'replicated')).to.equal('stale');
      expect(store.applyClear({ hlc: 19, nodeId: 'n9' }, 'replicated')).to.equal('stale');
      expect(store.clearWatermark).to.deep.equal({ hlc: 20, nodeId: 'n3' });
    });
  });

  it('purges tombstones older than a cut-off and nothing else', () => {
    const { store, tick } = makeStore();
    store.set('a', '1');
    store.remove('a');
    tick(1000);
    const cutoff = hlcFromMs(1500);
    store.set('b', '2');
    store.remove('b');
    store.set('c', '3');
    expect(store.purgeTombstones(cutoff)).to.equal(1);
    expect(store.getRecord('a')).to.equal(undefined);
    expect(store.getRecord('b')?.value).to.equal(null);
    expect(store.tombstoneCount).to.equal(1);
    expect(store.get('c')).to.equal('3');
  });

  it('counts a tombstone from another node from its arrival, when a purge waits for peers', () => {
    let now = 9_000;
    const adapter = new MemoryAdapter();
    const options = { now: () => now, tombstoneTtlMs: 1000 };
    const store = new Store(adapter, new HybridClock(() => now), 'n1', options);
    store.set('local', '1');
    store.set('remote', '1');
    now = 10_000;
    store.remove('local'); // at 10,000, here
    now = 13_000;
    // A delete made at 10,000 on n2 of the value held here, arriving now by anti-entropy;
    // and one of a key this node does not hold (it purged it already): old news.
    expect(store.apply('remote', { value: null, hlc: hlcFromMs(10_000), nodeId: 'n2' }, 'repaired')).to.equal('applied');
    expect(store.apply('gone', { value: null, hlc: hlcFromMs(10_000), nodeId: 'n2' }, 'repaired')).to.equal('applied');
    now = 14_000;
    // Every peer had a round with this node that started at 12,000: after both deletes were
    // made, before the remote one arrived here, so that round did not carry it.
    expect(store.purgeExpiredTombstones(12_000)).to.equal(2);
    expect(store.getRecord('local')).to.equal(undefined);
    expect(store.getRecord('gone')).to.equal(undefined);
    expect(store.getRecord('remote')?.value).to.equal(null);
    expect(store.purgeExpiredTombstones(13_500)).to.equal(1);
    expect(store.getRecord('remote')).to.equal(undefined);
    // Tombstones found at start count from the start: their arrival is not known.
    store.set('old', '1');
    store.remove('old'); // at 14,000
    now = 20_000;
    const reopened = new Store(adapter, new HybridClock(() => now), 'n1', options);
    expect(reopened.purgeExpiredTombstones(19_000)).to.equal(0);
    expect(reopened.purgeExpiredTombstones(Infinity)).to.equal(1);
  });

  it('restores counts, watermark and clock from an adapter that has data', () => {
    const adapter = new MemoryAdapter();
    const first = new Store(adapter, new HybridClock(() => 1000), 'n1');
    first.set('a', '1');
    first.set('b', '2');
    first.remove('b');
    const watermark = { hlc: 1, nodeId: 'n0' };
    first.applyClear(watermark, 'replicated');
    const again = new Store(adapter, new HybridClock(() => 1), 'n1');
    expect(again.liveCount).to.equal(1);
    expect(again.tombstoneCount).to.equal(1);
    expect(again.clearWatermark).to.deep.equal(watermark);
    expect(again.set('c', '3').hlc).to.be.greaterThan((first.getRecord('b') as StoredRecord).hlc);
  });

  describe('the summary of a clean stop', () => {
    const filled = (): { adapter: MemoryAdapter; store: Store } => {
      const adapter = new MemoryAdapter();
      const store = new Store(adapter, new HybridClock(() => 1000), 'n1');
      for (let i = 0; i < 300; i++) store.set(`key-${i}`, `value-${i}`);
      for (let i = 0; i < 300; i += 7) store.remove(`key-${i}`);
      store.apply('remote', { value: 'r', hlc: hlcFromMs(5000), nodeId: 'n2' }, 'replicated');
      return { adapter, store };
    };
    const state = (store: Store): unknown => ({
      digests: store.digests.encode().toString('hex'),
      live: store.liveCount,
      tombstones: store.tombstoneCount,
    });

    it('gives the next start the digests, counts and clock without reading every record, once', () => {
      const { adapter, store } = filled();
      const before = state(store);
      store.saveSummary();
      const clock = new HybridClock(() => 1);
      const next = new Store(adapter, clock, 'n1');
      expect(next.digestsAtStart).to.equal('saved');
      expect(state(next)).to.deep.equal(before);
      expect(clock.peek()).to.be.at.least(hlcFromMs(5000));
      next.set('after', 'the start');
      // The summary served one start: a crash now must not hand the next one stale digests.
      const rebuilt = new Store(adapter, new HybridClock(() => 1), 'n1');
      expect(rebuilt.digestsAtStart).to.equal('rebuilt');
      expect(state(rebuilt)).to.deep.equal(state(next));
    });

    it('is removed by a change made after it was saved (a write still in flight at the stop)', () => {
      for (const change of [
        (store: Store) => store.set('key-1', 'changed'),
        (store: Store) => store.apply('remote', { value: 'newer', hlc: hlcFromMs(6000), nodeId: 'n2' }, 'replicated'),
        (store: Store) => store.remove('key-2'),
        (store: Store) => store.purgeTombstones(Number.MAX_SAFE_INTEGER),
        (store: Store) => store.applyClear({ hlc: hlcFromMs(9000), nodeId: 'n3' }, 'replicated'),
        (store: Store) => store.wipe(),
      ]) {
        const { adapter, store } = filled();
        store.saveSummary();
        change(store);
        const next = new Store(adapter, new HybridClock(() => 1), 'n1');
        expect(next.digestsAtStart, String(change)).to.equal('rebuilt');
        expect(state(next)).to.deep.equal(state(store));
      }
    });

    it('is not used when it does not match the records, or is not a summary', () => {
      const { adapter, store } = filled();
      store.saveSummary();
      adapter.set('written-behind-its-back', { value: 'x', hlc: 1, nodeId: 'n9' });
      expect(new Store(adapter, new HybridClock(() => 1), 'n1').digestsAtStart).to.equal('rebuilt');
      for (const text of ['{', '[]', '{"records":1}', JSON.stringify({ records: adapter.size, tombstones: 0, hlc: 1, digests: 'AAAA' })]) {
        adapter.setMeta('summary', text);
        const next = new Store(adapter, new HybridClock(() => 1), 'n1');
        expect(next.digestsAtStart, text).to.equal('rebuilt');
        expect(next.tombstoneCount).to.equal(store.tombstoneCount);
      }
    });
  });

  describe('merge laws (property-based)', () => {
    // An operation from elsewhere: a record for a key, or a clear watermark.
    type Op = { kind: 'put'; key: string; record: StoredRecord } | { kind: 'clear'; hlc: number; nodeId: string };
    const arbOp: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('put' as const),
          key: fc.constantFrom('a', 'b', 'c', '__proto__'),
          record: fc.record({
            value: fc.option(fc.string({ maxLength: 3 }), { nil: null }),
            hlc: fc.integer({ min: 1, max: 40 }),
            nodeId: fc.constantFrom('n1', 'n2', 'n3'),
          }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('clear' as const),
          hlc: fc.integer({ min: 1, max: 40 }),
          nodeId: fc.constantFrom('n1', 'n2', 'n3'),
        }),
      },
    );

    const stateAfter = (ops: readonly Op[]): unknown => {
      const store = new Store(new MemoryAdapter(), new HybridClock(() => 0), 'observer');
      for (const op of ops) {
        if (op.kind === 'put') store.apply(op.key, op.record, 'replicated');
        else store.applyClear({ hlc: op.hlc, nodeId: op.nodeId }, 'replicated');
      }
      const records = [...new MemoryAdapterView(store).entries()].sort();
      return { records, watermark: store.clearWatermark ?? null, live: store.liveCount, tombstones: store.tombstoneCount };
    };

    it('is commutative: any order of the same operations gives the same state', () => {
      fc.assert(
        fc.property(fc.array(arbOp, { maxLength: 12 }), fc.infiniteStream(fc.nat()), (ops, seeds) => {
          const shuffled = [...ops];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (seeds.next().value as number) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as Op, shuffled[i] as Op];
          }
          expect(stateAfter(shuffled)).to.deep.equal(stateAfter(ops));
        }),
        { numRuns: 300 },
      );
    });

    it('is associative: merging in groups gives the state of merging all at once', () => {
      fc.assert(
        fc.property(fc.array(arbOp, { maxLength: 6 }), fc.array(arbOp, { maxLength: 6 }), fc.array(arbOp, { maxLength: 6 }), (a, b, c) => {
          // (a then b) then c, against a then (b then c) where b and c were merged first.
          expect(stateAfter([...a, ...b, ...c])).to.deep.equal(stateAfter([...a, ...c, ...b]));
          expect(stateAfter([...a, ...b, ...c])).to.deep.equal(stateAfter([...b, ...c, ...a]));
        }),
        { numRuns: 200 },
      );
    });

    it('is idempotent: applying operations twice changes nothing', () => {
      fc.assert(
        fc.property(fc.array(arbOp, { maxLength: 12 }), (ops) => {
          expect(stateAfter([...ops, ...ops])).to.deep.equal(stateAfter(ops));
        }),
        { numRuns: 300 },
      );
    });
  });
});

/** Reads a store's records (values and tombstones, with versions) through its public API. */
class MemoryAdapterView {
  constructor(private readonly store: Store) {}
  *entries(): IterableIterator<string> {
    for (const key of ['a', 'b', 'c', '__proto__']) {
      const record = this.store.getRecord(key);
      if (record !== undefined) yield JSON.stringify([key, record.value, record.hlc, record.nodeId]);
    }
  }
}
