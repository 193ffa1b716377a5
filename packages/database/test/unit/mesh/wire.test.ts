import { expect } from 'chai';
import { ApiError } from '../../../src/errors';
import { MAX_BATCH_RECORDS, MAX_PING_PEERS, MAX_PULL_KEYS, readDigestsRequest, readPing, readPullRequest, readReplicate } from '../../../src/mesh/wire';

describe('mesh wire bodies', () => {
  it('reads records and the clear watermark of a replicate body', () => {
    const body = { records: [['k', 'v', 5, 'n1'], ['gone', null, 6, 'n2']], clear: { hlc: 3, nodeId: 'n1' } };
    expect(readReplicate(body)).to.deep.equal({ format: 1, records: body.records, clear: { hlc: 3, nodeId: 'n1' } });
    expect(readReplicate({ records: [] })).to.deep.equal({ format: 1, records: [], clear: null });
  });

  for (const body of [null, [], 'records', {}, { records: {} }, { records: [['k', 'v', 5]] }, { records: [['k', 1, 5, 'n']] }, { records: [['k', 'v', 1.5, 'n']] }, { records: [['k', 'v', 5, '']] }, { records: [], format: 3 }, { records: [['k', 'v', 5, 'n', 0]] }]) {
    it(`refuses ${JSON.stringify(body)} with MALFORMED_BODY`, () => {
      expect(() => readReplicate(body)).to.throw(ApiError).with.property('code', 'MALFORMED_BODY');
    });
  }

  it('refuses a ping naming more peers than a mesh can have, and a pull of too many keys, with 413', () => {
    const node = { nodeId: 'n1', url: 'http://a:1', incarnation: 1, ready: true };
    const peers = Array.from({ length: MAX_PING_PEERS + 1 }, (_, i) => ({ url: `http://p${i}:1` }));
    expect(() => readPing({ node, peers })).to.throw(ApiError).with.property('code', 'PAYLOAD_TOO_LARGE');
    expect(readPing({ node, peers: peers.slice(1) }).peers).to.have.length(MAX_PING_PEERS);
    const keys = Array.from({ length: MAX_PULL_KEYS + 1 }, (_, i) => `k${i}`);
    expect(() => readPullRequest({ keys })).to.throw(ApiError).with.property('code', 'PAYLOAD_TOO_LARGE');
    expect(readPullRequest({ keys: keys.slice(1) }).keys).to.have.length(MAX_PULL_KEYS);
    const records = Array.from({ length: MAX_BATCH_RECORDS + 1 }, (_, i) => [`k${i}`, 'v', 1, 'n']);
    expect(() => readReplicate({ records })).to.throw(ApiError).with.property('code', 'PAYLOAD_TOO_LARGE');
  });

  it("reads a node's figures from its ping, and takes unreadable ones as not said", () => {
    const node = { nodeId: 'n1', url: 'http://a:1', incarnation: 1, ready: true };
    const load = { records: 3, outbox: 0, reads: 10, writes: 4, lagCount: 2, lagSum: 0.004 };
    expect(readPing({ node: { ...node, load }, peers: [] }).node.load).to.deep.equal(load);
    for (const odd of [null, 'x', { ...load, records: -1 }, { ...load, reads: 'many' }, { ...load, lagSum: Number.NaN }, { records: 1 }]) {
      expect(readPing({ node: { ...node, load: odd }, peers: [] }).node, JSON.stringify(odd)).to.not.have.property('load');
    }
  });

  it('refuses a clear watermark that is not {hlc, nodeId} with MALFORMED_BODY, naming it', () => {
    expect(() => readDigestsRequest({ clear: { hlc: -1, nodeId: 'n' } }))
      .to.throw(ApiError)
      .with.property('message')
      .that.contains('clear must be {hlc, nodeId}');
  });
});
