import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ApiError } from '../errors';
import { listen, type Logger } from '@meshkv/common';
import { EMPTY_QUERY, parseQuery } from './query';
import { sendError } from './reply';
import type { RequestContext, Route, Router, Upgraded } from './router';
import type { TlsSource } from './tls';

/** HTTPS: the certificate (reloaded by its source), and whether clients are asked for one and must have it. */
export interface ServerTls {
  readonly source: TlsSource;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
  /** Another certificate for clients that ask for this server name (SNI): the mesh's, for peers. */
  readonly alternative?: { readonly servername: string; readonly source: TlsSource };
}

export interface HttpServerOptions {
  readonly maxUrlLength: number; // characters
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly logger: Logger;
  /** The client's error for a failure of a layer below (a full disk), if it has one; else a 500 is logged. */
  readonly clientError?: (error: unknown) => ApiError | undefined;
  /** Serve HTTPS instead of HTTP. */
  readonly tls?: ServerTls;
}

export interface RequestEnd {
  readonly status: number;
  /** The response was cut before it was sent in full (client gone, socket error). */
  readonly aborted: boolean;
  readonly durationMs: number;
}

/**
 * The lifecycle events, for logging and metrics:
 * - `connect` / `disconnect`: a client socket opened / closed.
 * - `request:start`: a request was read and is about to be routed.
 * - `request:complete`: its handler returned (or its promise settled): the node's work
 *   for it is done, though the response may still be on its way.
 * - `request:end`: the response is over, sent in full or aborted.
 * - `request:refused`: a request answered before it had a context (a URL too long, a
 *   malformed query, too many connections, a body that cannot be framed).
 * Listeners run synchronously on the request path and must not throw or block.
 */
export interface HttpServerEvents {
  connect: [socket: Socket];
  disconnect: [socket: Socket];
  'request:start': [ctx: RequestContext];
  'request:complete': [ctx: RequestContext];
  'request:end': [ctx: RequestContext, end: RequestEnd];
  'request:refused': [status: number, startedAt: number, method: string];
}

const CLOSE_HEADERS = ['Connection', 'close'] as const;
/** Seconds a client refused for MAX_CONNECTIONS is told to wait. */
const RETRY_AFTER_S = 1;
/** ms a connection over MAX_CONNECTIONS may take to send its request before it is cut. */
const OVER_LIMIT_GRACE_MS = 1000;

/**
 * An HTTP/1.1 server on node:http that routes by exact path and guards itself against
 * slow or hostile clients: header and request timeouts (408), a URL length limit (414),
 * a cap on open connections, and JSON errors for requests that are not HTTP at all.
 */
export class HttpServer extends EventEmitter<HttpServerEvents> {
  private readonly server: http.Server | https.Server;
  private readonly logger: Logger;
  private readonly maxUrlLength: number;
  private readonly clientError: (error: unknown) => ApiError | undefined;
  private draining = false;
  /** Connections over MAX_CONNECTIONS: their first request is refused. */
  private readonly overLimit = new WeakSet<Socket>();
  /** Connections that got their refusal: nothing more sent on them is routed. */
  private readonly refused = new WeakSet<Socket>();
  private readonly maxConnections: number;
  private closing: Promise<void> | undefined;
  private openConnections = 0;

