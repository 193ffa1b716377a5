import { expect } from 'chai';
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

  it('keeps at most its capacity, forgetting the key kept longest; a key set again keeps its place', () => {
    const cache = new HeadCache(2);
    cache.set('a', head(1));
    cache.set('b', head(2));
    cache.set('a', head(3));
    expect(cache.size).to.equal(2);
    cache.set('c', head(4));
    expect(cache.size).to.equal(2);
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.get('b')).to.deep.equal(head(2));
    expect(cache.get('c')).to.deep.equal(head(4));
  });

  it('forgets everything on clear', () => {
    const cache = new HeadCache(2);
    cache.set('a', head(1));
    cache.clear();
    expect(cache.get('a')).to.equal(undefined);
    expect(cache.size).to.equal(0);
  });
});
