import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CertificateSet, makeCertificates } from '../../src/certs';
import { NodeProcess } from '../../src/cluster/node-process';
import { isFullMesh, SCENARIO_ENV, waitFor } from '../helpers/mesh';

/**
 * Mutual TLS between real node processes: nodes with certificates from one mesh CA form a
 * mesh; a node whose certificate comes from another CA never joins it, even with the right
 * MESH_SECRET, and says why.
 */
describe('mesh scenarios: mutual TLS (real node processes)', function () {
  this.timeout(60_000);
  const nodes: NodeProcess[] = [];
  let sets: CertificateSet[] = [];
  before(() => {
    sets = ['ours', 'theirs'].map((name) => makeCertificates(fs.mkdtempSync(path.join(os.tmpdir(), `meshkv-mtls-${name}-`))));
  });
  after(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
    for (const set of sets) fs.rmSync(set.dir, { recursive: true, force: true });
  });
  const envOf = (set: CertificateSet): Record<string, string> => ({ MESH_TLS_CERT_FILE: set.meshCert, MESH_TLS_KEY_FILE: set.meshKey, MESH_TLS_CA_FILE: set.meshCa });

  it('a node with a certificate from another CA never joins, even with the mesh secret', async () => {
    const [ours, theirs] = sets as [CertificateSet, CertificateSet];
    for (let i = 0; i < 2; i++) {
      nodes.push(await NodeProcess.start(`mtls-${i + 1}`, { ...SCENARIO_ENV, ...envOf(ours), MESH_NETWORK_URL: i === 0 ? '' : (nodes[0] as NodeProcess).url }, { caFile: ours.meshCa }));
    }
    await waitFor(() => isFullMesh(nodes), 10_000, 'a mesh over mutual TLS');
    const stranger = await NodeProcess.start('mtls-stranger', { ...SCENARIO_ENV, ...envOf(theirs), MESH_NETWORK_URL: (nodes[0] as NodeProcess).url }, { caFile: theirs.meshCa });
    nodes.push(stranger);
    await waitFor(async () => JSON.stringify((await stranger.status()).join).includes("certificate is not from this node's mesh CA"), 10_000, 'the stranger saying why it cannot join');
    const [first, second] = nodes as [NodeProcess, NodeProcess];
    // The stranger has pinged the first node by now (it says why that failed): neither node lists it.
    for (const node of [first, second]) expect((await node.status()).peers.map((peer) => peer.url), node.name).to.not.include(stranger.url);
    expect((await stranger.status()).peers.filter((peer) => peer.state === 'alive')).to.deep.equal([]);
  });
});
