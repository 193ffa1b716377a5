import { signMeshRequest } from '@meshkv/common';
import type { LookupFunction } from 'node:net';
import type { Dispatcher, Pool } from 'undici';
import { jsonTextOf, type MeshTransport, PeerRequestError } from './transport';

type Undici = typeof import('undici');
let undici: Undici | undefined;

/**
 * undici is loaded on the first mesh request, not at start: with its WebAssembly HTTP
 * parser it adds about 20 MB to the process, which a node without peers does not need.
 */
function loadUndici(): Undici {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- deferred on purpose, see above
  undici ??= require('undici') as Undici;
  return undici;
}

/**
 * The server name (SNI) a node asks its peers for: a node serving HTTPS to clients with
 * another certificate (TLS_CERT_FILE) answers it with its mesh certificate, so each side
 * of a mesh connection proves it holds a certificate from the mesh CA.
 */
export const MESH_SERVERNAME = 'mesh.meshkv.invalid';

export interface ClientOptions {
  readonly secret: string | undefined;
  /** Connections per peer; a peer that hangs can hold no more sockets than this. */
  readonly connections: number;
  readonly connectTimeoutMs: number;
  /**
   * Mesh TLS: the certificate this node presents to its peers and the CA their certificates
   * must come from (as they are now: read again after a reload, see `reloadTls`). The peer's
   * host name is not checked: a certificate from the mesh CA is what makes a node of the mesh.
   */
  readonly tls?: () => { readonly cert: Buffer | string; readonly key: Buffer | string; readonly ca: readonly (Buffer | string)[] };
  /** How peers' host names are looked up (DNS_SERVERS); default: the system's resolver. */
  readonly lookup?: LookupFunction;
}

/**
 * The mesh over HTTP: one keep-alive pool per peer URL (undici). Every request has a
 * deadline (headers and body), and the pools are capped, so a peer that accepts
 * connections and never answers costs a few sockets and nothing more.
 */
export class HttpTransport implements MeshTransport {
  private readonly pools = new Map<string, Pool>();
  private readonly headers: Record<string, string>;

  constructor(private readonly options: ClientOptions) {
    this.headers = { 'content-type': 'application/json' };
  }

  /**
   * Through undici's dispatch with a handler rather than `request`: no response stream, no
   * AbortSignal (a timer of its own aborts it), which costs a replication request about
   * 40 µs less of the sender's CPU.
   */
  post<T>(baseUrl: string, path: string, body: unknown, timeoutMs: number, fresh = false): Promise<T> {
    const bytes = Buffer.from(jsonTextOf(body));
    const where = `${baseUrl}${path}`;
    return new Promise<T>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status = 0;
      let controller: Dispatcher.DispatchController | undefined;
      // Made when the deadline passes: an Error records a stack trace, a cost every request would pay.
      const late = (): Error => new Error(`no answer within ${timeoutMs} ms`);
      let timedOut = false;
      const fail = (error: PeerRequestError): void => {
        clearTimeout(timer);
        reject(error);
      };
      // Settles the call at its deadline even while it waits for a connection of the pool.
      const timer = setTimeout(() => {
        timedOut = true;
        const error = late();
        controller?.abort(error);
        fail(new PeerRequestError(`${where}: ${error.message}`));
      }, timeoutMs);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (started) => {
          controller = started;
          if (timedOut) started.abort(late());
        },
        onResponseStart: (_, statusCode) => {
          status = statusCode;
        },
        onResponseData: (_, chunk) => {
          chunks.push(chunk);
        },
        onResponseEnd: () => {
          const text = Buffer.concat(chunks).toString();
          if (!succeeded(status)) return fail(statusError(where, status, text));
          let answer: T;
          try {
            answer = JSON.parse(text) as T;
          } catch {
            return fail(new PeerRequestError(`${where}: the answer is not JSON: ${text.slice(0, 200)}`, undefined, true));
          }
          clearTimeout(timer);
          resolve(answer);
        },
        onResponseError: (_, error) => fail(new PeerRequestError(`${where}: ${describe(error)}`, undefined, status !== 0)),
      };
      try {
        this.pool(baseUrl).dispatch({ path, method: 'POST', headers: this.headersFor(path, bytes), body: bytes, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, reset: fresh }, handler);
      } catch (error) {
        fail(new PeerRequestError(`${where}: ${describe(error)}`));
      }
    });
  }

  async stream<T>(baseUrl: string, path: string, body: unknown, timeoutMs: number, read: (chunks: AsyncIterable<Buffer>) => Promise<T>): Promise<T> {
    const pool = this.pool(baseUrl);
    const signal = AbortSignal.timeout(timeoutMs);
    const bytes = Buffer.from(jsonTextOf(body));
    let response;
    try {
      response = await pool.request({
        path,
        method: 'POST',
        headers: this.headersFor(path, bytes),
        body: bytes,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      throw new PeerRequestError(`${baseUrl}${path}: ${describe(error)}`);
    }
    if (!succeeded(response.statusCode)) {
      const text = await response.body.text().catch(() => '');
      throw statusError(`${baseUrl}${path}`, response.statusCode, text);
    }
    try {
      return await read(response.body);
    } catch (error) {
      response.body.destroy();
      throw new PeerRequestError(`${baseUrl}${path}: ${describe(error)}`, undefined, true);
    }
  }

  /**
   * The headers of a request whose body is `bytes` (encoded once: the signature's digest,
   * the length and the socket read the same bytes). Signed, never sent: a peer that is not
   * one (an injected URL) learns nothing it can reuse.
   */
  private headersFor(path: string, bytes: Buffer): Record<string, string> {
    const secret = this.options.secret;
    return secret === undefined ? this.headers : { ...this.headers, authorization: signMeshRequest(secret, { method: 'POST', path, body: bytes }) };
  }

  /** New connections present the certificate as it is now: the pools made with the old one close once idle. */
  reloadTls(): void {
    const pools = [...this.pools.values()];
    this.pools.clear();
    for (const pool of pools) pool.close().catch(() => undefined);
  }

  /** Closes the pool of a URL that is no longer a peer. */
  forget(baseUrl: string): void {
    const pool = this.pools.get(baseUrl);
    if (pool === undefined) return;
    this.pools.delete(baseUrl);
    pool.destroy().catch(() => undefined);
  }

  get openPools(): number {
    return this.pools.size;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }

  private pool(baseUrl: string): Pool {
    let pool = this.pools.get(baseUrl);
    if (pool === undefined) {
      const credentials = this.options.tls?.();
      const lookup = this.options.lookup === undefined ? {} : { lookup: this.options.lookup };
      const tls = credentials === undefined ? {} : { ...credentials, ca: [...credentials.ca], servername: MESH_SERVERNAME, checkServerIdentity: () => undefined };
      const connect = credentials === undefined && this.options.lookup === undefined ? {} : { connect: { ...lookup, ...tls } };
      pool = new (loadUndici().Pool)(baseUrl, {
        connections: this.options.connections,
        connectTimeout: this.options.connectTimeoutMs,
        keepAliveTimeout: 4000,
        pipelining: 1,
        ...connect,
      });
      this.pools.set(baseUrl, pool);
    }
    return pool;
  }
}

function succeeded(status: number): boolean {
  return status >= 200 && status < 300;
}

/** A peer's answer other than 2xx: its status, and the start of its body. */
function statusError(where: string, status: number, text: string): PeerRequestError {
  return new PeerRequestError(`${where}: HTTP ${status} ${text.slice(0, 200)}`, status);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code === undefined ? error.message : `${code} ${error.message}`;
  }
  return String(error);
}
