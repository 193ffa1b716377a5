import { signMeshRequest } from '@meshkv/common';
import { Pool } from 'undici';
import { paths, type WriteOptions } from './paths';
import type { NkvdNode, NodeIndex, NodeStatus } from './status';

export interface ClientOptions {
  /** Base URL of a node or of the balancer, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** ms for a whole request (headers and body); default 10,000. */
  readonly timeoutMs?: number;
  /** Keep-alive connections; default 8. */
  readonly connections?: number;
  /** Sent as `Authorization: Bearer …` on every request (mesh routes take signed requests only, not this). */
  readonly bearer?: string;
  /** The mesh secret: the nkvd ping (a mesh route) is then signed with it (the secret is never sent). */
  readonly meshSecret?: string;
}

/** An answer as it came: status, headers and body text. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

/** The node answered with an error: its status, and the `error` code and message of its body. */
export class MeshKvError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole error body (codes may carry details, e.g. `acked` of WRITE_TIMEOUT). */
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'MeshKvError';
  }
}

/**
 * A typed client for every public route of a MeshKV node (or a balancer in front of
 * nodes), over keep-alive connections. Expected outcomes are values (`get` of a missing
 * key is undefined, `rm` of one is false); any other error answer throws a MeshKvError
 * with the node's code; a network failure throws the transport's error.
 */
export class MeshKvClient {
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly meshSecret: string | undefined;

  constructor(options: ClientOptions) {
    this.pool = new Pool(options.url.replace(/\/+$/, ''), { connections: options.connections ?? 8 });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.headers = options.bearer === undefined ? {} : { authorization: `Bearer ${options.bearer}` };
    this.meshSecret = options.meshSecret;
  }

  /** Stores `value` under `key`; resolves once the write concern is met. */
  async set(key: string, value: string, options?: WriteOptions): Promise<void> {
    await this.json(paths.set(key, value, options));
  }

  /** The value, or undefined when no record has the key. */
  async get(key: string): Promise<string | undefined> {
    return this.found(paths.get(key), (text) => JSON.parse(text) as string, undefined);
  }

  async is(key: string): Promise<boolean> {
    return this.found(paths.is(key), () => true, false);
  }

  /** True when the key held a value (now removed), false when it had none. */
  async rm(key: string, options?: WriteOptions): Promise<boolean> {
    return this.found(paths.rm(key, options), () => true, false);
  }

  /** Removes every record, on every node. */
  async clear(options?: WriteOptions): Promise<void> {
    await this.json(paths.clear(options));
  }

  keys(): Promise<string[]> {
    return this.json(paths.keys()) as Promise<string[]>;
  }

  values(): Promise<string[]> {
    return this.json(paths.values()) as Promise<string[]>;
  }

  all(): Promise<{ k: string; v: string }[]> {
    return this.json(paths.all()) as Promise<{ k: string; v: string }[]>;
  }

  /** True when the node answers 200 (it is up and not shutting down). */
  async healthy(): Promise<boolean> {
    return (await this.request(paths.healthcheck())).status === 200;
  }

  status(): Promise<NodeStatus> {
    return this.json(paths.status()) as Promise<NodeStatus>;
  }

  /** `GET /`: what the node is and its public routes. */
  index(): Promise<NodeIndex> {
    return this.json(paths.index()) as Promise<NodeIndex>;
  }

  /** The nkvd form of `/ping`: introduces `nodes` (host:port) and lists every node known. */
  async nkvdPing(nodes: readonly string[] = []): Promise<NkvdNode[]> {
    const target = paths.nkvdPing(nodes);
    const secret = this.meshSecret;
    const signed = secret === undefined ? undefined : { authorization: signMeshRequest(secret, { method: 'GET', path: target, body: '' }) };
    const answer = await this.request(target, 'GET', signed);
    if (answer.status < 200 || answer.status >= 300) throw toError(answer);
    return (JSON.parse(answer.text) as { nodes: NkvdNode[] }).nodes;
  }

  /** Any request, the target sent as given (`headers` on top of the client's); the answer whatever its status. */
  async request(target: string, method = 'GET', headers?: Record<string, string>): Promise<RawAnswer> {
    const res = await this.pool.request({
      path: target,
      method,
      headers: headers === undefined ? this.headers : { ...this.headers, ...headers },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** The parsed body of a 2xx answer; a MeshKvError otherwise. */
  private async json(target: string): Promise<unknown> {
    const answer = await this.request(target);
    if (answer.status >= 200 && answer.status < 300) return JSON.parse(answer.text) as unknown;
    throw toError(answer);
  }

  /** `found(text)` for a 2xx, `missing` for 404 MISSING_RECORD, a MeshKvError otherwise. */
  private async found<T>(target: string, found: (text: string) => T, missing: T): Promise<T> {
    const answer = await this.request(target);
    if (answer.status >= 200 && answer.status < 300) return found(answer.text);
    const error = toError(answer);
    if (error.code === 'MISSING_RECORD') return missing;
    throw error;
  }
}

function toError(answer: RawAnswer): MeshKvError {
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(answer.text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // not JSON: the text goes into the message
  }
  const code = typeof body.error === 'string' ? body.error : `HTTP_${answer.status}`;
  const message = typeof body.message === 'string' ? body.message : answer.text.slice(0, 200);
  return new MeshKvError(answer.status, code, message, body);
}
