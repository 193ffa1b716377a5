import * as net from 'node:net';
import { listen, type Logger } from '@meshkv/common';
import type { BackendPool, PoolEntry } from './pool';
import { adoptWithOnread } from './node-internals';
import type { BytePump, PumpedConnection } from './pump';

/**
 * The read buffer of every socket of the proxy, both directions: what is read is copied
 * out before the next read, so one buffer serves them all.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export interface ProxyOptions {
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Bytes of a client's first request kept while a backend connects; past it, reading pauses. */
  readonly maxPendingBytes: number;
  /** Takes over joined connections; undefined: JavaScript moves every byte. */
  readonly pump?: BytePump | undefined;
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
  /** Clients cut because the health check found their backend unreachable. */
  unhealthyCuts: number;
  /** Bytes of connections that ended, and of open ones that JavaScript moves. */
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
    unhealthyCuts: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<Session>();
  private draining = false;
  private allClosed: (() => void) | undefined;

  constructor(
    private readonly pool: BackendPool,
    private options: ProxyOptions,
    private readonly logger: Logger,
  ) {
    // Paused on accept so that Session can re-wrap the connection before anything is read
    // (node-internals.ts).
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (client) => this.accept(client));
  }

  /** Sets who moves the bytes of joined connections from now on (before `listen`). */
  usePump(pump: BytePump | undefined): void {
    this.options = { ...this.options, pump };
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return listen(this.server, port, host);
  }

  /**
   * Stops accepting, waits up to `timeoutMs` for open connections to end, then cuts the
   * rest. Resolves when every socket is closed.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    const listenerClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const socketsClosed = new Promise<void>((resolve) => {
      if (this.idle()) resolve();
      else this.allClosed = resolve;
    });
    const timer = setTimeout(() => {
      if (!this.idle()) this.logger.warn({ connections: this.stats.active }, 'drain timeout: closing remaining connections');
      for (const session of this.sessions) session.abort();
      for (const socket of this.sockets) socket.destroy();
    }, timeoutMs);
    await Promise.all([listenerClosed, socketsClosed]);
    clearTimeout(timer);
  }

  private accept(accepted: net.Socket): void {
    if (this.draining) {
      accepted.destroy();
      return;
    }
    const session = new Session(this.pool, this.options, this.logger, this.stats, (socket) => this.track(socket), () => {
      this.stats.active--;
      this.sessions.delete(session);
      if (this.idle()) this.allClosed?.();
    });
    const client = session.attach(accepted);
    this.stats.accepted++;
    this.stats.active++;
    this.sessions.add(session);
    this.track(client);
    session.start();
  }

  /**
   * Closes every client connection joined to the backend `id` (its health check failed:
   * it is unreachable, so they would hang until the client gives up); returns how many.
   */
  closeBackend(id: string): number {
    let closed = 0;
    for (const session of this.sessions) {
      if (session.backendId !== id) continue;
      session.abort();
      closed++;
    }
    this.stats.unhealthyCuts += closed;
    return closed;
  }

  /** Connections moved by the native pump now. */
  get pumped(): number {
    let count = 0;
    for (const session of this.sessions) if (session.pumped) count++;
    return count;
  }

  private idle(): boolean {
    return this.sockets.size === 0 && this.sessions.size === 0;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      if (this.idle()) this.allClosed?.();
    });
  }
}

/**
 * One client connection and its backend. Until the backend sends its first byte, every
 * byte the client sent is kept (up to MAX_PENDING_BYTES): if that backend refuses, times
 * out, or closes without answering (it died: `docker kill`), the next backend gets the
 * same bytes and the client never knows. Once the backend has answered, the two are
 * simply joined, with backpressure and half-close both ways: by the native pump when there
 * is one (handed over as soon as nothing waits in either write buffer), else here.
 */
class Session {
  private client!: net.Socket;
  /** Read with `onread` (no stream buffer): the only kind the pump can take over. */
  private adopted = false;
  private kept: Buffer[] = [];
  private keptBytes = 0;
  /** False once the client sent more than can be kept: no second backend then. */
  private replayable = true;
  private clientEnded = false;
  private upstream: net.Socket | undefined;
  private entry: PoolEntry | undefined;
  private connected = false;
  private connectedAt = 0;
  private answered = false;
  private upstreamEnded = false;
  private finished = false;
  /** The pump's id for this connection while the pump moves its bytes. */
  private pumpId: number | undefined;
  private readonly tried = new Set<string>();

