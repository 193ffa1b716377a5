/**
 * Request targets of the public routes, percent-encoded: for clients that send requests
 * their own way (the stress tool's raw connections) and for MeshKvClient itself.
 */

/** `w` and `wtimeout` of a write: how many nodes must hold it before the answer, and how long to wait. */
export interface WriteOptions {
  /** A number of nodes, 'all' (every member of the mesh, a down one included) or 'majority'. Default: the node's WRITE_CONCERN. */
  readonly w?: number | 'all' | 'majority';
  /** ms; default: the node's WRITE_TIMEOUT_MS. */
  readonly wtimeout?: number;
}

/** A write that may expire: `ttl` in ms, or a number with a unit (`30s`, `5m`, `1.5h`, `2d`). */
export interface SetOptions extends WriteOptions {
  readonly ttl?: number | string;
}

/** A page of `/scan`: from after `after` (a key), keys starting with `prefix`, at most `limit` (1 to 1000, default 100). */
export interface ScanOptions {
  readonly prefix?: string;
  readonly after?: string;
  readonly limit?: number;
}

const q = encodeURIComponent;

function optional(name: string, value: string | number | undefined): string {
  return value === undefined ? '' : `&${name}=${q(String(value))}`;
}

/** `?a=1&b=2` from `&a=1&b=2`; empty for nothing. */
function query(text: string): string {
  return text === '' ? '' : `?${text.slice(1)}`;
}

function concern(options: WriteOptions | undefined): string {
  let text = '';
  if (options?.w !== undefined) text += `&w=${options.w}`;
  if (options?.wtimeout !== undefined) text += `&wtimeout=${options.wtimeout}`;
  return text;
}

export const paths = {
  set: (key: string, value: string, options?: SetOptions): string => `/set?k=${q(key)}&v=${q(value)}${optional('ttl', options?.ttl)}${concern(options)}`,
  get: (key: string): string => `/get?k=${q(key)}`,
  is: (key: string): string => `/is?k=${q(key)}`,
  rm: (key: string, options?: WriteOptions): string => `/rm?k=${q(key)}${concern(options)}`,
  clear: (options?: WriteOptions): string => `/clear${query(concern(options))}`,
  keys: (prefix?: string): string => `/getKeys${query(optional('prefix', prefix))}`,
  values: (prefix?: string): string => `/getValues${query(optional('prefix', prefix))}`,
  all: (prefix?: string): string => `/getAll${query(optional('prefix', prefix))}`,
  expire: (key: string, ttl: number | string, options?: WriteOptions): string => `/expire?k=${q(key)}&ttl=${q(String(ttl))}${concern(options)}`,
  persist: (key: string, options?: WriteOptions): string => `/persist?k=${q(key)}${concern(options)}`,
  ttl: (key: string): string => `/ttl?k=${q(key)}`,
  meta: (key: string, withValue = false): string => `/meta?k=${q(key)}${withValue ? '&v=1' : ''}`,
  scan: (options: ScanOptions = {}, values = true): string =>
    `/scan${query(`${optional('prefix', options.prefix)}${optional('after', options.after)}${optional('limit', options.limit)}${values ? '' : '&values=0'}`)}`,
  /** `/kv/{key}`: the key percent-encoded as one path segment (a `/` in it too). */
  kv: (key: string, options?: SetOptions): string => `/kv/${q(key)}${query(`${optional('ttl', options?.ttl)}${concern(options)}`)}`,
  batch: (options?: WriteOptions): string => `/batch${query(concern(options))}`,
  index: (): string => '/',
  healthcheck: (): string => '/healthcheck',
  ready: (): string => '/ready',
  status: (): string => '/status',
  metrics: (): string => '/metrics',
  ui: (): string => '/ui',
  clusterEvents: (): string => '/ui/events',
  whoami: (): string => '/whoami',
  createKey: (spec: { name: string; scopes?: readonly string[]; tenant?: string; rate?: number }, options?: WriteOptions): string =>
    `/admin/keys/create?name=${q(spec.name)}${optional('scopes', spec.scopes?.join(','))}${optional('tenant', spec.tenant)}${optional('rate', spec.rate)}${concern(options)}`,
  listKeys: (): string => '/admin/keys/list',
  key: (id: string): string => `/admin/keys/${q(id)}`,
  revokeKey: (id: string, options?: WriteOptions): string => `/admin/keys/revoke?id=${q(id)}${concern(options)}`,
  setTenant: (tenant: string, quota: { maxKeys?: number; maxBytes?: number }, options?: WriteOptions): string =>
    `/admin/tenants/set?tenant=${q(tenant)}${optional('maxKeys', quota.maxKeys)}${optional('maxBytes', quota.maxBytes)}${concern(options)}`,
  tenants: (): string => '/admin/tenants/list',
  tenant: (tenant: string): string => `/admin/tenants/${q(tenant)}`,
  /** `/watch`: a stream (without `wait`), or a long poll (with it); `after` continues after an event id. */
  watch: (options: { key?: string; prefix?: string; after?: string; wait?: number | string; limit?: number } = {}): string =>
    `/watch${query(`${optional('k', options.key)}${optional('prefix', options.prefix)}${optional('after', options.after)}${optional('wait', options.wait)}${optional('limit', options.limit)}`)}`,
  publish: (topic: string, message?: string): string => `/publish?t=${q(topic)}${optional('m', message)}`,
  subscribe: (topic: string): string => `/subscribe?t=${q(topic)}`,
  nkvdPing: (nodes: readonly string[]): string => (nodes.length === 0 ? '/ping' : `/ping?nodes=${q(nodes.join('|'))}`),
} as const;
