import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { deadPort, get, startBackend, waitFor } from '../helpers/net';

const ENTRY = path.join(__dirname, '..', '..', 'src', 'main.js');

function run(env: Record<string, string>) {
  const child = spawn(process.execPath, [ENTRY], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, closed, out: () => out, err: () => err };
}

describe('the balancer process', () => {
  it('reports configuration errors on stderr and exits 1', async () => {
    const r = run({ SERVICE_PORT: 'eighty', BACKENDS: 'nope' });
    expect(await r.closed).to.equal(1);
    expect(r.err()).to.contain('Invalid configuration').and.contain('SERVICE_PORT').and.contain('BACKENDS');
  });

  it('proxies with static backends, and drains and exits 0 on SIGTERM', async () => {
    const backend = await startBackend('only');
    const port = await deadPort();
    const r = run({ BACKENDS: `127.0.0.1:${backend.port}`, SERVICE_PORT: String(port), BIND_ADDRESS: '127.0.0.1', ADMIN_PORT: '0' });
    try {
      await waitFor(() => r.out().includes('"listening"'), 10_000, 'the balancer to listen');
      expect(await get(port)).to.equal('only');
      r.child.kill('SIGTERM');
      expect(await r.closed).to.equal(0);
      expect(r.out()).to.contain('"stopped"');
    } finally {
      r.child.kill('SIGKILL');
      await backend.close();
    }
  });

  it('exits 1 when its port is taken', async () => {
    const backend = await startBackend('taken');
    const r = run({ BACKENDS: '127.0.0.1:1', SERVICE_PORT: String(backend.port), BIND_ADDRESS: '127.0.0.1', ADMIN_PORT: '0' });
    try {
      expect(await r.closed).to.equal(1);
      expect(r.out()).to.contain('cannot start');
    } finally {
      await backend.close();
    }
  });
});
