import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { waitFor } from '@meshkv/common';
import { FAST_MESH, fullMesh } from '../../helpers/mesh';
import { startTestNode, type TestNode } from '../../helpers/node';

const FIXTURES = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'tls');
const file = (set: 'a' | 'b', name: string): string => path.join(FIXTURES, set, name);
const pem = (set: 'a' | 'b', name: string): Buffer => fs.readFileSync(file(set, name));

interface TlsReply {
  readonly status: number;
  readonly text: string;
  /** SHA-256 of the certificate the server presented. */
  readonly served: string;
}

/** One HTTPS request, trusting `ca`; with a client certificate when given. */
function get(url: string, target: string, options: { ca: Buffer[]; cert?: Buffer; key?: Buffer; agent?: https.Agent; headers?: Record<string, string>; servername?: string }): Promise<TlsReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: hostname,
        port,
        path: target,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        agent: options.agent ?? false,
        headers: options.headers,
        ...(options.servername === undefined ? {} : { servername: options.servername, checkServerIdentity: () => undefined }),
      },
      (res) => {
        const served = ((res.socket as TLSSocket).getPeerCertificate()).fingerprint256;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, served }));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const fingerprint = (set: 'a' | 'b', name: string): string => new X509Certificate(pem(set, name)).fingerprint256;

