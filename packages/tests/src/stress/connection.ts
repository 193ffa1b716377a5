import * as net from 'node:net';
import * as tls from 'node:tls';

/** What every request of a connection carries beyond the basics: an API key, and TLS when the URL is https://. */
export interface ConnectionOptions {
  readonly apiKey?: string;
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

/** Why a request failed: a network error code (ECONNREFUSED, …), `timeout`, or `closed`. */
export class RequestError extends Error {
  constructor(readonly kind: string) {
    super(kind);
    this.name = 'RequestError';
  }
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Failures after which a request that got no byte of answer on a reused connection is sent again. */
const RESENDABLE = new Set(['closed', 'ECONNRESET', 'EPIPE']);

/**
 * One keep-alive HTTP/1.1 connection that sends GET requests one after the other, as wrk
 * does, and reads only what a load generator needs from the answer: the status and the end
 * of the body (Content-Length or chunked). undici is the pooled client everywhere else;
 * here it was measured at about 60% of wrk's rate on one core (its per-request machinery,
 * not the server, was the limit), too slow for a tool meant to measure the server.
 */
export class HttpConnection {
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (status: number) => void; reject: (error: RequestError) => void } | undefined;
  private deadline = 0;
  private readonly head: string;
  /** The request in flight, as sent, kept to be sent again (see `fail`). */
  private request = '';
  /** Whether it may be sent again (not a POST). */
  private idempotent = true;
  /** Answers completed on the current socket: more than 0 means it is a reused connection. */
  private answers = 0;
  private resentThis = false;
  /** Requests sent a second time because a reused connection closed before answering them. */
  resent = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    hostHeader: string,
    private readonly options: ConnectionOptions = {},
  ) {
    const auth = options.apiKey === undefined ? '' : `Authorization: Bearer ${options.apiKey}\r\n`;
    this.head = ` HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: meshkv-stress\r\n${auth}`;
  }

  /** Sends `GET path`; resolves with the status once the whole answer has arrived. */
  get(path: string, timeoutMs: number): Promise<number> {
    return this.send('GET', path, undefined, timeoutMs);
  }

  /**
   * Sends a request, with `body` (ASCII text: the stress tool's values and batches) and
   * its Content-Length when given; resolves with the status once the whole answer has
   * arrived. The server's answer must have a body (no HEAD).
   */
  send(method: string, path: string, body: string | undefined, timeoutMs: number): Promise<number> {
    if (this.waiting !== undefined) return Promise.reject(new Error('one request at a time per connection'));
    const socket = this.socket ?? this.open();
    this.deadline = Date.now() + timeoutMs;
    this.request = body === undefined ? `${method} ${path}${this.head}\r\n` : `${method} ${path}${this.head}Content-Length: ${body.length}\r\n\r\n${body}`;
    this.idempotent = method !== 'POST';
    this.resentThis = false;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      socket.write(this.request, 'latin1');
    });
  }

  /** Fails the request in flight if it is past its deadline (call it now and then). */
  checkTimeout(now: number): void {
    if (this.waiting !== undefined && now > this.deadline) this.fail(new RequestError('timeout'));
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): net.Socket {
    const secure = this.options.tls;
    const socket: net.Socket =
      secure === undefined
        ? net.connect({ host: this.host, port: this.port, noDelay: true })
        : tls.connect({ host: this.host, port: this.port, ...(net.isIP(this.host) === 0 ? { servername: this.host } : {}), ...secure }).setNoDelay(true);
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.answers = 0;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.fail(new RequestError(error.code ?? 'error'));
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail(new RequestError('closed'));
    });
    return socket;
  }

  /**
   * Ends the request in flight with `error`, except in the one case where HTTP clients send
   * a request again (RFC 9110, 9.2.2; an idempotent request): a keep-alive connection
   * that already carried answers closed before any byte of this one. A server or proxy may
   * close an idle reused connection at any time, and a TCP balancer cannot replay a request
   * on a connection that already had answers when its backend dies; the next connection
   * goes to a living backend. Sent again once at most, and counted in `resent`; a POST
   * (a batch) never is.
   */
  private fail(error: RequestError): void {
    const reused = this.answers > 0 && this.buffer.length === 0;
    this.socket?.destroy();
    this.socket = undefined;
    if (this.waiting !== undefined && reused && this.idempotent && !this.resentThis && RESENDABLE.has(error.kind)) {
      this.resentThis = true;
      this.resent++;
      this.open().write(this.request, 'latin1');
      return;
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(error);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const parsed = parseResponse(this.buffer);
    if (parsed === undefined) return;
    this.buffer = this.buffer.subarray(parsed.length);
    this.answers++;
    if (parsed.close) {
      this.socket?.destroy();
      this.socket = undefined;
    }
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(parsed.status);
  }
}

/**
 * Reads one complete HTTP/1.1 response at the start of `buffer`: its status, its length in
 * bytes, and whether the server closes the connection after it. Undefined while incomplete.
 */
export function parseResponse(buffer: Buffer): { status: number; length: number; close: boolean } | undefined {
  const headerEnd = buffer.indexOf(HEADER_END);
  if (headerEnd === -1) return undefined;
  const head = buffer.toString('latin1', 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection:\s*close/i.test(head);
  const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const bodyStart = headerEnd + 4;
  if (lengthMatch !== null) {
    const length = bodyStart + Number(lengthMatch[1]);
    return buffer.length >= length ? { status, length, close } : undefined;
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let offset = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', offset, 'latin1');
      if (lineEnd === -1) return undefined;
      const size = parseInt(buffer.toString('latin1', offset, lineEnd), 16);
      if (Number.isNaN(size)) throw new RequestError('bad chunked body');
      const next = lineEnd + 2 + size + 2;
      if (buffer.length < next) return undefined;
      offset = next;
      if (size === 0) return { status, length: offset, close };
    }
  }
  // No length: the body ends when the server closes (not seen with MeshKV); count the head.
  return { status, length: bodyStart, close: true };
}
