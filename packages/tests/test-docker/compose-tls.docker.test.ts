import { expect } from 'chai';
import type { NodeStatus } from '@meshkv/client';
import { waitFor as waitUntil } from '@meshkv/common';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from '../src/bench/processes';
import { type CertificateSet, makeCertificates } from '../src/certs';
import { ComposeProject, containerAddress } from '../src/docker/compose';
import { composeCommand, ensureCompilerImage, ensureNodeImage } from '../src/docker/engine';
import { needDocker } from './hooks';

const ROOT = path.resolve(path.dirname(require.resolve('@meshkv/tests/package.json')), '..', '..');
const PROJECT = `meshkv-e2e-tls-${Math.random().toString(36).slice(2, 8)}`;
const ADMIN_KEY = crypto.randomBytes(16).toString('hex');

const started = Date.now();
function step(text: string): void {
  process.stdout.write(`      [${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${text}\n`);
}

/**
 * The README's TLS deployment on a real engine: docker-compose.yaml with
 * docker-compose.tls.yaml and ADMIN_KEY, certificates from `npm run certs`: HTTPS through
 * the balancer (which passes TLS through), mutual TLS between the nodes, keys required.
 */
describe('Docker Compose with TLS and API keys (docker-compose.tls.yaml on a real engine)', function () {
  this.timeout(300_000);
  let compose: ComposeProject | undefined;
  let certs: CertificateSet | undefined;
  let service = '';
  let agent: Agent | undefined;

  /** GET over HTTPS trusting the local CA (container addresses are not in the certificate: the name is not checked). */
  const get = async (url: string, key: string | null = ADMIN_KEY): Promise<{ status: number; text: string }> => {
    const res = await request(url, { dispatcher: agent, headers: key === null ? {} : { authorization: `Bearer ${key}` }, headersTimeout: 5000, bodyTimeout: 5000 });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const nodes = (): string[] => (compose as ComposeProject).containers('database').map((id) => `https://${containerAddress(id)}:8100`);

  before(async function () {
    await needDocker(this);
    const found = composeCommand();
    if ('why' in found) throw new Error(`The Compose tests need Compose: ${found.why}`);
    certs = makeCertificates(fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-compose-tls-')), { names: ['load-balancer'], readableKeys: true });
    agent = new Agent({ connect: { ca: fs.readFileSync(certs.ca), checkServerIdentity: () => undefined } });
    const port = await freePort();
    service = `https://127.0.0.1:${port}`;
    compose = new ComposeProject([...found.command, '-f', 'docker-compose.yaml', '-f', 'docker-compose.tls.yaml'], ROOT, PROJECT, {
      NODE_IMAGE: ensureNodeImage(),
      COMPILER_IMAGE: ensureCompilerImage(),
      EXPOSE_PORT: String(port),
      ADMIN_EXPOSE_PORT: String(await freePort()),
      MESH_SECRET: crypto.randomBytes(16).toString('hex'),
      ADMIN_KEY,
      MESHKV_CERTS_DIR: certs.dir,
      DATABASE_REPLICAS: '3',
      DATABASE_STORAGE: 'memory',
      LOG_LEVEL: 'info',
    });
    step(`-f docker-compose.yaml -f docker-compose.tls.yaml -p ${PROJECT} build, up -d`);
    compose.run(['build']);
    compose.run(['up', '-d']);
  });

  after(async () => {
    if (compose !== undefined) compose.run(['down', '--volumes', '--remove-orphans', '--timeout', '5']);
    await agent?.close();
    if (certs !== undefined) fs.rmSync(certs.dir, { recursive: true, force: true });
  });

  it('3 nodes form a mesh over mutual TLS; the balancer passes HTTPS through; keys are required', async () => {
    const took = await waitUntil(
      async () => {
        const all = nodes();
        if (all.length !== 3) return false;
        const statuses = await Promise.all(all.map(async (url) => JSON.parse((await get(`${url}/status`)).text) as NodeStatus));
        return statuses.every((status) => status.ready && status.advertiseUrl.startsWith('https://') && status.peers.filter((peer) => peer.state === 'alive').length === 2);
      },
      120_000,
      'three nodes alive on each other over TLS',
      { intervalMs: 500, retryErrors: true },
    );
    step(`mesh over mutual TLS ${took} ms after up`);
    await waitUntil(async () => (await get(`${service}/healthcheck`, null)).status === 200, 30_000, 'the balancer', { intervalMs: 200, retryErrors: true });
    expect((await get(`${service}/set?k=tls&v=yes&w=all`)).status).to.equal(200);
    for (const url of nodes()) expect((await get(`${url}/get?k=tls`)).text, url).to.equal('"yes"');
    expect((await get(`${service}/get?k=tls`, null)).status, 'no key').to.equal(401);
    const plain = await fetch(service.replace('https:', 'http:') + '/healthcheck').then(
      (res) => res.status,
      () => 0,
    );
    expect(plain, 'plain HTTP gets no answer').to.not.equal(200);
    step('a write through https://127.0.0.1 with w=all is on all 3 nodes; no key: 401; plain HTTP: none');
  });

  it('the integration suite passes through the balancer over HTTPS with the admin key (`run tests`)', async () => {
    const project = compose as ComposeProject;
    step('run --rm tests   (SERVICE_URL=https://load-balancer:8080, SERVICE_CA_FILE=/certs/ca.pem, SERVICE_KEY=ADMIN_KEY)');
    const result = await project.start(['run', '--rm', '-T', 'tests'], 180_000);
    const summary = result.output.split('\n').filter((line) => /passing|failing|pending/.test(line));
    step(`integration suite: ${summary.map((line) => line.trim()).join(', ')}`);
    expect(result.code, result.output.slice(-6000)).to.equal(0);
    expect(result.output).to.match(/\d+ passing/);
    expect(result.output).to.not.contain('security checks skipped');
  });
});
