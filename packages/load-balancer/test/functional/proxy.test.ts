import { expect } from 'chai';
import * as net from 'node:net';
import type { Balancer } from '../../src/balancer';
import { deadPort, get, hangingPort, startBackend, startBalancer, waitFor } from '../helpers/net';

describe('TcpProxy (real sockets on 127.0.0.1)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const balancer = async (env: Record<string, string>): Promise<Balancer> => {
    const b = await startBalancer({ HEALTH_INTERVAL_MS: '50', HEALTH_TIMEOUT_MS: '200', ...env });
    cleanups.push(() => b.stop());
    return b;
  };
  const backends = async (count: number) => {
    const started = [];
    for (let i = 0; i < count; i++) {
      const backend = await startBackend(`backend-${i + 1}`);
      cleanups.push(() => backend.close());
      started.push(backend);
    }
    return started;
  };

  it('sends connections round robin to every backend', async () => {
    const three = await backends(3);
    const b = await balancer({ BACKENDS: three.map((x) => `127.0.0.1:${x.port}`).join(',') });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await get(b.address!.port));
    expect(answers).to.deep.equal(['backend-1', 'backend-2', 'backend-3', 'backend-1', 'backend-2', 'backend-3']);
    expect(b.proxy.stats).to.include({ accepted: 6, rejected: 0 });
  });

  it('tries the next backend when one refuses, and the client sees nothing of it', async () => {
    const [alive] = await backends(1);
    const dead = await deadPort();
    const b = await balancer({ BACKENDS: `127.0.0.1:${dead},127.0.0.1:${alive!.port}`, HEALTH_INTERVAL_MS: '600000' });
    for (let i = 0; i < 4; i++) expect(await get(b.address!.port)).to.equal('backend-1');
    expect(b.proxy.stats.connectFailures).to.be.at.least(1);
    const stats = b.stats() as { backends: { address: string; state: string; connectFailures: number }[] };
    expect(stats.backends.find((x) => x.address.endsWith(`:${dead}`))).to.include({ state: 'down' });
  });

  it('tries the next backend when a connect times out', async () => {
    const [alive] = await backends(1);
    const hanging = await hangingPort();
    cleanups.push(() => Promise.resolve(hanging.close()));
    const b = await balancer({ BACKENDS: `127.0.0.1:${hanging.port},127.0.0.1:${alive!.port}`, CONNECT_TIMEOUT_MS: '100', HEALTH_INTERVAL_MS: '600000' });
    expect(await get(b.address!.port)).to.equal('backend-1');
    expect(await get(b.address!.port)).to.equal('backend-1');
    expect(b.pool.list()[0]?.lastError).to.match(/no connection within 100 ms/);
  });

  it('sends the same request to the next backend when one closes without answering (it died)', async () => {
    const dying = net.createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => dying.close(() => resolve())));
    const [alive] = await backends(1);
    const b = await balancer({ BACKENDS: `127.0.0.1:${(dying.address() as net.AddressInfo).port},127.0.0.1:${alive!.port}`, HEALTH_INTERVAL_MS: '600000' });
    for (let i = 0; i < 3; i++) expect(await get(b.address!.port)).to.equal('backend-1');
    expect(b.pool.list()[0]).to.include({ lastError: 'closed without answering' });
  });

  it('does not blame a backend for closing after a client that sent nothing', async () => {
    const [alive] = await backends(1);
    const b = await balancer({ BACKENDS: `127.0.0.1:${alive!.port}`, HEALTH_INTERVAL_MS: '600000' });
    for (let i = 0; i < 5; i++) {
      const probe = net.connect(b.address!.port, '127.0.0.1');
      await new Promise<void>((resolve) => probe.on('connect', () => resolve()));
      probe.end();
      await new Promise<void>((resolve) => probe.on('close', () => resolve()));
    }
    expect(b.pool.list()[0]).to.include({ connectFailures: 0 });
    expect(await get(b.address!.port)).to.equal('backend-1');
  });

  it('does not send a request twice once it was too big to keep', async () => {
    let received = 0;
    const dying = net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 4096) socket.destroy();
      });
    });
    await new Promise<void>((resolve) => dying.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => dying.close(() => resolve())));
    const [alive] = await backends(1);
    const b = await balancer({ BACKENDS: `127.0.0.1:${(dying.address() as net.AddressInfo).port},127.0.0.1:${alive!.port}`, MAX_PENDING_BYTES: '1024', HEALTH_INTERVAL_MS: '600000' });
    const client = net.connect(b.address!.port, '127.0.0.1');
    client.on('error', () => undefined);
    client.on('connect', () => {
      for (let i = 0; i < 10; i++) client.write(Buffer.alloc(1024, 1));
    });
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    expect(b.pool.list()[1]?.total).to.equal(0);
  });

  it('closes the client at once when no backend is usable', async () => {
    const b = await balancer({ BACKENDS: `127.0.0.1:${await deadPort()}` });
    const client = net.connect(b.address!.port, '127.0.0.1');
    client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    expect(b.proxy.stats.rejected).to.equal(1);
  });

  it('takes a backend out when its health check fails, and back when it passes', async () => {
    const [first, second] = await backends(2);
    const b = await balancer({ BACKENDS: `127.0.0.1:${first!.port},127.0.0.1:${second!.port}` });
    await waitFor(() => b.pool.list().every((e) => e.health === 'healthy'), 2000, 'both healthy');
    await second!.close();
    await waitFor(() => b.pool.list()[1]?.health === 'unhealthy', 2000, 'the closed backend out');
    for (let i = 0; i < 3; i++) expect(await get(b.address!.port)).to.equal('backend-1');
    expect(b.proxy.stats.connectFailures).to.equal(0);
  });

  it('carries a half-close: the client ends its side and still gets the whole answer', async () => {
    const echo = net.createServer({ allowHalfOpen: true }, (socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => socket.end(Buffer.concat(chunks).toString().toUpperCase()));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => echo.close(() => resolve())));
    const b = await balancer({ BACKENDS: `127.0.0.1:${(echo.address() as net.AddressInfo).port}` });
    const client = net.connect({ port: b.address!.port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    client.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    client.end('shout this');
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    expect(answer).to.equal('SHOUT THIS');
  });

  it('keeps what a client sends before the backend is connected, and pauses past the limit', async () => {
    const sink = net.createServer((socket) => {
      let size = 0;
      socket.on('data', (chunk: Buffer) => (size += chunk.length));
      socket.on('end', () => socket.end(String(size)));
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => sink.close(() => resolve())));
    const b = await balancer({ BACKENDS: `127.0.0.1:${(sink.address() as net.AddressInfo).port}`, MAX_PENDING_BYTES: '1024' });
    const client = net.connect({ port: b.address!.port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    client.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    client.end(Buffer.alloc(1_000_000, 1));
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    expect(answer).to.equal('1000000');
    expect(b.proxy.stats.bytesIn).to.equal(1_000_000);
  });

  it('closes a connection idle for IDLE_TIMEOUT_MS', async () => {
    const [backend] = await backends(1);
    const b = await balancer({ BACKENDS: `127.0.0.1:${backend!.port}`, IDLE_TIMEOUT_MS: '100' });
    const client = net.connect(b.address!.port, '127.0.0.1');
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    expect(b.proxy.stats.idleTimeouts).to.equal(1);
  });

  it('drains: refuses new connections, lets open ones finish, then cuts what is left', async () => {
    const slow = net.createServer((socket) => socket.once('data', () => setTimeout(() => socket.end('late answer'), 100)));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => slow.close(() => resolve())));
    const b = await startBalancer({ BACKENDS: `127.0.0.1:${(slow.address() as net.AddressInfo).port}`, DRAIN_TIMEOUT_MS: '2000' });
    const port = b.address!.port;
    const client = net.connect(port, '127.0.0.1');
    let answer = '';
    client.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    client.write('question');
    await waitFor(() => b.proxy.stats.active === 1 && b.pool.list()[0]!.active === 1, 2000, 'the connection to be proxied');
    const stopped = b.stop();
    await new Promise<void>((resolve) => client.on('close', () => resolve()));
    await stopped;
    expect(answer).to.equal('late answer');
    const refused = await new Promise<boolean>((resolve) => {
      const late = net.connect(port, '127.0.0.1');
      late.on('error', () => resolve(true));
      late.on('connect', () => resolve(false));
    });
    expect(refused).to.equal(true);
  });

  it('cuts connections still open when the drain timeout ends', async () => {
    const mute = net.createServer(() => undefined);
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const muteSockets: net.Socket[] = [];
    mute.on('connection', (s) => muteSockets.push(s));
    cleanups.push(() => new Promise<void>((resolve) => { muteSockets.forEach((s) => s.destroy()); mute.close(() => resolve()); }));
    const b = await startBalancer({ BACKENDS: `127.0.0.1:${(mute.address() as net.AddressInfo).port}`, DRAIN_TIMEOUT_MS: '50' });
    const client = net.connect(b.address!.port, '127.0.0.1');
    client.write('hello');
    await waitFor(() => b.pool.list()[0]!.active === 1, 2000, 'the connection to be proxied');
    await b.stop();
    await new Promise<void>((resolve) => (client.destroyed ? resolve() : client.on('close', () => resolve())));
    expect(b.proxy.stats.active).to.equal(0);
  });
});
