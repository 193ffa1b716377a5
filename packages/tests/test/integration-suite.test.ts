import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { freePort } from '../src/bench/processes';
import { NodeProcess } from '../src/cluster/node-process';
import { SCENARIO_ENV, waitFor } from './helpers/mesh';

const MOCHA = require.resolve('mocha/bin/mocha.js');
const ROOT = path.join(__dirname, '..', '..');
const ADMIN_KEY = 'integration-admin-key-0123456789';
const BALANCER_ENTRY = path.join(path.dirname(require.resolve('@meshkv/load-balancer/package.json')), 'dist', 'main.js');

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
  async function meshBehindBalancer(env: Record<string, string>): Promise<string> {
    for (let i = 0; i < 3; i++) {
      nodes.push(await NodeProcess.start(`mesh-${i + 1}`, { ...SCENARIO_ENV, ...env, MESH_NETWORK_URL: i === 0 ? '' : (nodes[0] as NodeProcess).url }));
    }
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.ready && s.peers.filter((p) => p.state === 'alive').length === 2), 10_000, 'a full mesh');
    const port = await freePort();
    balancer = spawn(process.execPath, [BALANCER_ENTRY], {
      env: { PATH: process.env.PATH ?? '', SERVICE_PORT: String(port), BIND_ADDRESS: '127.0.0.1', ADMIN_PORT: '0', BACKENDS: nodes.map((n) => `127.0.0.1:${n.port}`).join(','), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const serviceUrl = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${serviceUrl}/healthcheck`).then((r) => r.status).catch(() => 0)) === 200, 10_000, 'the balancer');
    return serviceUrl;
  }

  it('passes through the balancer in front of a 3-node mesh, with the cross-node checks', async () => {
    const serviceUrl = await meshBehindBalancer({});
    const { code, out } = await suite({ SERVICE_URL: serviceUrl, MESH_URLS: nodes.map((n) => n.url).join(',') });
    expect(code, out).to.equal(0);
    expect(out).to.not.contain('mesh checks skipped');
    expect(out).to.contain('security checks skipped');
  });

  it('passes with an API key through the balancer in front of a 3-node mesh that requires keys, security checks included; no secret in the logs', async () => {
    const serviceUrl = await meshBehindBalancer({ ADMIN_KEY, LOG_LEVEL: 'debug' });
    const { code, out } = await suite({ SERVICE_URL: serviceUrl, MESH_URLS: nodes.map((n) => n.url).join(','), SERVICE_KEY: ADMIN_KEY });
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
