import { expect } from 'chai';
import fc from 'fast-check';
import { compareKeys } from '../../../src/record/key-order';
import { headOf, type StoredRecord } from '../../../src/record/record';
import type { StorageAdapter } from '../../../src/storage/adapter';

const rec = (value: string | null, hlc = 1, nodeId = 'n1'): StoredRecord => ({ value, hlc, nodeId });
const expiring = (value: string, expiresAt: number, hlc = 1): StoredRecord => ({ value, hlc, nodeId: 'n1', expiresAt });
const keysOf = (entries: Iterable<[string, unknown]>): string[] => [...entries].map(([key]) => key);

/**
 * What every StorageAdapter must do. An adapter's own test file calls this with a
 * factory that returns a fresh, empty adapter.
 */
export function describeStorageAdapter(name: string, create: () => StorageAdapter | Promise<StorageAdapter>): void {
  describe(`StorageAdapter compliance: ${name}`, () => {
    let adapter: StorageAdapter;
    beforeEach(async () => {
      adapter = await create();
    });
    afterEach(async () => {
      await adapter.close();
    });

    it('starts empty', () => {
      expect(adapter.size).to.equal(0);
      expect(adapter.get('a')).to.equal(undefined);
      expect([...adapter.entries()]).to.deep.equal([]);
    });

    it('returns what was set, version included', () => {
      adapter.set('a', rec('1', 42, 'node-x'));
      expect(adapter.get('a')).to.deep.equal({ value: '1', hlc: 42, nodeId: 'node-x' });
      expect(adapter.size).to.equal(1);
    });

    it('gives a value as JSON text, and nothing for a tombstone or a missing key', () => {
      const values = ['', 'plain', 'quote " and \\ backslash', '✓ 𤭢', 'lone \uD800 surrogate', 'x'.repeat(5000)];
      values.forEach((value, i) => adapter.set(`k${i}`, rec(value)));
      values.forEach((value, i) => {
        expect(adapter.getJson(`k${i}`)).to.equal(JSON.stringify(value));
        expect(adapter.get(`k${i}`)?.value).to.equal(value);
      });
      adapter.set('gone', rec(null));
      expect(adapter.getJson('gone')).to.equal(undefined);
      expect(adapter.getJson('never')).to.equal(undefined);
    });

    it('gives versions without values', () => {
      adapter.set('a', rec('1', 5, 'x'));
      adapter.set('b', rec(null, 6, 'y'));
      expect(adapter.head('a')).to.deep.equal({ hlc: 5, nodeId: 'x', tombstone: false });
      expect(adapter.head('b')).to.deep.equal({ hlc: 6, nodeId: 'y', tombstone: true });
      expect(adapter.head('c')).to.equal(undefined);
      expect(new Map(adapter.heads())).to.deep.equal(
        new Map([
          ['a', { hlc: 5, nodeId: 'x', tombstone: false }],
          ['b', { hlc: 6, nodeId: 'y', tombstone: true }],
        ]),
      );
    });

    it('counts more stored bytes once many values are written (and persisted)', async () => {
      const before = adapter.storedBytes;
      for (let i = 0; i < 2000; i++) adapter.set(`bytes-${i}`, rec('v'.repeat(200)));
      await adapter.flush();
      expect(adapter.storedBytes).to.be.greaterThan(before + 200_000);
    });

    it('keeps tombstones as records', () => {
      adapter.set('gone', rec(null, 7));
      expect(adapter.get('gone')).to.deep.equal({ value: null, hlc: 7, nodeId: 'n1' });
      expect(adapter.size).to.equal(1);
    });

    it('replaces on a second set', () => {
      adapter.set('a', rec('1', 1));
      adapter.set('a', rec('2', 2));
      expect(adapter.get('a')?.value).to.equal('2');
      expect(adapter.size).to.equal(1);
    });

    it('deletes, saying whether a record was there', () => {
      adapter.set('a', rec('1'));
      expect(adapter.delete('a')).to.equal(true);
      expect(adapter.delete('a')).to.equal(false);
      expect(adapter.get('a')).to.equal(undefined);
      expect(adapter.size).to.equal(0);
    });

    it('clears every record', () => {
      for (let i = 0; i < 100; i++) adapter.set(`k${i}`, rec(`v${i}`));
      adapter.clear();
      expect(adapter.size).to.equal(0);
      expect(adapter.get('k1')).to.equal(undefined);
    });

    it('treats object-like and unusual keys as ordinary keys', () => {
      const keys = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', '✓', '𤭢', 'a\u0000b'];
      keys.forEach((key, i) => adapter.set(key, rec(`v${i}`)));
      expect(adapter.size).to.equal(keys.length);
      keys.forEach((key, i) => expect(adapter.get(key)?.value, key).to.equal(`v${i}`));
      expect(adapter.get('prototype')).to.equal(undefined);
      expect(new Set([...adapter.entries()].map(([k]) => k))).to.deep.equal(new Set(keys));
    });

    it('lists every entry once', () => {
      for (let i = 0; i < 1000; i++) adapter.set(`k${i}`, rec(`v${i}`, i));
      const seen = new Map([...adapter.entries()].map(([k, r]) => [k, r.value]));
      expect(seen.size).to.equal(1000);
      expect(seen.get('k999')).to.equal('v999');
    });

    it('survives writes during iteration, visiting untouched keys once', () => {
      for (let i = 0; i < 100; i++) adapter.set(`k${i}`, rec(`v${i}`));
      const visited: string[] = [];
      let n = 0;
      for (const [key] of adapter.entries()) {
        visited.push(key);
        if (n++ < 10) {
          adapter.set(`new${n}`, rec('x'));
          adapter.delete(`k${99 - n}`);
        }
      }
      const untouched = Array.from({ length: 89 }, (_, i) => `k${i}`);
      for (const key of untouched) expect(visited.filter((k) => k === key), key).to.have.length(1);
    });

    it('reads a range in code point order, from a key or after it, tombstones included', async () => {
      const keys = ['b', 'a', 'ab', '', '\uffff', '𤭢', 'ä', 'a\u0000', 'B', 'aa'];
      keys.forEach((key, i) => adapter.set(key, rec(i % 3 === 0 ? null : `v${i}`)));
      await adapter.flush();
      const sorted = [...keys].sort(compareKeys);
      expect(keysOf(adapter.range(''))).to.deep.equal(sorted);
      expect(keysOf(adapter.range('a'))).to.deep.equal(sorted.slice(sorted.indexOf('a')));
      expect(keysOf(adapter.range('a', true))).to.deep.equal(sorted.slice(sorted.indexOf('a') + 1));
      expect(keysOf(adapter.range('ab0'))).to.deep.equal(sorted.slice(sorted.indexOf('b')));
      expect(keysOf(adapter.range('\u{10ffff}'))).to.deep.equal([]);
      expect([...adapter.range('b')][0]).to.deep.equal(['b', rec(null)]);
    });

    it('reads any keys in code point order, written before and after a flush', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(fc.string({ unit: fc.constantFrom('a', 'b', 'é', '\ud800', '\udc00', '\ue000', '𤭢') , maxLength: 4 }), { maxLength: 30 }), async (keys) => {
          adapter.clear();
          keys.forEach((key, i) => {
            adapter.set(key, rec(`v${i}`));
          });
          await adapter.flush();
          // Half of them again, not committed yet on a durable adapter.
          keys.slice(0, keys.length / 2).forEach((key) => adapter.set(key, rec('again', 2)));
          expect(keysOf(adapter.range(''))).to.deep.equal([...keys].sort(compareKeys));
          expect([...adapter.range('')].filter(([, r]) => r.value === 'again')).to.have.length(Math.floor(keys.length / 2));
        }),
        { numRuns: 40 },
      );
    });

    it('reads a range over many pages while writes continue, visiting untouched keys once', async () => {
      const name = (i: number): string => `k${String(i).padStart(5, '0')}`;
      for (let i = 0; i < 3000; i++) adapter.set(name(i), rec(`v${i}`));
      await adapter.flush();
      const visited: string[] = [];
      let n = 0;
      for (const [key] of adapter.range(name(100))) {
        visited.push(key);
        if (n++ < 50) {
          adapter.set(`k${String(n)}-new`, rec('x'));
          adapter.delete(name(2999 - n));
          adapter.set(name(1500 + n), rec('changed', 2));
        }
      }
      const untouched = Array.from({ length: 2800 }, (_, i) => name(i + 100)).filter((key) => key < name(2949));
      for (const key of untouched) expect(visited.filter((k) => k === key), key).to.have.length(1);
      expect(visited).to.deep.equal([...visited].sort(compareKeys));
    });

    it('keeps an expiry with its value, and hides the value from getJson at its expiry', () => {
      adapter.set('a', expiring('1', 1000, 5));
      expect(adapter.get('a')).to.deep.equal({ value: '1', hlc: 5, nodeId: 'n1', expiresAt: 1000 });
      expect(adapter.head('a')).to.deep.equal({ hlc: 5, nodeId: 'n1', tombstone: false, expiresAt: 1000 });
      expect([...adapter.entries()]).to.deep.equal([['a', { value: '1', hlc: 5, nodeId: 'n1', expiresAt: 1000 }]]);
      expect(adapter.getJson('a')).to.equal('"1"');
      expect(adapter.getJson('a', 999)).to.equal('"1"');
      expect(adapter.getJson('a', 1000)).to.equal(undefined);
      adapter.set('a', rec('2', 6));
      expect(adapter.get('a')).to.deep.equal({ value: '2', hlc: 6, nodeId: 'n1' });
      expect(adapter.getJson('a', 5000)).to.equal('"2"');
    });

    it('indexes the records that expire by expiry, and only those', async () => {
      adapter.set('late', expiring('v', 3000));
      adapter.set('never', rec('v'));
      adapter.set('early', expiring('v', 1000));
      adapter.set('same-time-b', expiring('v', 2000));
      adapter.set('same-time-a', expiring('v', 2000));
      adapter.set('gone', rec(null));
      await adapter.flush();
      expect(adapter.expiringCount).to.equal(4);
      expect([...adapter.expiring(Infinity)].map((e) => [e.key, e.expiresAt])).to.deep.equal([
        ['early', 1000],
        ['same-time-a', 2000],
        ['same-time-b', 2000],
        ['late', 3000],
      ]);
      expect([...adapter.expiring(1999)].map((e) => e.key)).to.deep.equal(['early']);
      expect([...adapter.expiring(999)]).to.deep.equal([]);
      // A new expiry moves the entry; a write without one, a tombstone or a delete removes it.
      adapter.set('early', expiring('v', 4000, 2));
      adapter.set('late', rec('v', 2));
      adapter.set('same-time-a', rec(null, 2));
      adapter.delete('same-time-b');
      await adapter.flush();
      expect(adapter.expiringCount).to.equal(1);
      expect([...adapter.expiring(Infinity)].map((e) => [e.key, e.expiresAt])).to.deep.equal([['early', 4000]]);
      adapter.clear();
      expect(adapter.expiringCount).to.equal(0);
      expect([...adapter.expiring(Infinity)]).to.deep.equal([]);
    });

    it('reads an expiry index longer than a page', async () => {
      for (let i = 0; i < 2500; i++) adapter.set(`k${i}`, expiring('v', 10_000 + (i % 1300)));
      await adapter.flush();
      const all = [...adapter.expiring(Infinity)];
      expect(all).to.have.length(2500);
      expect(all.map((e) => e.expiresAt)).to.deep.equal([...all.map((e) => e.expiresAt)].sort((a, b) => a - b));
      expect([...adapter.expiring(10_000 + 999)]).to.have.length(2000);
    });

    it('keeps named metadata apart from records', () => {
      expect(adapter.getMeta('clock')).to.equal(undefined);
      adapter.setMeta('clock', '123');
      adapter.setMeta('clock', '124');
      expect(adapter.getMeta('clock')).to.equal('124');
      expect(adapter.size).to.equal(0);
      adapter.clear();
      expect(adapter.getMeta('clock')).to.equal('124');
    });

    it('answers head, has-a-record and size as a map of the writes would, whenever commits and clears land', async () => {
      const keys = ['a', 'b', 'c'];
      const operation = fc.oneof(
        fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...keys), value: fc.option(fc.constantFrom('x', 'y'), { nil: null }), expires: fc.boolean(), givePrevious: fc.boolean() }),
        fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...keys) }),
        fc.constantFrom({ op: 'clear' as const }, { op: 'flush' as const }, { op: 'turn' as const }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { maxLength: 25 }), async (operations) => {
          adapter.clear();
          await adapter.flush();
          const model = new Map<string, StoredRecord>();
          let hlc = 0;
          for (const step of operations) {
            if (step.op === 'set') {
              const record: StoredRecord = step.expires && step.value !== null ? expiring(step.value, 1e15, ++hlc) : rec(step.value, ++hlc);
              // As the store does, with the head it read; else the adapter looks it up.
              adapter.set(step.key, record, step.givePrevious ? (adapter.head(step.key) ?? null) : undefined);
              model.set(step.key, record);
            } else if (step.op === 'delete') {
              expect(adapter.delete(step.key)).to.equal(model.delete(step.key));
            } else if (step.op === 'clear') {
              adapter.clear();
              model.clear();
            } else if (step.op === 'flush') {
              await adapter.flush();
            } else {
              await new Promise((resolve) => setImmediate(resolve));
            }
            for (const key of keys) {
              const held = model.get(key);
              expect(adapter.head(key), `head of ${key} after ${step.op}`).to.deep.equal(held === undefined ? undefined : headOf(held));
            }
            expect(adapter.size).to.equal(model.size);
          }
          await adapter.flush();
          for (const key of keys) expect(adapter.get(key)).to.deep.equal(model.get(key));
        }),
        { numRuns: 60 },
      );
    });

    it('resolves flush', async () => {
      adapter.set('a', rec('1'));
      await adapter.flush();
      expect(adapter.get('a')?.value).to.equal('1');
    });
  });
}
