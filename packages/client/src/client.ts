import { signMeshRequest } from '@meshkv/common';
import { Pool } from 'undici';
import type { CreatedKey, KeyInfo, KeySpec, TenantInfo, TenantQuota, WhoAmI } from './keys';
import { paths, type ScanOptions, type SetOptions, type WriteOptions } from './paths';
import type { ClusterPicture, NkvdNode, NodeIndex, NodeStatus } from './status';
import { type ChangeEvent, EventStream, type PollAnswer, type PollOptions, type StreamOptions, type StreamTarget, type TopicMessage, type WatchOptions } from './watch';

export interface ClientOptions {
  /** Base URL of a node or of the balancer, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** ms for a whole request (headers and body); default 10,000. */
  readonly timeoutMs?: number;
  /** Keep-alive connections; default 8. */
  readonly connections?: number;
  /** An API key (or ADMIN_KEY), sent as `Authorization: Bearer …` on every request. */
  readonly apiKey?: string;
  /** The same as apiKey (an older name). */
  readonly bearer?: string;
  /** HTTPS: the CA that signed the node's certificate (PEM), and a client certificate and key when the node asks for one. */
  readonly tls?: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
  /** The mesh secret: the nkvd ping (a mesh route) is then signed with it (the secret is never sent). */
  readonly meshSecret?: string;
}

/** An answer as it came: status, headers and body text. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

/** `/meta` of a key: its version (the ETag without quotes), ms before it expires (null: never), the value's size in UTF-8 bytes. */
export interface RecordMeta {
  readonly k: string;
  readonly version: string;
  readonly ttlMs: number | null;
  readonly size: number;
  /** With `meta(key, { value: true })`. */
  readonly v?: string;
}

/** A page of a scan: `next` is the cursor for the next page (the last key), null when nothing is left. */
export interface ScanPage<T> {
  readonly items: T[];
  readonly next: string | null;
}

/** One operation of a batch. */
export type BatchOperation =
  | { readonly op: 'set'; readonly k: string; readonly v: string; readonly ttl?: number | string }
  | { readonly op: 'rm' | 'persist'; readonly k: string }
  | { readonly op: 'expire'; readonly k: string; readonly ttl: number | string };

/** Each operation's outcome, in order: success, or its error body. */
export type BatchResult = { readonly success: true } | { readonly error: string; readonly message: string };

/** A value read through `/kv/{key}` with its version. */
export interface VersionedValue {
  readonly value: string;
  readonly etag: string;
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
  private readonly target: StreamTarget;
  /** Streams opened by this client, closed with it. */
  private readonly streams = new Set<{ close(): void }>();

  constructor(options: ClientOptions) {
    const tls = options.tls;
    this.pool = new Pool(options.url.replace(/\/+$/, ''), { connections: options.connections ?? 8, ...(tls === undefined ? {} : { connect: { ...tls } }) });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const key = options.apiKey ?? options.bearer;
    this.headers = key === undefined ? {} : { authorization: `Bearer ${key}` };
    this.meshSecret = options.meshSecret;
    this.target = { baseUrl: options.url.replace(/\/+$/, ''), headers: this.headers, ...(tls === undefined ? {} : { tls }) };
  }

