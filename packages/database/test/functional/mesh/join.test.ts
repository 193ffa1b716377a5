import { expect } from 'chai';
import * as http from 'node:http';
import type * as net from 'node:net';
import type { NodeStatus } from '@meshkv/client';
import { silentLogger } from '@meshkv/common';
import { loadConfig } from '../../../src/config';
import { DatabaseNode } from '../../../src/node';
import { waitFor } from '../../helpers/http';
import { FAST_MESH, fullMesh } from '../../helpers/mesh';
import { startTestNode, type TestNode } from '../../helpers/node';

describe('joining a mesh (in-process nodes on real sockets)', function () {
  this.timeout(20_000);
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const started = async (env: Record<string, string>): Promise<TestNode> => {
    const node = await startTestNode({ ...FAST_MESH, ...env });
    cleanups.push(() => node.close());
    return node;
  };
  const join = async (node: TestNode): Promise<NodeStatus['join']> => ((await node.get('/status')).json() as NodeStatus).join;
  /** A port that refuses connections: a node started there, then stopped. */
  const closedUrl = async (): Promise<string> => {
    const gone = await startTestNode({});
    await gone.close();
    return gone.url;
  };

  it('a node whose seed is unreachable is not ready and takes no writes, says why, and joins once the seed runs', async () => {
    const seedUrl = await closedUrl();
    const port = Number(new URL(seedUrl).port);
    const lonely = await started({ MESH_NETWORK_URL: seedUrl });
    await waitFor(async () => (await join(lonely)).seeds[0]?.problem?.startsWith('unreachable') === true, 5000, 'the reason');
    await new Promise((resolve) => setTimeout(resolve, 300)); // several ping rounds: it stays unready
    expect(lonely.node.mesh.isReady).to.equal(false);
    const write = await lonely.get('/set?k=a&v=1');
    expect(write.status).to.equal(503);
    expect(write.json()).to.include({ error: 'NOT_JOINED' });
    expect((await lonely.get('/get?k=a')).status, 'reads go on').to.equal(404);
    // The seed comes up on its port: the node joins and takes writes.
    const seed = await started({ PORT: String(port) });
    await waitFor(() => lonely.node.mesh.isReady && fullMesh([seed, lonely]), 5000, 'the join');
    expect(await join(lonely)).to.deep.equal({ joined: true, seeds: [{ url: seedUrl, problem: null }] });
    expect((await lonely.get('/set?k=a&v=1')).status).to.equal(200);
  });

  it('names the reason: a seed with another MESH_SECRET refuses it, a server that is not MeshKV is not a node', async () => {
    const secretSeed = await started({ MESH_SECRET: 'one secret' });
    const other = http.createServer((_req, res) => res.writeHead(404).end('nothing here'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => other.close(() => resolve())));
    const otherUrl = `http://127.0.0.1:${(other.address() as net.AddressInfo).port}`;
    const lonely = await started({ MESH_SECRET: 'another secret', MESH_NETWORK_URL: `${secretSeed.url},${otherUrl}` });
    await waitFor(async () => (await join(lonely)).seeds.every((seed) => seed.problem !== null), 5000, 'both reasons');
    const [refused, stranger] = (await join(lonely)).seeds;
    expect(refused?.problem).to.match(/^refused: .*MESH_SECRET \(401/);
    expect(stranger?.problem).to.match(/^not a MeshKV node: HTTP 404/);
    expect(lonely.node.mesh.joined).to.equal(false);
  });

  it('START_ALONE=true starts a mesh of its own when no seed answers (the old behaviour, on purpose)', async () => {
    const lonely = await started({ MESH_NETWORK_URL: await closedUrl(), START_ALONE: 'true' });
    await waitFor(() => lonely.node.mesh.isReady, 5000, 'a mesh of its own');
    expect(lonely.node.mesh.joined).to.equal(false);
    expect((await lonely.get('/set?k=a&v=1')).status).to.equal(200);
  });

  it('JOIN_TIMEOUT_MS: a node that cannot join gives up, naming why', async () => {
    const seedUrl = await closedUrl();
    let fatal: string | undefined;
    const config = loadConfig({ ...FAST_MESH, PORT: '0', BIND_ADDRESS: '127.0.0.1', MESH_NETWORK_URL: seedUrl, JOIN_TIMEOUT_MS: '300' });
    const node = new DatabaseNode(config, { logger: silentLogger(), onFatal: (message) => (fatal = message) });
    await node.listen();
    cleanups.push(() => node.shutdown());
    await waitFor(() => fatal !== undefined, 5000, 'the node to give up');
    expect(fatal).to.match(new RegExp(`^cannot join the mesh: no seed answered within JOIN_TIMEOUT_MS \\(300 ms\\): ${seedUrl}: unreachable`));
  });
});
