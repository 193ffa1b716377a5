import * as net from 'node:net';
import type { Logger } from '../logger';
import type { BackendPool, PoolEntry } from './pool';

export interface ProxyOptions {
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Bytes of a client's first request kept while a backend connects; past it, reading pauses. */
  readonly maxPendingBytes: number;
}

export interface ProxyStats {
  /** Client connections accepted in total, and open now. */
  accepted: number;
  active: number;
  /** Clients closed at once because no backend was usable. */
  rejected: number;
  /** Connects to a backend that failed (each one retried on the next backend). */
  connectFailures: number;
  /** Clients whose connection was cut by the idle timeout. */
  idleTimeouts: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * The TCP proxy. Each client connection goes to the next usable backend (round robin per
 * connection). The client's bytes are kept while the backend connects; if that backend
 * refuses or does not answer within CONNECT_TIMEOUT_MS, it is marked down and the next one
 * is tried, so the client sees nothing of it. With no usable backend the client is closed
 * at once. Half-close is carried both ways (allowHalfOpen), idle connections are closed,
 * and `drain` lets open connections finish before cutting them.
 */
export class TcpProxy {
  readonly stats: ProxyStats = {
    accepted: 0,
    active: 0,
    rejected: 0,
    connectFailures: 0,
    idleTimeouts: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private draining = false;
  private allClosed: (() => void) | undefined;

  constructor(
    private readonly pool: BackendPool,
    private readonly options: ProxyOptions,
    private readonly logger: Logger,
  ) {
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.accept(client));
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /**
   * Stops accepting, waits up to `timeoutMs` for open connections to end, then cuts the
   * rest. Resolves when every socket is closed.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const socketsClosed = new Promise<void>((resolve) => {
      if (this.sockets.size === 0) resolve();
      else this.allClosed = resolve;
    });
    const timer = setTimeout(() => {
      if (this.sockets.size > 0) this.logger.warn({ connections: this.stats.active }, 'drain timeout: closing remaining connections');
      for (const socket of this.sockets) socket.destroy();
    }, timeoutMs);
    await Promise.all([listenerClosed, socketsClosed]);
    clearTimeout(timer);
  }

  private accept(client: net.Socket): void {
    if (this.draining) {
      client.destroy();
      return;
    }
    this.stats.accepted++;
    this.stats.active++;
    client.once('close', () => this.stats.active--);
    this.track(client);

    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let clientEnded = false;
    const onData = (chunk: Buffer): void => {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= this.options.maxPendingBytes) client.pause();
    };
    const onEnd = (): void => {
      clientEnded = true;
    };
    client.on('data', onData);
    client.once('end', onEnd);
    client.on('error', () => client.destroy());

    const tried = new Set<string>();
    const attempt = (): void => {
      if (client.destroyed) return;
      const entry = this.pool.next(tried);
      if (entry === undefined) {
        this.stats.rejected++;
        this.logger.warn(
          { backends: this.pool.size, tried: tried.size, remote: client.remoteAddress },
          tried.size === 0 ? 'no usable backend: connection closed' : 'every backend failed: connection closed',
        );
        client.destroy();
        return;
      }
      tried.add(entry.backend.id);
      const upstream = net.connect({ host: entry.backend.host, port: entry.backend.port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => upstream.destroy(new Error(`no connection within ${this.options.connectTimeoutMs} ms`)), this.options.connectTimeoutMs);
      const onConnectError = (error: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        this.stats.connectFailures++;
        this.pool.markDown(entry, error.code ?? error.message);
        this.logger.warn({ backend: entry.backend.name, err: error.code ?? error.message }, 'backend connect failed: trying the next one');
        attempt();
      };
      upstream.once('error', onConnectError);
      upstream.once('connect', () => {
        clearTimeout(timer);
        upstream.off('error', onConnectError);
        if (client.destroyed) {
          upstream.destroy();
          return;
        }
        client.off('data', onData);
        client.off('end', onEnd);
        this.splice(client, upstream, entry, pending, clientEnded);
      });
    };
    attempt();
  }

  /** Joins a client and its connected backend: first the kept bytes, then both ways. */
  private splice(client: net.Socket, upstream: net.Socket, entry: PoolEntry, pending: Buffer[], clientEnded: boolean): void {
    this.track(upstream);
    entry.active++;
    entry.total++;
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      entry.active--;
      client.destroy();
      upstream.destroy();
    };
    // An error on either side, or either side closed for good: nothing more can flow.
    // (A half-close is not a close: with allowHalfOpen the other direction keeps going.)
    upstream.on('error', close);
    client.on('error', close);
    client.once('close', close);
    upstream.once('close', close);

    client.setTimeout(this.options.idleTimeoutMs, () => {
      this.stats.idleTimeouts++;
      close();
    });

    for (const chunk of pending) {
      upstream.write(chunk);
      this.stats.bytesIn += chunk.length;
      entry.bytesIn += chunk.length;
    }
    if (clientEnded) upstream.end();
    else forward(client, upstream, (n) => {
      this.stats.bytesIn += n;
      entry.bytesIn += n;
    });
    forward(upstream, client, (n) => {
      this.stats.bytesOut += n;
      entry.bytesOut += n;
    });
    client.resume();
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) this.allClosed?.();
    });
  }
}

/**
 * Copies `from` to `to` with backpressure, and passes on the end of `from` as a
 * half-close of `to` (the other direction keeps flowing).
 */
function forward(from: net.Socket, to: net.Socket, count: (bytes: number) => void): void {
  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  from.once('end', () => to.end());
}
