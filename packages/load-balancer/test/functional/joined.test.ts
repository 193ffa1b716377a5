import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import type { Balancer } from '../../src/balancer';
import { nativePump } from '../../src/proxy/pump';
import { startBalancer, waitFor } from '../helpers/net';

/**
 * A connection once its backend has answered: joined, its bytes moved by the native pump
 * (PUMP=native) or by JavaScript (PUMP=javascript). Both must behave the same.
 */
for (const mode of ['native', 'javascript'] as const) {
  describe(`joined connections, PUMP=${mode} (real sockets on 127.0.0.1)`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    before(function () {
      const pump = nativePump();
      if (mode === 'native' && pump instanceof Error) {
        // In CI the pump must have been built; elsewhere (no C compiler) it may be missing.
        if (process.env.CI !== undefined) throw pump;
        this.skip();
      }
    });

    /** A backend that greets every connection first, then runs `handler`. */
    const greeter = async (handler: (socket: net.Socket) => void): Promise<number> => {
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('error', () => undefined);
        socket.write('hello;');
        handler(socket);
      });
      const sockets = new Set<net.Socket>();
      server.on('connection', (socket) => sockets.add(socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            sockets.forEach((socket) => socket.destroy());
            server.close(() => resolve());
          }),
      );
      return (server.address() as net.AddressInfo).port;
    };
    const balancer = async (backendPort: number, env: Record<string, string> = {}): Promise<Balancer> => {
      const b = await startBalancer({ BACKENDS: `127.0.0.1:${backendPort}`, HEALTH_INTERVAL_MS: '600000', PUMP: mode, ...env });
      cleanups.push(() => b.stop());
      return b;
    };
    const connect = async (port: number, allowHalfOpen = false): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> => {
      const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
      socket.on('error', () => undefined);
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      cleanups.push(async () => {
        socket.destroy();
        await closed;
      });
      await waitFor(() => text.startsWith('hello;'), 2000, 'the greeting');
      return { socket, received: () => text, closed };
    };
    const pumped = (b: Balancer): number => (b.stats() as { connections: { pumped: number } }).connections.pumped;

    it('closes the connections of a backend whose health check fails (unreachable: they would hang)', async () => {
      const sockets: net.Socket[] = [];
      let answering = true;
      const server = net.createServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.write('hello;');
        // Answers while reachable; then, like a backend cut off by the network, nothing.
        socket.on('data', (chunk: Buffer) => {
          if (answering) socket.write(`[${chunk.toString()}]`);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      cleanups.push(async () => {
        sockets.forEach((socket) => socket.destroy());
        await new Promise<void>((resolve) => server.close(() => resolve()));
      });
      const b = await balancer(port, { HEALTH_INTERVAL_MS: '50', HEALTH_TIMEOUT_MS: '200', IDLE_TIMEOUT_MS: '600000' });
      const client = await connect(b.address!.port);
      client.socket.write('q1');
      await waitFor(() => client.received() === 'hello;[q1]', 2000, 'the first answer');
      // The backend goes silent and takes no new connections: its health check fails.
      answering = false;
      server.close();
      client.socket.write('q2');
      await waitFor(() => client.socket.destroyed || client.socket.readableEnded, 5000, 'the balancer to close the hanging connection');
      expect(client.received()).to.equal('hello;[q1]');
      expect(b.proxy.stats.unhealthyCuts).to.equal(1);
    });

    it('goes on answering on the same connection, and counts its bytes when it ends', async () => {
      const port = await greeter((socket) => {
        socket.on('data', (chunk: Buffer) => socket.write(`[${chunk.toString()}]`));
        socket.on('end', () => socket.end());
      });
      const b = await balancer(port);
      const client = await connect(b.address!.port);
      let expected = 'hello;';
      for (let i = 0; i < 20; i++) {
        client.socket.write(`q${i}`);
        expected += `[q${i}]`;
        await waitFor(() => client.received() === expected, 2000, `answer ${i}`);
      }
      expect(pumped(b)).to.equal(mode === 'native' ? 1 : 0);
      client.socket.end();
      await client.closed;
      await waitFor(() => b.proxy.stats.active === 0, 2000, 'the connection to end');
      const sent = Array.from({ length: 20 }, (_, i) => `q${i}`).join('').length;
      expect(b.proxy.stats).to.include({ bytesIn: sent, bytesOut: expected.length });
      expect(b.pool.list()[0]).to.include({ active: 0, bytesIn: sent, bytesOut: expected.length });
      expect(pumped(b)).to.equal(0);
    });

    it('carries the client half-close: the backend still answers after it', async () => {
      const port = await greeter((socket) => {
        const chunks: string[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
        socket.on('end', () => socket.end(chunks.join('').toUpperCase()));
      });
      const b = await balancer(port);
      const client = await connect(b.address!.port);
      client.socket.end('shout this');
      await client.closed;
      expect(client.received()).to.equal('hello;SHOUT THIS');
    });

    it('carries the backend half-close: the client can still send after it', async () => {
      let heard = '';
      let heardAll!: () => void;
      const done = new Promise<void>((resolve) => (heardAll = resolve));
      const port = await greeter((socket) => {
        socket.end('bye;');
        socket.on('data', (chunk: Buffer) => (heard += chunk.toString()));
        socket.on('end', () => heardAll());
      });
      const b = await balancer(port);
      const client = await connect(b.address!.port, true);
      await new Promise<void>((resolve) => (client.socket.readableEnded ? resolve() : client.socket.once('end', () => resolve())));
      expect(client.received()).to.equal('hello;bye;');
      client.socket.end('still here');
      await done;
      expect(heard).to.equal('still here');
    });

    it('carries an upload that ends after the backend half-closed, through a backend slow to read', async () => {
      let backendSocket!: net.Socket;
      let size = 0;
      let uploaded!: () => void;
      const done = new Promise<void>((resolve) => (uploaded = resolve));
      const port = await greeter((socket) => {
        backendSocket = socket;
        socket.end('bye;');
        socket.pause();
        socket.on('data', (chunk: Buffer) => (size += chunk.length));
        socket.on('end', () => uploaded());
      });
      const b = await balancer(port);
      const client = await connect(b.address!.port, true);
      await new Promise<void>((resolve) => (client.socket.readableEnded ? resolve() : client.socket.once('end', () => resolve())));
      client.socket.end(Buffer.alloc(64 * 1024 * 1024, 7));
      // Every buffer on the way is full: the proxy holds bytes it cannot write yet.
      await waitFor(() => client.socket.writableLength > 16 * 1024 * 1024, 5000, 'the upload to stall');
      backendSocket.resume();
      await done;
      await client.closed;
      expect(size).to.equal(64 * 1024 * 1024);
      await waitFor(() => b.proxy.stats.active === 0, 2000, 'the connection to end');
    });

    it('moves megabytes both ways, in order, through a reader that stops reading', async () => {
      let backendBlocked!: () => void;
      const blocked = new Promise<void>((resolve) => (backendBlocked = resolve));
      // Echoes everything; says when its writes back no longer fit (the client is not reading).
      const port = await greeter((socket) => {
        socket.on('data', (chunk: Buffer) => {
          if (!socket.write(chunk)) {
            backendBlocked();
            socket.pause();
            socket.once('drain', () => socket.resume());
          }
        });
        socket.on('end', () => socket.end());
      });
      const b = await balancer(port);
      const client = await connect(b.address!.port);
      client.socket.pause();
      const received: Buffer[] = [];
      client.socket.removeAllListeners('data');
      client.socket.on('data', (chunk: Buffer) => received.push(chunk));
      const payload = Buffer.alloc(64 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
      client.socket.end(payload);
      await blocked;
      client.socket.resume();
      await client.closed;
      const echoed = Buffer.concat(received);
      expect(echoed.length).to.equal(payload.length);
      expect(createHash('sha256').update(echoed).digest('hex')).to.equal(createHash('sha256').update(payload).digest('hex'));
    });

    it('closes a joined connection idle for IDLE_TIMEOUT_MS', async () => {
      const port = await greeter(() => undefined);
      const b = await balancer(port, { IDLE_TIMEOUT_MS: '100' });
      const client = await connect(b.address!.port);
      await client.closed;
      await waitFor(() => b.proxy.stats.active === 0 && b.proxy.stats.idleTimeouts === 1, 2000, 'the idle timeout to be counted');
    });

    it('passes a backend reset on to the client', async () => {
      const port = await greeter((socket) => socket.once('data', () => socket.resetAndDestroy()));
      const b = await balancer(port);
      const client = await connect(b.address!.port);
      client.socket.write('boom');
      await client.closed;
      await waitFor(() => b.proxy.stats.active === 0 && b.pool.list()[0]!.active === 0, 2000, 'the connection to end');
    });

    it('cuts joined connections still open when the drain timeout ends', async () => {
      const port = await greeter(() => undefined);
      const b = await startBalancer({ BACKENDS: `127.0.0.1:${port}`, HEALTH_INTERVAL_MS: '600000', PUMP: mode, DRAIN_TIMEOUT_MS: '50' });
      const client = await connect(b.address!.port);
      expect(pumped(b)).to.equal(mode === 'native' ? 1 : 0);
      await b.stop();
      await client.closed;
      expect(b.proxy.stats.active).to.equal(0);
      expect(pumped(b)).to.equal(0);
    });
  });
}
