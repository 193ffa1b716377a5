import { expect } from 'chai';
import { fullMesh, FAST_MESH } from '../../helpers/mesh';
import { startTestNode, type TestNode } from '../../helpers/node';
import { waitFor } from '../../helpers/http';

describe('a node whose clock is off (real sockets)', function () {
  this.timeout(20_000);
  const running: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.close()));
  });

  it('answers writes 503 CLOCK_SKEW, reads as usual, and shows what it measured in /status', async () => {
    const env = { ...FAST_MESH, MAX_CLOCK_DRIFT_MS: '60000' };
    const a = await startTestNode(env);
    running.push(a);
    const b = await startTestNode({ ...env, MESH_NETWORK_URL: a.url });
    running.push(b);
    const skewed = await startTestNode({ ...env, MESH_NETWORK_URL: a.url }, 90_000);
    running.push(skewed);
    await waitFor(() => fullMesh([a, b, skewed]), 5000, 'a full mesh');
    await waitFor(async () => (await skewed.get('/set?k=x&v=1')).status === 503, 5000, 'the skewed node to refuse writes');
    const refusal = await skewed.get('/rm?k=x');
    expect(refusal.status).to.equal(503);
    expect(refusal.json()).to.include({ error: 'CLOCK_SKEW' });
    expect((await skewed.get('/clear')).status).to.equal(503);
    expect((await a.get('/set?k=x&v=1&w=2')).status).to.equal(200);
    expect([200, 404], 'reads are served').to.include((await skewed.get('/get?k=x')).status);
    const status = (await skewed.get('/status')).json() as { ready: boolean; clock: { skewed: boolean; offsetMs: number; thresholdMs: number; peers: unknown[] } };
    expect(status.ready).to.equal(false);
    expect(status.clock).to.include({ skewed: true, thresholdMs: 30_000 });
    expect(status.clock.offsetMs).to.be.within(89_000, 91_000);
    expect(status.clock.peers).to.have.length(2);
    const healthy = (await a.get('/status')).json() as { clock: { skewed: boolean } };
    expect(healthy.clock.skewed).to.equal(false);
    expect((await b.get('/set?k=y&v=1')).status).to.equal(200);
  });
});
