import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { waitFor } from '../../src/wait-for';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'service.js');

function run(mode: string) {
  const child = spawn(process.execPath, [FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const messages = (): string[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
  return { child, closed, messages, err: () => err };
}

describe('runService (a real process)', function () {
  this.timeout(15_000);

  it('logs listening, stops gracefully at SIGTERM and exits 0; a second signal exits 1 at once', async () => {
    const r = run('ok');
    await waitFor(() => r.messages().includes('listening'), 5000, 'listening');
    r.child.kill('SIGTERM');
    expect(await r.closed).to.equal(0);
    expect(r.messages()).to.deep.equal(['listening', 'shutting down', 'stopped']);
    const twice = run('slow-stop');
    await waitFor(() => twice.messages().includes('listening'), 5000, 'listening');
    twice.child.kill('SIGINT');
    await waitFor(() => twice.messages().includes('shutting down'), 5000, 'the first signal taken');
    twice.child.kill('SIGINT');
    expect(await twice.closed).to.equal(1);
    expect(twice.messages()).to.include('second signal: exiting now');
  });

  it('exits 1 with every configuration problem on stderr', async () => {
    const r = run('bad-config');
    expect(await r.closed).to.equal(1);
    expect(r.err()).to.contain('Invalid configuration').and.contain('PORT must be a number').and.contain('MODE must be known');
  });

  it('exits 1 when the start fails, when the stop fails, and on an uncaught exception', async () => {
    const start = run('start-fails');
    expect(await start.closed).to.equal(1);
    expect(start.messages()).to.deep.equal(['cannot listen']);
    const unnamed = run('defaults');
    expect(await unnamed.closed).to.equal(1);
    expect(unnamed.messages()).to.deep.equal(['cannot start']);
    const thrown = run('throws');
    expect(await thrown.closed).to.equal(1);
    expect(thrown.messages()).to.include('uncaught exception');
    const stop = run('stop-fails');
    await waitFor(() => stop.messages().includes('listening'), 5000, 'listening');
    stop.child.kill('SIGTERM');
    expect(await stop.closed).to.equal(1);
    expect(stop.messages()).to.include('stop failed');
  });
});
