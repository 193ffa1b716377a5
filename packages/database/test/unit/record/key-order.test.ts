import { expect } from 'chai';
import fc from 'fast-check';
import { compareKeys, decodeKeyBytes, encodeKeyBytes } from '../../../src/record/key-order';
import { anyString, compareByPoints } from './strings';

describe('key order', () => {
  it('is code point order, lone surrogates included', () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        expect(Math.sign(compareKeys(a, b))).to.equal(Math.sign(compareByPoints(a, b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('puts a character beyond U+FFFF after U+E000..U+FFFF, where UTF-16 order does not', () => {
    expect('𤭢' < '\uffff').to.equal(true);
    expect(compareKeys('𤭢', '\uffff')).to.be.greaterThan(0);
    expect(compareKeys('a\ud800', 'a\ue000')).to.be.lessThan(0); // a lone surrogate is U+D800
    expect(compareKeys('a\ud800x', 'a𐀀')).to.be.lessThan(0);
    expect(['b', 'a', '', 'ab', '\uffff', '𤭢'].sort(compareKeys)).to.deep.equal(['', 'a', 'ab', 'b', '\uffff', '𤭢']);
  });

  it('round-trips any key through its bytes (WTF-8), whose byte order is the key order', () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        expect(decodeKeyBytes(encodeKeyBytes(a, 1))).to.equal(a);
        expect(Math.sign(Buffer.compare(encodeKeyBytes(a, 1), encodeKeyBytes(b, 1)))).to.equal(Math.sign(compareKeys(a, b)));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes UTF-8 for well-formed keys', () => {
    expect(encodeKeyBytes('ünï', 0x6b).equals(Buffer.concat([Buffer.from([0x6b]), Buffer.from('ünï', 'utf8')]))).to.equal(true);
    expect([...encodeKeyBytes('\ud800', 0)]).to.deep.equal([0, 0xed, 0xa0, 0x80]);
  });
});
