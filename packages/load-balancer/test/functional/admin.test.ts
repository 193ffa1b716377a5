import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deadPort, startBackend, startBalancer } from '../helpers/net';

function fetchJson(port: number, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin port', () => {
  it('serves /stats and /healthcheck as JSON, 404 and 405 otherwise', async () => {
    const backend = await startBackend('b1');
    const adminPort = await deadPort();
    const balancer = await startBalancer({ BACKENDS: `127.0.0.1:${backend.port}`, ADMIN_PORT: String(adminPort), SUMMARY_INTERVAL_MS: '10' });
    try {
      expect((balancer.adminAddress as AddressInfo).port).to.equal(adminPort);
      const stats = await fetchJson(adminPort, '/stats');
      expect(stats.status).to.equal(200);
      expect(stats.body).to.include.keys('uptimeMs', 'connections', 'bytes', 'backends', 'discovery');
      expect((stats.body.backends as { address: string }[])[0]?.address).to.equal(`127.0.0.1:${backend.port}`);
      expect((stats.body.discovery as { kind: string }).kind).to.equal('static');
      expect((await fetchJson(adminPort, '/healthcheck')).body).to.deep.equal({ status: 'ok' });
      expect((await fetchJson(adminPort, '/nope')).status).to.equal(404);
      expect((await fetchJson(adminPort, '/stats', 'POST')).status).to.equal(405);
    } finally {
      await balancer.stop();
      await backend.close();
    }
  });

  it('with ADMIN_TOKEN, /stats takes the token (401 otherwise); /healthcheck stays open', async () => {
    const backend = await startBackend('b1');
    const adminPort = await deadPort();
    const token = 'balancer-admin-token-0123';
    const balancer = await startBalancer({ BACKENDS: `127.0.0.1:${backend.port}`, ADMIN_PORT: String(adminPort), ADMIN_TOKEN: token });
    try {
      expect((await fetchJson(adminPort, '/stats')).status).to.equal(401);
      expect((await fetchJson(adminPort, '/stats', 'GET', { authorization: `Bearer ${token}x` })).status).to.equal(401);
      expect((await fetchJson(adminPort, '/stats', 'GET', { authorization: 'Basic abc' })).status).to.equal(401);
      expect((await fetchJson(adminPort, '/stats', 'GET', { authorization: `Bearer ${token}` })).body).to.include.keys('backends');
      expect((await fetchJson(adminPort, '/healthcheck')).status).to.equal(200);
      expect((balancer.adminAddress as AddressInfo).address, 'on this machine only, unless ADMIN_BIND_ADDRESS says otherwise').to.equal('127.0.0.1');
    } finally {
      await balancer.stop();
      await backend.close();
    }
  });
});
