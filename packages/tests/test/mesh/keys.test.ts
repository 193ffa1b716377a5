import { expect } from 'chai';
import { MeshKvClient } from '@meshkv/client';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NodeProcess } from '../../src/cluster/node-process';
import { converged, isFullMesh, SCENARIO_ENV, waitFor } from '../helpers/mesh';

const ADMIN_KEY = 'mesh-scenario-admin-key-0123456789';

/**
 * API keys and tenants across a mesh of real node processes that require keys: a key made
 * on one node works on every node; a revoke answered is in force on every node that
 * acknowledged it, and on a node that was away within the bound of docs/security.md once it
 * is back; a tenant's clear replicates; keys survive a restart (LMDB).
 */
describe('mesh scenarios: API keys and tenants (real node processes)', function () {
  this.timeout(90_000);
  const nodes: NodeProcess[] = [];
  const admins: MeshKvClient[] = [];
  const others: MeshKvClient[] = [];
  let folder = '';
  const as = (node: NodeProcess, apiKey: string): MeshKvClient => {
    const client = new MeshKvClient({ url: node.url, apiKey, timeoutMs: 5000 });
    others.push(client);
    return client;
  };
  const whoamiStatus = async (node: NodeProcess, key: string): Promise<number> =>
    (await fetch(`${node.url}/whoami`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(5000) })).status;

  beforeEach(async () => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-keys-'));
    for (let i = 0; i < 3; i++) {
      const env = { ...SCENARIO_ENV, ADMIN_KEY, MESH_NETWORK_URL: i === 0 ? '' : (nodes[0] as NodeProcess).url, ...(i === 2 ? { STORAGE: 'lmdb', DATA_DIR: folder } : {}) };
      nodes.push(await NodeProcess.start(`keys-${i + 1}`, env));
    }
    await waitFor(() => isFullMesh(nodes), 10_000, 'a full mesh');
    admins.push(...nodes.map((node) => new MeshKvClient({ url: node.url, apiKey: ADMIN_KEY, timeoutMs: 10_000 })));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`\n--- ${node.name} log (tail) ---\n${node.log.slice(-3000)}\n`);
    }
    await Promise.all([...admins.splice(0), ...others.splice(0)].map((client) => client.close()));
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it('a key made on A works on B and C at once; revoked on B, it fails on A and B at once and on C, frozen meanwhile, within the bound once back', async () => {
    const [a, b] = admins as [MeshKvClient, MeshKvClient, MeshKvClient];
    const [nodeA, nodeB, nodeC] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const made = await a.createKey({ name: 'app', tenant: 'shop' });
    expect(made.replication).to.equal(undefined);
    for (const node of nodes) expect(await whoamiStatus(node, made.key), node.name).to.equal(200);
    await as(nodeC, made.key).set('x', '1', { w: 'all' });
    expect(await as(nodeA, made.key).get('x')).to.equal('1');

    nodeC.freeze();
    try {
      // w=2: A and B hold the revoke when it is answered; C is away.
      expect(await b.revokeKey(made.id, { w: 2 })).to.equal(true);
      expect(await whoamiStatus(nodeA, made.key)).to.equal(401);
      expect(await whoamiStatus(nodeB, made.key)).to.equal(401);
    } finally {
      nodeC.thaw();
    }
    // The bound (docs/security.md): the retried replication or one anti-entropy round after it answers again.
    const back = Date.now();
    await waitFor(async () => (await whoamiStatus(nodeC, made.key)) === 401, 2 * Number(SCENARIO_ENV.AE_INTERVAL_MS) + 2000, 'the revoke on C once back');
    process.stdout.write(`      (revoke in force on the node that was away ${Date.now() - back} ms after it was back)\n`);
  });

  it("a tenant's /clear on A clears it on every node; a later write survives everywhere; the others' data stays", async () => {
    const [a] = admins as [MeshKvClient];
    const one = await a.createKey({ name: 'one', tenant: 't1' });
    const two = await a.createKey({ name: 'two', tenant: 't2' });
    const [nodeA, nodeB, nodeC] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    await as(nodeB, one.key).batch(Array.from({ length: 50 }, (_, i) => ({ op: 'set' as const, k: `k${i}`, v: String(i) })), { w: 'all' });
    await as(nodeC, two.key).set('k0', 'two', { w: 'all' });
    await as(nodeA, one.key).clear({ w: 'all' });
    await as(nodeA, one.key).set('after', 'yes', { w: 'all' });
    for (const node of nodes) {
      expect(await as(node, one.key).keys(), node.name).to.deep.equal(['after']);
      expect(await as(node, two.key).all(), node.name).to.deep.equal([{ k: 'k0', v: 'two' }]);
    }
    await waitFor(() => converged(nodes), 10_000, 'every node with the same data');
    expect((await as(nodeC, one.key).whoami()).usage).to.include({ keys: 1 });
  });

  it("keys and a tenant's data survive a restart of the LMDB node", async () => {
    const [a] = admins as [MeshKvClient];
    const nodeC = nodes[2] as NodeProcess;
    const made = await a.createKey({ name: 'kept', tenant: 'kept' });
    await as(nodeC, made.key).set('v', '1', { w: 'all' });
    await nodeC.stop();
    await nodeC.restart();
    expect(await whoamiStatus(nodeC, made.key)).to.equal(200);
    expect(await as(nodeC, made.key).get('v')).to.equal('1');
    expect((await admins[2]?.listKeys())?.map((key) => key.id)).to.include(made.id);
  });
});
