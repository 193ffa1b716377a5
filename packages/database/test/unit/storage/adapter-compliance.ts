import { expect } from 'chai';
import type { StoredRecord } from '../../../src/record/record';
import type { StorageAdapter } from '../../../src/storage/adapter';

const rec = (value: string | null, hlc = 1, nodeId = 'n1'): StoredRecord => ({ value, hlc, nodeId });

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

    it('keeps named metadata apart from records', () => {
      expect(adapter.getMeta('clock')).to.equal(undefined);
      adapter.setMeta('clock', '123');
      adapter.setMeta('clock', '124');
      expect(adapter.getMeta('clock')).to.equal('124');
      expect(adapter.size).to.equal(0);
      adapter.clear();
      expect(adapter.getMeta('clock')).to.equal('124');
    });

    it('resolves flush', async () => {
      adapter.set('a', rec('1'));
      await adapter.flush();
      expect(adapter.get('a')?.value).to.equal('1');
    });
  });
}
