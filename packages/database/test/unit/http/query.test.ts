import { expect } from 'chai';
import fc from 'fast-check';
import { ApiError } from '../../../src/errors';
import { parseQuery } from '../../../src/http/query';

const parse = (qs: string): Record<string, string> => Object.fromEntries(parseQuery(qs));

describe('parseQuery', () => {
  const accepted: { desc: string; qs: string; want: Record<string, string> }[] = [
    { desc: 'nothing', qs: '', want: {} },
    { desc: 'one pair', qs: 'k=a', want: { k: 'a' } },
    { desc: 'two pairs', qs: 'k=a&v=b', want: { k: 'a', v: 'b' } },
    { desc: '+ as a space', qs: 'k=a+b', want: { k: 'a b' } },
    { desc: '%20 as a space', qs: 'k=a%20b', want: { k: 'a b' } },
    { desc: '%2B as a plus', qs: 'k=a%2Bb', want: { k: 'a+b' } },
    { desc: 'a name without =', qs: 'k', want: { k: '' } },
    { desc: 'an empty value', qs: 'v=', want: { v: '' } },
    { desc: 'empty pairs skipped', qs: '&&k=a&', want: { k: 'a' } },
    { desc: 'only the first = splits', qs: 'k=a=b', want: { k: 'a=b' } },
    { desc: 'an encoded name', qs: '%6B=x', want: { k: 'x' } },
    { desc: 'UTF-8 escapes', qs: 'k=%E2%9C%93&v=%F0%A4%AD%A2', want: { k: '✓', v: '𤭢' } },
    { desc: 'an encoded & and =', qs: 'k=a%26b%3Dc', want: { k: 'a&b=c' } },
    { desc: 'names are case-sensitive', qs: 'k=a&K=b', want: { k: 'a', K: 'b' } },
  ];
  for (const { desc, qs, want } of accepted) {
    it(`reads ${desc}: "${qs}"`, () => expect(parse(qs)).to.deep.equal(want));
  }

  const refused = [
    { desc: 'a bad escape', qs: 'k=%zz' },
    { desc: 'a lone %', qs: 'k=100%' },
    { desc: 'a truncated escape', qs: 'k=%4' },
    { desc: 'a cut UTF-8 sequence', qs: 'k=%E2%82' },
    { desc: 'a byte that is not UTF-8', qs: 'k=%FF' },
    { desc: 'an encoded lone surrogate', qs: 'k=%ED%A0%80' },
    { desc: 'a repeated key', qs: 'k=a&k=b' },
    { desc: 'a repeated value', qs: 'k=a&v=1&v=2' },
    { desc: 'a repeat spelled differently', qs: 'k=a&%6B=b' },
    { desc: 'a bad escape in a name', qs: '%G1=a' },
  ];
  for (const { desc, qs } of refused) {
    it(`refuses ${desc}: "${qs}"`, () => {
      let caught: unknown;
      try {
        parseQuery(qs);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(ApiError);
      expect((caught as ApiError).code).to.equal('MALFORMED_QUERY');
      expect((caught as ApiError).status).to.equal(400);
    });
  }

  it('agrees with URLSearchParams on any well-formed query with distinct names', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.string({ unit: 'grapheme', minLength: 1 }), fc.string({ unit: 'grapheme' })), { selector: ([name]) => name, maxLength: 5 }), (pairs) => {
        const qs = new URLSearchParams(pairs).toString();
        expect(parse(qs)).to.deep.equal(Object.fromEntries(new URLSearchParams(qs)));
      }),
      { numRuns: 500 },
    );
  });
});
