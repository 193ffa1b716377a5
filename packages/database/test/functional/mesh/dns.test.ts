import { expect } from 'chai';
import { freePort } from '@meshkv/common';
import { waitFor } from '../../helpers/http';
import { type DnsServer, hasDnsmasq, startDnsServer } from '@meshkv/common/testing';
import { FAST_MESH, fullMesh } from '../../helpers/mesh';
import { startTestNode, type TestNode } from '../../helpers/node';

/**
 * DNS seeds against a real DNS server (dnsmasq) whose records change while nodes run:
 * nodes on 127.0.0.2, .3, .4, all on one port, seeded with `dns://mesh.test:PORT`.
 */
describe('DNS seeds (a real DNS server, in-process nodes on real sockets)', function () {
  this.timeout(30_000);
  let dns: DnsServer | undefined;
  const nodes: TestNode[] = [];

  before(function () {
    if (!hasDnsmasq()) {
      process.stdout.write('      (skipped: no dnsmasq here; apt-get install dnsmasq-base)\n');
      this.skip();
    }
  });

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.close()));
    await dns?.stop();
    dns = undefined;
  });

  async function start(address: string, port: number, seed: string, env: Record<string, string> = {}): Promise<TestNode> {
    const node = await startTestNode({
      ...FAST_MESH,
      BIND_ADDRESS: address,
      PORT: String(port),
      ADVERTISE_URL: `http://${address}:${port}`,
      MESH_NETWORK_URL: seed,
      DNS_SERVERS: (dns as DnsServer).address,
      ...env,
    });
    nodes.push(node);
    return node;
  }

  it('nodes find each other through a name; replicas added to it join without a restart; a name that stops resolving forgets no peer', async () => {
    dns = await startDnsServer();
    const port = await freePort();
    const seed = `dns://mesh.test:${port}`;
    await dns.setHosts([['127.0.0.2', 'mesh.test']]);
    const a = await start('127.0.0.2', port, seed);
    await waitFor(() => a.node.mesh.isReady, 5000, 'the first node, alone behind the name, to start a mesh of its own');
    await dns.setHosts([['127.0.0.2', 'mesh.test'], ['127.0.0.3', 'mesh.test']]);
    const b = await start('127.0.0.3', port, seed);
    await waitFor(() => fullMesh([a, b]), 5000, 'two nodes through the name');
    // A third replica: the name grows; the running nodes look it up again each round.
    const c = await start('127.0.0.4', port, 'http://127.0.0.4:1', { START_ALONE: 'true', JOIN_TIMEOUT_MS: '0' });
    await dns.setHosts([['127.0.0.2', 'mesh.test'], ['127.0.0.3', 'mesh.test'], ['127.0.0.4', 'mesh.test']]);
    await waitFor(() => fullMesh([a, b, c]), 10_000, 'the third node, found by the others through the name');
    expect((await a.get('/set?k=x&v=1&w=all')).status).to.equal(200);
    expect((await c.get('/get?k=x')).text).to.equal('"1"');
    // The name stops resolving: every peer stays, and /status says why the name gives nothing.
    await dns.setHosts([], ['mesh.test']);
    await waitFor(() => [...a.node.mesh.seeds.problemsNow().values()].includes('ENOTFOUND'), 5000, 'the lookup to fail');
    expect(fullMesh([a, b, c])).to.equal(true);
    const status = (await a.get('/status')).json() as { join: { seeds: { url: string; problem: string | null }[] } };
    expect(status.join.seeds).to.deep.include({ url: seed, problem: 'cannot look the name up: ENOTFOUND' });
  });

  it('a node whose name names nobody yet is not ready, says why, and joins once the name has a node', async () => {
    dns = await startDnsServer();
    const port = await freePort();
    const seed = `dns://mesh.test:${port}`;
    await dns.setHosts([['127.0.0.2', 'other.test']]);
    const a = await start('127.0.0.2', port, 'http://127.0.0.2:1', { START_ALONE: 'true' });
    await waitFor(() => a.node.mesh.isReady, 5000, 'the first node ready on its own');
    const b = await start('127.0.0.3', port, seed);
    await waitFor(() => b.node.mesh.seeds.problemsNow().size === 1, 5000, 'the lookup to fail');
    expect(b.node.mesh.isReady).to.equal(false);
    expect((await b.get('/set?k=x&v=1')).status, 'writes wait for a join').to.equal(503);
    expect((await b.get('/ready')).status, 'no traffic for it yet (a readiness probe)').to.equal(503);
    expect((await b.get('/healthcheck')).status, 'yet alive (a liveness probe)').to.equal(200);
    await dns.setHosts([['127.0.0.2', 'mesh.test']]);
    await waitFor(() => fullMesh([a, b]) && b.node.mesh.isReady, 10_000, 'b to join through the name');
    expect((await b.get('/ready')).status).to.equal(200);
  });

  it('takes the targets and ports of SRV records (dns+srv://)', async () => {
    const ports = [await freePort(), await freePort()];
    dns = await startDnsServer(ports.map((port, i) => ({ name: '_http._tcp.mesh.test', target: `node${i}.mesh.test`, port })));
    await dns.setHosts([['127.0.0.1', 'node0.mesh.test'], ['127.0.0.1', 'node1.mesh.test']]);
    const seed = 'dns+srv://_http._tcp.mesh.test';
    // URLs that name the nodes otherwise than the records do (as container names do in Docker).
    const a = await start('127.0.0.1', ports[0] as number, seed, { ADVERTISE_URL: `http://localhost:${ports[0]}` });
    const b = await start('127.0.0.1', ports[1] as number, seed, { ADVERTISE_URL: `http://localhost:${ports[1]}` });
    const knows = (x: TestNode, y: TestNode): boolean => x.node.mesh.membership.alive().some((peer) => peer.nodeId === y.node.nodeId);
    await waitFor(() => knows(a, b) && knows(b, a), 10_000, 'two nodes through SRV records');
    expect(a.node.mesh.seeds.current()).to.have.members(ports.map((port) => `http://127.0.0.1:${port}`));
    // Its own address under the name answered as itself: it is no longer pinged, nor shown as a seed.
    await waitFor(async () => ((await a.get('/status')).json() as { join: { seeds: { url: string }[] } }).join.seeds.length === 1, 5000, "a's own address dropped from its seeds");
    const seeds = ((await a.get('/status')).json() as { join: { seeds: { url: string; problem: string | null }[] } }).join.seeds;
    expect(seeds).to.deep.equal([{ url: `http://127.0.0.1:${ports[1]}`, problem: null }]);
  });

  it('reaches peers by names only DNS_SERVERS knows (a pod advertising its own name)', async () => {
    dns = await startDnsServer();
    const port = await freePort();
    await dns.setHosts([['127.0.0.2', 'pod-0.mesh.test'], ['127.0.0.3', 'pod-1.mesh.test'], ['127.0.0.2', 'mesh.test'], ['127.0.0.3', 'mesh.test']]);
    const seed = `dns://mesh.test:${port}`;
    const a = await start('127.0.0.2', port, seed, { ADVERTISE_URL: `http://pod-0.mesh.test:${port}` });
    const b = await start('127.0.0.3', port, seed, { ADVERTISE_URL: `http://pod-1.mesh.test:${port}` });
    const alive = (t: TestNode): string => t.node.mesh.membership.alive().map((peer) => peer.url).join();
    await waitFor(() => alive(a) === `http://pod-1.mesh.test:${port}` && alive(b) === `http://pod-0.mesh.test:${port}`, 10_000, 'two nodes meshed under names the system resolver does not know');
    expect((await a.get(`/set?k=named&v=1&w=all`)).status, 'a write replicated to the peer reached by its name').to.equal(200);
    expect((await b.get('/get?k=named')).json()).to.equal('1');
  });
});
