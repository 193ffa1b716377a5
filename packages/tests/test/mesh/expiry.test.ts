import { expect } from 'chai';
import { MeshKvClient } from '@meshkv/client';
import { signMeshRequest } from '@meshkv/common';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NodeProcess } from '../../src/cluster/node-process';
import { converged, isFullMesh, SCENARIO_ENV, SECRET, waitFor } from '../helpers/mesh';

/** The digests of every bucket a node holds, as anti-entropy compares them (a signed mesh request). */
async function digestsOf(node: NodeProcess): Promise<string> {
  const body = '{"clear":null}';
  const res = await fetch(`${node.url}/_mesh/digests`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization: signMeshRequest(SECRET, { method: 'POST', path: '/_mesh/digests', body }) },
  });
  expect(res.status).to.equal(200);
  return ((await res.json()) as { digests: string }).digests;
}

/**
 * Expiring keys across a mesh of real node processes: a ttl written on one node expires on
 * every node, /expire replicates, a node stopped past an expiry and restarted does not
 * bring the value back, anti-entropy finds nothing to repair, batches replicate and scans
 * give the same pages everywhere.
 */
describe('mesh scenarios: expiring keys, batches, scans (real node processes)', function () {
  this.timeout(90_000);
  const nodes: NodeProcess[] = [];
  const clients: MeshKvClient[] = [];
  let folder = '';

  beforeEach(async () => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-expiry-'));
    for (let i = 0; i < 3; i++) {
      const env = { ...SCENARIO_ENV, MESH_NETWORK_URL: i === 0 ? '' : (nodes[0] as NodeProcess).url, ...(i === 2 ? { STORAGE: 'lmdb', DATA_DIR: folder } : {}) };
      nodes.push(await NodeProcess.start(`expiry-${i + 1}`, env));
    }
    await waitFor(() => isFullMesh(nodes), 10_000, 'a full mesh');
    clients.push(...nodes.map((node) => new MeshKvClient({ url: node.url })));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') {
      for (const node of nodes) process.stderr.write(`\n--- ${node.name} log (tail) ---\n${node.log.slice(-3000)}\n`);
    }
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
    fs.rmSync(folder, { recursive: true, force: true });
  });

  it('a ttl written on A expires on B and C; /expire replicates; C stopped past the expiry does not bring it back', async () => {
    const [a, b, c] = clients as [MeshKvClient, MeshKvClient, MeshKvClient];
    await a.set('short', 'v', { ttl: 1500, w: 'all' });
    await a.set('plain', 'p', { w: 'all' });
    const bulk = Array.from({ length: 200 }, (_, i) => ({ op: 'set' as const, k: `bulk-${i}`, v: String(i), ttl: 1500 }));
    expect((await a.batch(bulk, { w: 'all' })).every((result) => 'success' in result)).to.equal(true);
    expect(await Promise.all(clients.map((client) => client.get('short')))).to.deep.equal(['v', 'v', 'v']);
    expect(await c.ttl('short')).to.be.within(1, 1500);

    await b.expire('plain', '10m', { w: 'all' });
    const metas = await Promise.all(clients.map((client) => client.meta('plain')));
    expect(new Set(metas.map((meta) => meta?.version)).size, 'one version on every node').to.equal(1);
    // Nodes on one clock measure an offset of 0 between them: no node counts more than B gave.
    for (const meta of metas) expect(meta?.ttlMs).to.be.within(590_000, 600_000);

    // C stops with the expiring values on disk; A and B see them expire and sweep them.
    await (nodes[2] as NodeProcess).stop();
    await waitFor(async () => (await a.get('short')) === undefined && (await b.get('short')) === undefined, 10_000, 'the key to expire on A and B');
    await waitFor(async () => (await a.status()).expiry.expired >= 201 && (await b.status()).expiry.expired >= 201, 10_000, 'A and B to sweep');
    expect(await a.keys(), 'only the key without a past expiry').to.deep.equal(['plain']);

    await (nodes[2] as NodeProcess).restart();
    expect(await c.get('short'), 'C hides what expired while it was stopped, before any sweep or repair').to.equal(undefined);
    expect((await c.scan({ prefix: 'bulk-' })).items).to.deep.equal([]);
    await waitFor(() => isFullMesh(nodes), 10_000, 'C back in the mesh');
    await waitFor(async () => (await c.status()).expiry.expired >= 201, 10_000, 'C to sweep what it held');
    // Anti-entropy: equal digests whether or not a node had swept, so nothing to repair.
    await waitFor(async () => (await c.status()).mesh.syncRounds >= 2, 10_000, 'anti-entropy rounds of C');
    const digests = await Promise.all(nodes.map(digestsOf));
    expect(digests[1], 'B and A').to.equal(digests[0]);
    expect(digests[2], 'C and A').to.equal(digests[0]);
    for (const client of [a, b, c]) {
      expect(await client.get('short'), 'never back from C').to.equal(undefined);
      expect(await client.keys()).to.deep.equal(['plain']);
    }
    expect((await c.status()).mesh.lastSync?.pulled ?? 0, 'C pulled nothing to repair').to.equal(0);
  });

  it('a batch on one node replicates in order; every node gives the same scan pages', async () => {
    const [a] = clients as [MeshKvClient];
    const ops = Array.from({ length: 300 }, (_, i) => ({ op: 'set' as const, k: `page/${String(i).padStart(3, '0')}`, v: String(i) }));
    await a.batch([...ops, { op: 'rm', k: 'page/000' }, { op: 'set', k: 'page/001', v: 'last' }], { w: 'all' });
    await waitFor(() => converged(nodes), 10_000, 'convergence');
    const pagesOf = async (client: MeshKvClient): Promise<string[][]> => {
      const pages: string[][] = [];
      let after: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await client.scanKeys({ prefix: 'page/', limit: 100, ...(after === undefined ? {} : { after }) });
        pages.push(page.items);
        if (page.next === null) break;
        after = page.next;
      }
      return pages;
    };
    const all = await Promise.all(clients.map(pagesOf));
    expect(all[0]?.flat()).to.have.length(299);
    expect(all[1]).to.deep.equal(all[0]);
    expect(all[2]).to.deep.equal(all[0]);
    // A cursor from one node continues on another.
    const first = await a.scanKeys({ prefix: 'page/', limit: 100 });
    const second = await (clients[2] as MeshKvClient).scanKeys({ prefix: 'page/', limit: 100, after: first.next as string });
    expect(second.items).to.deep.equal(all[0]?.[1]);
    expect(await (clients[1] as MeshKvClient).get('page/001')).to.equal('last');
  });
});
