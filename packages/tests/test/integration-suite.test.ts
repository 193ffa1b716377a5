import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { makeCertificates } from '../src/certs';
import { freePort } from '../src/bench/processes';
import { NodeProcess } from '../src/cluster/node-process';
import { SCENARIO_ENV, waitFor } from './helpers/mesh';

const MOCHA = require.resolve('mocha/bin/mocha.js');
const ROOT = path.join(__dirname, '..', '..');
const ADMIN_KEY = 'integration-admin-key-0123456789';
const BALANCER_ENTRY = path.join(path.dirname(require.resolve('@meshkv/load-balancer/package.json')), 'dist', 'main.js');

/** The balancer's /healthcheck status (passed through to a node), over TLS trusting `caFile`; 0 when nothing answers. */
async function balancerHealth(url: string, caFile: string | undefined): Promise<number> {
  const dispatcher = caFile === undefined ? undefined : new Agent({ connect: { ca: fs.readFileSync(caFile) } });
  try {
    const res = await request(`${url}/healthcheck`, { headersTimeout: 2000, bodyTimeout: 2000, ...(dispatcher === undefined ? {} : { dispatcher }) });
    await res.body.text();
    return res.statusCode;
  } catch {
    return 0;
  } finally {
    await dispatcher?.destroy();
  }
}

/** Runs the integration suite (test-integration) as a user would, against `env.SERVICE_URL`. */
function suite(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MOCHA, '--config', '.mocharc.integration.json', '--reporter', 'dot'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('the integration suite, run as users run it', function () {
  this.timeout(120_000);
  const nodes: NodeProcess[] = [];
  let balancer: ChildProcess | undefined;
  afterEach(async () => {
    balancer?.kill('SIGTERM');
    balancer = undefined;
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  it('passes against a single node', async () => {
    const node = await NodeProcess.start('single', {});
    nodes.push(node);
    const { code, out } = await suite({ SERVICE_URL: node.url });
    expect(code, out).to.equal(0);
    expect(out).to.match(/\d+ passing/);
  });

  /** Three nodes with `env`, in a full mesh, and the balancer in front of them: its URL. */
  async function meshBehindBalancer(env: Record<string, string>, caFile?: string): Promise<string> {
    for (let i = 0; i < 3; i++) {
      nodes.push(await NodeProcess.start(`mesh-${i + 1}`, { ...SCENARIO_ENV, ...env, MESH_NETWORK_URL: i === 0 ? '' : (nodes[0] as NodeProcess).url }, caFile === undefined ? {} : { caFile }));
    }
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.ready && s.peers.filter((p) => p.state === 'alive').length === 2), 10_000, 'a full mesh');
    const port = await freePort();
    balancer = spawn(process.execPath, [BALANCER_ENTRY], {
      env: { PATH: process.env.PATH ?? '', SERVICE_PORT: String(port), BIND_ADDRESS: '127.0.0.1', ADMIN_PORT: '0', BACKENDS: nodes.map((n) => `127.0.0.1:${n.port}`).join(','), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    // The balancer passes TLS through: through it the nodes answer in HTTPS.
    const serviceUrl = `${(nodes[0] as NodeProcess).url.split(':')[0]}://127.0.0.1:${port}`;
    await waitFor(async () => (await balancerHealth(serviceUrl, caFile)) === 200, 10_000, 'the balancer');
    return serviceUrl;
  }

  it('passes through the balancer in front of a 3-node mesh, with the cross-node checks', async () => {
    const serviceUrl = await meshBehindBalancer({});
    const { code, out } = await suite({ SERVICE_URL: serviceUrl, MESH_URLS: nodes.map((n) => n.url).join(',') });
    expect(code, out).to.equal(0);
    expect(out).to.not.contain('mesh checks skipped');
    expect(out).to.contain('security checks skipped');
  });

  it('passes with an API key through the balancer in front of a 3-node mesh over TLS that requires keys, security checks included; no secret in the logs', async () => {
    const certs = makeCertificates(fs.mkdtempSync(path.join(os.tmpdir(), 'meshkv-suite-tls-')));
    const tls = { TLS_CERT_FILE: certs.nodeCert, TLS_KEY_FILE: certs.nodeKey, MESH_TLS_CERT_FILE: certs.meshCert, MESH_TLS_KEY_FILE: certs.meshKey, MESH_TLS_CA_FILE: certs.meshCa };
    const serviceUrl = await meshBehindBalancer({ ADMIN_KEY, LOG_LEVEL: 'debug', ...tls }, certs.ca);
    expect(serviceUrl).to.match(/^https:/);
    const { code, out } = await suite({ SERVICE_URL: serviceUrl, MESH_URLS: nodes.map((n) => n.url).join(','), SERVICE_KEY: ADMIN_KEY, SERVICE_CA_FILE: certs.ca });
    fs.rmSync(certs.dir, { recursive: true, force: true });
    expect(code, out).to.equal(0);
    expect(out).to.not.contain('security checks skipped');
    // Every request was logged (debug): neither the admin key nor a key the suite made is in the logs.
    const logs = nodes.map((n) => n.log).join('\n');
    expect(logs).to.contain('"path":"/admin/keys/create"');
    expect(logs).to.not.contain(ADMIN_KEY);
    expect(logs).to.not.match(/mkv_[0-9a-f]{12}_/);
  });

  it('fails loudly, at once, against a closed port', async () => {
    const { code, out } = await suite({ SERVICE_URL: `http://127.0.0.1:${await freePort()}` });
    expect(code).to.not.equal(0);
    expect(out).to.contain('Nothing answers at SERVICE_URL');
    expect(out).to.contain('"before all" hook');
  });
});
