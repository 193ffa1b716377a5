import { expect } from 'chai';
import { ApiError } from '../../../src/errors';
import { readDigestsRequest, readReplicate } from '../../../src/mesh/wire';

describe('mesh wire bodies', () => {
  it('reads records and the clear watermark of a replicate body', () => {
    const body = { records: [['k', 'v', 5, 'n1'], ['gone', null, 6, 'n2']], clear: { hlc: 3, nodeId: 'n1' } };
    expect(readReplicate(body)).to.deep.equal({ format: 1, records: body.records, clear: { hlc: 3, nodeId: 'n1' } });
    expect(readReplicate({ records: [] })).to.deep.equal({ format: 1, records: [], clear: null });
  });

  for (const body of [null, [], 'records', {}, { records: {} }, { records: [['k', 'v', 5]] }, { records: [['k', 1, 5, 'n']] }, { records: [['k', 'v', 1.5, 'n']] }, { records: [['k', 'v', 5, '']] }, { records: [], format: 2 }]) {
    it(`refuses ${JSON.stringify(body)} with MALFORMED_BODY`, () => {
      expect(() => readReplicate(body)).to.throw(ApiError).with.property('code', 'MALFORMED_BODY');
    });
  }

  it('refuses a clear watermark that is not {hlc, nodeId} with MALFORMED_BODY, naming it', () => {
    expect(() => readDigestsRequest({ clear: { hlc: -1, nodeId: 'n' } }))
      .to.throw(ApiError)
      .with.property('message')
      .that.contains('clear must be {hlc, nodeId}');
  });
});