  constructor(
    private readonly pool: BackendPool,
    private readonly options: ProxyOptions,
    private readonly logger: Logger,
    private readonly stats: ProxyStats,
    private readonly track: (socket: net.Socket) => void,
    private readonly ended: () => void,
  ) {}

  get pumped(): boolean {
    return this.pumpId !== undefined;
  }

  /** The backend this connection is joined to (undefined while it is still connecting). */
  get backendId(): string | undefined {
    return this.connected ? this.entry?.backend.id : undefined;
  }

  /** Closes the connection now (drain timeout, an unreachable backend). */
  abort(): void {
    if (this.pumpId !== undefined) this.options.pump?.close(this.pumpId);
    else this.finish();
  }

  /** Takes the accepted (paused) connection; returns the socket the session reads from. */
  attach(accepted: net.Socket): net.Socket {
    const adopted = adoptWithOnread(accepted, READ_BUFFER, (bytes, buffer) => {
      this.fromClient(Buffer.from(buffer.subarray(0, bytes)));
      return true; // fromClient pauses the socket itself when it must
    });
    if (adopted !== undefined) {
      this.client = adopted;
      this.adopted = true;
    } else {
      this.client = accepted;
      accepted.on('data', (chunk: Buffer) => this.fromClient(chunk));
      accepted.resume();
    }
    return this.client;
  }

  start(): void {
    const client = this.client;
    client.once('end', () => {
      this.clientEnded = true;
      if (this.connected) this.upstream?.end();
    });
    client.on('error', () => this.finish());
    client.once('close', () => {
      if (!this.pumped) this.finish();
    });
    client.setTimeout(this.options.idleTimeoutMs, () => {
      if (this.pumped) return;
      this.stats.idleTimeouts++;
      this.finish();
    });
    this.connect();
  }

  private fromClient(chunk: Buffer): void {
    // Kept while there is no backend to send to yet, and for a second backend until the
    // first one answers, as long as it all fits in MAX_PENDING_BYTES.
    if (!this.connected || (this.replayable && !this.answered)) {
      this.kept.push(chunk);
      this.keptBytes += chunk.length;
      if (this.keptBytes > this.options.maxPendingBytes) {
        this.replayable = false;
        if (this.connected) this.kept = [];
        else this.client.pause(); // nowhere to send it yet: wait for the backend
      }
    }
    if (!this.connected) return;
    this.count(chunk.length, 'in');
    const upstream = this.upstream as net.Socket;
    if (!upstream.write(chunk)) {
      this.client.pause();
      upstream.once('drain', () => this.client.resume());
    }
  }