describe('TLS: HTTPS for clients, reloaded certificates, mutual TLS between nodes', function () {
  this.timeout(20_000);
  const nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((t) => t.close()));
  });
  const start = async (env: Record<string, string>): Promise<TestNode> => {
    const t = await startTestNode(env);
    nodes.push(t);
    return t;
  };
  const serving = (set: 'a' | 'b'): Record<string, string> => ({ TLS_CERT_FILE: file(set, 'node.pem'), TLS_KEY_FILE: file(set, 'node-key.pem') });
  const meshOf = (set: 'a' | 'b'): Record<string, string> => ({ MESH_TLS_CERT_FILE: file(set, 'mesh-node.pem'), MESH_TLS_KEY_FILE: file(set, 'mesh-node-key.pem'), MESH_TLS_CA_FILE: file(set, 'mesh-ca.pem') });

  it('serves HTTPS with TLS_CERT_FILE: a client trusting the CA gets its answers; plain HTTP gets none', async () => {
    const t = await start(serving('a'));
    expect(t.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const reply = await get(t.url, '/set?k=a&v=1', { ca: [pem('a', 'ca.pem')] });
    expect(reply).to.include({ status: 200, text: '{"success":true}', served: fingerprint('a', 'node.pem') });
    await get(t.url, '/healthcheck', { ca: [pem('b', 'ca.pem')] }).then(
      () => expect.fail('a client that does not trust the CA must refuse the server'),
      (error: Error) => expect(error.message).to.match(/self-signed|unable to verify/i),
    );
    const plain = await fetch(t.url.replace('https:', 'http:') + '/healthcheck').then(
      (res) => res.status,
      () => 0,
    );
    expect(plain).to.not.equal(200);
  });

  it('with TLS_CA_FILE takes only clients with a certificate from that CA', async () => {
    const t = await start({ ...serving('a'), TLS_CA_FILE: file('a', 'ca.pem') });
    const ca = [pem('a', 'ca.pem')];
    expect((await get(t.url, '/healthcheck', { ca, cert: pem('a', 'client.pem'), key: pem('a', 'client-key.pem') })).status).to.equal(200);
    for (const credentials of [{}, { cert: pem('b', 'client.pem'), key: pem('b', 'client-key.pem') }]) {
      const outcome = await get(t.url, '/healthcheck', { ca, ...credentials }).then(
        (reply) => reply.status,
        () => 'refused',
      );
      expect(outcome).to.equal('refused');
    }
  });

  it('reads the certificate again on reload and when the files change, without dropping open connections', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-tls-'));
    const cert = path.join(folder, 'node.pem');
    const key = path.join(folder, 'node-key.pem');
    const put = (set: 'a' | 'b'): void => {
      // Written beside, then renamed into place: how a certificate is renewed.
      fs.writeFileSync(`${cert}.new`, pem(set, 'node.pem'));
      fs.writeFileSync(`${key}.new`, pem(set, 'node-key.pem'));
      fs.renameSync(`${key}.new`, key);
      fs.renameSync(`${cert}.new`, cert);
    };
    put('a');
    try {
      const t = await start({ TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
      const ca = [pem('a', 'ca.pem'), pem('b', 'ca.pem')];
      const kept = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
      const before = await get(t.url, '/healthcheck', { ca, agent: kept });
      expect(before.served).to.equal(fingerprint('a', 'node.pem'));
      put('b');
      expect(t.node.reloadTls()).to.equal(true);
      expect((await get(t.url, '/healthcheck', { ca })).served, 'a new connection').to.equal(fingerprint('b', 'node.pem'));
      const open = await get(t.url, '/healthcheck', { ca, agent: kept });
      expect(open, 'the open connection goes on, with the certificate it began with').to.include({ status: 200, served: fingerprint('a', 'node.pem') });
      kept.destroy();
      // A change of the files alone is seen too (they are watched).
      put('a');
      await waitFor(async () => (await get(t.url, '/healthcheck', { ca })).served === fingerprint('a', 'node.pem'), 10_000, 'the watched files read again');
      // A file that cannot be read keeps the certificate in use.
      fs.writeFileSync(cert, 'not a certificate');
      expect(t.node.reloadTls()).to.equal(false);
      expect((await get(t.url, '/healthcheck', { ca })).served).to.equal(fingerprint('a', 'node.pem'));
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('mesh TLS: nodes with certificates from the mesh CA form a mesh and replicate; a node from another CA never joins', async () => {
    const env = { ...FAST_MESH, ADVERTISE_URL: 'https://127.0.0.1:0', ...serving('a'), ...meshOf('a') };
    const first = await start(env);
    const second = await start({ ...env, MESH_NETWORK_URL: first.url });
    await waitFor(() => fullMesh([first, second]), 10_000, 'a mesh over TLS');
    const ca = [pem('a', 'ca.pem')];
    expect((await get(first.url, '/set?k=x&v=over-tls&w=all', { ca })).status).to.equal(200);
    expect((await get(second.url, '/get?k=x', { ca })).text).to.equal('"over-tls"');
    // Peers are answered with the mesh certificate (SNI), clients with the node's own.
    expect((await get(first.url, '/healthcheck', { ca: [pem('a', 'mesh-ca.pem')], servername: 'mesh.meshkv.invalid' })).served).to.equal(fingerprint('a', 'mesh-node.pem'));

    const stranger = await start({ ...env, ...meshOf('b'), MESH_NETWORK_URL: first.url });
    await waitFor(() => /certificate is not from this node's mesh CA/.test(JSON.stringify(stranger.node.mesh.joinStatus())), 10_000, 'the stranger told why it cannot join');
    expect(stranger.node.mesh.joined).to.equal(false);
    expect(first.node.mesh.membership.list().map((peer) => peer.url)).to.not.include(stranger.url);

    // Mesh routes refuse a request without a certificate from the mesh CA, whatever else it has.
    const unsigned = await get(first.url, '/_mesh/digests', { ca });
    expect(unsigned.status).to.equal(405);
    const ping = await get(first.url, '/ping', { ca, cert: pem('a', 'client.pem'), key: pem('a', 'client-key.pem') });
    expect(ping.status).to.equal(401);
    expect(ping.text).to.contain('a certificate from the mesh CA');
  });

  it('refuses TLS settings it cannot use, naming them', async () => {
    const problems = async (env: Record<string, string>): Promise<string> =>
      startTestNode(env).then(
        async (t) => {
          await t.close();
          return '';
        },
        (error: Error) => error.message,
      );
    expect(await problems({ TLS_CERT_FILE: file('a', 'node.pem') })).to.contain('TLS_CERT_FILE and TLS_KEY_FILE go together');
    expect(await problems({ MESH_TLS_CA_FILE: file('a', 'mesh-ca.pem') })).to.contain('MESH_TLS_CERT_FILE, MESH_TLS_KEY_FILE and MESH_TLS_CA_FILE go together');
    expect(await problems({ TLS_CERT_FILE: '/nonexistent/cert.pem', TLS_KEY_FILE: file('a', 'node-key.pem') })).to.contain('TLS_CERT_FILE names a file that cannot be read (ENOENT)');
    expect(await problems({ ...serving('a'), ADVERTISE_URL: 'http://127.0.0.1:0' })).to.contain('ADVERTISE_URL must be an https:// URL');
    expect(await problems({ ...serving('a'), MESH_NETWORK_URL: 'http://127.0.0.1:9' })).to.contain('MESH_NETWORK_URL must list https:// URLs');
  });
});
