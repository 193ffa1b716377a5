import { expect } from 'chai';
import { seedProblem } from '../../../src/mesh/pinger';
import { PeerRequestError } from '../../../src/mesh/transport';

describe('seedProblem', () => {
  it('tells a clock too far off from a wrong secret', () => {
    const stale = new PeerRequestError('http://a:1/_mesh/ping: HTTP 401 {"error":"STALE_SIGNATURE","message":"…"}', 401);
    const wrong = new PeerRequestError('http://a:1/_mesh/ping: HTTP 401 {"error":"UNAUTHORIZED","message":"…"}', 401);
    expect(seedProblem(stale)).to.match(/^refused: its clock and this node's differ by more than 120 s/);
    expect(seedProblem(wrong)).to.match(/^refused: it does not take this node's MESH_SECRET/);
  });

  it('tells an answer that is not a ping from no answer', () => {
    expect(seedProblem(new PeerRequestError('http://a:1/_mesh/ping: HTTP 404 nope', 404))).to.equal('not a MeshKV node: HTTP 404 nope');
    expect(seedProblem(new PeerRequestError('http://a:1/_mesh/ping: ECONNREFUSED'))).to.equal('unreachable: ECONNREFUSED');
  });
});
