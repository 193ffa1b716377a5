import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deadPort, startBackend, startBalancer } from '../helpers/net';

function fetchText(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, headers }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
      })
      .on('error', reject);
  });
}

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

  it('serves /metrics for Prometheus: connections, bytes, backends by state and each backend, discovery', async () => {
    const backend = await startBackend('b1');
    const adminPort = await deadPort();
    const balancer = await startBalancer({ BACKENDS: `127.0.0.1:${backend.port},127.0.0.1:${await deadPort()}`, ADMIN_PORT: String(adminPort), HEALTH_INTERVAL_MS: '50' });
    try {
      const port = (balancer.address as AddressInfo).port;
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
      });
      // Settled: the dead backend's health check has failed, and the pool says one up, one down.
      const settled = (text: string): boolean =>
        /^meshkv_balancer_health_check_failures_total\{[^}]+\} [1-9]/m.test(text) &&
        text.includes('meshkv_balancer_backends{state="up"} 1') &&
        text.includes('meshkv_balancer_backends{state="down"} 1');
      let metrics = await fetchText(adminPort, '/metrics');
      for (let tries = 0; tries < 250 && !settled(metrics.text); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        metrics = await fetchText(adminPort, '/metrics');
      }
      expect(metrics.status).to.equal(200);
      expect(metrics.type).to.match(/^text\/plain; version=0\.0\.4/);
      expect(metrics.text).to.match(/^meshkv_balancer_connections_total [1-9]/m);
      expect(metrics.text).to.match(/^meshkv_balancer_bytes_total\{direction="out"\} [1-9]/m);
      const states = metrics.text.split('\n').filter((line) => line.startsWith('meshkv_balancer_backend')).join('\n');
      expect(metrics.text, states).to.include('meshkv_balancer_backends{state="up"} 1').and.include('meshkv_balancer_backends{state="down"} 1');
      expect(metrics.text).to.match(new RegExp(`^meshkv_balancer_backend_connections_total\\{backend="127.0.0.1:${backend.port}"\\} [1-9]`, 'm'));
      expect(metrics.text).to.match(/^meshkv_balancer_health_check_failures_total\{[^}]+\} [1-9]/m);
      expect(metrics.text).to.include('meshkv_balancer_discovery_connected 1').and.include('meshkv_balancer_discovery_lists_total 1');
      for (const name of ['connections_active', 'connections_rejected_total', 'connect_retries_total', 'idle_timeouts_total', 'unhealthy_cuts_total', 'backend_up', 'backend_connections_active', 'backend_connect_failures_total', 'discovery_events_total', 'discovery_errors_total']) {
        expect(metrics.text).to.include(`# TYPE meshkv_balancer_${name} `);
      }
      expect(metrics.text, 'Node\'s own').to.include('process_resident_memory_bytes');
    } finally {
      await balancer.stop();
      await backend.close();
    }
  });

  it('with ADMIN_TOKEN, /stats and /metrics take the token (401 otherwise); /healthcheck stays open', async () => {
    const backend = await startBackend('b1');
    const adminPort = await deadPort();
    const token = 'balancer-admin-token-0123';
    const balancer = await startBalancer({ BACKENDS: `127.0.0.1:${backend.port}`, ADMIN_PORT: String(adminPort), ADMIN_TOKEN: token });
    try {
      expect((await fetchJson(adminPort, '/stats')).status).to.equal(401);
      expect((await fetchJson(adminPort, '/stats', 'GET', { authorization: `Bearer ${token}x` })).status).to.equal(401);
      expect((await fetchJson(adminPort, '/stats', 'GET', { authorization: 'Basic abc' })).status).to.equal(401);
      expect((await fetchJson(adminPort, '/stats', 'GET', { authorization: `Bearer ${token}` })).body).to.include.keys('backends');
      expect((await fetchJson(adminPort, '/metrics')).status, '/metrics takes the token too').to.equal(401);
      expect((await fetchText(adminPort, '/metrics', { authorization: `Bearer ${token}` })).text).to.include('meshkv_balancer_connections_total');
      expect((await fetchJson(adminPort, '/healthcheck')).status).to.equal(200);
      expect((balancer.adminAddress as AddressInfo).address, 'on this machine only, unless ADMIN_BIND_ADDRESS says otherwise').to.equal('127.0.0.1');
    } finally {
      await balancer.stop();
      await backend.close();
    }
  });
});