  constructor(
    private readonly router: Router,
    options: HttpServerOptions,
  ) {
    super();
    this.logger = options.logger;
    this.maxUrlLength = options.maxUrlLength;
    this.clientError = options.clientError ?? (() => undefined);
    const serverOptions: http.ServerOptions = {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Timeouts are enforced by a periodic sweep; sweep often enough to honour short ones.
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(options.headersTimeoutMs / 2))),
      // Checked in onRequest, to answer in JSON like every other refusal.
      requireHostHeader: false,
    };
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => this.onRequest(req, res);
    const tls = options.tls;
    if (tls === undefined) {
      this.server = http.createServer(serverOptions, onRequest);
    } else {
      const alternative = tls.alternative;
      let context = alternative === undefined ? undefined : createSecureContext(alternative.source.material.context);
      alternative?.source.onReload((material) => (context = createSecureContext(material.context)));
      const server = https.createServer(
        {
          ...serverOptions,
          ...tls.source.material.context,
          requestCert: tls.requestCert,
          rejectUnauthorized: tls.rejectUnauthorized,
          handshakeTimeout: options.headersTimeoutMs,
          // No context: the server's own, for every other name (or none).
          ...(alternative === undefined ? {} : { SNICallback: (name: string, done: (error: Error | null, context?: SecureContext) => void) => done(null, name === alternative.servername ? context : undefined) }),
        },
        onRequest,
      );
      // New connections get the new certificate; open ones keep theirs.
      tls.source.onReload((material) => server.setSecureContext(material.context));
      this.server = server;
    }
    // Not server.maxConnections: it resets the connections past it with no answer at all.
    this.maxConnections = options.maxConnections;
    // Over TLS a request's socket is the TLS socket, known once the handshake is done.
    this.server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => this.onConnection(socket));
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => this.onClientError(error, socket));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /** True from the start of shutdown: /healthcheck answers 503 and keep-alive ends. */
  get shuttingDown(): boolean {
    return this.draining;
  }

  get connections(): number {
    return this.openConnections;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.server, port, host);
  }

  /**
   * Graceful stop: from now on /healthcheck answers 503 and every response carries
   * `Connection: close`; after `drainMs` (time for a load balancer to notice) the
   * listener closes, idle connections are closed, and in-flight requests get up to
   * `timeoutMs` to finish before their sockets are cut. Idempotent.
   */
  shutdown(timeoutMs: number, drainMs = 0): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.draining = true;
    this.closing = new Promise<void>((resolve) => setTimeout(resolve, drainMs)).then(
      () =>
        new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            this.logger.warn({ connections: this.openConnections }, 'shutdown timeout: closing remaining connections');
            this.server.closeAllConnections();
          }, timeoutMs);
          this.server.close(() => {
            clearTimeout(force);
            resolve();
          });
          this.server.closeIdleConnections();
        }),
    );
    return this.closing;
  }

  private onConnection(socket: Socket): void {
    if (this.openConnections >= this.maxConnections) {
      // Not counted: it gets a 503 for its first request (or is cut if none comes soon).
      this.overLimit.add(socket);
      socket.setTimeout(OVER_LIMIT_GRACE_MS, () => socket.destroy());
      return;
    }
    this.openConnections++;
    this.emit('connect', socket);
    socket.once('close', () => {
      this.openConnections--;
      this.emit('disconnect', socket);
    });
  }

  /**
   * A request with `Upgrade`: node:http hands over its socket. It goes through the router
   * and hooks like any request, with a response written on that socket; a GET to a route
   * that takes upgrades (`Route.upgrade`) with `Upgrade: websocket` then gets the socket,
   * and any other is answered as a plain request (RFC 9110 7.8: a server may ignore
   * Upgrade), after which the connection closes.
   */
  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.once('finish', () => socket.end());
    const websocket = req.method === 'GET' && /^websocket$/i.test(req.headers.upgrade ?? '');
    this.onRequest(req, res, websocket ? { socket, head } : undefined);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse, upgrade?: Upgraded): void {
    const startedAt = performance.now();
    const refusal = this.refused.has(req.socket) || this.overLimit.has(req.socket) ? ApiError.of('TOO_MANY_CONNECTIONS') : framingError(req);
    if (refusal !== undefined) {
      this.refuseAndClose(req, res, refusal);
      this.emit('request:refused', refusal.status, startedAt, req.method ?? '');
      return;
    }
    const url = originForm(req.url ?? '/');
    const method = req.method ?? 'GET';
    const extra = this.draining ? CLOSE_HEADERS : undefined;
    if (url.length > this.maxUrlLength) {
      const error = new ApiError(
        'URI_TOO_LONG',
        `The request URL has ${url.length} characters; the limit is ${this.maxUrlLength} (MAX_URL_LENGTH).`,
      );
      sendError(res, error, extra);
      this.emit('request:refused', error.status, startedAt, method);
      return;
    }
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    let ctx: RequestContext;
    try {
      const query = mark === -1 ? EMPTY_QUERY : parseQuery(url.slice(mark + 1));
      ctx = { req, res, method, path, query, principal: undefined, route: undefined, startedAt };
    } catch (error) {
      this.fail(res, error, extra);
      this.emit('request:refused', res.statusCode, startedAt, method);
      return;
    }
    // Watching each response costs a listener per request: only when someone listens.
    if (this.listenerCount('request:end') > 0) this.watchEnd(ctx);
    this.emit('request:start', ctx);

    const route = this.router.lookup(path);
    ctx.route = route;
    if (route === undefined) {
      sendError(res, new ApiError('NOT_FOUND', `No route has the path ${truncate(path)}.`), extra);
      this.emit('request:complete', ctx);
      return;
    }
    if (!route.methods.has(method)) {
      const error = new ApiError('METHOD_NOT_ALLOWED', `${route.path} takes ${route.allow}, not ${method}.`);
      sendError(res, error, extra === undefined ? ['Allow', route.allow] : ['Allow', route.allow, ...extra]);
      this.emit('request:complete', ctx);
      return;
    }
    const refused = this.router.runHooks(ctx, route);
    if (refused instanceof Promise) {
      refused.then(
        (error) => (error === undefined ? this.handle(ctx, route, extra, upgrade) : this.refuse(ctx, error, extra)),
        (error: unknown) => {
          this.fail(res, error, extra, ctx);
          this.emit('request:complete', ctx);
        },
      );
      return;
    }
    if (refused !== undefined) {
      this.refuse(ctx, refused, extra);
      return;
    }
    this.handle(ctx, route, extra, upgrade);
  }

  private refuse(ctx: RequestContext, error: ApiError, extra: readonly string[] | undefined): void {
    sendError(ctx.res, error, extra);
    this.emit('request:complete', ctx);
  }

  /** Runs the route's handler (its hooks let the request through). */
  private handle(ctx: RequestContext, route: Route, extra: readonly string[] | undefined, upgrade?: Upgraded): void {
    const res = ctx.res;
    if (upgrade !== undefined && route.upgrade !== undefined) {
      if (this.draining) {
        this.refuse(ctx, ApiError.of('SHUTTING_DOWN'), extra);
        return;
      }
      const take = (): Upgraded => {
        // The socket is the route's from here: the response object lets go of it unused.
        res.detachSocket(upgrade.socket as Socket);
        res.statusCode = 101;
        return upgrade;
      };
      try {
        route.upgrade(ctx, take);
      } catch (error) {
        this.fail(res, error, extra, ctx);
      }
      this.emit('request:complete', ctx);
      return;
    }
    if (extra !== undefined) res.setHeader('Connection', 'close');
    let outcome: void | Promise<void>;
    try {
      outcome = route.handler(ctx);
    } catch (error) {
      this.fail(res, error, extra, ctx);
      this.emit('request:complete', ctx);
      return;
    }
    if (outcome instanceof Promise) {
      outcome.then(
        () => this.emit('request:complete', ctx),
        (error: unknown) => {
          this.fail(res, error, extra, ctx);
          this.emit('request:complete', ctx);
        },
      );
    } else {
      this.emit('request:complete', ctx);
    }
  }

  /**
   * Answers `error` once on this connection and closes it. Requests already read behind
   * this one (pipelined, or smuggled in a body that could not be framed) are never routed:
   * their responses are destroyed, which ends the connection after the refusal is out.
   */
  private refuseAndClose(req: http.IncomingMessage, res: http.ServerResponse, error: ApiError): void {
    const socket = req.socket;
    if (this.refused.has(socket)) {
      res.destroy();
      return;
    }
    this.refused.add(socket);
    res.once('finish', () => socket.destroySoon());
    sendError(res, error, error.code === 'TOO_MANY_CONNECTIONS' ? ['Connection', 'close', 'Retry-After', String(RETRY_AFTER_S)] : CLOSE_HEADERS);
  }

  private watchEnd(ctx: RequestContext): void {
    const started = performance.now();
    ctx.res.once('close', () => {
      this.emit('request:end', ctx, {
        status: ctx.res.statusCode,
        aborted: !ctx.res.writableFinished,
        durationMs: performance.now() - started,
      });
    });
  }

  /** Answers with the error's status, or logs a 500; cuts the socket if headers are out. */
  private fail(res: http.ServerResponse, error: unknown, extra?: readonly string[], ctx?: RequestContext): void {
    const apiError =
      error instanceof ApiError
        ? error
        : (this.clientError(error) ??
          (this.logger.error({ err: error, path: ctx?.path, method: ctx?.method }, 'request handler failed'), new ApiError('INTERNAL_ERROR')));
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.removeHeader('Connection');
    sendError(res, apiError, extra);
  }

  /** Bytes that are not valid HTTP, timeouts and oversized headers: a JSON 4xx, then close. */
  private onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (this.refused.has(socket)) {
      // Its refusal is out (or on its way): only close, once that is sent.
      socket.end();
      return;
    }
    let apiError: ApiError;
    switch (error.code) {
      case 'ERR_HTTP_REQUEST_TIMEOUT':
        apiError = new ApiError('REQUEST_TIMEOUT');
        break;
      case 'HPE_HEADER_OVERFLOW':
        apiError = new ApiError('HEADERS_TOO_LARGE');
        break;
      case 'HPE_INVALID_URL':
        apiError = new ApiError(
          'BAD_REQUEST',
          "The request URL is not valid HTTP/1.1 (HPE_INVALID_URL): percent-encode non-ASCII characters and spaces (curl -G http://HOST/set --data-urlencode 'k=…' --data-urlencode 'v=…').",
        );
        break;
      default:
        apiError = new ApiError('BAD_REQUEST', `The request is not valid HTTP/1.1 (${error.code ?? 'parse error'}).`);
    }
    this.logger.debug({ code: error.code, remote: socket.remoteAddress }, 'client error');
    const body = JSON.stringify(apiError);
    socket.end(
      `HTTP/1.1 ${apiError.status} ${http.STATUS_CODES[apiError.status] ?? ''}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
}

/**
 * A request that cannot be read safely: HTTP/1.1 without Host (RFC 9112 3.2), or a
 * Transfer-Encoding whose last coding is not chunked (RFC 9112 6.3: the body's end cannot
 * be found, and what follows it could be taken for a request of its own).
 */
function framingError(req: http.IncomingMessage): ApiError | undefined {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.headers.host === undefined) {
    return new ApiError('BAD_REQUEST', 'An HTTP/1.1 request needs a Host header (RFC 9112 3.2).');
  }
  const encoding = req.headers['transfer-encoding'];
  if (encoding !== undefined && encoding.split(',').pop()?.trim().toLowerCase() !== 'chunked') {
    return new ApiError('BAD_REQUEST', `The request's Transfer-Encoding must end with chunked (got "${encoding.slice(0, 60)}"): its body cannot be framed.`);
  }
  return undefined;
}

/** `http://host/path?q` (absolute-form, RFC 9112 3.2.2) to `/path?q`; other targets as they are. */
function originForm(target: string): string {
  if (target.charCodeAt(0) === 47 /* / */) return target;
  const match = /^https?:\/\/[^/?#]*/i.exec(target);
  if (match === null) return target;
  const rest = target.slice(match[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
