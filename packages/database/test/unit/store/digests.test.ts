import { expect } from 'chai';
import fc from 'fast-check';
import { BUCKETS, BucketDigests } from '../../../src/store/digests';
import { bucketOf, keyHash, recordFingerprint } from '../../../src/store/hash';

describe('mesh hashes and bucket digests', () => {
  it('puts a key in the same bucket whatever its version, and spreads keys over the buckets', () => {
    expect(bucketOf('user:1', BUCKETS)).to.equal(bucketOf('user:1', BUCKETS));
    const used = new Set<number>();
    for (let i = 0; i < 20_000; i++) used.add(bucketOf(`key-${i}`, BUCKETS));
    expect(used.size).to.be.above(BUCKETS * 0.99);
    expect(keyHash('a')).to.not.equal(keyHash('b'));
  });

  it('gives different fingerprints to different versions of one key', () => {
    const a = new Uint32Array(2);
    const b = new Uint32Array(2);
    recordFingerprint('k', 2 ** 40 + 5, 'n1', a);
    recordFingerprint('k', 2 ** 40 + 6, 'n1', b);
    expect([...a]).to.not.deep.equal([...b]);
    recordFingerprint('k', 2 ** 40 + 5, 'n2', b);
    expect([...a]).to.not.deep.equal([...b]);
  });

  it('returns to zero when every record added is removed, in any order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.nat(), fc.string({ minLength: 1 })), { maxLength: 40 }), (records) => {
        const digests = new BucketDigests();
        for (const [key, hlc, nodeId] of records) digests.toggle(key, hlc, nodeId, 1);
        for (const [key, hlc, nodeId] of [...records].reverse()) digests.toggle(key, hlc, nodeId, -1);
        expect(digests.differing(new BucketDigests())).to.deep.equal([]);
      }),
    );
  });

  it('names exactly the buckets that differ, and survives encoding', () => {
    const here = new BucketDigests();
    const there = new BucketDigests();
    for (const digests of [here, there]) digests.toggle('same', 10, 'n1', 1);
    here.toggle('only-here', 11, 'n1', 1);
    there.toggle('changed', 12, 'n1', 1);
    here.toggle('changed', 13, 'n1', 1);
    const decoded = BucketDigests.decode(there.encode());
    expect(decoded.differing(there)).to.deep.equal([]);
    expect(here.differing(decoded)).to.have.members(
      [...new Set([bucketOf('only-here', BUCKETS), bucketOf('changed', BUCKETS)])],
    );
    expect(() => BucketDigests.decode(Buffer.alloc(10))).to.throw(/digests must be/);
  });
});
