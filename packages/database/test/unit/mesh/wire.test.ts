import { expect } from 'chai';
import { ApiError } from '../../../src/errors';
import { readPullAnswer, readReplicate } from '../../../src/mesh/wire';

describe('mesh wire bodies', () => {
  it('reads records and the clear watermark of a replicate body', () => {
    const body = { records: [['k', 'v', 5, 'n1'], ['gone', null, 6, 'n2']], clear: { hlc: 3, nodeId: 'n1' } };
    expect(readReplicate(body)).to.deep.equal({ records: body.records, clear: { hlc: 3, nodeId: 'n1' } });
    expect(readReplicate({ records: [] })).to.deep.equal({ records: [], clear: null });
  });

  it('reads a pull answer, which carries no watermark', () => {
    expect(readPullAnswer({ records: [['k', 'v', 5, 'n1']] })).to.deep.equal([['k', 'v', 5, 'n1']]);
    expect(readPullAnswer({ records: [], clear: 'ignored' })).to.deep.equal([]);
  });

  for (const body of [null, [], 'records', {}, { records: {} }, { records: [['k', 'v', 5]] }, { records: [['k', 1, 5, 'n']] }, { records: [['k', 'v', 1.5, 'n']] }, { records: [['k', 'v', 5, '']] }]) {
    it(`refuses ${JSON.stringify(body)} with MALFORMED_BODY, in both`, () => {
      for (const read of [readReplicate, readPullAnswer]) {
        expect(() => read(body)).to.throw(ApiError).with.property('code', 'MALFORMED_BODY');
      }
    });
  }
});