  /** Stores `value` under `key` (expiring after `ttl` if given); resolves once the write concern is met, with the new version's ETag. */
  async set(key: string, value: string, options?: SetOptions): Promise<string> {
    return etagOf(await this.answer(paths.set(key, value, options)));
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

  /** Every live key (with `prefix`: those that start with it, in code point order). */
  keys(prefix?: string): Promise<string[]> {
    return this.json(paths.keys(prefix)) as Promise<string[]>;
  }

  values(prefix?: string): Promise<string[]> {
    return this.json(paths.values(prefix)) as Promise<string[]>;
  }

  all(prefix?: string): Promise<{ k: string; v: string }[]> {
    return this.json(paths.all(prefix)) as Promise<{ k: string; v: string }[]>;
  }

  /** Sets or replaces the key's expiry; false when it holds no value. */
  async expire(key: string, ttl: number | string, options?: WriteOptions): Promise<boolean> {
    return this.found(paths.expire(key, ttl, options), () => true, false);
  }

  /** Removes the key's expiry (nothing is written when it has none); false when it holds no value. */
  async persist(key: string, options?: WriteOptions): Promise<boolean> {
    return this.found(paths.persist(key, options), () => true, false);
  }

  /** ms before the key expires, null when it never does, undefined when it holds no value. */
  async ttl(key: string): Promise<number | null | undefined> {
    return this.found(paths.ttl(key), (text) => (JSON.parse(text) as { ttlMs: number | null }).ttlMs, undefined);
  }

  /** The key's version, ttl and size (and value, with `value: true`); undefined when it holds no value. */
  async meta(key: string, options: { value?: boolean } = {}): Promise<RecordMeta | undefined> {
    return this.found(paths.meta(key, options.value ?? false), (text) => JSON.parse(text) as RecordMeta, undefined);
  }

  /** One page of keys and values in code point order; continue with `after: page.next`, on any node. */
  scan(options?: ScanOptions): Promise<ScanPage<{ k: string; v: string }>> {
    return this.json(paths.scan(options)) as Promise<ScanPage<{ k: string; v: string }>>;
  }

  /** One page of keys only. */
  scanKeys(options?: ScanOptions): Promise<ScanPage<string>> {
    return this.json(paths.scan(options, false)) as Promise<ScanPage<string>>;
  }

  /** Every live key and value from `options.after`, a page at a time. */
  async *scanAll(options: ScanOptions = {}): AsyncGenerator<{ k: string; v: string }> {
    let after = options.after;
    for (;;) {
      const page = await this.scan({ ...options, ...(after === undefined ? {} : { after }) });
      yield* page.items;
      if (page.next === null) return;
      after = page.next;
    }
  }

  /** `GET /kv/{key}`: the value as text with its ETag; undefined when the key holds none. */
  async read(key: string): Promise<VersionedValue | undefined> {
    const answer = await this.request(paths.kv(key));
    if (answer.status === 200) return { value: answer.text, etag: etagOf(answer) };
    const error = toError(answer);
    if (error.code === 'MISSING_RECORD') return undefined;
    throw error;
  }

  /** `PUT /kv/{key}` with the value as the body; the new version's ETag. */
  async put(key: string, value: string, options?: SetOptions): Promise<string> {
    return etagOf(await this.answer(paths.kv(key, options), 'PUT', { 'content-type': 'text/plain; charset=utf-8' }, value));
  }

  /** `DELETE /kv/{key}`: true when the key held a value. */
  async delete(key: string, options?: WriteOptions): Promise<boolean> {
    const answer = await this.request(paths.kv(key, options), 'DELETE');
    if (answer.status === 200) return true;
    const error = toError(answer);
    if (error.code === 'MISSING_RECORD') return false;
    throw error;
  }

  /** `POST /batch`: the operations in order, one result each (a failed one fails alone). */
  async batch(ops: readonly BatchOperation[], options?: WriteOptions): Promise<BatchResult[]> {
    const answer = await this.answer(paths.batch(options), 'POST', { 'content-type': 'application/json' }, JSON.stringify({ ops }));
    return (JSON.parse(answer.text) as { results: BatchResult[] }).results;
  }

  /** True when the node answers 200 (it is up and not shutting down). */
  async healthy(): Promise<boolean> {
    return (await this.request(paths.healthcheck())).status === 200;
  }

  /** True when the node answers `/ready` 200: joined, caught up, clock and storage fine, not stopping. */
  async ready(): Promise<boolean> {
    return (await this.request(paths.ready())).status === 200;
  }

  status(): Promise<NodeStatus> {
    return this.json(paths.status()) as Promise<NodeStatus>;
  }

  /** `GET /metrics`: the node's metrics in Prometheus' text format (docs/metrics.md). */
  async metrics(): Promise<string> {
    return (await this.answer(paths.metrics())).text;
  }

  /**
   * The cluster as the node sees it now: the first `picture` of `/ui/events` (the stream of
   * the cluster page), after which the stream is closed.
   */
  async clusterPicture(): Promise<ClusterPicture> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no picture of the cluster within ${this.timeoutMs} ms`)), this.timeoutMs);
    try {
      const res = await this.pool.request({ path: paths.clusterEvents(), method: 'GET', headers: this.headers, signal: controller.signal });
      if (res.statusCode !== 200) throw toError({ status: res.statusCode, headers: res.headers, text: await res.body.text() });
      let buffer = '';
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString('utf8');
        const picture = /(?:^|\n)event: picture\ndata: (.*)\n\n/.exec(buffer);
        if (picture !== null) return JSON.parse(picture[1] as string) as ClusterPicture;
      }
      throw new Error('the stream of /ui/events ended before a picture of the cluster');
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  /** `GET /`: what the node is and its public routes. */
  index(): Promise<NodeIndex> {
    return this.json(paths.index()) as Promise<NodeIndex>;
  }

  /** Who the client's key is, its rate, its requests on this node and its tenant's usage. */
  whoami(): Promise<WhoAmI> {
    return this.json(paths.whoami()) as Promise<WhoAmI>;
  }

  /** Makes an API key (admin scope); its secret is in the answer only: keep it. Waits for every member by default. */
  createKey(spec: KeySpec, options?: WriteOptions): Promise<CreatedKey> {
    return this.json(paths.createKey(spec, options)) as Promise<CreatedKey>;
  }

  async listKeys(): Promise<KeyInfo[]> {
    return ((await this.json(paths.listKeys())) as { keys: KeyInfo[] }).keys;
  }

  /** One key's description; undefined when no key has the id. */
  getKey(id: string): Promise<KeyInfo | undefined> {
    return this.found(paths.key(id), (text) => JSON.parse(text) as KeyInfo, undefined);
  }

  /** Revokes a key everywhere (waits for every member by default); false when no key has the id. */
  revokeKey(id: string, options?: WriteOptions): Promise<boolean> {
    return this.found(paths.revokeKey(id, options), () => true, false);
  }

  /** Sets a tenant's quotas; its usage and quotas as they are now. */
  setTenantQuota(tenant: string, quota: TenantQuota, options?: WriteOptions): Promise<TenantInfo> {
    return this.json(paths.setTenant(tenant, quota, options)) as Promise<TenantInfo>;
  }

  /** Every tenant with a key or a quota, with its usage. */
  async tenants(): Promise<TenantInfo[]> {
    return ((await this.json(paths.tenants())) as { tenants: TenantInfo[] }).tenants;
  }

  tenant(tenant: string): Promise<TenantInfo> {
    return this.json(paths.tenant(tenant)) as Promise<TenantInfo>;
  }

  /**
   * The changes the node applies from now on (or after `options.after`), as a stream read
   * with `for await`; see EventStream for reconnection and its errors.
   */
  watch(options: WatchOptions = {}, stream: StreamOptions = {}): EventStream<ChangeEvent> {
    const { after, ...scope } = options;
    return this.track(new EventStream<ChangeEvent>(this.target, paths.watch(scope), stream, after));
  }

  /**
   * A long poll of `/watch`: the events after `options.after` (else from now) as soon as
   * there are any, else none once `wait` has passed (default 0: answers at once); with
   * `next`, the id to poll after.
   */
  async poll(options: PollOptions = {}): Promise<PollAnswer> {
    const wait = options.wait ?? 0;
    const waitMs = typeof wait === 'number' ? wait : 60_000;
    const answer = await this.request(paths.watch({ ...options, wait }), 'GET', undefined, undefined, this.timeoutMs + waitMs);
    if (answer.status !== 200) throw toError(answer);
    return JSON.parse(answer.text) as PollAnswer;
  }

  /** Sends `message` to every subscriber of `topic` on every node (at most once); resolves with the subscribers reached on this node. */
  async publish(topic: string, message: string): Promise<number> {
    const answer = await this.answer(paths.publish(topic), 'POST', { 'content-type': 'text/plain; charset=utf-8' }, message);
    return (JSON.parse(answer.text) as { subscribers: number }).subscribers;
  }

  /** The messages of `topic` published from now on, on any node, as a stream (it reconnects by itself; messages sent meanwhile are lost). */
  subscribe(topic: string, stream: StreamOptions = {}): EventStream<TopicMessage> {
    return this.track(new EventStream<TopicMessage>(this.target, paths.subscribe(topic), stream, undefined));
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
  async request(target: string, method = 'GET', headers?: Record<string, string>, body?: string, timeoutMs = this.timeoutMs): Promise<RawAnswer> {
    const res = await this.pool.request({
      path: target,
      method,
      ...(body === undefined ? {} : { body }),
      headers: headers === undefined ? this.headers : { ...this.headers, ...headers },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  /** Closes the connections, and every stream this client opened. */
  close(): Promise<void> {
    for (const stream of this.streams) stream.close();
    return this.pool.close();
  }

  private track<T extends { close(): void; readonly done: Promise<void> }>(stream: T): T {
    this.streams.add(stream);
    void stream.done.then(() => this.streams.delete(stream));
    return stream;
  }

  /** The parsed body of a 2xx answer; a MeshKvError otherwise. */
  private async json(target: string): Promise<unknown> {
    return JSON.parse((await this.answer(target)).text) as unknown;
  }

  /** A 2xx answer; a MeshKvError otherwise. */
  private async answer(target: string, method?: string, headers?: Record<string, string>, body?: string): Promise<RawAnswer> {
    const answer = await this.request(target, method, headers, body);
    if (answer.status >= 200 && answer.status < 300) return answer;
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

function etagOf(answer: RawAnswer): string {
  const tag = answer.headers.etag;
  return typeof tag === 'string' ? tag : '';
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
