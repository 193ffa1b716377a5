import { expect } from 'chai';
import { readKey, readValue, readWriteConcern } from '../../../src/api/params';
import { ApiError } from '../../../src/errors';

const defaults = { w: 1 as const, timeoutMs: 1000 };
const limits = { maxKeyLength: 4, maxValueLength: 3, maxTtlMs: 2_592_000_000 };
const query = (params: Record<string, string>): ReadonlyMap<string, string> => new Map(Object.entries(params));

describe('query parameter readers', () => {
  it('return the key and the value, counting code points', () => {
    expect(readKey(query({ k: 'abcd' }), limits)).to.equal('abcd');
    expect(readKey(query({ k: '𤭢𤭢𤭢𤭢' }), limits)).to.equal('𤭢𤭢𤭢𤭢');
    expect(readValue(query({ v: '' }), limits)).to.equal('');
    expect(readValue(query({ v: '𤭢𤭢𤭢' }), limits)).to.equal('𤭢𤭢𤭢');
  });

  it('return (never throw) the error of a missing, empty or too long key or value', () => {
    const code = (read: string | ApiError): string => (read instanceof ApiError ? read.code : 'none');
    expect(code(readKey(query({}), limits))).to.equal('MISSING_KEY_PARAM');
    expect(code(readKey(query({ k: '' }), limits))).to.equal('EMPTY_KEY');
    expect(code(readKey(query({ k: 'abcde' }), limits))).to.equal('MAXIMUM_KEY_LENGTH_REACHED');
    expect(code(readValue(query({}), limits))).to.equal('MISSING_VALUE_PARAM');
    expect(code(readValue(query({ v: 'abcd' }), limits))).to.equal('MAXIMUM_VALUE_LENGTH_REACHED');
    expect(JSON.parse((readKey(query({ k: 'abcde' }), limits) as ApiError).body)).to.include({ maxKeyLength: 4 });
  });

  it('share one instance, and one rendered body, per error without details', () => {
    expect(readKey(query({}), limits)).to.equal(readKey(query({}), limits));
    expect(ApiError.of('MISSING_RECORD').body).to.equal(JSON.stringify(new ApiError('MISSING_RECORD')));
  });

  it('reads w and wtimeout, falling back to the node defaults', () => {
    expect(readWriteConcern(query({}), defaults)).to.equal(defaults);
    expect(readWriteConcern(query({ w: '3' }), defaults)).to.deep.equal({ w: 3, timeoutMs: 1000 });
    expect(readWriteConcern(query({ w: 'ALL', wtimeout: '250' }), defaults)).to.deep.equal({ w: 'all', timeoutMs: 250 });
    expect(readWriteConcern(query({ w: 'Majority' }), defaults)).to.deep.equal({ w: 'majority', timeoutMs: 1000 });
    expect(readWriteConcern(query({ wtimeout: '3600000' }), defaults)).to.deep.equal({ w: 1, timeoutMs: 3_600_000 });
  });

  for (const [name, value] of [
    ['w', '0'],
    ['w', '-1'],
    ['w', 'most'],
    ['w', '1.5'],
    ['w', ''],
    ['wtimeout', '0'],
    ['wtimeout', '3600001'],
    ['wtimeout', '1e3'],
    ['wtimeout', ''],
  ] as const) {
    it(`refuses ${name}=${JSON.stringify(value)} with 400 INVALID_WRITE_CONCERN`, () => {
      const caught = readWriteConcern(query({ [name]: value }), defaults);
      expect(caught).to.be.instanceOf(ApiError);
      expect((caught as ApiError).code).to.equal('INVALID_WRITE_CONCERN');
      expect((caught as ApiError).status).to.equal(400);
    });
  }

});
