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

  it('starts nothing when imported as a library, and still runs as a program from dist/index.js', async () => {
    const library = path.join(__dirname, '..', '..', 'src', 'index.js');
    const imported = spawn(process.execPath, ['-e', `const lb = require(${JSON.stringify(library)}); console.log(typeof lb.createBalancer)`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    imported.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => imported.on('close', resolve));
    expect({ code, out: out.trim() }).to.deep.equal({ code: 0, out: 'function' });
    const backend = await startBackend('via-index');
    const port = await deadPort();
    const child = spawn(process.execPath, [library], {
      env: { PATH: process.env.PATH ?? '', BACKENDS: `127.0.0.1:${backend.port}`, SERVICE_PORT: String(port), BALANCER_BIND_ADDRESS: '127.0.0.1', ADMIN_PORT: '0' },
      stdio: 'ignore',
    });
    try {
      await waitFor(async () => (await get(port).catch(() => '')) === 'via-index', 10_000, 'the balancer started from index.js');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('close', resolve));
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
