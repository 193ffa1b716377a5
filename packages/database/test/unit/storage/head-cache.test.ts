import { expect } from 'chai';
import fc from 'fast-check';
import { HeadCache } from '../../../src/storage/head-cache';

const head = (hlc: number) => ({ hlc, nodeId: 'n1', tombstone: false });

describe('HeadCache', () => {
  it('tells a head, a key known to hold nothing (null), and a key it does not know (undefined) apart', () => {
    const cache = new HeadCache(10);
    cache.set('a', head(1));
    cache.set('b', null);
    expect(cache.get('a')).to.deep.equal(head(1));
    expect(cache.get('b')).to.equal(null);
    expect(cache.get('c')).to.equal(undefined);
  });

  it('keeps at most its capacity, forgetting the keys set longest ago, a generation at a time', () => {
    const cache = new HeadCache(4);
    for (let i = 1; i <= 4; i++) cache.set(`k${i}`, head(i));
    expect(cache.size).to.equal(4);
    cache.set('k5', head(5));
    expect(cache.size).to.equal(3);
    expect([1, 2, 3, 4, 5].map((i) => cache.get(`k${i}`)?.hlc)).to.deep.equal([undefined, undefined, 3, 4, 5]);
  });

  it('gives the last head set for a key, whatever was forgotten (a model: a map of the last heads)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.option(fc.nat(), { nil: null })), { maxLength: 60 }), (capacity, steps) => {
        const cache = new HeadCache(capacity);
        const model = new Map<string, number | null>();
        for (const [key, hlc] of steps) {
          cache.set(key, hlc === null ? null : head(hlc));
          model.set(key, hlc);
          expect(cache.size).to.be.at.most(Math.max(2, capacity));
          for (const [k, expected] of model) {
            const got = cache.get(k);
            // Forgotten is allowed; a wrong or older head is not.
            if (got !== undefined) expect(got === null ? null : got.hlc).to.equal(expected);
          }
          expect(cache.get(key) === null ? null : cache.get(key)?.hlc).to.equal(hlc);
        }
      }),
    );
  });

  it('forgets everything on clear', () => {
    const cache = new HeadCache(2);
    cache.set('a', head(1));
    cache.clear();
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.size).to.equal(0);
  });
});