  private connect(): void {
    if (this.finished) return;
    const entry = this.pool.next(this.tried);
    if (entry === undefined) {
      this.stats.rejected++;
      this.logger.warn(
        { backends: this.pool.size, tried: this.tried.size, remote: this.client.remoteAddress },
        this.tried.size === 0 ? 'no usable backend: connection closed' : 'every backend failed: connection closed',
      );
      this.finish();
      return;
    }
    this.tried.add(entry.backend.id);
    this.entry = entry;
    this.connected = false;
    // Answers are read into one reused buffer (no stream machinery per chunk) and copied
    // out only to be written to the client.
    const upstream: net.Socket = net.connect({
      host: entry.backend.host,
      port: entry.backend.port,
      allowHalfOpen: true,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: (bytes: number, buffer: Uint8Array): boolean => this.fromUpstream(upstream, bytes, buffer) },
    });
    this.upstream = upstream;
    this.track(upstream);
    const timer = setTimeout(
      () => upstream.destroy(new Error(`no connection within ${this.options.connectTimeoutMs} ms`)),
      this.options.connectTimeoutMs,
    );
    upstream.once('connect', () => {
      clearTimeout(timer);
      this.connected = true;
      this.connectedAt = Date.now();
      entry.active++;
      entry.total++;
      for (const chunk of this.kept) {
        this.count(chunk.length, 'in');
        upstream.write(chunk);
      }
      if (!this.replayable) this.kept = [];
      if (this.clientEnded) upstream.end();
      this.client.resume();
    });
    // A backend that closes while a request of the client waits for its answer has died
    // (the client neither finished nor was answered), and so has one that closes at once,
    // before the client had time to send anything. One that closes after the client
    // finished, or after a quiet client for a while, is only doing its job.
    const diedMidRequest = (): boolean =>
      !this.answered &&
      !this.clientEnded &&
      (this.keptBytes > 0 || Date.now() - this.connectedAt < this.options.connectTimeoutMs);
    upstream.once('end', () => {
      this.upstreamEnded = true;
      if (diedMidRequest() && this.retry(entry, upstream, 'closed without answering')) return;
      this.client.end();
    });
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = error.code ?? error.message;
      // Not connected yet: refused or timed out. Connected: reset before the answer.
      if ((!this.connected || (!this.answered && this.keptBytes > 0)) && this.retry(entry, upstream, reason)) return;
      this.finish();
    });
    upstream.once('close', () => {
      clearTimeout(timer);
      if (this.upstream !== upstream || this.pumped) return;
      if (diedMidRequest() && this.retry(entry, upstream, 'closed without answering')) return;
      // The backend is gone for good; once the client has its half-closed answer, it goes too.
      if (this.answered && this.clientEnded) this.finish();
      else if (!this.answered) this.finish();
      else this.client.end();
    });
  }

  /** A chunk of the backend's answer, in the shared read buffer: copied, then sent on. */
  private fromUpstream(upstream: net.Socket, bytes: number, buffer: Uint8Array): boolean {
    if (this.upstream !== upstream) return false;
    if (!this.answered) {
      this.answered = true;
      this.kept = [];
    }
    this.count(bytes, 'out');
    if (this.client.write(Buffer.from(buffer.subarray(0, bytes)))) {
      // Destroyed by the hand-over: returning false only stops reading what is gone.
      return !this.handOver(upstream);
    }
    this.client.once('drain', () => upstream.resume());
    return false;
  }

  /**
   * Gives the joined connection to the native pump, once the backend has answered (nothing
   * is kept for a retry), neither side has ended, and nothing waits in either socket's
   * write buffer, so that every byte goes out in order. False: it stays here.
   */
  private handOver(upstream: net.Socket): boolean {
    const pump = this.options.pump;
    if (pump === undefined || !this.adopted || !this.answered || this.clientEnded || this.upstreamEnded || this.finished) return false;
    if (this.client.writableLength > 0 || upstream.writableLength > 0) return false;
    this.client.pause();
    const id = pump.take(this.client, upstream, this.options.idleTimeoutMs, (end) => this.pumpEnded(end));
    if (id === undefined) {
      this.client.resume();
      return false;
    }
    this.pumpId = id;
    return true;
  }

  private pumpEnded(end: PumpedConnection): void {
    this.count(end.bytesIn, 'in');
    this.count(end.bytesOut, 'out');
    if (end.reason === 'idle') this.stats.idleTimeouts++;
    this.pumpId = undefined;
    this.finish();
  }

  /** Moves to the next backend if the client's bytes can be sent again; false when they cannot. */
  private retry(entry: PoolEntry, upstream: net.Socket, reason: string): boolean {
    if (this.upstream !== upstream) return true; // already moved on
    // Before a connection everything the client sent is still kept; after, only while it fits.
    if ((this.connected && !this.replayable) || this.finished || this.client.destroyed) return false;
    this.upstream = undefined;
    if (this.connected) entry.active--;
    this.connected = false;
    upstream.destroy();
    this.stats.connectFailures++;
    this.pool.markDown(entry, reason);
    this.logger.warn({ backend: entry.backend.name, err: reason }, 'backend failed before answering: trying the next one');
    this.connect();
    return true;
  }

  private count(bytes: number, direction: 'in' | 'out'): void {
    const entry = this.entry as PoolEntry;
    if (direction === 'in') {
      this.stats.bytesIn += bytes;
      entry.bytesIn += bytes;
    } else {
      this.stats.bytesOut += bytes;
      entry.bytesOut += bytes;
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.connected && this.entry !== undefined) this.entry.active--;
    this.connected = false;
    this.client.destroy();
    this.upstream?.destroy();
    this.ended();
  }
}
