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

  it('a node whose clock is behind hides an expired key when the others do, by its measured offset (the skew bound)', async () => {
    const env = { ...FAST_MESH, MAX_CLOCK_DRIFT_MS: '60000' };
    const clocks = [{ offsetMs: 0 }, { offsetMs: 0 }, { offsetMs: -20_000 }];
    const a = await startTestNode(env, clocks[0]);
    running.push(a);
    const b = await startTestNode({ ...env, MESH_NETWORK_URL: a.url }, clocks[1]);
    running.push(b);
    const behind = await startTestNode({ ...env, MESH_NETWORK_URL: a.url }, clocks[2]);
    running.push(behind);
    await waitFor(() => fullMesh([a, b, behind]), 5000, 'a full mesh');
    await waitFor(async () => ((await behind.get('/status')).json() as { clock: { peers: unknown[] } }).clock.peers.length === 2, 5000, 'the offsets measured');
    const status = (await behind.get('/status')).json() as { clock: { skewed: boolean; offsetMs: number } };
    expect(status.clock.skewed, '20 s is within half of MAX_CLOCK_DRIFT_MS').to.equal(false);
    expect(status.clock.offsetMs).to.be.within(-21_000, -19_000);
    expect((await a.get('/set?k=soon&v=1&ttl=10s&w=all')).status).to.equal(200);
    expect((await behind.get('/get?k=soon')).status).to.equal(200);
    // Every clock 11 s later: the key has expired for the mesh; by its own clock, the node
    // behind would still have 19 s to go.
    // A ping in flight across the jump measures a round trip of 11 s and a wrong offset until
    // the next one (40 ms later): polled, with a deadline of a few pings.
    for (const clock of clocks) clock.offsetMs += 11_000;
    for (const node of [a, b, behind]) await waitFor(async () => (await node.get('/get?k=soon')).status === 404, 1000, `${node.url} to hide the key`);
    // The same measure for /ttl (polled too: a ping across the jump may still be answered).
    await waitFor(async () => (await behind.get('/ttl?k=soon')).status === 404, 1000, 'the node behind to say the key has no ttl left');
  });
});
